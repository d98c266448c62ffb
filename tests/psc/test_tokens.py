"""Token claims, signatures and their checks (app/psc/tokens.py): pure, no store."""

from __future__ import annotations

import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from app.psc import tokens
from app.psc.exceptions import TokenError, UnknownKeyError
from app.psc.keys import KeyRing, StoredKey, generate_private_jwk, public_jwk

ISS = "http://localhost:8000/auth/realms/esante-wallet"


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing.build(
        [
            StoredKey(kid=(j := generate_private_jwk("RS256"))["kid"], alg="RS256", private_jwk=j, active=True),
            StoredKey(kid=(e := generate_private_jwk("ES256"))["kid"], alg="ES256", private_jwk=e, active=True),
        ]
    )


@pytest.fixture(scope="module")
def other_ring() -> KeyRing:
    j = generate_private_jwk("RS256")
    return KeyRing.build([StoredKey(kid=j["kid"], alg="RS256", private_jwk=j, active=True)])


def _access(ring: KeyRing, *, alg: str = "RS256", **overrides: object) -> str:
    now = int(time.time())
    claims = tokens.access_token_claims(
        issuer=ISS, audience="account", client_id="c", subject="s", scope="openid", now=now, ttl=300
    )
    claims.update(overrides)
    return tokens.sign(ring, claims, alg=alg)  # type: ignore[arg-type]


def _forge(header: dict, claims: dict, signature: bytes = b"") -> str:
    enc = lambda d: tokens.b64url(json.dumps(d).encode())  # noqa: E731
    return f"{enc(header)}.{enc(claims)}.{tokens.b64url(signature)}"


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_sign_and_verify_round_trip(ring: KeyRing, alg: str) -> None:
    token = _access(ring, alg=alg)
    claims = tokens.verify(token, ring, issuer=ISS, audience="account", typ=tokens.TYP_ACCESS)
    assert claims["typ"] == "Bearer" and claims["azp"] == "c" and claims["jti"]
    assert tokens.unverified_header(token)["kid"] == ring.active[alg]  # type: ignore[index]


def test_alg_none_refused(ring: KeyRing) -> None:
    claims = tokens.access_token_claims(
        issuer=ISS,
        audience="account",
        client_id="c",
        subject="s",
        scope="openid",
        now=int(time.time()),
        ttl=300,
    )
    with pytest.raises(TokenError) as err:
        tokens.verify(
            _forge({"alg": "none", "kid": ring.active["RS256"]}, claims),
            ring,
            issuer=ISS,
            audience="account",
            typ="Bearer",
        )
    assert err.value.rule == "PSC:token.alg"


def test_hs256_signed_with_public_key_refused(ring: KeyRing) -> None:
    kid = ring.active["RS256"]
    public = next(k for k in ring.jwks["keys"] if k["kid"] == kid)
    secret = OctKey.import_key(json.dumps(public).encode())
    claims = tokens.access_token_claims(
        issuer=ISS,
        audience="account",
        client_id="c",
        subject="s",
        scope="openid",
        now=int(time.time()),
        ttl=300,
    )
    forged = jwt.encode({"alg": "HS256", "kid": kid}, claims, secret, algorithms=["HS256"])
    with pytest.raises(TokenError) as err:
        tokens.verify(forged, ring, issuer=ISS, audience="account", typ="Bearer")
    assert err.value.rule == "PSC:token.alg"


def test_foreign_key_refused(ring: KeyRing, other_ring: KeyRing) -> None:
    foreign = _access(other_ring)
    with pytest.raises(UnknownKeyError):
        tokens.verify(foreign, ring, issuer=ISS, audience="account", typ="Bearer")
    # same kid as ours but signed by another key: signature check fails
    header = tokens.unverified_header(foreign)
    kid, key = other_ring.signing_key("RS256")
    claims = tokens.access_token_claims(
        issuer=ISS,
        audience="account",
        client_id="c",
        subject="s",
        scope="openid",
        now=int(time.time()),
        ttl=300,
    )
    spoofed = jwt.encode({"alg": "RS256", "kid": ring.active["RS256"]}, claims, key, algorithms=["RS256"])
    assert header["kid"] == kid
    with pytest.raises(TokenError) as err:
        tokens.verify(spoofed, ring, issuer=ISS, audience="account", typ="Bearer")
    assert err.value.rule == "PSC:token.signature"


def test_es_key_with_rs_header_refused(ring: KeyRing) -> None:
    _, es_key = ring.signing_key("ES256")
    claims = tokens.access_token_claims(
        issuer=ISS,
        audience="account",
        client_id="c",
        subject="s",
        scope="openid",
        now=int(time.time()),
        ttl=300,
    )
    token = jwt.encode({"alg": "ES256", "kid": ring.active["RS256"]}, claims, es_key, algorithms=["ES256"])
    with pytest.raises(TokenError) as err:
        tokens.verify(token, ring, issuer=ISS, audience="account", typ="Bearer")
    assert err.value.rule == "PSC:token.alg"


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"iss": "https://evil.example/auth/realms/esante-wallet"}, "PSC:token.iss"),
        ({"aud": "someone-else"}, "PSC:token.aud"),
        ({"exp": -60}, "PSC:token.exp"),
        ({"typ": "ID"}, "PSC:token.typ"),
        ({"typ": "Refresh"}, "PSC:token.typ"),
        ({"jti": None}, "PSC:token.jti"),
        ({"nbf": 600}, "PSC:token.nbf"),
    ],
)
def test_claim_checks(ring: KeyRing, overrides: dict, rule: str) -> None:
    # exp/nbf are offsets from the moment the test runs, not from collection: a suite that runs longer
    # than ten minutes before reaching this test made the nbf case a token valid already (DID NOT RAISE)
    now = int(time.time())
    overrides = {name: now + value if name in ("exp", "nbf") else value for name, value in overrides.items()}
    with pytest.raises(TokenError) as err:
        tokens.verify(_access(ring, **overrides), ring, issuer=ISS, audience="account", typ="Bearer")
    assert err.value.rule == rule


def test_leeway_accepts_small_skew(ring: KeyRing) -> None:
    token = _access(ring, exp=int(time.time()) - 2)
    assert tokens.verify(token, ring, issuer=ISS, audience="account", typ="Bearer", leeway=5)


def test_audience_list(ring: KeyRing) -> None:
    token = _access(ring, aud=["x", "account"])
    assert tokens.verify(token, ring, issuer=ISS, audience="account", typ="Bearer")


@pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c", "!!!.e30.x", "e30.e30.e30"])
def test_malformed_tokens(ring: KeyRing, garbage: str) -> None:
    with pytest.raises(TokenError):
        tokens.verify(garbage, ring, issuer=ISS, audience="account", typ="Bearer")


def test_id_token_claims_carry_oidc_fields() -> None:
    claims = tokens.id_token_claims(
        issuer=ISS,
        client_id="c",
        subject="s",
        now=100,
        ttl=300,
        session_id="sid1",
        auth_time=90,
        nonce="n",
        access_token="abc",
        alg="RS256",
    )
    assert claims["acr"] == "eidas1" and claims["nonce"] == "n" and claims["aud"] == "c" and claims["azp"] == "c"
    assert claims["sid"] == "sid1" and claims["auth_time"] == 90 and claims["typ"] == "ID"
    # OIDC Core §3.1.3.6 example is for "jHkWEdUXMU1BwAsC4vtUsZwnNOVqA9bE..." ; check the definition instead
    import hashlib

    assert claims["at_hash"] == tokens.b64url(hashlib.sha256(b"abc").digest()[:16])


def test_refresh_token_audience_is_issuer() -> None:
    claims = tokens.refresh_token_claims(
        issuer=ISS, client_id="c", subject="s", scope="openid", now=1, ttl=2, session_id=None
    )
    assert claims["aud"] == ISS and claims["typ"] == "Refresh"


def test_client_assertion(ring: KeyRing) -> None:
    client_key = generate_private_jwk("ES256")
    jwks = {"keys": [public_jwk(client_key)]}
    now = int(time.time())
    good = {
        "iss": "cl",
        "sub": "cl",
        "aud": ISS + "/protocol/openid-connect/token",
        "exp": now + 60,
        "jti": "1",
    }
    from app.psc.keys import import_jwk

    key = import_jwk(client_key)
    assertion = jwt.encode({"alg": "ES256", "kid": client_key["kid"]}, good, key, algorithms=["ES256"])
    auds = [ISS, ISS + "/protocol/openid-connect/token"]
    assert tokens.verify_client_assertion(assertion, jwks, client_id="cl", audiences=auds)["jti"] == "1"
    with pytest.raises(TokenError):
        tokens.verify_client_assertion(assertion, jwks, client_id="other", audiences=auds)
    with pytest.raises(TokenError):
        tokens.verify_client_assertion(assertion, jwks, client_id="cl", audiences=["https://elsewhere"])
    stale = jwt.encode({"alg": "ES256"}, {**good, "exp": now - 100}, key, algorithms=["ES256"])
    with pytest.raises(TokenError):
        tokens.verify_client_assertion(stale, jwks, client_id="cl", audiences=auds)
    _, rs = ring.signing_key("RS256")
    foreign = jwt.encode({"alg": "RS256"}, good, rs, algorithms=["RS256"])
    with pytest.raises(TokenError):
        tokens.verify_client_assertion(foreign, jwks, client_id="cl", audiences=auds)
