"""Control API ``/sandbox/v1/dmps``: what a test harness arranges before acting as a vendor would.

DMP creation, closure (with a reason) and reactivation (MagicDMP ``FermerDossier`` / ``Reactiver``),
professionals' authorisations (NON_EXISTE / VALIDE / EXPIRE / INTERDIT), blocked professionals, the
patient's objections to break-glass and centre 15 access (reference/dmp.md §2.5, §2.7, §5.5), and the
patient's and legal representatives' view of the documents (visibility labels, §2.4).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.api.errors import problem_response
from app.api.journal import note_refusal
from app.api.openapi_errors import error_responses
from app.dmp import rules, service
from app.dmp.exceptions import DmpError, Kind
from app.dmp.fhir.render import fhir_status
from app.dmp.models import DmpRecord
from app.dmp.schemas import AuthorisationSet, DmpClose, DmpCreate, DmpRead, OptOutSet, PatientDocument
from app.dmp.soap import vihf_issue

PREFIX = "/sandbox/v1/dmps"
router = APIRouter(prefix=PREFIX, tags=["sandbox"])

# The control API's error mapper: a domain error as RFC 9457 problem details.
_PROBLEM_STATUSES = {Kind.NOT_FOUND: (404, "Not Found"), Kind.CONFLICT: (409, "Conflict"),
                     Kind.UNPROCESSABLE: (422, "Unprocessable Content")}


async def dmp_error_response(request: Request, exc: DmpError) -> Response:
    status, title = _PROBLEM_STATUSES.get(exc.kind, (400, "Bad Request"))
    note_refusal(request, rule=exc.rule, detail=exc.english, status=status)
    return problem_response(request, status, title, exc.english, rule=exc.rule)


async def _record(ins: str, session: SessionDep) -> DmpRecord:
    return await service.require_record(session, ins=ins)


RecordDep = Annotated[DmpRecord, Depends(_record)]
_UNKNOWN = error_responses(PREFIX, 404)


async def _read(session: AsyncSession, record: DmpRecord) -> DmpRead:
    auths = await service.list_authorisations(session, record=record)
    count = await service.count_documents(session, record=record)
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


@router.get("", response_model=list[DmpRead], summary="List DMPs", operation_id="dmp_list_dmps")
async def list_dmps(session: SessionDep) -> list[DmpRead]:
    return [await _read(session, r) for r in await service.list_records(session)]


@router.post("", response_model=DmpRead, status_code=201, summary="Create a DMP for an INS known to INS (TD1.1)",
             operation_id="dmp_create_dmp",
             responses={404: {"description": "INS unknown to the INS service"},
                        409: {"description": "a DMP exists for this INS (DMP:exists)"}})
async def create_dmp(body: DmpCreate, session: SessionDep) -> DmpRead:
    record = await service.create_record(session, ins=body.ins, oid=body.oid)
    return await _read(session, record)


@router.get("/{ins}", response_model=DmpRead, summary="A DMP's state", operation_id="dmp_get_dmp",
            responses=_UNKNOWN)
async def get_dmp(record: RecordDep, session: SessionDep) -> DmpRead:
    return await _read(session, record)


@router.post("/{ins}/close", response_model=DmpRead, summary="Close a DMP (dmp-fermeture)",
             operation_id="dmp_close_dmp",
             responses={**_UNKNOWN, 409: {"description": "the DMP is already closed (DMP:closed)"}})
async def close_dmp(record: RecordDep, body: DmpClose, session: SessionDep) -> DmpRead:
    await service.close_record(session, record=record, reason=body.motifFermeture, text=body.raisonFermeture)
    return await _read(session, record)


@router.post("/{ins}/reopen", response_model=DmpRead, summary="Reactivate a closed DMP",
             operation_id="dmp_reopen_dmp", responses={**_UNKNOWN, 409: {"description": "the DMP is open (DMP:open)"}})
async def reopen_dmp(record: RecordDep, session: SessionDep) -> DmpRead:
    await service.reopen_record(session, record=record)
    return await _read(session, record)


@router.put("/{ins}/authorisations/{rpps}", response_model=DmpRead,
            summary="Set a professional's authorisation (NON_EXISTE removes it)",
            operation_id="dmp_set_authorisation", responses=_UNKNOWN)
async def set_authorisation(record: RecordDep, rpps: str, body: AuthorisationSet, session: SessionDep) -> DmpRead:
    await service.set_authorisation(session, record=record, rpps=rpps, status=body.status,
                                    medecin_traitant=body.medecinTraitant)
    return await _read(session, record)


@router.put("/{ins}/opt-outs", response_model=DmpRead, summary="The patient's objections (break-glass, centre 15)",
            operation_id="dmp_set_opt_outs", responses=_UNKNOWN)
async def set_opt_outs(record: RecordDep, body: OptOutSet, session: SessionDep) -> DmpRead:
    await service.set_opt_outs(session, record=record, bris_de_glace=body.bris_de_glace, centre_15=body.centre_15)
    return await _read(session, record)


@router.put("/{ins}/blocked-professionals/{rpps}", response_model=DmpRead, summary="Block a professional",
            operation_id="dmp_block", responses=_UNKNOWN)
async def block(record: RecordDep, rpps: str, session: SessionDep) -> DmpRead:
    await service.set_blocked(session, record=record, rpps=rpps, blocked=True)
    return await _read(session, record)


@router.delete("/{ins}/blocked-professionals/{rpps}", response_model=DmpRead, summary="Unblock a professional",
               operation_id="dmp_unblock", responses=_UNKNOWN)
async def unblock(record: RecordDep, rpps: str, session: SessionDep) -> DmpRead:
    await service.set_blocked(session, record=record, rpps=rpps, blocked=False)
    return await _read(session, record)


@router.get("/{ins}/documents", response_model=list[PatientDocument],
            summary="What the patient (or a legal representative) sees in Mon espace santé",
            operation_id="dmp_patient_view", responses=_UNKNOWN)
async def patient_view(record: RecordDep, session: SessionDep, settings: SettingsDep,
                       role: Literal["patient", "legal_representative"] = Query("patient")) -> list[PatientDocument]:
    caller = rules.Caller(role=rules.Role(role))
    return [
        PatientDocument(id=d.id, unique_id=d.unique_id, title=d.title, type_code=d.type_code,
                        status=fhir_status(d, settings), is_archived=d.is_archived, labels=[lab[1] for lab in d.labels],
                        author_rpps=d.author_rpps)
        for d in await service.documents_for(session, record=record)
        if rules.is_visible(service.document_view(d), caller)
    ]


# --- VIHF for harnesses (the XDS.b face's security token, issue 11) ----------------------------------------

@router.post("/vihf", status_code=201, summary="Issue a signed VIHF for a test professional (DMPi SOAP face)",
             operation_id="dmp_issue_vihf",
             responses={404: {"description": "unknown professional (PSC)"}, 422: {"description": "invalid request"}})
async def issue_vihf(body: vihf_issue.VihfRequest, request: Request, session: SessionDep) -> dict[str, Any]:
    """A VIHF signed by a certificate of the sandbox's test CA, to put in ``wsse:Security``. INDIRECTE: present
    ``client_certificate_subject`` as the structure's client certificate. Never journaled (bodies never are)."""
    record = await service.get_record(session, ins=body.patient_ins)
    try:
        return await vihf_issue.issue(session, request.app.state.sessionmaker, body,
                                      record_oid=record.ins_oid if record is not None else None)
    except LookupError:
        detail = f"no professional {body.subject_name_id!r} among Pro Santé Connect's (see /sandbox/v1/psc)"
        note_refusal(request, rule="VIHF:professional.unknown", detail=detail, status=404)
        return problem_response(request, 404, "Not Found", detail, rule="VIHF:professional.unknown")  # type: ignore[return-value]


@router.post("/vihf-certificates", status_code=201,
             summary="Issue a VIHF signing certificate and its key (the sandbox's test CA)",
             operation_id="dmp_issue_vihf_certificate", responses={422: {"description": "invalid request"}})
async def issue_vihf_certificate(body: vihf_issue.CertificateRequest, request: Request) -> dict[str, str]:
    """For a vendor who signs its own VIHFs: an RSA-2048 certificate of the sandbox's test CA (the MSSanté
    one, standing in for IGC-Santé), its private key and the CA certificate. Never journaled."""
    return await vihf_issue.issue_certificate(request.app.state.sessionmaker, body)
