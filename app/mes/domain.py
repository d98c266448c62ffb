"""What the mes domain (Mon espace santé, the patient side) plugs into the platform."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from app.domains import Domain
from app.mes import control, messaging_api, pages, pages_web, service
from app.mes.api import problems
from app.mes.api import router as api
from app.mes.exceptions import MesError


async def _mes_error(request: Request, exc: MesError) -> Response:
    """A domain error in the shape of the face it was raised under: problem JSON on the API and the control API
    (RFC 6749 on the token endpoint); the pages render their own errors."""
    return await problems.api_error_response(request, exc)


DOMAIN = Domain(
    name="mes",
    # the patient API's auth is its own bearer token (app.mes.signin), not a PSC one
    routers=[api.router, messaging_api.router, control.router, pages.router],
    seed=service.seed,
    exception_handlers={MesError: _mes_error},
    keep_on_reset=("mes_signing_key",),
    # the pages' own unknown routes, 405, 413 and malformed forms as a French page (the API keeps problem JSON)
    error_renderers={"/mes/": pages_web.render_generic_error},
    openapi_tags=[{
        "name": api.TAG,
        "description": "Mon espace santé, the patient side: sign in with an INS and a one-time code (simulated "
        "SMS; the control API returns it), then act as the patient — documents (read, upload a PDF, mask from "
        "professionals, delete, hide from legal representatives), access control (authorise, block, emergency "
        "access), activity history, notifications — with effect at once on the DMP's FHIR and XDS.b faces.",
    }],
)
