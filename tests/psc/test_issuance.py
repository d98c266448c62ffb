"""Token issuance (app/psc/issuance.py)."""

from __future__ import annotations

from tests.psc.helpers import (
    GP,
    REDIRECT_URI,
    jwt_claims,
    token_response_for,
)


async def test_fault_injection_missing_or_lower_acr(client) -> None:  # type: ignore[no-untyped-def]
    for acr, expected in (("", None), ("eidas0", "eidas0")):
        client_id = f"acr-test-{acr or 'none'}"
        created = await client.post(
            "/sandbox/v1/clients",
            json={
                "client_id": client_id,
                "token_endpoint_auth_method": "none",
                "redirect_uris": [REDIRECT_URI],
                "sandbox_id_token_acr": acr,
            },
        )
        assert created.status_code == 201
        answer = await token_response_for(client, GP, client_id=client_id)
        assert jwt_claims(answer["id_token"]).get("acr") == expected
