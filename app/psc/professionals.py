"""PSC's test professionals: created through the control API or seeded from the fixture file, read by the
flows and, through the service, by the other domains (:class:`app.shared.professional.Professional`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.events import publish
from app.psc.exceptions import InvalidProfessional, ProfessionalExists, UnknownProfessional
from app.psc.memory import TOPIC_PROFESSIONAL, professional_key
from app.psc.models import Professional as ProfessionalRow
from app.psc.rpps import rpps_from_subject_name_id
from app.psc.storage import usable_id
from app.psc.userinfo import normalise_userinfo, profession_code, shape_problem
from app.shared.professional import Professional
from app.tenancy import current_tenant


async def professional_row(session: AsyncSession, subject_name_id: str) -> ProfessionalRow | None:
    if not usable_id(subject_name_id, max_length=64):
        return None
    return await session.get(ProfessionalRow, (current_tenant(), subject_name_id))


def professional_row_of(data: Mapping[str, Any]) -> ProfessionalRow:
    doc = normalise_userinfo(data)
    sni = doc["SubjectNameID"]
    return ProfessionalRow(
        subject_name_id=sni,
        rpps=rpps_from_subject_name_id(sni),
        given_name=doc.get("given_name", ""),
        family_name=doc.get("family_name", ""),
        profession_code=profession_code(doc),
        userinfo=doc,
        created_at=utcnow(),
    )


def to_professional(
    row: ProfessionalRow,
    *,
    client_id: str | None = None,
    scopes: Sequence[str] = (),
    claims: Mapping[str, Any] | None = None,
) -> Professional:
    return Professional(
        subject_name_id=row.subject_name_id,
        rpps=row.rpps,
        given_name=row.given_name,
        family_name=row.family_name,
        profession_code=row.profession_code,
        client_id=client_id,
        scopes=tuple(scopes),
        userinfo=row.userinfo,
        token_claims=dict(claims or {}),
    )


async def list_professionals(session: AsyncSession) -> list[Professional]:
    """Every professional of the store (fixtures and those created through the control API)."""
    rows = (await session.scalars(select(ProfessionalRow).order_by(ProfessionalRow.subject_name_id))).all()
    return [to_professional(row) for row in rows]


async def get_professional(session: AsyncSession, *, subject_name_id: str) -> Professional | None:
    row = await professional_row(session, subject_name_id)
    return to_professional(row) if row is not None else None


async def load_professional(session: AsyncSession, *, subject_name_id: str) -> Professional:
    """The professional, or :class:`UnknownProfessional`."""
    pro = await get_professional(session, subject_name_id=subject_name_id)
    if pro is None:
        raise UnknownProfessional(f"no professional {subject_name_id!r}", rule="PSC:professional.unknown")
    return pro


async def create_professional(session: AsyncSession, *, data: Mapping[str, Any]) -> Professional:
    sni = data.get("SubjectNameID")
    if not usable_id(sni, max_length=64):
        raise InvalidProfessional('SubjectNameID is required ("8" + RPPS)', rule="PSC:professional.SubjectNameID")
    if sni.startswith("8") and len(sni) == 12 and rpps_from_subject_name_id(sni) is None:
        raise InvalidProfessional(f"{sni!r}: the RPPS Luhn key is wrong", rule="PSC:professional.rpps_key")
    for name in ("given_name", "family_name"):
        if not isinstance(data.get(name), str) or not data[name] or "\x00" in data[name]:
            raise InvalidProfessional(f"{name} is required", rule=f"PSC:professional.{name}")
        if len(data[name]) > 255:
            raise InvalidProfessional(f"{name} is longer than 255 characters", rule=f"PSC:professional.{name}")
    problem = shape_problem(data)
    if problem is not None:
        raise InvalidProfessional(problem, rule="PSC:professional.shape")
    if len(profession_code(normalise_userinfo(data))) > 8:
        raise InvalidProfessional("codeProfession is longer than 8 characters", rule="PSC:professional.shape")
    if await session.get(ProfessionalRow, (current_tenant(), sni)) is not None:
        raise ProfessionalExists(f"{sni} already exists", rule="PSC:professional.exists")
    row = professional_row_of(data)
    session.add(row)
    await session.flush()
    await publish(session, TOPIC_PROFESSIONAL, professional_key(sni))
    return to_professional(row)
