"""``CurrentProfessional``: the dependency every protected route of the sandbox uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from app.api.deps import SessionDep, SettingsDep
from app.psc.auth import authenticate
from app.psc.schemas import Professional


async def current_professional(
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Professional:
    return await authenticate(session, settings, authorization)


CurrentProfessional = Annotated[Professional, Depends(current_professional)]
