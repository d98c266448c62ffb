"""The refresh_token grant (RFC 6749 §6), with rotation (OAuth 2.0 Security BCP §4.14.2): a refresh token
is used once; presented again, it revokes its whole grant. A refresh never widens the scope and ends with
the login session."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.psc import tokens
from app.psc.clients import ClientLike
from app.psc.exceptions import CodeReplayError, InvalidGrant, InvalidScope, TokenError
from app.psc.issuance import Grant, issue_user_tokens
from app.psc.models import IssuedToken
from app.psc.professionals import professional_row
from app.psc.realm import issuer
from app.psc.revocation import revoke_grant
from app.psc.sessions import live_session
from app.psc.storage import epoch
from app.psc.verification import is_revoked, verify_token

if TYPE_CHECKING:
    from app.config import Settings


async def rotate_refresh(
    session: AsyncSession, settings: Settings, *, client: ClientLike, refresh_token: str, scope: str | None
) -> dict[str, Any]:
    try:
        claims = await verify_token(session, settings, refresh_token, typ=tokens.TYP_REFRESH, audience=issuer(settings))
    except TokenError as exc:
        raise InvalidGrant(f"invalid refresh token: {exc.description}", rule=exc.rule) from None
    row = await session.get(IssuedToken, claims["jti"], with_for_update=True)
    if row is None or row.kind != "refresh":
        raise InvalidGrant("unknown refresh token", rule="PSC:refresh.unknown")
    if row.client_id != client.client_id:
        raise InvalidGrant("refresh token was issued to another client", rule="PSC:refresh.client")
    if await is_revoked(session, row.jti):
        raise InvalidGrant("refresh token revoked", rule="PSC:refresh.revoked")
    if row.used_at is not None:
        # Rotation (OAuth 2.0 Security BCP §4.14.2): a reused refresh token revokes its whole grant.
        await revoke_grant(session, grant_id=row.grant_id, reason="refresh_reuse")
        raise CodeReplayError("refresh token already used (rotated); the grant is revoked", rule="PSC:refresh.reuse")
    login = await live_session(session, session_id=row.session_id) if row.session_id else None
    if row.session_id and login is None:
        raise InvalidGrant("session not active", rule="PSC:refresh.session")
    granted = row.scope
    if scope:
        asked = scope.split()
        if not set(asked) <= set(row.scope.split()):
            raise InvalidScope("a refresh cannot widen the scope", rule="PSC:refresh.scope")
        granted = " ".join(asked)
    pro = await professional_row(session, row.subject_name_id or "")
    if pro is None:
        raise InvalidGrant("the professional no longer exists", rule="PSC:refresh.subject")
    row.used_at = utcnow()
    grant = Grant(
        client=client,
        subject_name_id=pro.subject_name_id,
        userinfo=pro.userinfo,
        scope=granted,
        session_id=row.session_id or "",
        auth_time=epoch(login.auth_time) if login else int(time.time()),
        grant_id=row.grant_id,
    )
    return await issue_user_tokens(session, settings, grant)
