"""Revocation: of the tokens a client hands back (RFC 7009), of a whole grant (a replayed code or refresh
token), of a login session's tokens (logout). Every revocation is published to the workers' memories
(:data:`app.psc.memory.TOPIC_REVOKED`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.events import publish
from app.psc import tokens
from app.psc.clients import ClientLike
from app.psc.exceptions import TokenError, UnauthorizedClient
from app.psc.memory import TOPIC_REVOKED, revoked_key
from app.psc.models import IssuedToken, LoginSession, RevokedToken
from app.psc.realm import issuer
from app.psc.storage import from_epoch, usable_id
from app.psc.verification import verify_token

if TYPE_CHECKING:
    from app.config import Settings


async def revoke_jtis(session: AsyncSession, rows: Sequence[IssuedToken], reason: str) -> int:
    if not rows:
        return 0
    jtis = [row.jti for row in rows]
    already = set((await session.scalars(select(RevokedToken.jti).where(RevokedToken.jti.in_(jtis)))).all())
    now = utcnow()
    fresh = [row for row in rows if row.jti not in already]
    for row in fresh:
        session.add(RevokedToken(jti=row.jti, reason=reason, revoked_at=now, expires_at=row.expires_at))
    await session.flush()
    await publish(session, TOPIC_REVOKED, [revoked_key(row.jti, row.expires_at) for row in fresh])
    return len(fresh)


async def revoke_grant(session: AsyncSession, *, grant_id: str, reason: str) -> int:
    rows = (await session.scalars(select(IssuedToken).where(IssuedToken.grant_id == grant_id))).all()
    return await revoke_jtis(session, rows, reason)


async def revoke_session(session: AsyncSession, *, session_id: str, reason: str) -> int:
    if not usable_id(session_id, max_length=64):  # PostgreSQL refuses NUL; the column is String(64)
        return 0
    await session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    rows = (await session.scalars(select(IssuedToken).where(IssuedToken.session_id == session_id))).all()
    return await revoke_jtis(session, rows, reason)


async def revoke_single(session: AsyncSession, *, jti: str, expires_at: datetime | None, reason: str) -> None:
    if await session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, reason=reason, revoked_at=utcnow(), expires_at=expires_at))
        await session.flush()
        await publish(session, TOPIC_REVOKED, revoked_key(jti, expires_at))


async def revoke_token(session: AsyncSession, settings: Settings, *, client: ClientLike, token: str) -> None:
    """RFC 7009: revoke if valid and the client's own; invalid tokens are not an error (§2.2)."""
    for typ, audience in ((tokens.TYP_REFRESH, issuer(settings)), (tokens.TYP_ACCESS, None)):
        try:
            claims = await verify_token(session, settings, token, typ=typ, audience=audience, check_exp=False)
        except TokenError:
            continue
        if claims.get("azp") != client.client_id:
            raise UnauthorizedClient("the token was issued to another client", rule="PSC:revoke.client")
        if typ == tokens.TYP_REFRESH:
            row = await session.get(IssuedToken, claims["jti"])
            if row is not None:
                await revoke_grant(session, grant_id=row.grant_id, reason="revoked")  # §2.1: and its access tokens
        await revoke_single(session, jti=claims["jti"], expires_at=from_epoch(claims["exp"]), reason="revoked")
        return
