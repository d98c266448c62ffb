"""The contents of the simulated national base: persons, Cartes Vitale and IDAMs, as the control API
(``/sandbox/v1/persons|cards|idams|ins-fixtures``) and the seeder write, list and remove them.

Writes refuse what collides with the store (:class:`~app.ins.exceptions.InsConflict`) and read-or-fail with
:class:`~app.ins.exceptions.NotFound`; the control API maps both. Flushes, never commits.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.ins import nir, search
from app.ins.exceptions import BeneficiaryUnknown, InsConflict, NotFound
from app.ins.models import InsCard, InsIdam, InsMatricule, InsPerson
from app.ins.records import PERSON_COLUMNS, histo_json, record
from app.ins.schemas import CardIn, FixtureFile, IdamIn, PersonIn
from app.ins.searches import idam_known

T = TypeVar("T")

# --------------------------------------------------------------------------- writes


def _to_insert(items: list[T], clashes: Callable[[T], bool], conflict: Callable[[T], InsConflict], *,
               skip_existing: bool) -> list[T]:
    """The items to insert: one that ``clashes`` with the store is skipped (``skip_existing``, the seeder and
    fixture files) or refused with its ``conflict`` (the control API's single writes)."""
    todo = []
    for item in items:
        if clashes(item):
            if skip_existing:
                continue
            raise conflict(item)
        todo.append(item)
    return todo


async def _existing_active(session: AsyncSession, numbers: Iterable[str]) -> set[str]:
    numbers = list(numbers)
    found: set[str] = set()
    for i in range(0, len(numbers), 500):
        chunk = numbers[i:i + 500]
        found |= {n for n in (await session.execute(
            select(InsPerson.ins_number).where(InsPerson.ins_number.in_(chunk))
        )).scalars().all() if n}
    return found


async def insert_persons(session: AsyncSession, persons: list[PersonIn], *, skip_existing: bool) -> list[int]:
    """Bulk insert (one statement per table). An active INS already in the store is skipped
    (``skip_existing``) or refused with :class:`InsConflict`."""
    numbers = [p.INSACTIF.IdIndividu.NumIdentifiant for p in persons if p.INSACTIF]
    if len(set(numbers)) != len(numbers):
        raise InsConflict("INSACTIF", "INS:duplicate", "the same active INS appears twice in the input")
    existing = await _existing_active(session, numbers)
    faults = {(p.NomNaissance, p.ListePrenom) for p in persons if p.fault}
    if faults:
        rows = (await session.execute(
            select(InsPerson.nom_naissance, InsPerson.liste_prenom).where(InsPerson.fault.is_not(None))
        )).all()
        existing_faults = {(r[0], r[1]) for r in rows}
    else:
        existing_faults = set()
    todo = _to_insert(
        persons,
        lambda p: bool((p.INSACTIF and p.INSACTIF.IdIndividu.NumIdentifiant in existing)
                       or (p.fault and (p.NomNaissance, p.ListePrenom) in existing_faults)),
        lambda p: InsConflict("INSACTIF", "INS:exists",
                              f"a person with this INS already exists ({p.NomNaissance} {p.ListePrenom})"),
        skip_existing=skip_existing,
    )
    if not todo:
        return []
    records = [p.record() for p in todo]
    person_rows: list[dict[str, Any]] = []
    for p, r in zip(todo, records, strict=True):
        a = r.ins_actif
        person_rows.append({
            "nom_naissance": r.nom_naissance, "liste_prenom": r.liste_prenom, "sexe": r.sexe,
            "date_naissance": r.date_naissance, "lieu_naissance": r.lieu_naissance,
            "rang_naissance": r.rang_naissance,
            "ins_number": a.number if a else None, "ins_key": a.key if a else None,
            "ins_kind": a.kind if a else None, "ins_type": a.type_matricule if a else None,
            "ins_date_deb": a.date_deb if a else None, "ins_date_fin": a.date_fin if a else None,
            "histo": histo_json(r), "fault": r.fault, "accept_invalid_key": p.accept_invalid_key,
            "source": p.source,
        })
    now = utcnow()
    for row in person_rows:
        row["created_at"] = now
    ids = list((await session.execute(
        insert(InsPerson).returning(InsPerson.id, sort_by_parameter_order=True), person_rows
    )).scalars().all())
    mats = []
    for pid, r in zip(ids, records, strict=True):
        if r.ins_actif:
            mats.append({"person_id": pid, "number": r.ins_actif.number, "key": r.ins_actif.key,
                         "kind": r.ins_actif.kind, "active": True})
        for h in r.ins_histo:
            if r.ins_actif and h.ins == r.ins_actif.ins:
                continue
            mats.append({"person_id": pid, "number": h.number, "key": h.key, "kind": h.kind, "active": False})
    if mats:
        await session.execute(insert(InsMatricule), mats)
    return ids


async def insert_cards(session: AsyncSession, cards: list[CardIn], *, skip_existing: bool) -> int:
    series = [c.NumeroSerie for c in cards if c.NumeroSerie]
    existing = set()
    if series:
        existing = set((await session.execute(
            select(InsCard.numero_serie).where(InsCard.numero_serie.in_(series))
        )).scalars().all())
    todo = _to_insert(cards, lambda c: c.NumeroSerie in existing,
                      lambda c: InsConflict("NumeroSerie", "INS:card-exists", f"card {c.NumeroSerie} already exists"),
                      skip_existing=skip_existing)
    if not todo:
        return 0
    wanted = {b.INS[:13] for c in todo for b in c.BENEFICIAIRES}
    known = set()
    for row in (await session.execute(
        select(InsPerson.ins_number, InsPerson.ins_key).where(InsPerson.ins_number.in_(wanted))
    )).all():
        known.add(f"{row[0]}{row[1]}")
    for c in todo:
        for b in c.BENEFICIAIRES:
            if b.INS not in known:
                raise BeneficiaryUnknown("BENEFICIAIRES.INS", "INS:card-beneficiary", f"beneficiary INS {b.INS} "
                                         "is not a person of the store (create the person first)")
    now = utcnow()
    await session.execute(insert(InsCard), [
        {"numero_serie": c.NumeroSerie, "matricule_od": c.MatriculeOD.NumIdentifiant[:13],
         "beneficiaires": [b.model_dump(exclude_none=True) for b in c.BENEFICIAIRES], "created_at": now}
        for c in todo
    ])
    return len(todo)


async def insert_idams(session: AsyncSession, idams: list[IdamIn], *, skip_existing: bool) -> int:
    names = [i.IDAM for i in idams]
    existing = set((await session.execute(select(InsIdam.idam).where(InsIdam.idam.in_(names)))).scalars().all())
    todo = _to_insert(idams, lambda i: i.IDAM in existing,
                      lambda i: InsConflict("IDAM", "INS:idam-exists", f"IDAM {i.IDAM} already exists"),
                      skip_existing=skip_existing)
    if todo:
        now = utcnow()
        await session.execute(insert(InsIdam), [
            {"idam": i.IDAM, "nom": i.Nom, "source": i.source, "created_at": now} for i in todo
        ])
    return len(todo)


async def load_fixtures(session: AsyncSession, data: FixtureFile | Mapping[str, Any], *,
                        skip_existing: bool = True) -> dict[str, int]:
    """Load persons, then cards (which refer to persons), then IDAMs. Returns how many were added."""
    fixture = data if isinstance(data, FixtureFile) else FixtureFile.model_validate(data)
    persons = await insert_persons(session, fixture.persons, skip_existing=skip_existing)
    cards = await insert_cards(session, fixture.cards, skip_existing=skip_existing)
    idams = await insert_idams(session, fixture.idams, skip_existing=skip_existing)
    await session.flush()
    return {"persons": len(persons), "cards": cards, "idams": idams}


async def load_fixture_file(session: AsyncSession, path: str | Path) -> dict[str, int]:
    """Load a user fixture file (JSON with any of ``persons``, ``cards``, ``idams`` in the control-API
    shapes), idempotently. What ``segur-sandbox seed --file`` can call."""
    data = json.loads(await asyncio.to_thread(Path(path).read_text, encoding="utf-8"))
    return await load_fixtures(session, data, skip_existing=True)


@lru_cache(maxsize=1)
def builtin_fixtures() -> FixtureFile:
    data: dict[str, Any] = {}
    base = resources.files("app.ins") / "fixtures"
    for name in ("persons", "cards", "idams"):
        data.update(json.loads((base / f"{name}.json").read_text(encoding="utf-8")))
    return FixtureFile.model_validate(data)


async def seed(session: AsyncSession, settings: Any = None) -> None:
    """The domain seeder: the fixtures shipped in ``app/ins/fixtures`` (idempotent)."""
    await load_fixtures(session, builtin_fixtures(), skip_existing=True)


# --------------------------------------------------------------------------- reads and removals


async def list_persons(session: AsyncSession, *, limit: int = 100, offset: int = 0) -> list[search.PersonRecord]:
    rows = (await session.execute(select(*PERSON_COLUMNS).order_by(InsPerson.id).limit(limit).offset(offset))).all()
    return [record(r) for r in rows]


def _person_unknown(ins: str) -> NotFound:
    return NotFound(f"no person with active INS {ins}", rule="INS:person-unknown", field="ins")


async def get_person(session: AsyncSession, ins: str) -> search.PersonRecord:
    """The person whose active INS is ``ins``, or :class:`NotFound`."""
    number, key = nir.split(ins)
    row = (await session.execute(
        select(*PERSON_COLUMNS).where(InsPerson.ins_number == number, InsPerson.ins_key == key)
    )).first()
    if row is None:
        raise _person_unknown(ins)
    return record(row)


async def delete_person(session: AsyncSession, ins: str) -> None:
    """Remove the person whose active INS is ``ins`` and its matricules, or :class:`NotFound`."""
    number, key = nir.split(ins)
    ids = (await session.execute(
        select(InsPerson.id).where(InsPerson.ins_number == number, InsPerson.ins_key == key)
    )).scalars().all()
    if not ids:
        raise _person_unknown(ins)
    await session.execute(delete(InsMatricule).where(InsMatricule.person_id.in_(ids)))
    await session.execute(delete(InsPerson).where(InsPerson.id.in_(ids)))


async def list_cards(session: AsyncSession) -> list[dict]:
    rows = (await session.execute(select(InsCard).order_by(InsCard.id))).scalars().all()
    return [{"NumeroSerie": c.numero_serie, "MatriculeOD": {"NumIdentifiant": c.matricule_od},
             "BENEFICIAIRES": c.beneficiaires} for c in rows]


async def list_idams(session: AsyncSession) -> list[dict]:
    rows = (await session.execute(select(InsIdam).order_by(InsIdam.idam))).scalars().all()
    return [{"IDAM": i.idam, "Nom": i.nom, "source": i.source} for i in rows]


async def delete_idam(session: AsyncSession, idam: str) -> None:
    """Stop accepting ``idam``, or :class:`NotFound`."""
    if not await idam_known(session, idam):
        raise NotFound(f"unknown IDAM {idam}", rule="INS:idam-unknown", field="idam")
    await session.execute(delete(InsIdam).where(InsIdam.idam == idam))
