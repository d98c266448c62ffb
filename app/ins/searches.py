"""The INSi operations on the store: search by traits, search by Carte Vitale, verification, the IDAM registry.

The store pre-selects candidates on indexed columns; the pure rules (:mod:`app.ins.search`) decide. Both faces
(SOAP and JSON) call these and map the domain's errors (:mod:`app.ins.exceptions`) to their protocol.

The search by traits has one query definition, :data:`TRAITS` (with the IDAM check folded in:
:data:`TRAITS_IDAM`), run either through the session (the plain path) or, on PostgreSQL with
``settings.fast_paths`` on, as the same statement compiled once for asyncpg on the domain's own connections
(:func:`search_by_traits_fast`, :mod:`app.ins.readpool`).

Tenants: through the session, the ORM scopes every table of the statement to the current tenant
(:mod:`app.tenancy`). The asyncpg fast path bypasses the session and the engine's guard, so its compiled
statement is given the same criterion by the same rule (``with_loader_criteria`` on every tenant-owned entity,
aliases and the IDAM subquery included), the tenant a bound parameter (:data:`TENANT_PARAM`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import String, and_, bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, with_loader_criteria

from app.ins import nir, search, traits
from app.ins.exceptions import IdamRefused
from app.ins.models import InsCard, InsIdam, InsMatricule, InsPerson
from app.ins.records import PERSON_COLUMNS, record
from app.tenancy import TenantOwned, current_tenant

# --------------------------------------------------------------------------- the one query of the trait search


def _candidates(person: Any) -> Any:
    """Candidates of a search by traits: same birth name and birth date, or a person that simulates a fault
    (answered whatever the birth date). Both halves are indexed (``ix_ins_person_traits``, the partial
    ``ix_ins_person_fault``)."""
    nom, date = bindparam("nom_naissance", type_=String), bindparam("date_naissance", type_=String)
    return or_(and_(person.nom_naissance == nom, person.date_naissance == date),
               and_(person.nom_naissance == nom, person.fault.is_not(None)))


TRAITS = select(*PERSON_COLUMNS).where(_candidates(InsPerson))
"""The candidates of ``rechercherInsAvecTraitsIdentite``; parameters ``nom_naissance``, ``date_naissance``."""


def _traits_with_idam() -> Any:
    known = select(exists().where(InsIdam.idam == bindparam("idam")).label("ok")).subquery("i")
    person = aliased(InsPerson, name="p")
    columns = [getattr(person, column.key) for column in PERSON_COLUMNS]
    return select(known.c.ok, *columns).select_from(known).outerjoin(person, _candidates(person))


TRAITS_IDAM = _traits_with_idam()
""":data:`TRAITS` with the IDAM check folded in (one round trip for ``/lps``): one row per candidate, or a single
row of NULL persons when there is none; the first column says whether the IDAM is known. Parameters
``nom_naissance``, ``date_naissance``, ``idam``."""


def _params(query: traits.TraitQuery, idam: str | None) -> dict[str, Any]:
    params = {"nom_naissance": query.nom_naissance, "date_naissance": query.date_naissance}
    if idam is not None:
        params["idam"] = idam
    return params


def _outcome(query: traits.TraitQuery, rows: Sequence[Any], idam: str | None) -> search.Outcome:
    """The rules' answer for the rows of :data:`TRAITS` or :data:`TRAITS_IDAM` (``IdamRefused`` first)."""
    if idam is None:
        return search.search_by_traits(query, (record(r) for r in rows))
    if not rows[0][0]:
        raise IdamRefused(idam)
    return search.search_by_traits(query, (record(tuple(r)[1:]) for r in rows if r[1] is not None))


async def search_by_traits(session: AsyncSession, query: traits.TraitQuery, *,
                           idam: str | None = None) -> search.Outcome:
    """``rechercherInsAvecTraitsIdentite``: candidates on the indexed traits, then the pure rules. With ``idam``,
    the software's authorisation number is checked in the same statement (:class:`IdamRefused`)."""
    rows = (await session.execute(TRAITS if idam is None else TRAITS_IDAM, _params(query, idam))).all()
    return _outcome(query, rows, idam)


@dataclass(frozen=True)
class Compiled:
    """A statement compiled once for asyncpg: its SQL (``$1``, ``$2`` ...) and the parameter names in order."""

    sql: str
    names: tuple[str, ...]

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]


TENANT_PARAM = "tenant"
"""The bound parameter of the tenant in the statements compiled for asyncpg."""


def _in_tenant(statement: Any) -> Any:
    """``statement`` scoped to the tenant given as :data:`TENANT_PARAM`, as the ORM scopes it in a session
    (:func:`app.tenancy._scope_to_tenant`): every tenant-owned entity, its aliases and subqueries included."""
    tenant = bindparam(TENANT_PARAM, type_=String())
    return statement.options(with_loader_criteria(TenantOwned, lambda cls: cls.tenant == tenant,
                                                  include_aliases=True))


@cache
def compiled_for_asyncpg(with_idam: bool) -> Compiled:
    """:data:`TRAITS` / :data:`TRAITS_IDAM` as SQLAlchemy writes them for asyncpg, scoped to a tenant
    (:data:`TENANT_PARAM`), compiled on the first fast search, not at import: the PostgreSQL dialect costs
    ~0.1 s to load, for nothing on SQLite."""
    from sqlalchemy.dialects.postgresql import asyncpg

    compiled = _in_tenant(TRAITS_IDAM if with_idam else TRAITS).compile(dialect=asyncpg.dialect())
    if TENANT_PARAM not in (compiled.positiontup or ()):
        raise RuntimeError(f"the fast INS search is not scoped to the tenant: {compiled}")
    return Compiled(str(compiled), tuple(compiled.positiontup or ()))


async def search_by_traits_fast(state: Any, query: traits.TraitQuery, *, idam: str | None = None) -> search.Outcome:
    """The hot path of both INSi front doors: one round trip, outside any transaction, in the current tenant.

    Fast path (PostgreSQL, ``settings.fast_paths``): the statement of :func:`search_by_traits`, compiled once for
    asyncpg, runs on the domain's own connections (``state.ins_pg_pool``, a :class:`~app.ins.readpool.ReadPool`
    opened by :func:`app.ins.readpool.lifespan`): SQLAlchemy's session and pool machinery cost several times the
    query itself here (measured, see docs/ins.md). Plain path (no such pool: SQLite, or fast paths off): the
    same statement through a session of ``state.sessionmaker``. Raises :class:`IdamRefused` for an unknown IDAM.
    """
    pool = getattr(state, "ins_pg_pool", None)
    if pool is not None:
        compiled = compiled_for_asyncpg(idam is not None)
        params = _params(query, idam)
        params[TENANT_PARAM] = current_tenant()
        rows = await pool.fetch(compiled.sql, *compiled.args(params))
        return _outcome(query, rows, idam)
    async with state.sessionmaker() as session:
        return await search_by_traits(session, query, idam=idam)


# --------------------------------------------------------------------------- the other operations


async def search_by_card(session: AsyncSession, query: search.VitaleQuery) -> search.Outcome:
    """``rechercherInsAvecCarteVitale``: the card designates a beneficiary, INSi answers *their* INS."""
    if not query.matricule_od:
        return search.Outcome(*search.CR_NOT_FOUND)
    cards = (await session.execute(
        select(InsCard).where(InsCard.matricule_od == query.matricule_od[:13])
    )).scalars().all()
    chosen = search.select_beneficiaries(query, (_card(c) for c in cards))
    if not chosen:
        return search.Outcome(*search.CR_NOT_FOUND)
    numbers = {b.ins[:13] for b in chosen}
    rows = (await session.execute(select(*PERSON_COLUMNS).where(InsPerson.ins_number.in_(numbers)))).all()
    by_ins = {f"{r.ins_number}{r.ins_key}": record(r) for r in rows}
    persons = [by_ins[b.ins] for b in chosen if b.ins in by_ins]
    return search.decide_vitale(persons)


def _card(c: InsCard) -> search.Card:
    bens = tuple(
        search.CardBeneficiary(
            ins=b["INS"], date_naissance=b["DateNaissance"], rang_naissance=b.get("RangNaissance") or "1",
            nom_naissance=b.get("NomNaissance"),
            matricule_individu=(b.get("MatriculeIndividu") or {}).get("NumIdentifiant"),
        )
        for b in c.beneficiaires
    )
    return search.Card(c.matricule_od, bens, c.numero_serie)


async def owner_of(session: AsyncSession, ins: str) -> search.PersonRecord | None:
    """The person whose active or former matricule is ``ins``."""
    number, key = nir.split(ins)
    row = (await session.execute(
        select(*PERSON_COLUMNS).join(InsMatricule, InsMatricule.person_id == InsPerson.id)
        .where(InsMatricule.number == number, InsMatricule.key == key).limit(1)
    )).first()
    return record(row) if row else None


async def verify(session: AsyncSession, *, ins: str, oid: str, query: traits.TraitQuery) -> search.Verification:
    """Does the base confirm this matricule + OID + traits triple (:func:`app.ins.search.verify`)?"""
    info = nir.check_oid(oid)
    owner = await owner_of(session, ins)
    return search.verify(nir.clean(ins), "NIA" if info.kind == "NIA" else "NIR", query, owner)


async def idam_known(session: AsyncSession, idam: str) -> bool:
    return (await session.execute(select(InsIdam.idam).where(InsIdam.idam == idam))).first() is not None


async def check_idam(session: AsyncSession, idam: str | None) -> None:
    """:class:`IdamRefused` unless ``idam`` is an accepted software authorisation number."""
    if not idam or not await idam_known(session, idam):
        raise IdamRefused(idam)

