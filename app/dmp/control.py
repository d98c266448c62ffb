"""Control API ``/sandbox/v1/dmps``: what a test harness arranges before acting as a vendor would.

DMP creation, closure (with a reason) and reactivation (MagicDMP ``FermerDossier`` / ``Reactiver``),
professionals' authorisations (NON_EXISTE / VALIDE / EXPIRE / INTERDIT), blocked professionals, the
patient's objections to break-glass and centre 15 access (reference/dmp.md §2.5, §2.7, §5.5), and the
patient's and legal representatives' view of the documents (visibility labels, §2.4).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from app.api.deps import SessionDep, SettingsDep
from app.dmp import rules, service
from app.dmp.fhir import fhir_status
from app.dmp.models import DmpDocument, DmpRecord
from app.dmp.schemas import AuthorisationSet, DmpClose, DmpCreate, DmpRead, OptOutSet, PatientDocument

router = APIRouter(prefix="/sandbox/v1/dmps", tags=["sandbox"])


async def _read(session, record: DmpRecord) -> DmpRead:  # type: ignore[no-untyped-def]
    auths = await service.list_authorisations(session, record=record)
    count = (await session.execute(select(func.count()).select_from(DmpDocument).where(
        DmpDocument.dmp_id == record.id))).scalar_one()
    return DmpRead(
        ins=record.ins, oid=f"urn:oid:{record.ins_oid}", active=record.active,
        closure=None if record.active else {
            "dateFermeture": record.closure_date.isoformat() if record.closure_date else None,
            "motifFermeture": record.closure_reason, "raisonFermeture": record.closure_text},
        opt_outs={"bris_de_glace": record.opt_out_bris_de_glace, "centre_15": record.opt_out_centre_15},
        authorisations=[{"rpps": a.rpps, "status": a.status, "medecinTraitant": a.medecin_traitant} for a in auths],
        blocked_professionals=await service.list_blocked(session, record=record),
        documents=count,
    )


@router.get("", response_model=list[DmpRead], summary="List DMPs")
async def list_dmps(session: SessionDep) -> list[DmpRead]:
    return [await _read(session, r) for r in await service.list_records(session)]


@router.post("", response_model=DmpRead, status_code=201, summary="Create a DMP for an INS known to INS (TD1.1)",
             responses={404: {"description": "INS unknown to the INS service"},
                        409: {"description": "a DMP exists for this INS (DMP:exists)"}})
async def create_dmp(body: DmpCreate, session: SessionDep) -> DmpRead:
    record = await service.create_record(session, ins=body.ins, oid=body.oid)
    return await _read(session, record)


@router.get("/{ins}", response_model=DmpRead, summary="A DMP's state")
async def get_dmp(ins: str, session: SessionDep) -> DmpRead:
    return await _read(session, await service.require_record(session, ins))


@router.post("/{ins}/close", response_model=DmpRead, summary="Close a DMP (dmp-fermeture)",
             responses={409: {"description": "the DMP is already closed (DMP:closed)"}})
async def close_dmp(ins: str, body: DmpClose, session: SessionDep) -> DmpRead:
    record = await service.require_record(session, ins)
    await service.close_record(session, record=record, reason=body.motifFermeture, text=body.raisonFermeture)
    return await _read(session, record)


@router.post("/{ins}/reopen", response_model=DmpRead, summary="Reactivate a closed DMP",
             responses={409: {"description": "the DMP is open (DMP:open)"}})
async def reopen_dmp(ins: str, session: SessionDep) -> DmpRead:
    record = await service.require_record(session, ins)
    await service.reopen_record(session, record=record)
    return await _read(session, record)


@router.put("/{ins}/authorisations/{rpps}", response_model=DmpRead,
            summary="Set a professional's authorisation (NON_EXISTE removes it)")
async def set_authorisation(ins: str, rpps: str, body: AuthorisationSet, session: SessionDep) -> DmpRead:
    record = await service.require_record(session, ins)
    await service.set_authorisation(session, record=record, rpps=rpps, status=body.status,
                                    medecin_traitant=body.medecinTraitant)
    return await _read(session, record)


@router.put("/{ins}/opt-outs", response_model=DmpRead, summary="The patient's objections (break-glass, centre 15)")
async def set_opt_outs(ins: str, body: OptOutSet, session: SessionDep) -> DmpRead:
    record = await service.require_record(session, ins)
    if body.bris_de_glace is not None:
        record.opt_out_bris_de_glace = body.bris_de_glace
    if body.centre_15 is not None:
        record.opt_out_centre_15 = body.centre_15
    await session.flush()
    return await _read(session, record)


@router.put("/{ins}/blocked-professionals/{rpps}", response_model=DmpRead, summary="Block a professional")
async def block(ins: str, rpps: str, session: SessionDep) -> DmpRead:
    record = await service.require_record(session, ins)
    await service.set_blocked(session, record=record, rpps=rpps, blocked=True)
    return await _read(session, record)


@router.delete("/{ins}/blocked-professionals/{rpps}", response_model=DmpRead, summary="Unblock a professional")
async def unblock(ins: str, rpps: str, session: SessionDep) -> DmpRead:
    record = await service.require_record(session, ins)
    await service.set_blocked(session, record=record, rpps=rpps, blocked=False)
    return await _read(session, record)


@router.get("/{ins}/documents", response_model=list[PatientDocument],
            summary="What the patient (or a legal representative) sees in Mon espace santé")
async def patient_view(ins: str, session: SessionDep, settings: SettingsDep,
                       role: Literal["patient", "legal_representative"] = Query("patient")) -> list[PatientDocument]:
    record = await service.require_record(session, ins)
    caller = rules.Caller(role=rules.Role(role))
    return [
        PatientDocument(id=d.id, unique_id=d.unique_id, title=d.title, type_code=d.type_code,
                        status=fhir_status(d, settings), is_archived=d.is_archived, labels=[lab[1] for lab in d.labels],
                        author_rpps=d.author_rpps)
        for d in await service.documents_for(session, record=record)
        if rules.is_visible(service.document_view(d), caller)
    ]
