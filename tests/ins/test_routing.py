"""The hot INSi routes (``/insi/v1/search-traits``, ``/lps``) are dispatched beside FastAPI's router on the fast
path (``Domain.hot_operations``, app.api.hotpaths); off, FastAPI's router and handler answer the same."""

from __future__ import annotations

import httpx

from app.api.hotpaths import HotPathMiddleware, takes_only_the_request
from app.ins.soap.client import build_request, recsansvitale_xml


def _hot_layer(app) -> HotPathMiddleware:  # type: ignore[no-untyped-def]
    layer = app.middleware_stack
    while not isinstance(layer, HotPathMiddleware):
        layer = layer.app
    return layer


def test_the_hot_routes_stay_eligible(app, client) -> None:  # type: ignore[no-untyped-def]
    hot = {path: route for (_, path), route in _hot_layer(app).routes.items() if not path.startswith("/auth")}
    assert sorted(hot) == ["/insi/v1/search-traits", "/lps"]
    for route in hot.values():  # a parameter or dependency added to them would be refused at start-up
        assert takes_only_the_request(route.dependant, route.endpoint), route.path


async def test_the_hot_routes_skip_the_router_only_with_fast_paths(  # type: ignore[no-untyped-def]
        app, client, routed: list[str]) -> None:
    await client.post("/insi/v1/search-traits", json=JSON_SEARCHES[0])
    await client.post("/lps", content=SOAP_SEARCHES[0][0], headers=SOAP_SEARCHES[0][1])
    assert routed == ([] if app.state.settings.fast_paths else ["/insi/v1/search-traits", "/lps"])


def _comparable(response: httpx.Response) -> tuple[int, str, object]:
    """Status, media type and body; a problem's ``request_id`` differs from request to request."""
    body: object = response.content
    if response.headers["content-type"].startswith(("application/json", "application/problem+json")):
        body = response.json()
        if isinstance(body, dict):
            body.pop("request_id", None)
    return response.status_code, response.headers["content-type"], body


JSON_SEARCHES = [
    {"NomNaissance": "ECETINSI", "Prenom": "PIERRE-ALAIN", "Sexe": "M", "DateNaissance": "2009-07-14"},
    {"NomNaissance": "DE VINCI", "Prenom": "LEONARDO", "Sexe": "M", "DateNaissance": "2014-02-01"},
    {"NomNaissance": "MARTIN", "Prenom": "JEAN", "Sexe": "M", "DateNaissance": "1901-01-01"},
    {"NomNaissance": "D'AEION", "Prenom": "COEUR", "Sexe": "M", "DateNaissance": "1987-01-01"},
    {"NomNaissance": "adrun", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "1975-12-31"},
    {"NomNaissance": "ADRUN"},
]
SOAP = {"Content-Type": "application/soap+xml; charset=utf-8", "X-Client-Cert-CN": "INSI-AUTO"}
SOAP_SEARCHES = [
    (build_request(recsansvitale_xml("ADRUN", "ZOE", "F", "1975-12-31")), SOAP),
    (build_request(recsansvitale_xml("ADRUN", "ZOE", "F", "1975-12-31"), idam="UNKNOWN"), SOAP),
    (build_request(recsansvitale_xml("ADRÜN", "ZOE", "F", "1975-12-31")), SOAP),
    (build_request(recsansvitale_xml("ADRUN", "ZOE", "F", "1975-12-31")), {**SOAP, "X-Client-Cert-CN": "NOPE"}),
    (b"<not xml", SOAP),
]


async def test_the_hot_routes_answer_the_same_both_ways(app, client) -> None:  # type: ignore[no-untyped-def]
    """``/insi/v1/search-traits`` and ``/lps`` answer the same, fast paths on (beside the router, orjson) or off
    (FastAPI's router and pipeline, its JSONResponse), for answers and refusals alike."""

    async def answers() -> list[tuple[int, str, object]]:
        out = [_comparable(await client.post("/insi/v1/search-traits", json=body)) for body in JSON_SEARCHES]
        out.append(_comparable(await client.post("/insi/v1/search-traits", content=b"{not json",
                                                 headers={"Content-Type": "application/json"})))
        for body, headers in SOAP_SEARCHES:
            out.append(_comparable(await client.post("/lps", content=body, headers=headers)))
        return out

    settings = app.state.settings
    try:
        app.state.settings = settings.model_copy(update={"fast_paths": True})
        fast = await answers()
        app.state.settings = settings.model_copy(update={"fast_paths": False})
        plain = await answers()
    finally:
        app.state.settings = settings
    assert plain == fast
    assert [status for status, _, _ in fast] == [200, 200, 200, 503, 400, 422, 400, 200, 500, 500, 500, 500]
