"""Signing in as a patient: a one-time code (the simulated SMS) for an INS, then a page session (cookie) or an
API access token (a JWT the sandbox signs itself, audience ``mes``). No real FranceConnect (issue 13 contract).

Codes: 6 digits, ``SEGUR_MES_CODE_TTL_SECONDS`` (5 min), ``SEGUR_MES_CODE_MAX_TRIES`` (3) wrong codes end the
challenge. Each attempt is counted in a transaction of its own, committed before the code is compared, so a
refused attempt still counts though the request's transaction is rolled back, and two concurrent attempts cannot
both pass the bound.

Tokens: ES256 (joserfc, the one algorithm accepted), ``iss`` = ``<public base URL>[/t/<tenant>]/mes``, ``aud`` =
``mes``, ``sub`` = the actor's INS, ``exp``, ``iat``, ``jti``; checked for signature, algorithm, issuer, audience,
expiry and revocation (sign-out revokes the ``jti``). The issuer names the tenant, so a token signed in one tenant is
refused in every other (the signing key is the sandbox's, shared by the tenants: the issuer is what tells them apart).

Tenants: challenges, page sessions and revocations are tenant rows (the ORM's tenant criteria scope every lookup), so
a challenge, a session cookie or a revoked ``jti`` of one tenant is unknown in another.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.urls import absolute_url
from app.config import Settings
from app.db import as_utc, utcnow
from app.mes import rules
from app.mes.exceptions import MesSignInError
from app.mes.models import MesChallenge, MesSigningKey, MesTokenRevocation, MesWebSession
from app.mes.persons import Person, find_person

TOKEN_ALG = "ES256"
AUDIENCE = "mes"
GRANT_TYPE = "urn:segur-sandbox:params:oauth:grant-type:one-time-code"


@dataclass(frozen=True)
class Challenge:
    id: str
    ins: str
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class WebSession:
    id: str  # the cookie's value (the store keeps its SHA-256 only)
    csrf_token: str
    actor: Person
    expires_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    token_type: str
    expires_in: int
    jti: str


def _sign_in_refused(english: str, french: str, rule: str, error: str = "invalid_grant") -> MesSignInError:
    return MesSignInError(english, french=french, rule=rule, error=error)


async def start_sign_in(session: AsyncSession, *, settings: Settings, ins: str) -> Challenge:
    """A new challenge for the person of ``ins``: the code to "send" by SMS (the page shows it, the control API
    returns it). An INS the national base does not know is refused (a sandbox says so plainly)."""
    person = await find_person(session, ins=ins)
    if person is None:
        raise _sign_in_refused(
            f"INS {rules.clean_ins(ins)[:20]!r} is not a person of the sandbox's national base (see GET "
            "/sandbox/v1/persons)",
            f"L'INS {rules.clean_ins(ins)[:20]!r} n'est pas une personne de la base nationale du bac à sable",
            "MES:unknown-ins")
    now = utcnow()
    challenge = MesChallenge(id=str(uuid.uuid4()), ins=person.ins, code=rules.new_code(), tries=0, used=False,
                             expires_at=now + timedelta(seconds=settings.mes_code_ttl_seconds), created_at=now)
    session.add(challenge)
    await session.flush()
    return Challenge(challenge.id, person.ins, challenge.code, challenge.expires_at)


async def latest_codes(session: AsyncSession, *, ins: str) -> list[Challenge]:
    """The person's challenges still open (not used, not expired, tries left), newest first: what a harness
    reads instead of an SMS."""
    now = utcnow()
    rows = (await session.execute(select(MesChallenge).where(
        MesChallenge.ins == rules.clean_ins(ins), MesChallenge.used.is_(False), MesChallenge.expires_at > now)
        .order_by(MesChallenge.created_at.desc(), MesChallenge.id))).scalars().all()
    return [Challenge(r.id, r.ins, r.code, r.expires_at) for r in rows]


async def _count_attempt(session: AsyncSession, *, challenge_id: str, max_tries: int) -> MesChallenge | None:
    """Count one attempt, committed on its own (see the module's docstring); the challenge as it was before, or
    None when it does not exist."""
    async with AsyncSession(bind=session.bind, expire_on_commit=False) as own, own.begin():
        row = await own.get(MesChallenge, challenge_id)
        if row is None:
            return None
        before = MesChallenge(id=row.id, ins=row.ins, code=row.code, tries=row.tries, used=row.used,
                              expires_at=row.expires_at, created_at=row.created_at)
        if not row.used and row.tries < max_tries:
            counted = await own.execute(update(MesChallenge).where(
                MesChallenge.id == challenge_id, MesChallenge.tries == row.tries, MesChallenge.used.is_(False))
                .values(tries=row.tries + 1))
            if counted.rowcount != 1:  # type: ignore[attr-defined]
                before.tries = max_tries  # a concurrent attempt took this one's place: refused as spent
    return before


async def finish_sign_in(session: AsyncSession, *, settings: Settings, challenge_id: str, code: str) -> Person:
    """The person of the challenge if ``code`` is its code, in time and within the tries; the challenge is then
    used up (a code signs in once)."""
    max_tries = settings.mes_code_max_tries
    if not challenge_id or len(challenge_id) > 64:
        raise _sign_in_refused("unknown sign-in challenge", "demande de connexion inconnue", "MES:challenge-unknown")
    challenge = await _count_attempt(session, challenge_id=challenge_id, max_tries=max_tries)
    if challenge is None:
        raise _sign_in_refused("unknown sign-in challenge: start again", "demande de connexion inconnue : "
                               "recommencer", "MES:challenge-unknown")
    if challenge.used:
        raise _sign_in_refused("this code was already used: start again", "ce code a déjà servi : recommencer",
                               "MES:code-used")
    if as_utc(challenge.expires_at) <= utcnow():
        raise _sign_in_refused(f"the code expired (valid {settings.mes_code_ttl_seconds} s): start again",
                               f"le code a expiré (valable {settings.mes_code_ttl_seconds} s) : recommencer",
                               "MES:code-expired")
    if challenge.tries >= max_tries:
        raise _sign_in_refused(f"too many wrong codes ({max_tries}): start again",
                               f"trop de codes erronés ({max_tries}) : recommencer", "MES:code-tries")
    if not secrets.compare_digest((code or "").strip().encode(), challenge.code.encode()):
        left = rules.tries_left(challenge.tries + 1, max_tries)
        if left == 0:
            raise _sign_in_refused(f"wrong code; no tries left ({max_tries}): start again",
                                   f"code erroné ; plus d'essai ({max_tries}) : recommencer", "MES:code-tries")
        raise _sign_in_refused(f"wrong code; {left} tries left", f"code erroné ; encore {left} essai(s)",
                               "MES:code-wrong")
    used = await session.execute(update(MesChallenge).where(MesChallenge.id == challenge_id,
                                                            MesChallenge.used.is_(False)).values(used=True))
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise _sign_in_refused("this code was already used: start again", "ce code a déjà servi : recommencer",
                               "MES:code-used")
    person = await find_person(session, ins=challenge.ins)
    if person is None:  # the person left the national base since
        raise _sign_in_refused("this person is no longer in the national base", "cette personne n'est plus dans "
                               "la base nationale", "MES:unknown-ins")
    return person


# --- page sessions --------------------------------------------------------------------------------------------

def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def open_web_session(session: AsyncSession, *, settings: Settings, actor: Person) -> WebSession:
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(seconds=settings.mes_session_idle_seconds)
    session.add(MesWebSession(id=_hash(cookie), ins=actor.ins, csrf_token=csrf, created_at=now, expires_at=expires))
    await session.flush()
    return WebSession(cookie, csrf, actor, expires)


async def web_session(session: AsyncSession, *, settings: Settings, session_id: str | None) -> WebSession | None:
    """The page session of this cookie value, its idle expiry pushed back; None when unknown or expired (an
    expired row is deleted)."""
    if not session_id or len(session_id) > 128:
        return None
    row = await session.get(MesWebSession, _hash(session_id))
    if row is None:
        return None
    now = utcnow()
    if as_utc(row.expires_at) <= now:
        await session.delete(row)
        await session.flush()
        return None
    actor = await find_person(session, ins=row.ins)
    if actor is None:
        return None
    row.expires_at = now + timedelta(seconds=settings.mes_session_idle_seconds)
    await session.flush()
    return WebSession(session_id, row.csrf_token, actor, row.expires_at)


async def close_web_session(session: AsyncSession, *, session_id: str | None) -> None:
    if session_id and len(session_id) <= 128:
        await session.execute(delete(MesWebSession).where(MesWebSession.id == _hash(session_id)))
        await session.flush()


# --- API tokens -----------------------------------------------------------------------------------------------

def issuer(settings: Settings) -> str:
    """The patient API's token issuer in the current tenant (``<public base URL>/t/<tenant>/mes``)."""
    return absolute_url(settings, "/mes")


async def _signing_key(session: AsyncSession) -> tuple[str, ECKey]:
    row = (await session.execute(select(MesSigningKey).order_by(MesSigningKey.created_at.desc()).limit(1))
           ).scalar_one_or_none()
    if row is None:
        key = ECKey.generate_key("P-256")
        kid = key.thumbprint()
        row = MesSigningKey(kid=kid, private_jwk=dict(key.as_dict(private=True)), created_at=utcnow())
        session.add(row)
        await session.flush()
    return row.kid, ECKey.import_key(dict(row.private_jwk))


async def issue_token(session: AsyncSession, *, settings: Settings, actor: Person) -> IssuedToken:
    kid, key = await _signing_key(session)
    now = int(time.time())
    jti = str(uuid.uuid4())
    claims = {"iss": issuer(settings), "aud": AUDIENCE, "sub": actor.ins, "iat": now,
              "exp": now + settings.mes_token_ttl_seconds, "jti": jti, "name": actor.display_name}
    token = jwt.encode({"alg": TOKEN_ALG, "typ": "JWT", "kid": kid}, claims, key, algorithms=[TOKEN_ALG])
    return IssuedToken(token, "Bearer", settings.mes_token_ttl_seconds, jti)


def _bad_token(english: str, rule: str) -> MesSignInError:
    return MesSignInError(english, rule=rule, error="invalid_token")


async def token_claims(session: AsyncSession, *, settings: Settings, token: str) -> dict[str, Any]:
    """The claims of a patient API token this sandbox signed, every check passed (revocation included)."""
    if not token or len(token) > 4096 or token.count(".") != 2:
        raise _bad_token("the bearer token is not a JWT", "MES:token-malformed")
    try:
        header = json.loads(_b64decode(token.split(".", 1)[0]))
    except ValueError:
        raise _bad_token("the bearer token's header is unreadable", "MES:token-malformed") from None
    if not isinstance(header, dict) or header.get("alg") != TOKEN_ALG:
        raise _bad_token(f"token algorithm must be {TOKEN_ALG}", "MES:token-alg")
    row = await session.get(MesSigningKey, str(header.get("kid") or "")[:64])
    if row is None:
        raise _bad_token("the token was not signed by this sandbox (unknown kid)", "MES:token-signature")
    try:
        decoded = jwt.decode(token, ECKey.import_key(dict(row.private_jwk)), algorithms=[TOKEN_ALG])
    except (JoseError, ValueError):
        raise _bad_token("the token's signature does not verify", "MES:token-signature") from None
    claims = dict(decoded.claims)
    if claims.get("iss") != issuer(settings):
        raise _bad_token(f"token issuer must be {issuer(settings)}", "MES:token-iss")
    audience = claims.get("aud")
    if audience != AUDIENCE and not (isinstance(audience, list) and AUDIENCE in audience):
        raise _bad_token(f"token audience must be {AUDIENCE!r}", "MES:token-aud")
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool) or exp <= int(time.time()):
        raise _bad_token("the token has expired: sign in again", "MES:token-expired")
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str):
        raise _bad_token("the token lacks sub or jti", "MES:token-claims")
    revoked = await session.get(MesTokenRevocation, claims["jti"][:64])
    if revoked is not None:
        raise _bad_token("the token was revoked (signed out)", "MES:token-revoked")
    return claims


def _b64decode(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def actor_from_token(session: AsyncSession, *, settings: Settings, token: str) -> Person:
    claims = await token_claims(session, settings=settings, token=token)
    person = await find_person(session, ins=claims["sub"])
    if person is None:
        raise _bad_token("the token's person is no longer in the national base", "MES:token-subject")
    return person


async def revoke_token(session: AsyncSession, *, settings: Settings, token: str) -> None:
    """Sign-out of the API: the token's ``jti`` is revoked until the token would have expired."""
    claims = await token_claims(session, settings=settings, token=token)
    expires = datetime.fromtimestamp(int(claims["exp"]), tz=utcnow().tzinfo)
    session.add(MesTokenRevocation(jti=claims["jti"][:64], expires_at=expires))
    await session.execute(delete(MesTokenRevocation).where(MesTokenRevocation.expires_at < utcnow()))
    await session.flush()
