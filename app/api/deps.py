"""Dependencies every router uses, written once (``Annotated`` aliases)."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import AuthError
from app.config import Settings


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
    """The control API's own auth: ``SEGUR_CONTROL_TOKEN`` as a bearer token, when one is configured."""
    expected = request.app.state.settings.control_token
    if expected is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise AuthError("the control API needs Authorization: Bearer <SEGUR_CONTROL_TOKEN>",
                        rule="sandbox:control-token")


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(_settings)]
