"""The checks of tokens this realm issued: the access-token check every domain uses
(:func:`authenticate_access_token`), userinfo (OIDC Core §5.3) and introspection (RFC 7662).

The fast path answers from this worker's memory (:mod:`app.psc.memory`, reached through
:func:`app.psc.memory.recall`): signatures already verified, revocations, professionals, clients. With
``settings.fast_paths`` false the memory knows nothing and every check reads the store.

Every check is the current tenant's: its issuer (:func:`app.psc.realm.issuer`, so a token issued in another
tenant is refused, ``PSC:token.iss``), its revocations, professionals and clients (store rows and memory)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.psc import tokens
from app.psc.clients import get_client
from app.psc.exceptions import TokenError, UnknownKeyError
from app.psc.memory import CachedProfessional, cached_client, recall
from app.psc.models import Professional as ProfessionalRow
from app.psc.models import RevokedToken
from app.psc.realm import issuer
from app.psc.signing import RINGS, UNKNOWN_KID_RELOAD_INTERVAL, fresh_ring, get_keyring
from app.shared.professional import Professional
from app.tenancy import current_tenant

if TYPE_CHECKING:
    from app.config import Settings


async def verify_token(
    session: AsyncSession,
    settings: Settings,
    token: str,
    *,
    typ: str = tokens.TYP_ACCESS,
    audience: str | None = None,
    check_exp: bool = True,
) -> dict[str, Any]:
    """Signature (allow-list, known kid: reload the keys once on an unknown kid), iss, aud, exp, typ.
    Revocation is checked by the callers. A signature already verified by this worker is not verified
    again (``PscMemory.verified``); the claims are checked on every call."""
    memory = recall(settings)
    ring = await get_keyring(session, settings)
    hit = memory.verified.get(token)
    if hit is not None and hit[1] in ring:  # and its key is still published
        claims = hit[0]
    else:
        try:
            claims = tokens.verify_signature(token, ring)
        except UnknownKeyError:
            # A key rotated by another worker: reload, but at most once per UNKNOWN_KID_RELOAD_INTERVAL per
            # worker, or every forged kid would cost a query and the parsing of every key.
            cached = RINGS.get(settings.database_url)
            if cached is not None and time.monotonic() - cached.loaded_at < UNKNOWN_KID_RELOAD_INTERVAL:
                raise
            ring = await get_keyring(session, settings, reload=True)
            claims = tokens.verify_signature(token, ring)
        memory.remember_verified(token, claims, str(tokens.unverified_header(token)["kid"]))
    _check_claims(settings, claims, typ=typ, audience=audience, check_exp=check_exp)
    return claims


def _check_claims(
    settings: Settings, claims: dict[str, Any], *, typ: str, audience: str | None, check_exp: bool = True
) -> None:
    tokens.check_claims(
        claims,
        issuer=issuer(settings),
        audience=audience,
        typ=typ,
        now=None if check_exp or not isinstance(claims.get("exp"), int) else int(claims["exp"]),
        leeway=settings.psc_leeway,
    )


async def is_revoked(session: AsyncSession, jti: str) -> bool:
    return (await session.scalar(select(exists().where(RevokedToken.jti == jti)))) or False


def _refuse_if_revoked(revoked: bool) -> None:
    if revoked:
        raise TokenError("the token has been revoked", "PSC:token.revoked")


_NOT_A_PROFESSIONAL = "the token does not belong to a health professional"


async def _cached_professional(
    session: AsyncSession, settings: Settings, sni: object, *, keep: bool = True
) -> CachedProfessional | None:
    """The professional from this worker's memory, read from the store on a miss (and kept when ``keep``)."""
    if not isinstance(sni, str):
        return None
    memory = recall(settings)
    cached = memory.professionals.get(sni) if keep else None
    if cached is None:
        generation = memory.generation
        row = await session.get(ProfessionalRow, (current_tenant(), sni))
        if row is None:
            return None
        cached = CachedProfessional(
            row.subject_name_id,
            row.rpps,
            row.given_name,
            row.family_name,
            row.profession_code,
            row.userinfo,
            json.dumps(row.userinfo),
        )
        if keep:
            memory.remember_professional(cached, generation)  # unless a reset committed while it was read
    return cached


async def _professional_of(session: AsyncSession, settings: Settings, claims: Mapping[str, Any]) -> CachedProfessional:
    """The professional of verified access-token claims, unless the token is revoked: from this worker's
    memory, or from the store while the listener that keeps that memory right is down (and on the plain
    path, where the memory knows nothing)."""
    memory = recall(settings)
    known = memory.revocations_known
    _refuse_if_revoked(claims["jti"] in memory.revoked if known else await is_revoked(session, claims["jti"]))
    pro = await _cached_professional(session, settings, claims.get("preferred_username"), keep=known)
    if pro is None:
        raise TokenError(_NOT_A_PROFESSIONAL, "PSC:token.subject")
    return pro


async def authenticate_access_token(session: AsyncSession, settings: Settings, token: str) -> Professional:
    """The professional behind a PSC access token, or ``TokenError`` (rule says which check refused)."""
    claims = await verify_token(session, settings, token, audience=settings.psc_access_token_audience)
    pro = await _professional_of(session, settings, claims)
    return Professional(
        subject_name_id=pro.subject_name_id,
        rpps=pro.rpps,
        given_name=pro.given_name,
        family_name=pro.family_name,
        profession_code=pro.profession_code,
        client_id=claims.get("azp"),
        scopes=tuple(str(claims.get("scope", "")).split()),
        userinfo=pro.userinfo,
        token_claims=dict(claims),
    )


def userinfo_from_memory(settings: Settings, token: str) -> tuple[str, dict[str, Any]] | None:
    """userinfo's hot path, answered from this worker's memory with no store access: the token already
    verified, the revocations known, the professional and the client cached. None when anything is
    missing (then :func:`userinfo_for` reads the store); ``TokenError`` when the token is refused."""
    memory = recall(settings)
    hit = memory.verified.get(token)
    if hit is None or not memory.revocations_known:
        return None
    ring = fresh_ring(settings)
    if ring is None or hit[1] not in ring.ring:
        return None
    claims = hit[0]
    _check_claims(settings, claims, typ=tokens.TYP_ACCESS, audience=settings.psc_access_token_audience)
    _refuse_if_revoked(claims["jti"] in memory.revoked)
    sni, azp = claims.get("preferred_username"), claims.get("azp")
    pro = memory.professionals.get(sni) if isinstance(sni, str) else None
    client = cached_client(settings, azp) if isinstance(azp, str) else None
    if pro is None or client is None:
        return None
    return pro.userinfo_json, {**claims, "_client": client.client_metadata}


async def userinfo_for(session: AsyncSession, settings: Settings, token: str) -> tuple[str, dict[str, Any]]:
    """(userinfo document as JSON text, access token claims + ``_client``): what
    :func:`userinfo_from_memory` could not answer alone."""
    claims = await verify_token(session, settings, token, audience=settings.psc_access_token_audience)
    pro = await _professional_of(session, settings, claims)
    azp = claims.get("azp")
    client = await get_client(session, client_id=azp, settings=settings) if isinstance(azp, str) else None
    return pro.userinfo_json, {**claims, "_client": client.client_metadata if client is not None else {}}


async def introspect(session: AsyncSession, settings: Settings, *, token: str) -> dict[str, Any]:
    """RFC 7662: ``{"active": false}`` for anything not currently valid."""
    for typ, audience in ((tokens.TYP_ACCESS, None), (tokens.TYP_REFRESH, issuer(settings))):
        try:
            claims = await verify_token(session, settings, token, typ=typ, audience=audience)
        except TokenError:
            continue
        if await is_revoked(session, claims["jti"]):
            return {"active": False}
        body = dict(claims)
        body.update(
            active=True,
            client_id=claims.get("azp"),
            username=claims.get("preferred_username"),
            token_type=claims.get("typ"),
        )
        return body
    return {"active": False}
