"""Routes of the patient API ``/mes/api/v1``: sign-in and tokens, then what a patient does (documents, access
control, history, notifications), each a call of :mod:`app.mes.service`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.api.openapi_errors import error_responses
from app.db import utcnow
from app.mes import service
from app.mes.api import schemas
from app.mes.api.deps import CurrentActor, bearer_of
from app.mes.exceptions import MesSignInError
from app.mes.signin import GRANT_TYPE

PREFIX = "/mes/api/v1"
TAG = "Mon espace santé — patient API"
router = APIRouter(prefix=PREFIX, tags=[TAG])

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
        delivery=f"simulated SMS: GET /sandbox/v1/mes/one-time-codes?ins={challenge.ins} returns the code")


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
