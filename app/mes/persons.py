"""Who acts and for whom: the signed-in person (an INS identity of the simulated national base, read through
:mod:`app.ins.service`) and the minors they legally represent (``mes_representation``, seeded from
``fixtures/representations.json`` and arranged through the control API)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.ins import service as ins_service
from app.mes import rules
from app.mes.exceptions import MesConflict, MesInvalid, MesNotFound
from app.mes.models import MesRepresentation

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class Person:
    """A person of the national base as the patient side shows them."""

    ins: str
    oid: str
    birth_name: str
    given_names: str
    first_given_name: str
    sex: str
    birth_date: str

    @property
    def display_name(self) -> str:
        return f"{self.first_given_name.title()} {self.birth_name}".strip()

    def minor_on(self, today: date) -> bool:
        return rules.is_minor(self.birth_date, today)


Actor = Person
"""The signed-in person (what both faces call ``actor``): a :class:`Person`."""


def person_of(identity: Any) -> Person:
    return Person(ins=identity.ins, oid=identity.oid.removeprefix("urn:oid:"), birth_name=identity.birth_name,
                  given_names=identity.given_names, first_given_name=identity.first_given_name, sex=identity.sex,
                  birth_date=identity.birth_date)


async def find_person(session: AsyncSession, *, ins: str) -> Person | None:
    """The person whose active INS is ``ins``, or None (a malformed INS included)."""
    cleaned = rules.clean_ins(ins)
    if not rules.well_formed_ins(cleaned):
        return None
    identity = await ins_service.find_identity(session, ins=cleaned)
    return None if identity is None else person_of(identity)


async def persons_for(session: AsyncSession, *, actor: Person) -> list[Person]:
    """The actor first, then the minors they represent (by birth date, youngest last), today."""
    today = utcnow().date()
    rows = (await session.execute(select(MesRepresentation.minor_ins).where(
        MesRepresentation.representative_ins == actor.ins).order_by(MesRepresentation.minor_ins))).scalars().all()
    minors = []
    for minor_ins in rows:
        person = await find_person(session, ins=minor_ins)
        if person is not None and person.minor_on(today) and person.ins != actor.ins:
            minors.append(person)
    minors.sort(key=lambda p: (p.birth_date, p.ins))
    return [actor, *minors]


async def patient_for(session: AsyncSession, *, actor: Person, ins: str) -> Person:
    """The patient ``ins`` the actor may act for (themself or a minor they represent), else :class:`MesNotFound`
    — the same answer for an INS that does not exist and for another person's (existence is not leaked)."""
    if ins == actor.ins:
        return actor
    for person in (await persons_for(session, actor=actor))[1:]:
        if person.ins == ins:
            return person
    raise MesNotFound(f"no patient {ins} among the persons you act for",
                      french=f"aucun patient {ins} parmi les personnes pour lesquelles vous agissez",
                      rule="MES:patient-unknown")


def is_representative(actor: Person, patient: Person) -> bool:
    """The actor acts for someone else (a minor they represent), not for themself."""
    return actor.ins != patient.ins


async def representatives_of(session: AsyncSession, *, ins: str) -> list[str]:
    return list((await session.execute(select(MesRepresentation.representative_ins).where(
        MesRepresentation.minor_ins == ins).order_by(MesRepresentation.representative_ins))).scalars().all())


async def list_representations(session: AsyncSession) -> list[MesRepresentation]:
    return list((await session.execute(select(MesRepresentation).order_by(MesRepresentation.id))).scalars().all())


async def add_representation(session: AsyncSession, *, representative_ins: str, minor_ins: str) -> MesRepresentation:
    """Record that ``representative_ins`` legally represents ``minor_ins`` (both known persons, not the same)."""
    representative = await find_person(session, ins=representative_ins)
    minor = await find_person(session, ins=minor_ins)
    if representative is None or minor is None:
        missing = representative_ins if representative is None else minor_ins
        raise MesNotFound(f"INS {missing} is unknown to the INS service", rule="INS:unknown",
                          french=f"l'INS {missing} est inconnu du service INS")
    if representative.ins == minor.ins:
        raise MesInvalid("a person cannot be their own legal representative", rule="MES:representation-self",
                         french="une personne ne peut pas être son propre représentant légal", unprocessable=True)
    exists = (await session.execute(select(MesRepresentation.id).where(
        MesRepresentation.representative_ins == representative.ins,
        MesRepresentation.minor_ins == minor.ins))).first()
    if exists is not None:
        raise MesConflict(f"{representative.ins} already represents {minor.ins}", rule="MES:representation-exists",
                          french=f"{representative.ins} représente déjà {minor.ins}")
    row = MesRepresentation(representative_ins=representative.ins, minor_ins=minor.ins, created_at=utcnow())
    session.add(row)
    await session.flush()
    return row


async def remove_representation(session: AsyncSession, *, representative_ins: str, minor_ins: str) -> None:
    result = await session.execute(delete(MesRepresentation).where(
        MesRepresentation.representative_ins == representative_ins, MesRepresentation.minor_ins == minor_ins))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise MesNotFound(f"{representative_ins} does not represent {minor_ins}", rule="MES:representation-unknown")
    await session.flush()


@cache
def seed_plan() -> dict[str, Any]:
    return json.loads((FIXTURES / "representations.json").read_text(encoding="utf-8"))


async def seed_representations(session: AsyncSession) -> None:
    """The fixtures' representations, for the persons the INS domain knows (idempotent)."""
    existing = {(r.representative_ins, r.minor_ins) for r in await list_representations(session)}
    for item in seed_plan()["representations"]:
        pair = (item["representative"], item["minor"])
        if pair in existing:
            continue
        if await find_person(session, ins=pair[0]) is None or await find_person(session, ins=pair[1]) is None:
            continue
        session.add(MesRepresentation(representative_ins=pair[0], minor_ins=pair[1], created_at=utcnow()))
    await session.flush()
