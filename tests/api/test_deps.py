"""The control API's own guards: SEGUR_CONTROL_TOKEN as a bearer token, and U+0000 refused everywhere."""

from __future__ import annotations

import httpx
import pytest


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
