"""The INS domain's store operations: identity look-ups for other domains, INSi searches, control API.

Other domains use only :func:`find_identity`, :func:`list_identities` and :class:`InsIdentity`.
Services flush, never commit (the request owns the transaction).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ins import nir, search, traits
from app.ins.models import InsCard, InsIdam, InsMatricule, InsPerson
from app.ins.schemas import CardIn, FixtureFile, IdamIn, PersonIn


class InsConflict(Exception):
    """A control-API write that collides with what the store holds."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule, self.message = field, rule, message


# --------------------------------------------------------------------------- for other domains


@dataclass(frozen=True)
class InsIdentity:
    """An identity of the simulated national base, as DMP and MSSanté need it."""

    ins: str  # 15 characters: 13-character NIR/NIA + 2-digit key
    oid: str  # the assigning authority (.8 NIR / .9 NIA under the real policy, .10 for NIR under test)
    birth_name: str
    first_given_name: str
    given_names: str  # ListePrenom: every birth prénom, civil-status order, space-separated
    sex: str  # M / F
    birth_date: str  # INSi DateLunaire YYYY-MM-DD, 00 allowed for an unknown day/month
    birth_place: str | None  # INSEE COG code
    kind: str = "NIR"  # NIR or NIA
    active: bool = True  # False when ``ins`` is a former matricule (INSHISTO) of this person


# Core columns rather than the ORM entity: other domains call find_identity on their hot paths.
_IDENTITY_COLUMNS = (
    InsPerson.nom_naissance, InsPerson.liste_prenom, InsPerson.sexe, InsPerson.date_naissance,
    InsPerson.lieu_naissance, InsPerson.ins_number, InsPerson.ins_key, InsPerson.ins_kind,
)


def _identity(row: Any, policy: str, *, ins: str | None = None, kind: str | None = None,
              active: bool = True) -> InsIdentity:
    kind = kind or row.ins_kind or "NIR"
    return InsIdentity(
        ins=ins or f"{row.ins_number}{row.ins_key}",
        oid=nir.oid_for(kind, policy),  # type: ignore[arg-type]
        birth_name=row.nom_naissance,
        first_given_name=traits.first_prenom(row.liste_prenom),
        given_names=row.liste_prenom,
        sex=row.sexe,
        birth_date=row.date_naissance,
        birth_place=row.lieu_naissance,
        kind=kind,
        active=active,
    )


def lookup_key(ins: str, oid: str | None = None) -> tuple[str, str, str | None] | None:
    """(number, key, kind) that :func:`find_identity` looks up: ``ins`` cleaned as people type it, split into
    its 13 characters and key; with ``oid``, the kind (NIR or NIA) the identity must have — an INS OID of
    the catalogue, NIA .9, NIR .8/.10/.11 (reference ins.md). None when the answer is "unknown" without
    reading the store. For the domains that fold the lookup into a query of their own (DMP feeding)."""
    value = nir.clean(ins)
    if len(value) != 15:
        return None
    if oid is None:
        return value[:13], value[13:], None
    try:
        info = nir.check_oid(oid)
    except nir.OidError:
        return None
    return value[:13], value[13:], "NIA" if info.kind == "NIA" else "NIR"


def identity_kind_subquery() -> Any:
    """The kind (NIR or NIA) of the identity whose active INS is ``(:ins_number, :ins_key)``, as a scalar
    subquery read as :func:`find_identity` reads it (first row; parameters named ``ins_number`` and
    ``ins_key``, from :func:`lookup_key`). For a domain that folds the INS check into a query of its own
    (DMP feeding: one statement instead of two on the ITI-65 hot path)."""
    return (select(InsPerson.ins_kind)
            .where(InsPerson.ins_number == bindparam("ins_number"), InsPerson.ins_key == bindparam("ins_key"))
            .limit(1).scalar_subquery())


async def find_identity(
    session: AsyncSession, *, ins: str, oid: str | None = None, policy: str = "real",
    include_history: bool = False,
) -> InsIdentity | None:
    """The identity whose active INS is ``ins`` (15 characters), or ``None``.

    With ``oid``, the OID must be an INS OID of the same kind (NIA .9; NIR .8/.10/.11), else ``None``.
    With ``include_history``, a former matricule also finds its person (``active=False`` on the answer).
    """
    wanted = lookup_key(ins, oid)
    if wanted is None:
        return None
    number, key, want_kind = wanted
    value = number + key
    row = (await session.execute(
        select(*_IDENTITY_COLUMNS).where(InsPerson.ins_number == number, InsPerson.ins_key == key)
    )).first()
    if row is not None and (want_kind is None or row.ins_kind == want_kind):
        ident = _identity(row, policy)
        if oid is not None:
            ident = _with_oid(ident, oid)
        return ident
    if not include_history:
        return None
    hit = (await session.execute(
        select(InsMatricule.kind.label("histo_kind"), *_IDENTITY_COLUMNS)
        .join(InsPerson, InsPerson.id == InsMatricule.person_id)
        .where(InsMatricule.number == number, InsMatricule.key == key, InsMatricule.active.is_(False))
    )).first()
    if hit is None:
        return None
    if want_kind is not None and hit.histo_kind != want_kind:
        return None
    return _identity(hit, policy, ins=value, kind=hit.histo_kind, active=False)


KNOWN_INS_CHUNK = 500
"""Candidates per query in :func:`known_ins`: far below PostgreSQL's and SQLite's bound-parameter limits."""


async def known_ins(session: AsyncSession, candidates: Iterable[str]) -> set[str]:
    """Those of ``candidates`` for which :func:`find_identity` (no OID, no history) finds an identity,
    in one query per 500 candidates instead of one each (an XDM may name many patients)."""
    wanted: dict[tuple[str, str], list[str]] = {}
    for candidate in candidates:
        looked_up = lookup_key(candidate)
        if looked_up is not None:
            wanted.setdefault((looked_up[0], looked_up[1]), []).append(candidate)
    found: set[str] = set()
    pairs = list(wanted)
    for start in range(0, len(pairs), KNOWN_INS_CHUNK):
        chunk = pairs[start:start + KNOWN_INS_CHUNK]
        rows = await session.execute(
            select(InsPerson.ins_number, InsPerson.ins_key).where(
                InsPerson.ins_number.in_({number for number, _ in chunk})
            )
        )
        for number, key in rows:
            found.update(wanted.get((str(number), str(key)), ()))
    return found


def _with_oid(ident: InsIdentity, oid: str) -> InsIdentity:
    from dataclasses import replace

    return replace(ident, oid=nir.check_oid(oid).oid)


async def list_identities(session: AsyncSession, *, policy: str = "real") -> list[InsIdentity]:
    """Every identity with an active INS (persons that only simulate a fault are left out)."""
    rows = (await session.execute(
        select(*_IDENTITY_COLUMNS).where(InsPerson.ins_number.is_not(None)).order_by(InsPerson.id)
    )).all()
    return [_identity(r, policy) for r in rows]


# --------------------------------------------------------------------------- records


def _histo_json(p: search.PersonRecord) -> list[dict]:
    return [
        {"number": h.number, "key": h.key, "kind": h.kind, "type": h.type_matricule, "deb": h.date_deb,
         "fin": h.date_fin}
        for h in p.ins_histo
    ]


_COLUMNS = (
    InsPerson.id, InsPerson.nom_naissance, InsPerson.liste_prenom, InsPerson.sexe, InsPerson.date_naissance,
    InsPerson.lieu_naissance, InsPerson.rang_naissance, InsPerson.ins_number, InsPerson.ins_key,
    InsPerson.ins_kind, InsPerson.ins_type, InsPerson.ins_date_deb, InsPerson.ins_date_fin, InsPerson.histo,
    InsPerson.fault,
)


def _record(row: Any) -> search.PersonRecord:
    (id_, nom, liste, sexe, date, lieu, rang, number, key, kind, typ, deb, fin, histo, fault) = row
    if not isinstance(histo, list):
        histo = () if not histo or histo == "[]" else json.loads(histo)  # most persons have no INSHISTO
    return search.PersonRecord(
        nom_naissance=nom, liste_prenom=liste, sexe=sexe, date_naissance=date, lieu_naissance=lieu,
        ins_actif=search.InsRecord(number, key, kind, typ, deb, fin) if number else None,
        ins_histo=tuple(search.InsRecord(h["number"], h["key"], h["kind"], h.get("type"), h.get("deb"),
                                         h.get("fin")) for h in histo),
        rang_naissance=rang, fault=fault, id=id_,
    )


def person_json(p: search.PersonRecord, oid_of, *, with_prenom: bool = False) -> dict:
    """The ``INDIVIDU`` of an INSi answer, in INSi's own element names."""

    def ins(r: search.InsRecord) -> dict:
        d: dict = {"IdIndividu": {"NumIdentifiant": r.number, "Cle": r.key}, "OID": oid_of(r)}
        if r.type_matricule:
            d["IdIndividu"]["TypeMatricule"] = r.type_matricule
        if r.date_deb:
            d["DateDeb"] = r.date_deb
        if r.date_fin:
            d["DateFin"] = r.date_fin
        return d

    tiq: dict = {"NomNaissance": p.nom_naissance}
    if with_prenom:
        tiq["Prenom"] = p.first_prenom
    tiq.update({"ListePrenom": p.liste_prenom, "Sexe": p.sexe, "DateNaissance": p.date_naissance})
    if p.lieu_naissance:
        tiq["LieuNaissance"] = p.lieu_naissance
    out: dict = {}
    if p.ins_actif:
        out["INSACTIF"] = ins(p.ins_actif)
    out["INSHISTO"] = [ins(h) for h in p.ins_histo]
    out["TIQ"] = tiq
    return out


# --------------------------------------------------------------------------- INSi operations


async def search_by_traits(session: AsyncSession, query: traits.TraitQuery) -> search.Outcome:
    """``rechercherInsAvecTraitsIdentite``: candidates on the indexed traits, then the pure rules."""
    stmt = select(*_COLUMNS).where(
        or_(
            and_(InsPerson.nom_naissance == query.nom_naissance, InsPerson.date_naissance == query.date_naissance),
            and_(InsPerson.nom_naissance == query.nom_naissance, InsPerson.fault.is_not(None)),
        )
    )
    rows = (await session.execute(stmt)).all()
    return search.search_by_traits(query, (_record(r) for r in rows))


_PG_COLUMNS = ("id, nom_naissance, liste_prenom, sexe, date_naissance, lieu_naissance, rang_naissance, ins_number, "
               "ins_key, ins_kind, ins_type, ins_date_deb, ins_date_fin, histo, fault")
_PG_TRAITS = (
    f"SELECT {_PG_COLUMNS} FROM ins_person WHERE (nom_naissance = $1 AND date_naissance = $2) "
    "OR (nom_naissance = $1 AND fault IS NOT NULL)"
)
_PG_TRAITS_IDAM = (
    "SELECT i.ok, " + ", ".join(f"p.{c.strip()}" for c in _PG_COLUMNS.split(",")) +
    " FROM (SELECT EXISTS (SELECT 1 FROM ins_idam WHERE idam = $3) AS ok) AS i LEFT JOIN ins_person AS p"
    " ON (p.nom_naissance = $1 AND p.date_naissance = $2) OR (p.nom_naissance = $1 AND p.fault IS NOT NULL)"
)


async def search_by_traits_fast(
    state: Any, query: traits.TraitQuery, *, idam: str | None = None,
) -> tuple[bool | None, search.Outcome]:
    """The hot path of both INSi front doors: one round trip, outside any transaction.

    On PostgreSQL the read-only query runs on the domain's own connections (``state.ins_pg_pool``, a
    :class:`~app.ins.readpool.ReadPool` over an asyncpg pool, opened by :func:`lifespan`), with the IDAM check
    folded into the same statement: SQLAlchemy's session and pool machinery cost several times the query itself
    here (measured, see docs/ins.md). Without that pool (SQLite) it falls back to :func:`search_by_traits`.
    Returns (IDAM known, or None when not asked; outcome).
    """
    pool = getattr(state, "ins_pg_pool", None)
    if pool is not None:
        if idam is None:
            rows = await pool.fetch(_PG_TRAITS, query.nom_naissance, query.date_naissance)
            known = None
        else:
            rows = await pool.fetch(_PG_TRAITS_IDAM, query.nom_naissance, query.date_naissance, idam)
            known = bool(rows[0][0])
            rows = [tuple(r)[1:] for r in rows if r[1] is not None]
        return known, search.search_by_traits(query, (_record(r) for r in rows))
    async with state.sessionmaker() as session:
        known = await idam_known(session, idam) if idam is not None else None
        return known, await search_by_traits(session, query)


async def _keep_session(connection: Any) -> None:
    """Only single read-only statements run on the INS pool: no session state to reset, so skip asyncpg's
    default reset query (a round trip on every release)."""


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Open the INS read pool on PostgreSQL (a few connections, read-only statements, no transactions)."""
    settings = app.state.settings
    if not settings.database_url.startswith("postgresql"):
        yield
        return
    import asyncpg

    from app.ins.readpool import ReadPool

    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    size = max(2, min(settings.database_pool_size, 10))
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size, reset=_keep_session,
                                     server_settings={"application_name": "segur-sandbox-ins"})
    reads = ReadPool(pool, size)
    app.state.ins_pg_pool = reads
    try:
        yield
    finally:
        app.state.ins_pg_pool = None
        await reads.close()
        if reads.size:  # a connection still out (a request cut short at shutdown): do not wait for it
            pool.terminate()
        else:
            await pool.close()


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
    rows = (await session.execute(select(*_COLUMNS).where(InsPerson.ins_number.in_(numbers)))).all()
    by_ins = {f"{r.ins_number}{r.ins_key}": _record(r) for r in rows}
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
        select(*_COLUMNS).join(InsMatricule, InsMatricule.person_id == InsPerson.id)
        .where(InsMatricule.number == number, InsMatricule.key == key).limit(1)
    )).first()
    return _record(row) if row else None


async def verify(session: AsyncSession, *, ins: str, oid: str, query: traits.TraitQuery) -> search.Verification:
    info = nir.check_oid(oid)
    owner = await owner_of(session, ins)
    return search.verify(nir.clean(ins), "NIA" if info.kind == "NIA" else "NIR", query, owner)


async def idam_known(session: AsyncSession, idam: str) -> bool:
    return (await session.execute(select(InsIdam.idam).where(InsIdam.idam == idam))).first() is not None


# --------------------------------------------------------------------------- control API / fixtures


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
    todo = []
    for p in persons:
        clash = (p.INSACTIF and p.INSACTIF.IdIndividu.NumIdentifiant in existing) or \
            (p.fault and (p.NomNaissance, p.ListePrenom) in existing_faults)
        if clash:
            if skip_existing:
                continue
            raise InsConflict("INSACTIF", "INS:exists",
                              f"a person with this INS already exists ({p.NomNaissance} {p.ListePrenom})")
        todo.append(p)
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
            "histo": _histo_json(r), "fault": r.fault, "accept_invalid_key": p.accept_invalid_key,
            "source": p.source,
        })
    from app.db import utcnow

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
    todo = []
    for c in cards:
        if c.NumeroSerie in existing:
            if skip_existing:
                continue
            raise InsConflict("NumeroSerie", "INS:card-exists", f"card {c.NumeroSerie} already exists")
        todo.append(c)
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
                raise InsConflict("BENEFICIAIRES.INS", "INS:card-beneficiary",
                                  f"beneficiary INS {b.INS} is not a person of the store (create the person first)")
    from app.db import utcnow

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
    todo = []
    for i in idams:
        if i.IDAM in existing:
            if skip_existing:
                continue
            raise InsConflict("IDAM", "INS:idam-exists", f"IDAM {i.IDAM} already exists")
        todo.append(i)
    if todo:
        from app.db import utcnow

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


async def list_persons(session: AsyncSession, *, limit: int = 100, offset: int = 0) -> list[search.PersonRecord]:
    rows = (await session.execute(select(*_COLUMNS).order_by(InsPerson.id).limit(limit).offset(offset))).all()
    return [_record(r) for r in rows]


async def get_person(session: AsyncSession, ins: str) -> search.PersonRecord | None:
    number, key = nir.split(ins)
    row = (await session.execute(
        select(*_COLUMNS).where(InsPerson.ins_number == number, InsPerson.ins_key == key)
    )).first()
    return _record(row) if row else None


async def delete_person(session: AsyncSession, ins: str) -> bool:
    number, key = nir.split(ins)
    ids = (await session.execute(
        select(InsPerson.id).where(InsPerson.ins_number == number, InsPerson.ins_key == key)
    )).scalars().all()
    if not ids:
        return False
    await session.execute(delete(InsMatricule).where(InsMatricule.person_id.in_(ids)))
    await session.execute(delete(InsPerson).where(InsPerson.id.in_(ids)))
    return True


async def list_cards(session: AsyncSession) -> list[dict]:
    rows = (await session.execute(select(InsCard).order_by(InsCard.id))).scalars().all()
    return [{"NumeroSerie": c.numero_serie, "MatriculeOD": {"NumIdentifiant": c.matricule_od},
             "BENEFICIAIRES": c.beneficiaires} for c in rows]


async def list_idams(session: AsyncSession) -> list[dict]:
    rows = (await session.execute(select(InsIdam).order_by(InsIdam.idam))).scalars().all()
    return [{"IDAM": i.idam, "Nom": i.nom, "source": i.source} for i in rows]


async def delete_idam(session: AsyncSession, idam: str) -> bool:
    exists = await idam_known(session, idam)
    if exists:
        await session.execute(delete(InsIdam).where(InsIdam.idam == idam))
    return exists
