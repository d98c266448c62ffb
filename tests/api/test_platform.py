"""The platform as a client sees it: health, errors in each protocol's shape, request ids, journal, reset."""

from __future__ import annotations

import json

import httpx
import pytest


async def test_livez_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/livez")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


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


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient, settings) -> None:
    big = b"x" * (settings.max_body_bytes + 1)
    response = await client.post("/sandbox/v1/reset", content=big)
    assert response.status_code == 413
    assert response.json()["rule"] == "platform:max-body-bytes"


async def test_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient, settings) -> None:
    chunk = b"y" * (1024 * 1024)
    count = settings.max_body_bytes // len(chunk) + 2

    async def body():
        for _ in range(count):
            yield chunk

    response = await client.post("/dmp/fhir/nowhere", content=body())
    # the route does not exist, so the body is never read: 404 wins; a route that reads is limited
    assert response.status_code in (404, 413)


async def test_request_id_is_honoured_or_made(client: httpx.AsyncClient) -> None:
    mine = await client.get("/livez", headers={"X-Request-ID": "ci-run-42.step-7"})
    assert mine.headers["x-request-id"] == "ci-run-42.step-7"
    made = await client.get("/livez", headers={"X-Request-ID": "bad id with spaces\x01"})
    assert made.headers["x-request-id"] != "bad id with spaces\x01"
    assert len(made.headers["x-request-id"]) == 32


async def test_journal_records_requests_with_outcome_and_rule(client: httpx.AsyncClient) -> None:
    await client.get("/no/such/route", headers={"X-Request-ID": "journal-test-1"})
    await client.get("/livez")
    page = (await client.get("/sandbox/v1/journal", params={"request_id": "journal-test-1"})).json()
    assert page["total"] == 1
    entry = page["entries"][0]
    assert entry["outcome"] == "refused" and entry["status"] == 404
    assert entry["rule"] == "platform:route" and entry["method"] == "GET"
    assert entry["at"].endswith("+00:00") or entry["at"].endswith("Z")
    refused = (await client.get("/sandbox/v1/journal", params={"outcome": "refused"})).json()
    assert all(e["outcome"] == "refused" for e in refused["entries"])
    # health probes are not journaled: they would drown everything else
    livez = (await client.get("/sandbox/v1/journal", params={"path": "/livez"})).json()
    assert livez["total"] == 0


async def test_journal_redacts_secrets_in_queries(client: httpx.AsyncClient) -> None:
    await client.get("/nowhere", params={"code": "s3cr3t-code", "client_secret": "hunter2", "state": "abc"})
    entries = (await client.get("/sandbox/v1/journal", params={"path": "/nowhere"})).json()["entries"]
    assert entries
    text = json.dumps(entries)
    assert "s3cr3t-code" not in text and "hunter2" not in text
    assert "state=abc" in entries[0]["query"]


async def test_journal_paging_and_rule_prefix(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await client.get(f"/missing/{i}")
    first = (await client.get("/sandbox/v1/journal", params={"limit": 2, "rule": "platform:*"})).json()
    assert len(first["entries"]) == 2 and first["total"] >= 5
    assert first["next"].startswith("http://sandbox.test/sandbox/v1/journal?")
    second = (await client.get(first["next"])).json()
    assert second["entries"][0]["id"] < first["entries"][-1]["id"]


async def test_journal_rejects_inverted_range(client: httpx.AsyncClient) -> None:
    response = await client.get("/sandbox/v1/journal", params={
        "since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"})
    assert response.status_code == 400
    assert response.json()["rule"] == "sandbox:journal-range"


async def test_reset_empties_the_journal(client: httpx.AsyncClient) -> None:
    await client.get("/before-reset")
    assert (await client.post("/sandbox/v1/reset")).json()["status"] == "reset"
    page = (await client.get("/sandbox/v1/journal", params={"path": "/before-reset"})).json()
    assert page["total"] == 0


async def test_openapi_has_a_tag_per_service(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    names = {tag["name"] for tag in spec["tags"]}
    assert {"platform", "sandbox"} <= names
    assert "Ségur Sandbox" in spec["info"]["title"]
    docs = await client.get("/docs")
    assert docs.status_code == 200


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
async def test_health_is_not_behind_auth(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200


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


async def test_control_api_can_demand_its_own_token(tmp_path) -> None:
    from app.config import load_settings
    from app.db import create_engine, upgrade
    from app.main import create_app

    url = f"sqlite:///{tmp_path}/c.db"
    settings = load_settings(database_url=url, smtp_port=0, access_log=False, control_token="t" * 24)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    await engine.dispose()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as c:
            for method, path in (("POST", "/sandbox/v1/reset"), ("GET", "/sandbox/v1/journal"),
                                 ("GET", "/sandbox/v1/clients"), ("GET", "/sandbox/v1/persons"),
                                 ("GET", "/sandbox/v1/dmps")):
                refused = await c.request(method, path)
                assert refused.status_code == 401, (path, refused.status_code)
                assert refused.headers["www-authenticate"].startswith("Bearer")
                wrong = await c.request(method, path, headers={"Authorization": "Bearer " + "x" * 24})
                assert wrong.status_code == 401
            ok = await c.get("/sandbox/v1/journal", headers={"Authorization": "Bearer " + "t" * 24})
            assert ok.status_code == 200
            assert (await c.get("/livez")).status_code == 200  # health stays open


def test_control_token_too_short_is_refused() -> None:
    from app.config import SettingsError, load_settings

    with pytest.raises(SettingsError, match=r"\[control\]"):
        load_settings(control_token="short")


@pytest.mark.parametrize(("method", "url", "body"), [
    ("GET", "/sandbox/v1/journal?service=ps%00c", None),  # the fuzzer's inputs (issue 10): 500s on PostgreSQL
    ("POST", "/sandbox/v1/idams", {"IDAM": "FUZZ\u0000IDAM"}),
    ("POST", "/sandbox/v1/persons", {"NomNaissance": "A\u0000"}),
    ("GET", "/sandbox/v1/persons/2751263220749%0074", None),
])
async def test_control_api_refuses_nul_characters(client, method: str, url: str, body: dict | None) -> None:
    """PostgreSQL text cannot hold U+0000: a NUL anywhere in a control-API request is a 422 problem, on
    both engines alike, and nothing is stored."""
    before = (await client.get("/sandbox/v1/idams")).json()
    r = await client.request(method, url, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["rule"] == "platform:nul-character"
    assert (await client.get("/sandbox/v1/idams")).json() == before
