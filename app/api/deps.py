"""Dependencies every router uses, written once (``Annotated`` aliases)."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.console_session import SESSION_COOKIE, session_valid
from app.api.errors import AuthError, ProblemError
from app.config import Settings
from app.db import as_utc
from app.shared.professional import Professional


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request owns the transaction: commit when the endpoint returns, roll back if it raises.

    ``scope="function"`` below makes the commit happen before the response is sent, so a client that
    reads its answer can rely on the write being there.
    """
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def _settings(request: Request) -> Settings:
    # async: a plain function would be run in a worker thread on every request
    return request.app.state.settings


async def require_control_token(request: Request) -> None:
    """The control API's own auth: ``SEGUR_CONTROL_TOKEN`` as a bearer token, when one is configured. A GET may
    also come from a browser signed in to the web console (its session cookie, ``SameSite=Strict``): the console
    links to reports and downloads of the control API; nothing that changes state is opened that way."""
    expected = request.app.state.settings.control_token
    if expected is None:
        return
    if request.method in ("GET", "HEAD") and session_valid(expected, request.cookies.get(SESSION_COOKIE),
                                                           now=int(time.time())):
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise AuthError("the control API needs Authorization: Bearer <SEGUR_CONTROL_TOKEN>",
                        rule="sandbox:control-token")


def holds_nul(node: object) -> bool:
    """Whether a parsed JSON value holds U+0000 anywhere (PostgreSQL text cannot store it)."""
    if isinstance(node, str):
        return "\x00" in node
    if isinstance(node, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in node.items())
    if isinstance(node, list):
        return any(holds_nul(v) for v in node)
    return False


def _nul_refused(where: str) -> ProblemError:
    # PostgreSQL text cannot hold U+0000: such a value reached a query or an insert and failed with a 500
    # there (SQLite took it). No control-API value (INS, RPPS, names, IDAMs, filters) may contain it.
    return ProblemError(422, "Unprocessable Content", f"{where} holds U+0000 (NUL), which no value may contain",
                        rule="platform:nul-character", extra={"field": where})


def nul_in_url(request: Request) -> str | None:
    """Where the request's URL holds U+0000: ``the URL path`` (decoded), ``the query string`` (raw or ``%00``),
    or None. The control API (:func:`refuse_nul_characters`) and the web console refuse it each in its shape."""
    if "\x00" in request.scope["path"]:
        return "the URL path"
    if b"%00" in request.scope["query_string"] or b"\x00" in request.scope["query_string"]:
        return "the query string"
    return None


async def refuse_nul_characters(request: Request) -> None:
    """The control API: a NUL in the decoded path, the query string or a JSON body is the client's error."""
    if (where := nul_in_url(request)) is not None:
        raise _nul_refused(where)
    if request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()  # cached: the endpoint reads the same bytes
        if b"\\u0000" in body or b"\x00" in body:
            try:
                parsed = json.loads(body)
            except ValueError:
                return  # not JSON: the endpoint's own parser answers
            if holds_nul(parsed):
                raise _nul_refused("the body")


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(_settings)]


async def authenticate_professional(request: Request, session: AsyncSession, authorization: str | None) -> Professional:
    """The professional of a PSC access token in ``authorization`` (``Bearer ...``), or ``AuthError``: signature,
    algorithm, issuer, audience, expiry, revocation (the check the PSC domain plugs in as ``Domain.authenticate``).
    For faces that read the header themselves (INSi's SOAP endpoint)."""
    return await request.app.state.authenticate_professional(session, request.app.state.settings, authorization)


async def current_professional(
    request: Request,
    session: SessionDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Professional:
    """Attached by the platform to every ``Domain.protected_routers`` router; an endpoint that names
    ``CurrentProfessional`` gets the same answer (FastAPI runs a dependency once per request)."""
    return await authenticate_professional(request, session, authorization)


CurrentProfessional = Annotated[Professional, Depends(current_professional)]


def _iso_8601_only(value: Any) -> Any:
    """Pydantic's lax datetime also reads a bare number as Unix seconds (``since=10.0``); the query
    parameters say ISO 8601 and the OpenAPI document says ``date-time``, so a number is refused (422)."""
    if isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("an ISO 8601 date-time is expected (e.g. 2026-01-31T12:00:00Z), not a number")
    return value


def _in_utc(value: datetime) -> datetime:
    """The instant in UTC (a naive one read as UTC). ``0001-01-01T00:00:00+14:00`` or ``9999-12-31T23:59:59-14:00``
    parse but have no UTC datetime: refused (422) here, not a 500 where a router converts it."""
    try:
        return as_utc(value)
    except OverflowError:
        raise ValueError("out of range: this date-time has no UTC equivalent between years 1 and 9999") from None


IsoInstant = Annotated[datetime, BeforeValidator(_iso_8601_only), AfterValidator(_in_utc)]
"""A query parameter holding an ISO 8601 date-time, and nothing else; given in UTC."""

AwareInstant = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""A body member holding a date-time with its offset; given in UTC (one with no UTC equivalent refused, 422)."""
