"""Signing keys as JWKs (app/psc/keys.py)."""

from __future__ import annotations

import base64

import pytest

from app.psc.keys import KeyRing, StoredKey, generate_private_jwk, public_jwk


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing.build(
        [
            StoredKey(kid=(j := generate_private_jwk("RS256"))["kid"], alg="RS256", private_jwk=j, active=True),
            StoredKey(kid=(e := generate_private_jwk("ES256"))["kid"], alg="ES256", private_jwk=e, active=True),
        ]
    )


def test_generated_keys_publish_no_private_part(ring: KeyRing) -> None:
    for key in ring.jwks["keys"]:
        assert key["kid"] and key["use"] == "sig" and key["alg"] in ("RS256", "ES256")
        assert "d" not in key and "p" not in key
    rsa = generate_private_jwk("RS256")
    assert "d" in rsa and "d" not in public_jwk(rsa)
    assert len(base64.urlsafe_b64decode(rsa["n"] + "==")) == 256  # 2048-bit modulus
