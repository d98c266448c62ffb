"""The CIBA grant, poll mode (OpenID Connect CIBA Core 1.0; PSC's CIBA page on industriels.esante.gouv.fr):
the backchannel request, the professional's answer (the e-CPS, simulated by the control API), and the
token polling (§11: authorization_pending, slow_down, expired_token, access_denied)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import as_utc, utcnow
from app.psc.clients import ClientLike
from app.psc.exceptions import (
    AccessDenied,
    AuthorizationPending,
    CibaRequestDecided,
    CibaRequestExpired,
    ExpiredToken,
    InvalidGrant,
    SlowDown,
    UnknownCibaRequest,
    UnknownUserId,
)
from app.psc.issuance import Grant, issue_user_tokens
from app.psc.models import CibaRequest
from app.psc.models import Professional as ProfessionalRow
from app.psc.professionals import professional_row
from app.psc.sessions import start_session
from app.psc.storage import epoch, usable_id
from app.tenancy import current_tenant

if TYPE_CHECKING:
    from app.config import Settings


async def create_ciba_request(
    session: AsyncSession,
    settings: Settings,
    *,
    client: ClientLike,
    login_hint: str,
    scope: str,
    binding_message: str | None,
    acr_values: str | None,
) -> CibaRequest:
    if await session.get(ProfessionalRow, (current_tenant(), login_hint)) is None:
        raise UnknownUserId(f"no professional with SubjectNameID {login_hint!r}", rule="PSC:ciba.login_hint")
    row = CibaRequest(
        auth_req_id=str(uuid.uuid4()),
        client_id=client.client_id,
        subject_name_id=login_hint,
        scope=scope,
        binding_message=binding_message,
        acr_values=acr_values,
        status="pending",
        interval=settings.psc_ciba_interval,
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(seconds=settings.psc_ciba_expires_in),
    )
    session.add(row)
    await session.flush()
    return row


async def decide_ciba(session: AsyncSession, *, auth_req_id: str, approve: bool) -> CibaRequest:
    row = await session.get(CibaRequest, auth_req_id) if usable_id(auth_req_id, max_length=64) else None
    if row is None:
        raise UnknownCibaRequest(f"no CIBA request {auth_req_id!r}", rule="PSC:ciba.unknown")
    if row.status != "pending":
        raise CibaRequestDecided(f"status is {row.status}", rule="PSC:ciba.decided")
    if as_utc(row.expires_at) <= utcnow():
        raise CibaRequestExpired("the request has expired", rule="PSC:ciba.expired")
    row.status = "approved" if approve else "denied"
    await session.flush()
    return row


async def list_ciba(session: AsyncSession) -> list[CibaRequest]:
    return list((await session.scalars(select(CibaRequest).order_by(CibaRequest.created_at))).all())


async def poll_ciba(
    session: AsyncSession, settings: Settings, *, client: ClientLike, auth_req_id: str
) -> dict[str, Any]:
    """CIBA Core §11 token polling: authorization_pending, slow_down, expired_token, access_denied."""
    row = (
        await session.get(CibaRequest, auth_req_id, with_for_update=True)
        if usable_id(auth_req_id, max_length=64)
        else None
    )
    if row is None or row.client_id != client.client_id:
        raise InvalidGrant("unknown auth_req_id", rule="PSC:ciba.unknown")
    now = utcnow()
    if row.status == "consumed":
        raise InvalidGrant("auth_req_id already used", rule="PSC:ciba.consumed")
    if as_utc(row.expires_at) <= now:
        raise ExpiredToken("the authentication request has expired", rule="PSC:ciba.expired")
    if row.status == "denied":
        raise AccessDenied("the professional refused the authentication", rule="PSC:ciba.denied")
    if row.status == "pending":
        too_fast = row.last_polled_at is not None and (now - as_utc(row.last_polled_at)).total_seconds() < row.interval
        row.last_polled_at = now
        if too_fast:
            row.interval += 5  # CIBA Core §11: slow_down raises the interval by 5 s
            raise SlowDown(f"poll at most every {row.interval} s", rule="PSC:ciba.slow_down")
        raise AuthorizationPending("the professional has not answered yet", rule="PSC:ciba.pending")
    pro = await professional_row(session, row.subject_name_id)
    if pro is None:
        raise InvalidGrant("the professional no longer exists", rule="PSC:ciba.subject")
    row.status = "consumed"
    login = await start_session(session, settings, subject_name_id=pro.subject_name_id)
    grant = Grant(
        client=client,
        subject_name_id=pro.subject_name_id,
        userinfo=pro.userinfo,
        scope=row.scope,
        session_id=login.id,
        auth_time=epoch(login.auth_time),
        grant_id="ciba:" + row.auth_req_id[:59],
    )
    return await issue_user_tokens(session, settings, grant)
