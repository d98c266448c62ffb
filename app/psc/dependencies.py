"""``CurrentProfessional``: the dependency every protected route of the sandbox uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from app.api.deps import SessionDep
from app.config import Settings
from app.psc.auth import authenticate
from app.psc.schemas import Professional


async def _settings(request: Request) -> Settings:
    # async on purpose: FastAPI runs a sync dependency in a worker thread, a hop that costs more than
    # the whole token check on the hot paths (userinfo, every protected route).
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(_settings)]


async def current_professional(
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Professional:
    return await authenticate(session, settings, authorization)


CurrentProfessional = Annotated[Professional, Depends(current_professional)]
