"""The patient API's dependencies: the signed-in person from the bearer token, and the patient of the path
(``{ins}``: the actor or a minor they represent, else 404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path

from app.api.deps import SessionDep, SettingsDep
from app.mes import service
from app.mes.exceptions import MesSignInError


def bearer_of(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MesSignInError("the patient API needs Authorization: Bearer <token from POST /mes/api/v1/token>",
                             french="l'API patient demande Authorization: Bearer <jeton de POST /mes/api/v1/token>",
                             rule="MES:token-missing", error="invalid_token")
    return token.strip()


async def current_actor(
    session: SessionDep, settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> service.Person:
    return await service.actor_from_token(session, settings=settings, token=bearer_of(authorization))


CurrentActor = Annotated[service.Person, Depends(current_actor)]

InsPath = Annotated[str, Path(description="The patient's INS (15 characters): the signed-in person or a minor they "
                              "represent; anything else is 404.", examples=["275126322074974"], max_length=64)]


async def current_patient(ins: InsPath, actor: CurrentActor, session: SessionDep) -> service.Person:
    return await service.patient_for(session, actor=actor, ins=ins)


CurrentPatient = Annotated[service.Person, Depends(current_patient)]
