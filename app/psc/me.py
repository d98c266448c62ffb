"""PSC's own protected API (``/psc/v1``): who the bearer of a PSC access token is. Its router is listed in
``Domain(protected_routers=...)``, so the platform checks the token on every route added here."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentProfessional
from app.shared.professional import Professional

router = APIRouter(prefix="/psc/v1", tags=["psc"])


@router.get(
    "/me",
    summary="The professional behind the bearer token (CurrentProfessional)",
    operation_id="psc_me",
    response_model=Professional,
    response_model_exclude={"token_claims"},
)
async def me(professional: CurrentProfessional) -> Professional:
    return professional
