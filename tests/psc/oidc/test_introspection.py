"""End to end: introspection and revocation (app/psc/oidc/introspection.py)."""

from __future__ import annotations

from tests.psc.helpers import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    GP,
    OIDC,
    TOKEN,
    token_response_for,
)


async def test_introspection_and_revocation(client, confidential_oauth) -> None:  # type: ignore[no-untyped-def]
    tokens = await token_response_for(client, GP, client_id=CONFIDENTIAL_CLIENT)
    access = tokens["access_token"]
    info = (await confidential_oauth.introspect_token(OIDC + "/token/introspect", token=access)).json()
    assert info["active"] is True and info["client_id"] == CONFIDENTIAL_CLIENT and info["username"] == GP
    assert (await confidential_oauth.introspect_token(OIDC + "/token/introspect", token="junk")).json() == {
        "active": False
    }
    revoked = await confidential_oauth.revoke_token(OIDC + "/revoke", token=access)
    assert revoked.status_code == 200
    info = (await confidential_oauth.introspect_token(OIDC + "/token/introspect", token=access)).json()
    assert info == {"active": False}
    me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 401 and me.headers["www-authenticate"].startswith("Bearer")
    # revoking the refresh token kills the grant (RFC 7009 §2.1)
    await confidential_oauth.revoke_token(
        OIDC + "/revoke", token=tokens["refresh_token"], token_type_hint="refresh_token"
    )
    again = await client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
    )
    assert again.status_code == 400
    # an unknown token is not an error (RFC 7009 §2.2)
    assert (await confidential_oauth.revoke_token(OIDC + "/revoke", token="nonsense")).status_code == 200
