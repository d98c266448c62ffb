"""Routes of the patient API ``/mes/api/v1``: sign-in and tokens, then what a patient does (documents, access
control, history, notifications), each a call of :mod:`app.mes.service`."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as FastApiPath
from starlette.responses import Response

from app.api.deps import IsoInstant, SessionDep, SettingsDep, refuse_nul_characters
from app.api.openapi_errors import error_responses
from app.db import utcnow
from app.mes import service
from app.mes.api import schemas
from app.mes.api.deps import CurrentActor, CurrentPatient, bearer_of
from app.mes.exceptions import MesSignInError
from app.mes.signin import GRANT_TYPE
from app.tenancy import tenant_path

PREFIX = "/mes/api/v1"
TAG = "Mon espace santé — patient API"
# PostgreSQL text holds no U+0000: a NUL in the path, query or JSON body is the client's error (422)
router = APIRouter(prefix=PREFIX, tags=[TAG], dependencies=[Depends(refuse_nul_characters)])

_OAUTH_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}, "example": {
    "error": "invalid_grant", "error_description": "wrong code; 2 tries left"}}}
_AUTH = error_responses(PREFIX, 401)


def person_read(person: service.Person) -> schemas.PersonRead:
    return schemas.PersonRead(ins=person.ins, oid=person.oid, display_name=person.display_name,
                              birth_name=person.birth_name, given_names=person.given_names, sex=person.sex,
                              birth_date=person.birth_date, minor=person.minor_on(utcnow().date()))


@router.post("/sign-in", status_code=201, response_model=schemas.SignInChallenge, operation_id="mes_sign_in",
             summary="Start a sign-in: a one-time code is sent (simulated SMS) to the person of this INS",
             description="The code (6 digits, valid 5 minutes, 3 tries) is shown by the sign-in page and returned "
             "to harnesses by `GET /sandbox/v1/mes/one-time-codes?ins=...`; exchange it at `POST /mes/api/v1/token`.",
             responses=error_responses(PREFIX, 400))
async def sign_in(body: schemas.SignInStart, session: SessionDep, settings: SettingsDep) -> schemas.SignInChallenge:
    challenge = await service.start_sign_in(session, settings=settings, ins=body.ins)
    return schemas.SignInChallenge(
        challenge=challenge.id, expires_at=challenge.expires_at,
        delivery=f"simulated SMS: GET {tenant_path('/sandbox/v1/mes/one-time-codes')}?ins={challenge.ins} returns the "
        "code")


@router.post(
    "/token", response_model=schemas.TokenResponse, operation_id="mes_token",
    summary="Exchange a sign-in challenge and its one-time code for an access token (OAuth 2.0)",
    description=f"Form-encoded (RFC 6749 §4.1.3 style): `grant_type={GRANT_TYPE}`, `challenge`, `code`. The "
    "access token is a JWT (ES256) with audience `mes` and `sub` the person's INS. Errors are RFC 6749 JSON: "
    "`invalid_grant` (wrong, expired or used code, too many tries), `unsupported_grant_type`, `invalid_request`.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["grant_type", "challenge", "code"],
        "properties": {"grant_type": {"type": "string", "enum": [GRANT_TYPE]}, "challenge": {"type": "string"},
                       "code": {"type": "string", "example": "123456"}}}}}}},
    responses={400: {"description": "RFC 6749 error", "content": _OAUTH_ERROR}},
)
async def token(request: Request, session: SessionDep, settings: SettingsDep) -> Any:
    form = await _form(request)
    grant_type = form.get("grant_type")
    if grant_type != GRANT_TYPE:
        raise MesSignInError(f"grant_type must be {GRANT_TYPE}", rule="MES:grant-type",
                             error="unsupported_grant_type" if grant_type else "invalid_request")
    challenge, code = form.get("challenge"), form.get("code")
    if not challenge or not code:
        raise MesSignInError("challenge and code are required", rule="MES:token-request", error="invalid_request")
    actor = await service.finish_sign_in(session, settings=settings, challenge_id=challenge, code=code)
    issued = await service.issue_token(session, settings=settings, actor=actor)
    return Response(
        schemas.TokenResponse(access_token=issued.access_token, token_type=issued.token_type,
                              expires_in=issued.expires_in).model_dump_json(),
        media_type="application/json", headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def _form(request: Request) -> dict[str, str]:
    """The form's fields (the first value of each), read leniently: a body that is no form is an
    ``invalid_request``, never a validation error in another shape."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise MesSignInError("the token request is form-encoded (application/x-www-form-urlencoded)",
                             rule="MES:token-request", error="invalid_request")
    from urllib.parse import parse_qsl

    body = await request.body()
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise MesSignInError("unreadable form body", rule="MES:token-request", error="invalid_request") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if "\x00" in value or "\x00" in key:
            raise MesSignInError("the form holds a NUL character", rule="MES:token-request", error="invalid_request")
        fields.setdefault(key, value)
    return fields


@router.post("/sign-out", status_code=204, operation_id="mes_sign_out", response_class=Response,
             summary="Sign out: the access token is revoked", responses=_AUTH)
async def sign_out(session: SessionDep, settings: SettingsDep,
                   authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> Response:
    await service.revoke_token(session, settings=settings, token=bearer_of(authorization))
    return Response(status_code=204)


@router.get("/me", response_model=schemas.MeRead, operation_id="mes_me", responses=_AUTH,
            summary="The signed-in person and the minors they represent")
async def me(actor: CurrentActor, session: SessionDep) -> schemas.MeRead:
    persons = await service.persons_for(session, actor=actor)
    return schemas.MeRead(person=person_read(actor), represented=[person_read(p) for p in persons[1:]])


# --- the patient's own data: /patients/{ins}/... (the actor or a minor they represent; anything else 404) ---------

P = "/patients/{ins}"
_READ = error_responses(PREFIX, 401, 404)
_WRITE = error_responses(PREFIX, 400, 401, 404, 409, 422)


def document_read(doc: service.DocumentSummary) -> schemas.DocumentRead:
    return schemas.DocumentRead(**dataclasses.asdict(doc))


def profile_read(found: service.Profile) -> schemas.ProfileRead:
    return schemas.ProfileRead(
        person=person_read(found.person), dmp_state=found.dmp_state, closed_at=found.closed_at,
        closure_reason=found.closure_reason,
        emergency_access={"bris_de_glace": not found.opt_out_bris_de_glace, "centre_15": not found.opt_out_centre_15},
        documents=found.documents, unread_notifications=found.unread_notifications,
        acting_as_representative=found.represented_by_actor)


def access_read(found: service.AccessSettings) -> schemas.AccessRead:
    def pro(entry: service.ProfessionalEntry) -> schemas.ProfessionalRead:
        return schemas.ProfessionalRead(**dataclasses.asdict(entry))

    return schemas.AccessRead(
        authorised=[pro(e) for e in found.authorised], blocked=[pro(e) for e in found.blocked],
        medecins_traitants=[pro(e) for e in found.medecins_traitants],
        emergency_access={"bris_de_glace": not found.opt_out_bris_de_glace, "centre_15": not found.opt_out_centre_15})


@router.get(P, response_model=schemas.ProfileRead, operation_id="mes_profile", responses=_READ,
            summary="The patient's profile: identity, DMP state, emergency access, counts")
async def get_profile(patient: CurrentPatient, actor: CurrentActor, session: SessionDep, settings: SettingsDep
                      ) -> schemas.ProfileRead:
    return profile_read(await service.profile(session, actor=actor, ins=patient.ins, settings=settings))


@router.post(P + "/close", response_model=schemas.ProfileRead, operation_id="mes_close_profile", responses=_WRITE,
             summary="Close the profile (DMP): professionals' access and feeding are refused until it is reopened")
async def close_profile(patient: CurrentPatient, actor: CurrentActor, session: SessionDep,
                        body: schemas.CloseProfile | None = None) -> schemas.ProfileRead:
    return profile_read(await service.close_profile(session, actor=actor, ins=patient.ins,
                                                    reason=body.reason if body else None))


@router.post(P + "/reopen", response_model=schemas.ProfileRead, operation_id="mes_reopen_profile", responses=_WRITE,
             summary="Reopen a closed profile")
async def reopen_profile(patient: CurrentPatient, actor: CurrentActor, session: SessionDep) -> schemas.ProfileRead:
    return profile_read(await service.reopen_profile(session, actor=actor, ins=patient.ins))


@router.post(P + "/object-to-creation", response_model=schemas.ProfileRead, operation_id="mes_object_to_creation",
             responses=error_responses(PREFIX, 401, 403, 404, 409),
             summary="Object to the profile's creation (within 6 weeks, before any professional filed a document)")
async def object_to_creation(patient: CurrentPatient, actor: CurrentActor, session: SessionDep
                             ) -> schemas.ProfileRead:
    return profile_read(await service.object_to_creation(session, actor=actor, ins=patient.ins))


@router.get(P + "/documents", response_model=list[schemas.DocumentRead], operation_id="mes_list_documents",
            responses=_READ, summary="Every current document of the patient's DMP the actor may see")
async def list_documents(patient: CurrentPatient, actor: CurrentActor, session: SessionDep
                         ) -> list[schemas.DocumentRead]:
    return [document_read(d) for d in await service.list_documents(session, actor=actor, ins=patient.ins)]


@router.post(
    P + "/documents", status_code=201, response_model=schemas.DocumentRead, operation_id="mes_upload_document",
    responses=error_responses(PREFIX, 400, 401, 404, 413, 415, 422),
    summary="Add a PDF to the patient's DMP: professionals see it as a patient-authored document (class 90)",
    description="The body is the PDF itself (`Content-Type: application/pdf`, at most SEGUR_MES_UPLOAD_MAX_BYTES, "
    "checked by its magic bytes `%PDF-`); `title`, `type_code` (a LOINC code of JDV_J66) and `service_date` (the "
    "date of the act, ISO 8601) in the query. E.g. `curl --data-binary @directives.pdf -H 'Content-Type: "
    "application/pdf' '.../documents?title=Mes%20directives%20anticip%C3%A9es'`.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/pdf": {
        "schema": {"type": "string", "format": "binary"}}}}},
)
async def upload_document(
    request: Request, patient: CurrentPatient, actor: CurrentActor, session: SessionDep, settings: SettingsDep,
    title: Annotated[str, Query(min_length=1, max_length=256, examples=["Mes directives anticipées"])],
    type_code: Annotated[str, Query(min_length=1, max_length=64, examples=["11488-4"],
                                    description="LOINC type of JDV_J66-TypeCode-DMP")] = "11488-4",
    service_date: Annotated[IsoInstant | None, Query(description="date of the act (ISO 8601)")] = None,
) -> schemas.DocumentRead:
    content = await request.body()  # bounded by SEGUR_MAX_BODY_BYTES; the service applies its own limit
    doc = await service.upload_document(session, settings=settings, actor=actor, ins=patient.ins, title=title,
                                        type_code=type_code, content=content,
                                        mime_type=request.headers.get("content-type", ""),
                                        service_date=service_date)
    return document_read(doc)


DocumentId = Annotated[str, FastApiPath(max_length=64, description="The document's id (its FHIR logical id)")]


@router.get(P + "/documents/{document_id}", response_model=schemas.DocumentDetailRead,
            operation_id="mes_get_document", responses=_READ, summary="A document's metadata")
async def get_document(patient: CurrentPatient, actor: CurrentActor, session: SessionDep, document_id: DocumentId
                       ) -> schemas.DocumentDetailRead:
    found = await service.get_document(session, actor=actor, ins=patient.ins, document_id=document_id)
    return schemas.DocumentDetailRead(
        document=document_read(found.summary), labels=[list(lab) for lab in found.labels],
        facility_code=found.facility_code, practice_code=found.practice_code, replaces=found.replaces,
        replaced_by=found.replaced_by, is_cda=found.is_cda, may_mask=found.may_mask, may_delete=found.may_delete,
        may_hide_from_representatives=found.may_hide_from_representatives)


@router.get(P + "/documents/{document_id}/content", operation_id="mes_document_content", response_class=Response,
            responses={**_READ, 200: {"description": "The document's bytes (a CDA or a PDF)", "content": {
                "application/xml": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}},
            summary="A document's content (the CDA as filed, or the patient's PDF)")
async def document_content(patient: CurrentPatient, actor: CurrentActor, session: SessionDep,
                           document_id: DocumentId) -> Response:
    data, mime = await service.document_content(session, actor=actor, ins=patient.ins, document_id=document_id)
    return Response(data, media_type=mime, headers={"Cache-Control": "private, no-store",
                                                    "X-Content-Type-Options": "nosniff"})


@router.put(P + "/documents/{document_id}/masked", response_model=schemas.DocumentRead,
            operation_id="mes_set_masked", responses=_WRITE,
            summary="Mask the document from professionals (MASQUE_PS) or unmask it; its author still sees it")
async def set_masked(patient: CurrentPatient, actor: CurrentActor, session: SessionDep, document_id: DocumentId,
                     body: schemas.MaskSet) -> schemas.DocumentRead:
    return document_read(await service.set_masked(session, actor=actor, ins=patient.ins, document_id=document_id,
                                                  masked=body.masked))


@router.put(P + "/documents/{document_id}/hidden-from-representatives", response_model=schemas.DocumentRead,
            operation_id="mes_set_hidden_from_representatives",
            responses=error_responses(PREFIX, 400, 401, 403, 404, 409, 422),
            summary="Hide the document from the legal representatives (INVISIBLE_REPRESENTANTS_LEGAUX): the minor only")
async def set_hidden(patient: CurrentPatient, actor: CurrentActor, session: SessionDep, document_id: DocumentId,
                     body: schemas.HiddenSet) -> schemas.DocumentRead:
    return document_read(await service.set_hidden_from_representatives(
        session, actor=actor, ins=patient.ins, document_id=document_id, hidden=body.hidden))


@router.delete(P + "/documents/{document_id}", status_code=204, response_class=Response,
               operation_id="mes_delete_document", responses=_WRITE,
               summary="Delete the document (logically, as the DMP does): gone for every professional")
async def delete_document(patient: CurrentPatient, actor: CurrentActor, session: SessionDep,
                          document_id: DocumentId) -> Response:
    await service.delete_document(session, actor=actor, ins=patient.ins, document_id=document_id)
    return Response(status_code=204)


@router.get(P + "/access", response_model=schemas.AccessRead, operation_id="mes_access_settings", responses=_READ,
            summary="Who may access the DMP: authorised and blocked professionals, médecins traitants, emergencies")
async def access_settings(patient: CurrentPatient, actor: CurrentActor, session: SessionDep) -> schemas.AccessRead:
    return access_read(await service.access_settings(session, actor=actor, ins=patient.ins))


@router.post(P + "/access/authorised", response_model=schemas.AccessRead, operation_id="mes_authorise_professional",
             responses=_WRITE, summary="Authorise a professional to consult the DMP (VALIDE; unblocks them)")
async def authorise(patient: CurrentPatient, actor: CurrentActor, session: SessionDep, body: schemas.ProfessionalRef
                    ) -> schemas.AccessRead:
    return access_read(await service.authorise_professional(session, actor=actor, ins=patient.ins, rpps=body.rpps))


@router.post(P + "/access/blocked", response_model=schemas.AccessRead, operation_id="mes_block_professional",
             responses=error_responses(PREFIX, 400, 401, 403, 404, 409, 422),
             summary="Block a professional: every access refused, feeding and break-glass included (not the "
                     "médecin traitant: 403)")
async def block(patient: CurrentPatient, actor: CurrentActor, session: SessionDep, body: schemas.ProfessionalRef
                ) -> schemas.AccessRead:
    return access_read(await service.block_professional(session, actor=actor, ins=patient.ins, rpps=body.rpps))


@router.delete(P + "/access/blocked/{rpps}", response_model=schemas.AccessRead, operation_id="mes_unblock_professional",
               responses=_WRITE, summary="Unblock a professional")
async def unblock(patient: CurrentPatient, actor: CurrentActor, session: SessionDep,
                  rpps: Annotated[str, FastApiPath(max_length=32)]) -> schemas.AccessRead:
    return access_read(await service.unblock_professional(session, actor=actor, ins=patient.ins, rpps=rpps))


@router.put(P + "/access/emergency", response_model=schemas.AccessRead, operation_id="mes_set_emergency_access",
            responses=_WRITE, summary="Accept or oppose break-glass and centre 15 (SAMU) access")
async def emergency(patient: CurrentPatient, actor: CurrentActor, session: SessionDep, body: schemas.EmergencySet
                    ) -> schemas.AccessRead:
    return access_read(await service.set_emergency_access(session, actor=actor, ins=patient.ins,
                                                          bris_de_glace=body.bris_de_glace,
                                                          centre_15=body.centre_15))


@router.get(P + "/activity", response_model=list[schemas.ActivityRead], operation_id="mes_activity",
            responses=_READ, summary="The activity history: every access by someone other than the patient, "
            "FHIR and XDS.b, newest first")
async def activity(patient: CurrentPatient, actor: CurrentActor, session: SessionDep,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50,
                   before: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="id of the last entry of the "
                                                       "previous page")] = None) -> list[schemas.ActivityRead]:
    found = await service.activity(session, actor=actor, ins=patient.ins, limit=limit, before=before)
    return [schemas.ActivityRead(**dataclasses.asdict(a)) for a in found]


@router.get(P + "/notifications", response_model=list[schemas.NotificationRead], operation_id="mes_notifications",
            responses=_READ, summary="Notifications: new documents, break-glass and centre 15 accesses, newest first")
async def notifications(patient: CurrentPatient, actor: CurrentActor, session: SessionDep, settings: SettingsDep,
                        unread: Annotated[bool, Query(description="only the unread ones")] = False,
                        ) -> list[schemas.NotificationRead]:
    found = await service.notifications(session, settings=settings, actor=actor, ins=patient.ins, unread_only=unread)
    return [schemas.NotificationRead(**dataclasses.asdict(n)) for n in found]


@router.post(P + "/notifications/read", response_model=schemas.MarkedRead, operation_id="mes_mark_notifications_read",
             responses=_WRITE, summary="Mark notifications read (all when no ids are given)")
async def mark_read(patient: CurrentPatient, actor: CurrentActor, session: SessionDep, body: schemas.MarkRead
                    ) -> schemas.MarkedRead:
    return schemas.MarkedRead(marked=await service.mark_notifications_read(session, actor=actor, ins=patient.ins,
                                                                           ids=body.ids))


@router.get(P + "/notification-settings", response_model=schemas.NotificationSettingsRead,
            operation_id="mes_notification_settings", responses=_READ, summary="Where notifications are mailed")
async def get_notification_settings(patient: CurrentPatient, actor: CurrentActor, session: SessionDep
                                    ) -> schemas.NotificationSettingsRead:
    found = await service.notification_settings(session, actor=actor, ins=patient.ins)
    return schemas.NotificationSettingsRead(email=found.email)


@router.put(P + "/notification-settings", response_model=schemas.NotificationSettingsRead,
            operation_id="mes_set_notification_settings", responses=_WRITE,
            summary="Mail each notification to a mailbox of the sandbox (null: stop)")
async def set_notification_settings(patient: CurrentPatient, actor: CurrentActor, session: SessionDep,
                                    body: schemas.NotificationSettingsRead) -> schemas.NotificationSettingsRead:
    found = await service.set_notification_email(session, actor=actor, ins=patient.ins, email=body.email)
    return schemas.NotificationSettingsRead(email=found.email)
