"""End to end: the userinfo endpoint (app/psc/oidc/userinfo.py)."""

from __future__ import annotations

from joserfc import jwt

from tests.psc.helpers import (
    GP,
    ISSUER,
    OIDC,
    REDIRECT_URI,
    access_token_for,
    jwks_of,
    jwt_header,
)


async def test_userinfo_signed_jwt_for_configured_client(client) -> None:  # type: ignore[no-untyped-def]
    created = await client.post(
        "/sandbox/v1/clients",
        json={
            "client_id": "jwt-userinfo",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [REDIRECT_URI],
            "userinfo_signed_response_alg": "ES256",
            "access_token_signed_response_alg": "ES256",
        },
    )
    assert created.status_code == 201 and "client_secret" not in created.json()
    access = await access_token_for(client, GP, client_id="jwt-userinfo")
    assert jwt_header(access)["alg"] == "ES256"
    response = await client.get(OIDC + "/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert response.headers["content-type"].startswith("application/jwt")
    claims = jwt.decode(response.text, await jwks_of(client), algorithms=["ES256"]).claims
    assert claims["SubjectNameID"] == GP and claims["aud"] == "jwt-userinfo" and claims["iss"] == ISSUER
