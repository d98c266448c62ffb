"""PSC control API under ``/sandbox/v1``: clients (RFC 7591 names), professionals (PSC userinfo names),
CIBA decisions, signing-key rotation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from app.api.deps import SessionDep, SettingsDep
from app.api.errors import ProblemError
from app.api.openapi_errors import error_responses
from app.psc import service
from app.psc.keys import SIGNING_ALGS
from app.psc.schemas import CibaDecision, CibaRead, ClientCreate

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
    return await service.create_client(session, data=data)


@router.get("/clients", summary="List PSC clients", operation_id="psc_client_list")
async def list_clients(session: SessionDep) -> list[dict[str, Any]]:
    return await service.list_clients(session)


@router.get("/clients/{client_id}", summary="Read a PSC client", operation_id="psc_client_read")
async def read_client(session: SessionDep, client_id: str) -> dict[str, Any]:
    row = await service.get_client(session, client_id=client_id)
    if row is None:
        raise ProblemError(404, "Unknown client", f"no client {client_id!r}", rule="PSC:client.unknown")
    return service.client_document(row)


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
    pro = await service.create_professional(session, data=data)
    return pro.userinfo


@router.get(
    "/professionals", summary="List test professionals (userinfo documents)", operation_id="psc_professional_list"
)
async def list_professionals(session: SessionDep) -> list[dict[str, Any]]:
    return [pro.userinfo for pro in await service.list_professionals(session)]


@router.get(
    "/professionals/{subject_name_id}", summary="Read a test professional", operation_id="psc_professional_read"
)
async def read_professional(session: SessionDep, subject_name_id: str) -> dict[str, Any]:
    pro = await service.get_professional(session, subject_name_id=subject_name_id)
    if pro is None:
        raise ProblemError(
            404, "Unknown professional", f"no professional {subject_name_id!r}", rule="PSC:professional.unknown"
        )
    return pro.userinfo


def _ciba_read(row: Any) -> CibaRead:
    return CibaRead(
        auth_req_id=row.auth_req_id,
        client_id=row.client_id,
        login_hint=row.subject_name_id,
        scope=row.scope,
        binding_message=row.binding_message,
        acr_values=row.acr_values,
        status=row.status,
        expires_at=service.as_utc(row.expires_at).isoformat(),
    )


@router.get("/ciba", summary="List CIBA requests", operation_id="psc_ciba_list", response_model=list[CibaRead])
async def list_ciba(session: SessionDep) -> list[CibaRead]:
    return [_ciba_read(row) for row in await service.list_ciba(session)]


@router.post(
    "/ciba/{auth_req_id}",
    summary="Approve or deny a pending CIBA request (the e-CPS answer)",
    operation_id="psc_ciba_decide",
    response_model=CibaRead,
)
async def decide_ciba(session: SessionDep, auth_req_id: str, decision: CibaDecision) -> CibaRead:
    row = await service.decide_ciba(session, auth_req_id=auth_req_id, approve=decision.action == "approve")
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
    if alg not in SIGNING_ALGS:
        raise ProblemError(422, "Unsupported algorithm", f"alg must be one of {SIGNING_ALGS}", rule="PSC:keys.alg")
    kid = await service.rotate_signing_key(session, settings, alg)  # type: ignore[arg-type]
    return {"kid": kid, "alg": alg}
