"""DMP records: what a test harness arranges through the control API — creation (TD1.1), closure and
reactivation, professionals' authorisations and blocks, the patient's objections (reference/dmp.md §2.5,
§2.7, §5.5) — and the record each face loads by INS."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.dmp.exceptions import DmpError, Kind
from app.dmp.models import DmpAuthorisation, DmpBlockedProfessional, DmpDocument, DmpRecord
from app.ins import service as ins_service


async def get_record(session: AsyncSession, *, ins: str) -> DmpRecord | None:
    return (await session.execute(select(DmpRecord).where(DmpRecord.ins == ins))).scalar_one_or_none()


async def record_by_id(session: AsyncSession, *, dmp_id: int) -> DmpRecord | None:
    return await session.get(DmpRecord, dmp_id)


async def patient_identity(session: AsyncSession, record: DmpRecord) -> Any:
    """The INS identity of the DMP's patient (traits for TD02), or None when the INS service no longer knows
    it — read through :func:`app.ins.service.find_identity`, never from ``ins_person`` directly."""
    return await ins_service.find_identity(session, ins=record.ins, oid=f"urn:oid:{record.ins_oid}")


def no_record(ins: str) -> DmpError:
    return DmpError(Kind.NOT_FOUND, f"no DMP for INS {ins}", french=f"aucun DMP pour l'INS {ins}", rule="DMP:exists")


async def require_record(session: AsyncSession, *, ins: str) -> DmpRecord:
    record = await get_record(session, ins=ins)
    if record is None:
        raise no_record(ins)
    return record


async def create_record(session: AsyncSession, *, ins: str, oid: str | None) -> DmpRecord:
    identity = await ins_service.find_identity(session, ins=ins, oid=oid)
    if identity is None:
        raise DmpError(Kind.NOT_FOUND, f"INS {ins} is unknown to the INS service: create the person first "
                       "(/sandbox/v1/persons)", rule="INS:unknown")
    if await get_record(session, ins=identity.ins) is not None:
        raise record_exists(identity.ins)
    # Two creations for one INS may both pass the check above. The insert yields to the unique index on (tenant,
    # ins) (ON CONFLICT DO NOTHING: on PostgreSQL it waits for the other creation's commit; the tenant column is
    # written by its default, the current tenant): the loser inserts
    # nothing and gets the check's refusal (TD1.1 answers it DMPFound, the control API 409), never a 500.
    # (Not an IntegrityError caught in a SAVEPOINT: pysqlite commits on releasing an outermost SAVEPOINT, so
    # a refused request would keep what it wrote before.)
    assert session.bind is not None
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    now = utcnow()
    created = (await session.execute(
        dialect.insert(DmpRecord).values(ins=identity.ins, ins_oid=identity.oid.removeprefix("urn:oid:"),
                                         active=True, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=[DmpRecord.tenant, DmpRecord.ins])
        .returning(DmpRecord.id))).scalar_one_or_none()
    if created is None:
        raise record_exists(identity.ins)
    record = await session.get(DmpRecord, created)
    assert record is not None
    return record


def record_exists(ins: str) -> DmpError:
    return DmpError(Kind.CONFLICT, f"a DMP already exists for INS {ins}", french=f"un DMP existe déjà pour l'INS {ins}",
                    rule="DMP:exists")


async def close_record(session: AsyncSession, *, record: DmpRecord, reason: str, text: str | None) -> DmpRecord:
    if not record.active:
        raise DmpError(Kind.CONFLICT, "the DMP is already closed", rule="DMP:closed")
    record.active = False
    record.closure_date = utcnow()
    record.closure_reason = reason
    record.closure_text = text
    record.updated_at = utcnow()
    await session.flush()
    return record


async def reopen_record(session: AsyncSession, *, record: DmpRecord) -> DmpRecord:
    if record.active:
        raise DmpError(Kind.CONFLICT, "the DMP is open", rule="DMP:open")
    record.active = True
    record.closure_date = record.closure_reason = record.closure_text = None
    record.updated_at = utcnow()
    await session.flush()
    return record


async def set_authorisation(session: AsyncSession, *, record: DmpRecord, rpps: str, status: str,
                            medecin_traitant: bool = False) -> None:
    row = (await session.execute(select(DmpAuthorisation).where(
        DmpAuthorisation.dmp_id == record.id, DmpAuthorisation.rpps == rpps))).scalar_one_or_none()
    if status == "NON_EXISTE":
        if row is not None:
            await session.delete(row)
    elif row is None:
        session.add(DmpAuthorisation(dmp_id=record.id, rpps=rpps, status=status, medecin_traitant=medecin_traitant,
                                     updated_at=utcnow()))
    else:
        row.status, row.medecin_traitant, row.updated_at = status, medecin_traitant, utcnow()
    await session.flush()


async def list_authorisations(session: AsyncSession, *, record: DmpRecord) -> list[DmpAuthorisation]:
    return list((await session.execute(select(DmpAuthorisation).where(DmpAuthorisation.dmp_id == record.id)
                                       .order_by(DmpAuthorisation.rpps))).scalars().all())


async def set_blocked(session: AsyncSession, *, record: DmpRecord, rpps: str, blocked: bool) -> None:
    if blocked:
        exists = (await session.execute(select(DmpBlockedProfessional.id).where(
            DmpBlockedProfessional.dmp_id == record.id, DmpBlockedProfessional.rpps == rpps))).first()
        if exists is None:
            session.add(DmpBlockedProfessional(dmp_id=record.id, rpps=rpps, blocked_at=utcnow()))
    else:
        await session.execute(delete(DmpBlockedProfessional).where(
            DmpBlockedProfessional.dmp_id == record.id, DmpBlockedProfessional.rpps == rpps))
    await session.flush()


async def list_blocked(session: AsyncSession, *, record: DmpRecord) -> list[str]:
    return list((await session.execute(select(DmpBlockedProfessional.rpps).where(
        DmpBlockedProfessional.dmp_id == record.id).order_by(DmpBlockedProfessional.rpps))).scalars().all())


async def list_records(session: AsyncSession) -> list[DmpRecord]:
    return list((await session.execute(select(DmpRecord).order_by(DmpRecord.id))).scalars().all())


async def documents_for(session: AsyncSession, *, record: DmpRecord) -> list[DmpDocument]:
    return list((await session.execute(select(DmpDocument).where(DmpDocument.dmp_id == record.id)
                                       .order_by(DmpDocument.date.desc()))).scalars().all())


async def count_documents(session: AsyncSession, *, record: DmpRecord) -> int:
    return (await session.execute(select(func.count()).select_from(DmpDocument).where(
        DmpDocument.dmp_id == record.id))).scalar_one()


async def set_opt_outs(session: AsyncSession, *, record: DmpRecord, bris_de_glace: bool | None,
                       centre_15: bool | None) -> None:
    """The patient's objections to break-glass and centre 15 access; None leaves one as it is."""
    if bris_de_glace is not None:
        record.opt_out_bris_de_glace = bris_de_glace
    if centre_15 is not None:
        record.opt_out_centre_15 = centre_15
    await session.flush()
