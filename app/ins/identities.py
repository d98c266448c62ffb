"""Identities of the simulated national base, as other domains read them (DMP, MSSanté): the public look-ups
:mod:`app.ins.service` exposes. Read-only; a person that only simulates an INSi fault is no identity."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ins import nir, traits
from app.ins.exceptions import OidError
from app.ins.models import InsMatricule, InsPerson


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
    except OidError:
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
    return replace(ident, oid=nir.check_oid(oid).oid)


async def list_identities(session: AsyncSession, *, policy: str = "real") -> list[InsIdentity]:
    """Every identity with an active INS (persons that only simulate a fault are left out)."""
    rows = (await session.execute(
        select(*_IDENTITY_COLUMNS).where(InsPerson.ins_number.is_not(None)).order_by(InsPerson.id)
    )).all()
    return [_identity(r, policy) for r in rows]
