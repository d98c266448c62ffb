"""Errors nobody raised on purpose (unknown route, wrong method, malformed or hostile bodies, an unexpected
exception) answered in the shape of the protocol the path belongs to."""

from __future__ import annotations

import httpx


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404 and body["rule"] == "platform:route"
    assert "/no/such/thing" in body["detail"]


async def test_unknown_fhir_route_is_operation_outcome(client: httpx.AsyncClient) -> None:
    response = await client.get("/dmp/fhir/NoSuchResource/1/_nothing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/fhir+json")
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-found"


async def test_unknown_oauth_route_is_oauth_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/realms/esante-wallet/protocol/openid-connect/nothing-here")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "error_description"}


async def test_unknown_soap_route_is_soap_fault(client: httpx.AsyncClient) -> None:
    response = await client.get("/lps/nothing/here")
    assert response.status_code == 404
    assert "application/soap+xml" in response.headers["content-type"]
    assert "Fault" in response.text


async def test_wrong_method_is_405_in_shape(client: httpx.AsyncClient) -> None:
    response = await client.delete("/livez")
    assert response.status_code == 405
    assert response.json()["rule"] == "platform:method"


async def test_malformed_json_is_400_naming_the_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/sandbox/v1/reset", content=b"{not json", headers={"content-type": "application/json"}
    )
    # reset takes no body: a body is ignored there; the journal filter takes typed queries instead
    assert response.status_code == 200
    bad = await client.get("/sandbox/v1/journal", params={"limit": "many"})
    assert bad.status_code == 422
    assert "limit" in bad.json()["detail"]
    assert bad.json()["rule"] == "platform:request-validation"


async def test_hostile_nesting_and_lengths_are_client_errors(client: httpx.AsyncClient) -> None:
    deep = b"[" * 100_000
    for path in ("/sandbox/v1/dmps", "/sandbox/v1/clients", "/insi/v1/search-traits"):
        response = await client.post(path, content=deep, headers={"content-type": "application/json"})
        assert response.status_code == 400, (path, response.status_code, response.text[:200])
    huge = await client.post("/sandbox/v1/dmps", content=b"{}",
                             headers={"content-type": "application/json", "content-length": "9" * 5000})
    assert huge.status_code == 413


async def test_recursion_in_a_route_is_a_400_in_protocol_shape(tmp_path) -> None:
    from app.config import load_settings
    from app.main import create_app

    app = create_app(load_settings(database_url=f"sqlite:///{tmp_path}/r.db", smtp_port=0, access_log=False))

    @app.get("/dmp/fhir/_deep")
    async def deep() -> None:
        raise RecursionError("maximum recursion depth exceeded")

    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as c:
            response = await c.get("/dmp/fhir/_deep")
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
