"""Load-or-fail dependencies of the HTTP faces (a missing mailbox or message is the domain's error, mapped
by :mod:`app.mss.http.problems`), written once as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.api.deps import CurrentProfessional, SessionDep
from app.mss import service
from app.mss.models import MssMailbox

AddressPath = Annotated[str, Path(description="the mailbox address, e.g. claire.fontaine@medecin.mssante.fr")]


async def owned_mailbox(session: SessionDep, professional: CurrentProfessional, address: AddressPath) -> MssMailbox:
    """The mailbox of the path, when the authenticated professional may use it."""
    return await service.load_owned_mailbox(session, address, professional.subject_name_id)


async def any_mailbox(session: SessionDep, address: Annotated[str, Path()]) -> MssMailbox:
    """The mailbox of the path, whoever asks (the control API)."""
    return await service.load_mailbox(session, address)


OwnedMailbox = Annotated[MssMailbox, Depends(owned_mailbox)]
AnyMailbox = Annotated[MssMailbox, Depends(any_mailbox)]
