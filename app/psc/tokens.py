"""PSC tokens: claims, signature and verification (pure: no I/O).

Shapes follow Keycloak, which PSC is (reference psc.md §1, §5, §6): access tokens carry
``typ: "Bearer"``, ``azp``, ``session_state``, ``sid``, ``scope``; id_tokens ``typ: "ID"``,
``acr``, ``nonce``, ``auth_time``, ``at_hash``; refresh tokens ``typ: "Refresh"`` with ``aud`` =
issuer. ANS's connector rejects an id_token whose ``acr`` is missing or lower than ``eidas1``
(``ansforge/keycloak-prosanteconnect`` ``EidasLevel.java``), so every id_token says ``eidas1``.

Verification takes an explicit algorithm allow-list (RS256/ES256 for our own tokens): ``none`` and
``HS256`` are refused before any key is touched, so the classic "HS256 signed with the public key"
confusion (CVE-2024-33663 in python-jose) cannot happen. Revocation needs the store: it is checked
by :mod:`app.psc.verification` using the ``jti`` this module returns.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Collection, Mapping
from typing import Any, TypeGuard

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwt
from joserfc.errors import JoseError

from app.psc.exceptions import TokenError, UnknownKeyError
from app.psc.keys import KeyRing, SigningAlg, import_jwk

TYP_ACCESS = "Bearer"
TYP_ID = "ID"
TYP_REFRESH = "Refresh"
TYP_LOGOUT = "Logout"
ACR_EIDAS1 = "eidas1"
ACCESS_TOKEN_ALGS: tuple[str, ...] = ("RS256", "ES256")
CLIENT_ASSERTION_ALGS: tuple[str, ...] = ("RS256", "ES256", "PS256")
DEFAULT_LEEWAY = 5
MAX_HEADER_SEGMENT = 8 * 1024
"""Longest base64url JOSE header accepted (checked before any decoding)."""
MAX_PAYLOAD_SEGMENT = 64 * 1024
"""Longest base64url payload accepted (checked before any decoding)."""
MAX_SIGNATURE_SEGMENT = 2 * 1024
"""Longest base64url signature accepted (RSA-4096 is 683 characters)."""
MAX_ASSERTION_LIFETIME = 300
"""A client assertion may not expire more than this many seconds (+ leeway) from now (RFC 7523 §3 item 4:
the server may reject an ``exp`` unreasonably far in the future)."""


def new_jti() -> str:
    return str(uuid.uuid4())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def half_hash(value: str, alg: str = "RS256") -> str:
    """``at_hash`` / ``c_hash``: left half of the SHA-2 digest matching ``alg`` (OIDC Core §3.1.3.6)."""
    digest = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}[alg[-3:]]
    raw = digest(value.encode("ascii")).digest()
    return b64url(raw[: len(raw) // 2])


def _base_claims(*, issuer: str, subject: str, client_id: str, now: int, ttl: int, typ: str) -> dict[str, Any]:
    return {
        "exp": now + ttl,
        "iat": now,
        "jti": new_jti(),
        "iss": issuer,
        "sub": subject,
        "typ": typ,
        "azp": client_id,
    }


def access_token_claims(
    *,
    issuer: str,
    audience: str | list[str],
    client_id: str,
    subject: str,
    scope: str,
    now: int,
    ttl: int,
    session_id: str | None = None,
    auth_time: int | None = None,
    preferred_username: str | None = None,
    acr: str | None = ACR_EIDAS1,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    claims = _base_claims(issuer=issuer, subject=subject, client_id=client_id, now=now, ttl=ttl, typ=TYP_ACCESS)
    claims["aud"] = audience
    if auth_time is not None:
        claims["auth_time"] = auth_time
    if session_id is not None:
        claims["session_state"] = session_id
        claims["sid"] = session_id
    if acr is not None:
        claims["acr"] = acr
    claims["scope"] = scope
    if preferred_username is not None:
        claims["preferred_username"] = preferred_username
    if extra:
        claims.update(extra)
    return claims


def id_token_claims(
    *,
    issuer: str,
    client_id: str,
    subject: str,
    now: int,
    ttl: int,
    session_id: str,
    auth_time: int,
    nonce: str | None,
    access_token: str | None,
    alg: str,
    profile: Mapping[str, Any] | None = None,
    acr: str | None = ACR_EIDAS1,
) -> dict[str, Any]:
    """``acr=None`` leaves the claim out (to test that a relying party refuses it, as ANS's connector does)."""
    claims = _base_claims(issuer=issuer, subject=subject, client_id=client_id, now=now, ttl=ttl, typ=TYP_ID)
    claims["aud"] = client_id
    claims["auth_time"] = auth_time
    if nonce is not None:
        claims["nonce"] = nonce
    claims["session_state"] = session_id
    claims["sid"] = session_id
    if access_token is not None:
        claims["at_hash"] = half_hash(access_token, alg)
    if acr:
        claims["acr"] = acr
    if profile:
        claims.update(profile)
    return claims


def refresh_token_claims(
    *, issuer: str, client_id: str, subject: str, scope: str, now: int, ttl: int, session_id: str | None
) -> dict[str, Any]:
    claims = _base_claims(issuer=issuer, subject=subject, client_id=client_id, now=now, ttl=ttl, typ=TYP_REFRESH)
    claims["aud"] = issuer  # Keycloak: a refresh token is addressed to the realm itself
    if session_id is not None:
        claims["session_state"] = session_id
        claims["sid"] = session_id
    claims["scope"] = scope
    return claims


def sign(ring: KeyRing, claims: Mapping[str, Any], *, alg: SigningAlg = "RS256", typ: str = "JWT") -> str:
    kid, key = ring.signing_key(alg)
    return jwt.encode({"alg": alg, "typ": typ, "kid": kid}, dict(claims), key, algorithms=[alg])


def signing_input(claims: Mapping[str, Any], *, kid: str, alg: SigningAlg, typ: str = "JWT") -> bytes:
    """The JWS signing input (RFC 7515 §5.1) of a compact token, byte for byte as :func:`sign` (joserfc)
    writes it: header ``typ, alg, kid`` in ASCII JSON, payload in UTF-8 JSON, both without spaces."""
    header = json.dumps({"typ": typ, "alg": alg, "kid": kid}, separators=(",", ":")).encode("ascii")
    # the bytes of json.dumps(ensure_ascii=False, compact) for what claims hold (strings, ints, bools, lists,
    # objects; not small floats, NaN or datetimes, which orjson writes otherwise), faster
    payload = orjson.dumps(dict(claims))
    return base64.urlsafe_b64encode(header).rstrip(b"=") + b"." + base64.urlsafe_b64encode(payload).rstrip(b"=")


_PKCS1V15, _SHA256, _ECDSA_SHA256 = padding.PKCS1v15(), hashes.SHA256(), ec.ECDSA(hashes.SHA256())


def jws_signature(private_key: Any, alg: SigningAlg, data: bytes) -> bytes:
    """The raw JWS signature of ``data`` (RFC 7518 §3.3 RS256: RSASSA-PKCS1-v1_5 with SHA-256; §3.4 ES256:
    ECDSA P-256 with SHA-256 as the 64-byte ``R || S``). ``private_key`` is the ``cryptography`` key; OpenSSL
    runs without the GIL, so a thread may call this beside the event loop (:mod:`app.psc.signer`)."""
    if alg == "RS256":
        return private_key.sign(data, _PKCS1V15, _SHA256)  # type: ignore[no-any-return]
    if alg == "ES256":
        r, s = decode_dss_signature(private_key.sign(data, _ECDSA_SHA256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise ValueError(f"unsupported signing algorithm {alg!r}")


def compact(signing_input: bytes, signature: bytes) -> str:
    """A compact JWS from its signing input and raw signature."""
    return signing_input.decode("ascii") + "." + b64url(signature)


def _segments(token: str) -> list[str]:
    """The three parts of a compact JWS, each within its size cap, or TokenError (nothing decoded yet)."""
    if not isinstance(token, str):
        raise TokenError("not a compact JWS", "PSC:token.malformed")
    if len(token) > MAX_HEADER_SEGMENT + MAX_PAYLOAD_SEGMENT + MAX_SIGNATURE_SEGMENT + 2:
        raise TokenError("token too large", "PSC:token.size")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("not a compact JWS (three dot-separated parts expected)", "PSC:token.malformed")
    if len(parts[0]) > MAX_HEADER_SEGMENT:
        raise TokenError(f"JOSE header longer than {MAX_HEADER_SEGMENT} characters", "PSC:token.size")
    if len(parts[1]) > MAX_PAYLOAD_SEGMENT:
        raise TokenError(f"JWT payload longer than {MAX_PAYLOAD_SEGMENT} characters", "PSC:token.size")
    if len(parts[2]) > MAX_SIGNATURE_SEGMENT:
        raise TokenError(f"JWS signature longer than {MAX_SIGNATURE_SEGMENT} characters", "PSC:token.size")
    return parts


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url_decode(segment))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: "[[[[..." nesting
        raise TokenError(f"unreadable {what}", "PSC:token.malformed") from exc
    if not isinstance(value, dict):
        raise TokenError(f"unreadable {what}", "PSC:token.malformed")
    return value


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, or TokenError if it is not one."""
    return _json_object(_segments(token)[0], "JOSE header")


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWS (not verified: only to learn who claims to have signed it)."""
    return _json_object(_segments(token)[1], "JWT payload")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def verify_signature(token: str, ring: KeyRing, *, algorithms: Collection[str] = ACCESS_TOKEN_ALGS) -> dict[str, Any]:
    """Check the signature with the ring's key named by ``kid``, ``alg`` in the allow-list only."""
    header = unverified_header(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise TokenError(f"algorithm {alg!r} is not accepted (allowed: {', '.join(algorithms)})", "PSC:token.alg")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise TokenError("the token header has no kid", "PSC:token.kid")
    key = ring.verification_key(kid)
    if key is None:
        raise UnknownKeyError(f"no signing key with kid {kid!r}", "PSC:token.kid")
    if ring.algs.get(kid) != alg:
        raise TokenError(f"kid {kid!r} is not a {alg} key", "PSC:token.alg")
    try:
        decoded = jwt.decode(token, key, algorithms=[str(alg)])
    except JoseError as exc:
        raise TokenError(f"bad signature ({exc.error})", "PSC:token.signature") from exc
    except Exception as exc:  # ValueError, RecursionError, TypeError...: never a 500 for a bad token
        raise TokenError("malformed token", "PSC:token.malformed") from exc
    claims = decoded.claims
    if not isinstance(claims, dict):
        raise TokenError("the payload is not a JSON object", "PSC:token.malformed")
    return claims


def check_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    audience: str | None,
    typ: str,
    now: int | None = None,
    leeway: int = DEFAULT_LEEWAY,
) -> None:
    """``iss``, ``aud`` (if given), ``exp``/``nbf``/``iat`` with ``leeway`` seconds, ``typ``, ``jti``."""
    now = int(time.time()) if now is None else now
    if claims.get("iss") != issuer:
        raise TokenError(f"issuer {claims.get('iss')!r} is not {issuer!r}", "PSC:token.iss")
    if audience is not None:
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if audience not in auds:
            raise TokenError(f"audience {aud!r} does not include {audience!r}", "PSC:token.aud")
    exp = claims.get("exp")
    if not _is_int(exp):  # our tokens carry integer NumericDates; NaN or 1e300 would defeat the comparison
        raise TokenError("the token has no integer exp", "PSC:token.exp")
    if now > exp + leeway:
        raise TokenError("the token has expired", "PSC:token.exp")
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_int(nbf) or now + leeway < nbf):
        raise TokenError("the token is not valid yet (nbf)", "PSC:token.nbf")
    iat = claims.get("iat")
    if iat is not None and (not _is_int(iat) or iat > now + leeway):
        raise TokenError("the token was issued in the future (iat)", "PSC:token.iat")
    if claims.get("typ") != typ:
        raise TokenError(f"token type {claims.get('typ')!r} where {typ!r} is expected", "PSC:token.typ")
    if not isinstance(claims.get("jti"), str):
        raise TokenError("the token has no jti", "PSC:token.jti")


def verify(
    token: str,
    ring: KeyRing,
    *,
    issuer: str,
    audience: str | None,
    typ: str,
    algorithms: Collection[str] = ACCESS_TOKEN_ALGS,
    now: int | None = None,
    leeway: int = DEFAULT_LEEWAY,
) -> dict[str, Any]:
    """Signature (allow-listed algorithms, known kid), then claims. Revocation is the caller's."""
    claims = verify_signature(token, ring, algorithms=algorithms)
    check_claims(claims, issuer=issuer, audience=audience, typ=typ, now=now, leeway=leeway)
    return claims


def verify_client_assertion(
    assertion: str,
    jwks: Mapping[str, Any],
    *,
    client_id: str,
    audiences: Collection[str],
    now: int | None = None,
    leeway: int = DEFAULT_LEEWAY,
) -> dict[str, Any]:
    """RFC 7523 §3 / OIDC Core §9 ``private_key_jwt``: iss = sub = client_id, aud = the token
    endpoint (or issuer), unexpired, with a jti; signed by a key of the client's registered JWKS."""
    header = unverified_header(assertion)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in CLIENT_ASSERTION_ALGS:
        raise TokenError(f"client assertion algorithm {alg!r} is not accepted", "PSC:client_assertion.alg")
    registered = jwks.get("keys") if isinstance(jwks, Mapping) else None
    keys = [k for k in registered if isinstance(k, dict)] if isinstance(registered, list) else []
    kid = header.get("kid")
    if kid is not None:
        keys = [k for k in keys if k.get("kid") == kid]
    if not keys:
        raise TokenError("no registered client key matches the assertion", "PSC:client_assertion.kid")
    claims: dict[str, Any] | None = None
    for data in keys:
        try:
            decoded = jwt.decode(assertion, import_jwk(data), algorithms=[alg])
            claims = dict(decoded.claims)
        except Exception:  # noqa: S112 - a bad registered key or malformed assertion: next key, never a 500
            continue
        break
    if claims is None:
        raise TokenError("client assertion signature does not verify", "PSC:client_assertion.signature")
    now = int(time.time()) if now is None else now
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise TokenError("client assertion iss and sub must be the client_id", "PSC:client_assertion.iss")
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if not any(a in audiences for a in auds):
        raise TokenError("client assertion audience is not this server", "PSC:client_assertion.aud")
    exp = claims.get("exp")
    if not _is_int(exp) or now > exp + leeway:
        raise TokenError("client assertion expired or without integer exp", "PSC:client_assertion.exp")
    if exp > now + MAX_ASSERTION_LIFETIME + leeway:
        raise TokenError(
            f"client assertion exp is more than {MAX_ASSERTION_LIFETIME} s away", "PSC:client_assertion.exp"
        )
    iat = claims.get("iat")
    if iat is not None and (not _is_int(iat) or iat > now + leeway):
        raise TokenError("client assertion iat is not an integer time in the past", "PSC:client_assertion.iat")
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_int(nbf) or nbf > now + leeway):
        raise TokenError("client assertion is not valid yet (nbf)", "PSC:client_assertion.nbf")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 255:
        raise TokenError("client assertion without jti", "PSC:client_assertion.jti")
    return claims
