"""PSC control API under ``/sandbox/v1``: clients (RFC 7591 names), professionals (PSC userinfo names),
CIBA decisions, signing-key rotation. Its refusals (:class:`app.psc.exceptions.ControlRefusal`) are
answered as RFC 9457 problem details by :func:`control_refusal`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from starlette.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.api.errors import problem_response
from app.api.journal import note_refusal
from app.api.openapi_errors import error_responses
from app.db import as_utc
from app.psc import clients, professionals
from app.psc.exceptions import (
    CibaRequestDecided,
    CibaRequestExpired,
    ClientExists,
    ControlRefusal,
    InvalidClientMetadata,
    InvalidProfessional,
    ProfessionalExists,
    UnknownCibaRequest,
    UnknownClient,
    UnknownProfessional,
    UnsupportedAlgorithm,
)
from app.psc.grants import ciba
from app.psc.models import Client
from app.psc.schemas import CibaDecision, CibaRead, ClientCreate
from app.psc.signing import rotate_signing_key
from app.shared.professional import Professional

# --- the error mapper: domain refusals as RFC 9457 problem details --------------------------------

STATUS = {
    InvalidClientMetadata: 400,
    UnknownClient: 404,
    UnknownProfessional: 404,
    UnknownCibaRequest: 404,
    ClientExists: 409,
    ProfessionalExists: 409,
    CibaRequestDecided: 409,
    CibaRequestExpired: 409,
    InvalidProfessional: 422,
    UnsupportedAlgorithm: 422,
}


async def control_refusal(request: Request, exc: ControlRefusal) -> Response:
    """The problem details of a control-API refusal; client metadata refusals also carry RFC 7591 §3.2.2's
    ``error`` and ``error_description`` members, and its error URN as ``type``."""
    status = STATUS.get(type(exc), 400)
    type_, extra = None, None
    if isinstance(exc, InvalidClientMetadata):
        type_ = f"urn:ietf:params:oauth:error:{exc.error}"
        extra = {"error": exc.error, "error_description": exc.description}
    note_refusal(request, rule=exc.rule, detail=exc.description, status=status)
    return problem_response(request, status, exc.title, exc.description, type_=type_, rule=exc.rule, extra=extra)


# --- load-or-fail ---------------------------------------------------------------------------------


async def valid_client(session: SessionDep, client_id: str) -> Client:
    return await clients.load_client(session, client_id=client_id)


async def valid_professional(session: SessionDep, subject_name_id: str) -> Professional:
    return await professionals.load_professional(session, subject_name_id=subject_name_id)


ClientDep = Annotated[Client, Depends(valid_client)]
ProfessionalDep = Annotated[Professional, Depends(valid_professional)]

router = APIRouter(prefix="/sandbox/v1", tags=["sandbox"])

_PRO_EXAMPLE = {
    "SubjectNameID": "810001000990",
    "given_name": "Alice",
    "family_name": "Durand",
    "codeCivilite": "MME",
    "SubjectRefPro": {
        "exercices": [
            {
                "codeProfession": "10",
                "activities": [
                    {
                        "raisonSocialeSite": "CABINET DU DR DURAND",
                        "identifiantTechniqueDeLaStructure": "R10000000990",
                        "numeroSiretSite": "81234567800019",
                        "codePostal": "75011",
                        "codeModeExercice": "L",
                    }
                ],
            }
        ]
    },
}


@router.post(
    "/clients", status_code=201, summary="Register a PSC client (RFC 7591 metadata)", operation_id="psc_client_create"
)
async def create_client(session: SessionDep, data: ClientCreate) -> dict[str, Any]:
    return await clients.create_client(session, data=data)


@router.get("/clients", summary="List PSC clients", operation_id="psc_client_list")
async def list_clients(session: SessionDep) -> list[dict[str, Any]]:
    return await clients.list_clients(session)


@router.get("/clients/{client_id}", summary="Read a PSC client", operation_id="psc_client_read")
async def read_client(client: ClientDep) -> dict[str, Any]:
    return clients.client_document(client)


@router.post(
    "/professionals",
    status_code=201,
    summary="Create a test professional (PSC userinfo names)",
    operation_id="psc_professional_create",
    responses=error_responses("/sandbox/v1/professionals", 409),  # PSC:professional.exists
)
async def create_professional(
    session: SessionDep,
    data: dict[str, Any] = Body(..., examples=[_PRO_EXAMPLE]),  # noqa: B008
) -> dict[str, Any]:
    pro = await professionals.create_professional(session, data=data)
    return pro.userinfo


@router.get(
    "/professionals", summary="List test professionals (userinfo documents)", operation_id="psc_professional_list"
)
async def list_professionals(session: SessionDep) -> list[dict[str, Any]]:
    return [pro.userinfo for pro in await professionals.list_professionals(session)]


@router.get(
    "/professionals/{subject_name_id}", summary="Read a test professional", operation_id="psc_professional_read"
)
async def read_professional(professional: ProfessionalDep) -> dict[str, Any]:
    return professional.userinfo


def _ciba_read(row: Any) -> CibaRead:
    return CibaRead(
        auth_req_id=row.auth_req_id,
        client_id=row.client_id,
        login_hint=row.subject_name_id,
        scope=row.scope,
        binding_message=row.binding_message,
        acr_values=row.acr_values,
        status=row.status,
        expires_at=as_utc(row.expires_at).isoformat(),
    )


@router.get("/ciba", summary="List CIBA requests", operation_id="psc_ciba_list", response_model=list[CibaRead])
async def list_ciba(session: SessionDep) -> list[CibaRead]:
    return [_ciba_read(row) for row in await ciba.list_ciba(session)]


@router.post(
    "/ciba/{auth_req_id}",
    summary="Approve or deny a pending CIBA request (the e-CPS answer)",
    operation_id="psc_ciba_decide",
    response_model=CibaRead,
)
async def decide_ciba(session: SessionDep, auth_req_id: str, decision: CibaDecision) -> CibaRead:
    row = await ciba.decide_ciba(session, auth_req_id=auth_req_id, approve=decision.action == "approve")
    return _ciba_read(row)


@router.post(
    "/signing-keys",
    status_code=201,
    summary="Rotate the PSC signing key (as `segur-sandbox keys rotate`)",
    operation_id="psc_signing_key_rotate",
)
async def rotate_key(
    session: SessionDep, settings: SettingsDep, body: dict[str, str] = Body(default={"alg": "RS256"})
) -> dict[str, str]:  # noqa: B008
    alg = body.get("alg", "RS256")
    kid = await rotate_signing_key(session, settings, alg)
    return {"kid": kid, "alg": alg}
