"""The protected /psc/v1/me (app/psc/me.py)."""

from __future__ import annotations

from tests.psc.helpers import GP, access_token_for


async def test_me_with_token(client) -> None:
    token = await access_token_for(client, GP)
    response = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject_name_id"] == GP and body["profession_code"] == "10"
    assert body["client_id"] == "segur-sandbox-public" and "openid" in body["scopes"]


async def test_me_without_token_is_401(client) -> None:
    response = await client.get("/psc/v1/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
