"""The DMP's FHIR R4 face at ``/dmp/fhir`` (PDSm 3.1.1 / IHE MHD 4.2.3 / PDSm4DMP), JSON and XML.

Thin endpoints: read the request (:mod:`.requests`, :mod:`.search`), call :mod:`app.dmp.service`, render
(:mod:`.render`). Every route but the CapabilityStatement is on :data:`router`, which the platform includes
behind the PSC bearer check (``Domain.protected_routers``); domain errors become OperationOutcomes in
:mod:`.errors`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response, StreamingResponse

from app.api.deps import CurrentProfessional, SessionDep, SettingsDep
from app.api.errors import FhirError
from app.api.journal import note_facts
from app.api.urls import absolute_url
from app.config import Settings
from app.dmp import jsonio, rules, service
from app.dmp.context import AccessContext
from app.dmp.fhir import render
from app.dmp.fhir.bundle import parse_provide_bundle
from app.dmp.fhir.dependencies import AccessDep, DocumentDep, RecordDep, SubmissionSetDep
from app.dmp.fhir.document_reference import parse_simplified_publish
from app.dmp.fhir.elements import parse_patient_token
from app.dmp.fhir.openapi import (
    BINARY,
    BUNDLE,
    CAPABILITY_STATEMENT,
    DOCUMENT_REFERENCE,
    LIST,
    PATIENT,
    answers,
)
from app.dmp.fhir.requests import (
    FHIR_JSON,
    FHIR_XML,
    access_context,
    no_nul_in_url,
    parse_patch_body,
    read_resource,
    search_params,
)
from app.dmp.fhir.search import (
    DOCUMENT_PARAMS,
    audit_search,
    document_search,
    document_statuses,
    links,
    page_params,
    parse_patient_param,
    submission_set_search,
)
from app.dmp.fhir.xml import to_xml
from app.dmp.models import DmpDocument, DmpRecord
from app.faults import service as faults

discovery = APIRouter(prefix="/dmp/fhir", tags=["dmp"], dependencies=[Depends(no_nul_in_url)])
"""Open: the CapabilityStatement a client reads before it has a token."""
FAULT_TARGETS = {
    "dmp_provide_bundle": "dmp.iti65", "dmp_simplified_publish": "dmp.iti105", "dmp_find_documents": "dmp.iti67",
    "dmp_find_documents_post": "dmp.iti67", "dmp_retrieve_document": "dmp.iti68", "dmp_find_lists": "dmp.iti66",
    "dmp_patient_search": "dmp.td02", "dmp_patient_read": "dmp.td02",
}
"""The fault-injection target of each route (``/sandbox/v1/faults``)."""


async def injected_fault(request: Request, professional: CurrentProfessional) -> None:
    """Fault injection: after the bearer check, a rule for this route's target answers 503 OperationOutcome
    (issue ``transient``) or treats the token as expired/revoked (401 ``invalid_token``, WWW-Authenticate).
    The call's actor is the verified token's client, ``psc:<client_id>`` as the token endpoint journals it, so
    a rule's ``client`` restriction matches it."""
    if professional.client_id:
        note_facts(request, actor=f"psc:{professional.client_id}")
    target = FAULT_TARGETS.get(getattr(request.scope.get("route"), "operation_id", None) or "")
    if target is not None:
        injection = await faults.check(request, target)
        if injection is not None:
            raise faults.refuse(injection)


router = APIRouter(prefix="/dmp/fhir", tags=["dmp"], dependencies=[Depends(no_nul_in_url), Depends(injected_fault)],
                   responses={503: {"description": "a fault injected by a rule of /sandbox/v1/faults "
                                                   "(OperationOutcome, issue code transient)"}})
"""Behind the PSC bearer check (``Domain.protected_routers``)."""


def wants_xml(request: Request) -> bool:
    fmt = request.query_params.get("_format", "")
    if fmt:
        return "xml" in fmt
    accept = request.headers.get("accept", "")
    return "xml" in accept and "json" not in accept.split(",")[0]


def fhir_answer(request: Request, resource: dict[str, Any], *, status: int = 200,
                headers: dict[str, str] | None = None) -> Response:
    if wants_xml(request):
        return Response(to_xml(resource), status_code=status, media_type=FHIR_XML, headers=headers)
    return Response(jsonio.dumps(resource), status_code=status, media_type=FHIR_JSON, headers=headers)


def _query_text(params: dict[str, list[str]]) -> str:
    return "&".join(f"{k}={v}" for k, vs in params.items() for v in vs)


# --- metadata, Patient (TD02) ---------------------------------------------------------------------

@discovery.get("/metadata", summary="CapabilityStatement (PDSm gestionnaire de partage de documents)",
               operation_id="dmp_metadata", responses=answers(CAPABILITY_STATEMENT, "the CapabilityStatement"))
async def metadata(request: Request, settings: SettingsDep) -> Response:
    return fhir_answer(request, render.capability_statement(settings))


@router.get("/Patient", summary="TD02: DMP state for an INS (Patient?identifier=urn:oid:...|INS)",
            operation_id="dmp_patient_search", responses=answers(BUNDLE, "a searchset of 0 or 1 Patient", 400))
async def patient_search(request: Request, session: SessionDep, settings: SettingsDep,
                         professional: CurrentProfessional) -> Response:
    identifier = request.query_params.get("identifier")
    if not identifier or "|" not in identifier:
        raise FhirError(400, "required", "identifier=urn:oid:1.2.250.1.213.1.4.8|<INS> is required (TD02)",
                        french="identifier=urn:oid:1.2.250.1.213.1.4.8|<INS> est obligatoire (TD02)",
                        rule="PDSm4DMP:TD02.identifier", expression="identifier")
    system, _, value = identifier.partition("|")
    ins = parse_patient_token(system, value, expression="identifier").ins
    record = await service.get_record(session, ins=ins)
    resources = []
    if record is not None:
        resources.append(await _td02_patient(session, access_context(request, professional), record))
    self_url = absolute_url(settings, "/dmp/fhir/Patient", {"identifier": identifier})
    return fhir_answer(request, render.searchset(settings, resources, self_url=self_url, next_url=None,
                                                 total=len(resources)))


@router.get("/Patient/{ins}", summary="DMP state of a patient (Patient read)", operation_id="dmp_patient_read",
            responses=answers(PATIENT, "the TD02 Patient", 404))
async def patient_read(record: RecordDep, ctx: AccessDep, request: Request, session: SessionDep) -> Response:
    return fhir_answer(request, await _td02_patient(session, ctx, record))


async def _td02_patient(session: Any, ctx: AccessContext, record: DmpRecord) -> dict[str, Any]:
    """The TD02 Patient: the DMP's state, the caller's authorisation (``INTERDIT`` when blocked), the INS
    person's traits."""
    caller = await service.caller_on(session, record, ctx)
    authorisation = "INTERDIT" if caller.blocked else caller.authorisation.value
    identity = await service.patient_identity(session, record)
    return render.patient(record, authorisation=authorisation, identity=identity)


# --- ITI-65 / ITI-105 -----------------------------------------------------------------------------

@router.post("", summary="ITI-65 Provide Document Bundle (transaction)", status_code=200,
             operation_id="dmp_provide_bundle",
             responses=answers(BUNDLE, "the transaction-response Bundle", 404, 409, 415, 422))
async def provide_bundle(request: Request, session: SessionDep, settings: SettingsDep,
                         professional: CurrentProfessional) -> Response:
    ctx = access_context(request, professional)  # inline, not a dependency: ITI-65 is a hot path
    body = await read_resource(request)
    submission = parse_provide_bundle(body, lenient=settings.dmp_lenient, fast=settings.fast_paths)
    results = await service.submit(session, settings, submission=submission, ctx=ctx)
    response = {"resourceType": "Bundle", "type": "transaction-response", "entry": [
        {"response": {"status": r.status, "location": absolute_url(settings, f"/dmp/fhir/{r.location}"),
                      **({"etag": r.etag} if r.etag else {})}} for r in results]}
    return fhir_answer(request, response)


@router.post("/DocumentReference", summary="ITI-105 Simplified Publish", status_code=201,
             operation_id="dmp_simplified_publish",
             responses=answers(DOCUMENT_REFERENCE, "the stored DocumentReference", 404, 409, 415, 422, status=201))
async def simplified_publish(ctx: AccessDep, request: Request, session: SessionDep, settings: SettingsDep
                             ) -> Response:
    body = await read_resource(request)
    doc = parse_simplified_publish(body, lenient=settings.dmp_lenient, fast=settings.fast_paths)
    doc_id = await service.publish_simplified(session, settings, doc=doc, ctx=ctx)
    stored = await service.get_document(session, doc_id)
    assert stored is not None
    record = await service.get_record(session, ins=doc.patient.ins)
    assert record is not None
    location = absolute_url(settings, f"/dmp/fhir/DocumentReference/{doc_id}/_history/1")
    return fhir_answer(request, render.document_reference(stored, record, settings), status=201,
                       headers={"Location": location, "ETag": 'W/"1"'})


# --- ITI-67 ---------------------------------------------------------------------------------------

async def _find_documents(request: Request, session: Any, settings: Settings, professional: Any) -> Response:
    params = await search_params(request)
    ins = parse_patient_param(params)
    statuses = document_statuses(params)
    ctx = access_context(request, professional)
    # The access rules first (a refusal is traced), then the paging and filters: their 400s come after.
    record, caller, _ = await service.authorise(session, ins=ins, ctx=ctx, action=rules.Action.CONSULT)
    count, offset = page_params(params, settings)
    search = document_search(params, statuses=statuses, count=count, offset=offset)
    rows, total = await service.search_documents(session, record=record, caller=caller, search=search)
    ignored = sorted(set(params) - DOCUMENT_PARAMS)
    outcome = None
    if ignored:
        outcome = {"resourceType": "OperationOutcome", "issue": [{
            "severity": "warning", "code": "not-supported",
            "diagnostics": f"search parameters ignored: {', '.join(ignored)}"}]}
    await service.trace(session, record=record, ctx=ctx, transaction="ITI-67", action="E",
                        documents_ids=[r.id for r in rows], query=_query_text(params))
    self_url, next_url = links(settings, "/dmp/fhir/DocumentReference", params, offset=offset, count=count,
                               total=total)
    resources = [render.document_reference(r, record, settings) for r in rows]
    return fhir_answer(request, render.searchset(settings, resources, self_url=self_url, next_url=next_url,
                                                 total=total, outcome=outcome))


@router.get("/DocumentReference", summary="ITI-67 Find Document References", operation_id="dmp_find_documents",
            responses=answers(BUNDLE, "a searchset of DocumentReference", 404, 422))
async def find_documents(request: Request, session: SessionDep, settings: SettingsDep,
                         professional: CurrentProfessional) -> Response:
    return await _find_documents(request, session, settings, professional)


@router.post("/DocumentReference/_search", summary="ITI-67 Find Document References (POST)",
             operation_id="dmp_find_documents_post",
             responses=answers(BUNDLE, "a searchset of DocumentReference", 404, 415, 422))
async def find_documents_post(request: Request, session: SessionDep, settings: SettingsDep,
                              professional: CurrentProfessional) -> Response:
    return await _find_documents(request, session, settings, professional)


@router.get("/DocumentReference/{doc_id}", summary="DocumentReference read", operation_id="dmp_read_document",
            responses=answers(DOCUMENT_REFERENCE, "the DocumentReference", 404, 410))
async def read_document(doc: DocumentDep, ctx: AccessDep, request: Request, session: SessionDep,
                        settings: SettingsDep) -> Response:
    record = await service.read_document(session, doc=doc, ctx=ctx)
    return fhir_answer(request, render.document_reference(doc, record, settings),
                       headers={"ETag": f'W/"{doc.version_id}"'})


# --- ITI-68 ---------------------------------------------------------------------------------------

@router.get("/Binary/{binary_id}", summary="ITI-68 Retrieve Document (raw bytes or FHIR Binary)",
            operation_id="dmp_retrieve_document",
            responses={**answers(BINARY, "the document: its own bytes, or a FHIR Binary when asked for", 404, 406,
                                 410), 304: {"description": "If-None-Match matches the document's ETag"}})
async def retrieve_document(binary_id: str, request: Request, session: SessionDep,
                            professional: CurrentProfessional) -> Response:
    doc = await service.binary_document(session, binary_id=binary_id)
    ctx = access_context(request, professional)  # after the 404, inline: ITI-68 is a hot path
    binary = await service.retrieve_document(session, doc=doc, ctx=ctx)
    accept = (request.headers.get("accept") or "*/*").lower()
    ranges = [a.split(";", 1)[0].strip() for a in accept.split(",")]
    etag = f'"{binary.hash_b64}"'
    if any(r in (FHIR_JSON, FHIR_XML, "application/json", "application/xml+fhir") for r in ranges) and not any(
            r == binary.content_type for r in ranges):
        data = await service.read_binary(session, binary_id)
        resource = {"resourceType": "Binary", "id": binary_id, "contentType": binary.content_type,
                    "data": base64.b64encode(data).decode("ascii")}
        if FHIR_XML in ranges and FHIR_JSON not in ranges:
            return Response(to_xml(resource), media_type=FHIR_XML, headers={"ETag": etag})
        return Response(json.dumps(resource), media_type=FHIR_JSON, headers={"ETag": etag})
    main, _, _ = binary.content_type.partition("/")
    if not any(r in ("*/*", binary.content_type, f"{main}/*") for r in ranges):
        raise FhirError(406, "not-supported", f"the document is {binary.content_type}; Accept {accept!r} cannot be "
                        "served (ask for it or for application/fhir+json)",
                        french=f"le document est {binary.content_type} ; Accept {accept!r} ne peut être servi (le "
                               f"demander, ou application/fhir+json)",
                        rule="MHD:ITI-68.format")
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    headers = {"ETag": etag, "Content-Length": str(binary.size)}
    return StreamingResponse(service.stream_binary(request.app.state.sessionmaker, binary_id, binary.chunks),
                             media_type=binary.content_type, headers=headers)


# --- PATCH ----------------------------------------------------------------------------------------

async def _patch(request: Request, session: Any, settings: Settings, ctx: AccessContext, doc: DmpDocument
                 ) -> Response:
    kind, body = parse_patch_body(request.headers.get("content-type") or "", await request.body())
    doc = await service.patch_document(session, settings, doc=doc, ctx=ctx, kind=kind, body=body,
                                       if_match=request.headers.get("if-match"))
    record = await service.record_by_id(session, dmp_id=doc.dmp_id)
    assert record is not None
    return fhir_answer(request, render.document_reference(doc, record, settings),
                       headers={"ETag": f'W/"{doc.version_id}"'})


_PATCH_ERRORS = (403, 404, 405, 409, 410, 412, 415, 422)


@router.patch("/DocumentReference", summary="Conditional PATCH DocumentReference?identifier= (metadata update)",
              operation_id="dmp_patch_conditional",
              responses=answers(DOCUMENT_REFERENCE, "the updated DocumentReference", *_PATCH_ERRORS))
async def patch_conditional(request: Request, session: SessionDep, settings: SettingsDep,
                            professional: CurrentProfessional) -> Response:
    identifier = request.query_params.get("identifier")
    if not identifier:
        raise FhirError(400, "required", "conditional PATCH needs ?identifier=system|value (masterIdentifier)",
                        french="un PATCH conditionnel exige ?identifier=système|valeur (masterIdentifier)",
                        rule="PDSm:patch-conditional", expression="identifier")
    matches = await service.find_by_identifier(session, identifier.rpartition("|")[2])
    if not matches:
        raise FhirError(404, "not-found", f"no DocumentReference with identifier {identifier}",
                        french=f"aucun DocumentReference d'identifiant {identifier}", rule="MHD:unknown")
    if len(matches) > 1:
        raise FhirError(412, "multiple-matches", f"identifier {identifier} matches {len(matches)} documents",
                        french=f"l'identifiant {identifier} désigne {len(matches)} documents",
                        rule="FHIR:conditional-multiple")
    return await _patch(request, session, settings, access_context(request, professional), matches[0])


@router.patch("/DocumentReference/{doc_id}", summary="PATCH DocumentReference/<id> (metadata update)",
              operation_id="dmp_patch_by_id",
              responses=answers(DOCUMENT_REFERENCE, "the updated DocumentReference", *_PATCH_ERRORS))
async def patch_by_id(doc: DocumentDep, ctx: AccessDep, request: Request, session: SessionDep,
                      settings: SettingsDep) -> Response:
    return await _patch(request, session, settings, ctx, doc)


# --- ITI-66 ---------------------------------------------------------------------------------------

@router.get("/List", summary="ITI-66 Find Lists (submission sets)", operation_id="dmp_find_lists",
            responses=answers(BUNDLE, "a searchset of List", 404, 422))
async def find_lists(request: Request, session: SessionDep, settings: SettingsDep,
                     professional: CurrentProfessional) -> Response:
    params = await search_params(request)
    ins = parse_patient_param(params)
    ctx = access_context(request, professional)
    record, _, _ = await service.authorise(session, ins=ins, ctx=ctx, action=rules.Action.CONSULT,
                                           transaction="ITI-66")
    search = submission_set_search(params, count=0, offset=0)  # its dates are checked before the paging
    count, offset = page_params(params, settings)
    search = replace(search, count=count, offset=offset)
    rows, total = await service.search_submission_sets(session, record=record, search=search)
    await service.trace(session, record=record, ctx=ctx, transaction="ITI-66", action="E", query=_query_text(params))
    self_url, next_url = links(settings, "/dmp/fhir/List", params, offset=offset, count=count, total=total)
    return fhir_answer(request, render.searchset(settings, [render.submission_set(r, record, settings) for r in rows],
                                                 self_url=self_url, next_url=next_url, total=total))


@router.get("/List/{list_id}", summary="SubmissionSet read", operation_id="dmp_read_list",
            responses=answers(LIST, "the List", 404))
async def read_list(found: SubmissionSetDep, ctx: AccessDep, request: Request, session: SessionDep,
                    settings: SettingsDep) -> Response:
    ss, record = found
    await service.authorise(session, ins=record.ins, ctx=ctx, action=rules.Action.CONSULT, transaction="ITI-66")
    return fhir_answer(request, render.submission_set(ss, record, settings))


# --- AuditEvent -----------------------------------------------------------------------------------

@router.get("/AuditEvent", summary="Access traces of a patient's DMP (the patient's activity history)",
            operation_id="dmp_audit_events", responses=answers(BUNDLE, "a searchset of AuditEvent"))
async def audit_events(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    params = await search_params(request)
    ins = parse_patient_param(params)
    search = audit_search(params, ins=ins, count=0, offset=0)  # its dates are checked before the paging
    count, offset = page_params(params, settings)
    rows, total = await service.search_audit(session, search=replace(search, count=count, offset=offset))
    self_url, next_url = links(settings, "/dmp/fhir/AuditEvent", params, offset=offset, count=count, total=total)
    return fhir_answer(request, render.searchset(settings, [render.audit_event(r, settings) for r in rows],
                                                 self_url=self_url, next_url=next_url, total=total))
