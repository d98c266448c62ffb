"""app.ins.routing.LeanRoute: the hot INSi routes skip FastAPI's per-request pipeline only when nothing is lost,
and only with fast paths on; off, FastAPI's own pipeline answers the same."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi import routing as fastapi_routing
from starlette.responses import Response

from app.ins.routing import LeanRoute, _effective, takes_only_the_request
from app.ins.soap.client import build_request, recsansvitale_xml


async def _endpoint(request: Request) -> Response:
    return Response(await request.body(), media_type="text/plain")


def _refuse() -> None:
    raise HTTPException(401, "no")


def _app(fast_paths: bool = True, **include: object) -> FastAPI:
    router = APIRouter(prefix="/x")
    router.add_api_route("/echo", _endpoint, methods=["POST"], route_class_override=LeanRoute,
                         operation_id="echo")
    app = FastAPI()
    app.state.settings = SimpleNamespace(fast_paths=fast_paths)
    app.include_router(router, **include)  # type: ignore[arg-type]
    return app


@pytest.fixture
def handler_builds(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The endpoints FastAPI built its standard request handler for."""
    built: list[object] = []
    original = fastapi_routing.get_request_handler

    def spy(dependant, *args, **kwargs):  # type: ignore[no-untyped-def]
        built.append(dependant.call)
        return original(dependant, *args, **kwargs)

    monkeypatch.setattr(fastapi_routing, "get_request_handler", spy)
    return built


async def _post(app: FastAPI) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.post("/x/echo", content=b"hello")


async def test_lean_route_calls_the_endpoint_directly(handler_builds: list[object]) -> None:
    app = _app()
    r = await _post(app)
    assert r.status_code == 200 and r.text == "hello"
    assert _endpoint not in handler_builds
    assert "echo" in str(app.openapi())  # still documented


async def test_a_dependency_of_the_inclusion_is_never_skipped(handler_builds: list[object]) -> None:
    r = await _post(_app(dependencies=[Depends(_refuse)]))
    assert r.status_code == 401
    assert _endpoint in handler_builds


def test_the_hot_routes_stay_eligible(app) -> None:  # type: ignore[no-untyped-def]
    lean = [route for route in _api_routes(app) if isinstance(route, LeanRoute)]
    assert sorted(route.path for route in lean) == ["/insi/v1/search-traits", "/lps"]
    for route in lean:  # a parameter or dependency added to them would silently bring the slow path back
        assert takes_only_the_request(route.dependant, route.endpoint), route.path


def _api_routes(app: FastAPI) -> list[fastapi_routing.APIRoute]:
    out: list[fastapi_routing.APIRoute] = []

    def walk(router: object) -> None:
        for route in getattr(router, "routes", []):
            original = getattr(route, "original_router", None)
            if original is not None:
                walk(original)
            elif isinstance(route, fastapi_routing.APIRoute):
                out.append(route)

    walk(app.router)
    return out


def test_an_inclusion_context_not_understood_means_the_standard_handler() -> None:
    """Were FastAPI to rename the fields of its inclusion context, the lean path must not take the bare route
    (without the inclusion's dependencies, the control token's for one) for the route as included."""
    route = LeanRoute("/echo", _endpoint, methods=["POST"])
    var = fastapi_routing._effective_route_context_var
    token = var.set(object())  # a context without ``original_route``
    try:
        assert _effective(route) is None
    finally:
        var.reset(token)
    token = var.set(SimpleNamespace(original_route=None))  # one that does not name this route
    try:
        assert route.get_route_handler() is not _endpoint
    finally:
        var.reset(token)
    assert _effective(route) is route  # no inclusion at all: the route's own dependant is the whole story


async def test_with_fast_paths_off_the_standard_handler_answers_the_same(handler_builds: list[object]) -> None:
    lean, plain = await _post(_app()), await _post(_app(fast_paths=False))
    assert _endpoint in handler_builds  # FastAPI's own handler, built for the plain path only
    assert (plain.status_code, plain.headers["content-type"], plain.content) == (
        lean.status_code, lean.headers["content-type"], lean.content)


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
    """``/insi/v1/search-traits`` and ``/lps`` answer the same, fast paths on (LeanRoute, orjson) or off (FastAPI's
    pipeline, its JSONResponse), for answers and refusals alike."""

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
