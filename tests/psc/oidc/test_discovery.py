"""End to end: discovery and JWKS (app/psc/oidc/discovery.py)."""

from __future__ import annotations

import pytest

from tests.psc.helpers import (
    ISSUER,
    OIDC,
    REALM,
)


@pytest.mark.parametrize("name", ["openid-configuration", "wallet-openid-configuration"])
async def test_discovery(client, name: str) -> None:  # type: ignore[no-untyped-def]
    doc = (await client.get(f"{REALM}/.well-known/{name}")).json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == "http://sandbox.test/auth"
    assert doc["token_endpoint"] == ISSUER + "/protocol/openid-connect/token"
    assert doc["jwks_uri"].endswith("/protocol/openid-connect/certs")
    assert doc["backchannel_authentication_endpoint"].endswith("/ext/ciba/auth")
    assert {"openid", "scope_all", "rpps", "eidas1"} <= set(doc["scopes_supported"])
    assert doc["code_challenge_methods_supported"] == ["plain", "S256"]
    assert "urn:openid:params:grant-type:ciba" in doc["grant_types_supported"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["backchannel_token_delivery_modes_supported"] == ["poll"]
    assert {"client_secret_basic", "client_secret_post", "private_key_jwt"} <= set(
        doc["token_endpoint_auth_methods_supported"]
    )


async def test_jwks_publishes_public_keys_with_kid(client) -> None:  # type: ignore[no-untyped-def]
    keys = (await client.get(OIDC + "/certs")).json()["keys"]
    assert {k["alg"] for k in keys} >= {"RS256", "ES256"}
    for key in keys:
        assert key["kid"] and key["use"] == "sig" and "d" not in key
