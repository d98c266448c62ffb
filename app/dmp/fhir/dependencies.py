"""Load-or-fail dependencies of the FHIR routes, so no endpoint repeats a 404 block, and the caller's
access context (the PSC professional, the access mode and reason headers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.deps import CurrentProfessional, SessionDep
from app.api.errors import FhirError
from app.dmp import service
from app.dmp.context import AccessContext
from app.dmp.fhir.requests import access_context
from app.dmp.models import DmpDocument, DmpRecord, DmpSubmissionSet


async def _access(request: Request, professional: CurrentProfessional) -> AccessContext:
    return access_context(request, professional)


async def _document(doc_id: str, session: SessionDep) -> DmpDocument:
    doc = await service.get_document(session, doc_id)
    if doc is None:
        raise FhirError(404, "not-found", f"no DocumentReference/{doc_id}",
                        french=f"aucun DocumentReference/{doc_id}", rule="MHD:unknown")
    return doc


async def _submission_set(list_id: str, session: SessionDep) -> tuple[DmpSubmissionSet, DmpRecord]:
    ss = await service.get_submission_set(session, list_id=list_id)
    if ss is None:
        raise FhirError(404, "not-found", f"no List/{list_id}", french=f"aucune List/{list_id}", rule="MHD:unknown")
    record = await service.record_by_id(session, dmp_id=ss.dmp_id)
    if record is None:  # a submission set outlives no DMP (foreign key), but say so rather than crash
        raise FhirError(404, "not-found", f"no DMP for List/{list_id}",
                        french=f"aucun DMP pour List/{list_id}", rule="MHD:unknown")
    return ss, record


async def _record(ins: str, session: SessionDep) -> DmpRecord:
    record = await service.get_record(session, ins=ins)
    if record is None:
        raise FhirError(404, "not-found", f"no DMP for Patient/{ins}",
                        french=f"aucun DMP pour Patient/{ins}", rule="DMP:exists")
    return record


AccessDep = Annotated[AccessContext, Depends(_access)]
DocumentDep = Annotated[DmpDocument, Depends(_document)]
SubmissionSetDep = Annotated[tuple[DmpSubmissionSet, DmpRecord], Depends(_submission_set)]
RecordDep = Annotated[DmpRecord, Depends(_record)]
