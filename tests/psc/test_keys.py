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


def test_a_ring_read_again_with_the_same_keys_is_the_same_ring(ring: KeyRing) -> None:
    stored = [StoredKey(kid=kid, alg=ring.algs[kid], private_jwk={}, active=ring.active[ring.algs[kid]] == kid)
              for kid in ring.keys]
    # the same kids in the same roles: nothing is parsed (the private JWKs are not even looked at)
    assert ring.refreshed(stored) is ring


def test_a_changed_ring_parses_only_its_new_keys(ring: KeyRing) -> None:
    rs256 = ring.active["RS256"]
    new = generate_private_jwk("RS256")
    stored = [
        StoredKey(kid=rs256, alg="RS256", private_jwk={}, active=False),  # rotated out, still published
        StoredKey(kid=new["kid"], alg="RS256", private_jwk=new, active=True),
        StoredKey(kid=ring.active["ES256"], alg="ES256", private_jwk={}, active=True),
    ]
    refreshed = ring.refreshed(stored)  # the known keys come with empty JWKs: parsing them would fail
    assert refreshed is not ring
    assert refreshed.keys[rs256] is ring.keys[rs256]
    assert refreshed.active == {"RS256": new["kid"], "ES256": ring.active["ES256"]}
    assert [k["kid"] for k in refreshed.jwks["keys"]] == [rs256, new["kid"], ring.active["ES256"]]
    assert refreshed.jwks["keys"][0] == next(k for k in ring.jwks["keys"] if k["kid"] == rs256)
