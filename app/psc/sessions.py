"""Login sessions (the ``PSC_SESSION`` cookie's, and CIBA's) and the authorization codes issued in them
(RFC 6749 §4.1.2: short-lived, used once, stored as digests)."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import as_utc, utcnow
from app.numbers import ascii_count
from app.psc.exceptions import CodeReplayError, InvalidGrant, InvalidRequest
from app.psc.models import AuthorizationCode, LoginSession
from app.psc.revocation import revoke_grant
from app.psc.storage import sha256_hex, usable_id

if TYPE_CHECKING:
    from app.config import Settings


async def start_session(session: AsyncSession, settings: Settings, *, subject_name_id: str) -> LoginSession:
    now = utcnow()
    row = LoginSession(
        id=str(uuid.uuid4()),
        subject_name_id=subject_name_id,
        auth_time=now.replace(microsecond=0),
        expires_at=now + timedelta(seconds=settings.psc_session_ttl),
    )
    session.add(row)
    await session.flush()
    return row


async def list_sessions(session: AsyncSession, *, limit: int = 200) -> list[LoginSession]:
    """The login sessions, newest first (what the web console lists)."""
    rows = await session.scalars(select(LoginSession).order_by(LoginSession.auth_time.desc()).limit(limit))
    return list(rows.all())


async def live_session(session: AsyncSession, *, session_id: str | None) -> LoginSession | None:
    if not usable_id(session_id, max_length=64):
        return None
    row = await session.get(LoginSession, session_id)
    if row is None or row.ended_at is not None or as_utc(row.expires_at) <= utcnow():
        return None
    return row


def within_max_age(login: LoginSession, max_age: str) -> bool:
    """OIDC Core §3.1.2.1: a session authenticated more than ``max_age`` seconds ago must authenticate again."""
    max_age_seconds = ascii_count(max_age)
    if max_age_seconds is None:
        raise InvalidRequest("max_age must be a number of seconds", rule="PSC:authorize.max_age")
    return (utcnow() - as_utc(login.auth_time)).total_seconds() <= max_age_seconds


async def create_code(
    session: AsyncSession,
    settings: Settings,
    *,
    client_id: str,
    redirect_uri: str,
    login: LoginSession,
    scope: str,
    nonce: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
) -> str:
    code = secrets.token_urlsafe(32)
    session.add(
        AuthorizationCode(
            code_sha256=sha256_hex(code),
            client_id=client_id,
            redirect_uri=redirect_uri,
            subject_name_id=login.subject_name_id,
            session_id=login.id,
            scope=scope,
            nonce=nonce,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            auth_time=login.auth_time,
            expires_at=utcnow() + timedelta(seconds=settings.psc_code_ttl),
        )
    )
    await session.flush()
    return code


async def consume_code(session: AsyncSession, *, code: str) -> AuthorizationCode:
    digest = sha256_hex(code)
    row = await session.get(AuthorizationCode, digest, with_for_update=True)
    if row is None:
        raise InvalidGrant("unknown authorization code", rule="PSC:code.unknown")
    if row.used_at is not None:
        # RFC 6749 §4.1.2: a code used twice -> deny, and revoke what was issued from it.
        await revoke_grant(session, grant_id=digest, reason="code_replay")
        raise CodeReplayError(
            "authorization code already used; the tokens issued from it are revoked", rule="PSC:code.replay"
        )
    if as_utc(row.expires_at) <= utcnow():
        raise InvalidGrant("authorization code expired", rule="PSC:code.expired")
    row.used_at = utcnow()
    await session.flush()
    return row
