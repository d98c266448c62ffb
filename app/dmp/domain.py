"""What the dmp domain plugs into the platform."""

from fastapi import Request
from starlette.responses import Response

from app.dmp import control, service
from app.dmp.exceptions import DmpError
from app.dmp.fhir import errors as fhir_errors
from app.dmp.fhir import router as fhir
from app.domains import Domain


async def _dmp_error(request: Request, exc: DmpError) -> Response:
    """A domain error in the shape of the face it was raised under (one mapper per protocol)."""
    if request.url.path.startswith(control.router.prefix):
        return await control.dmp_error_response(request, exc)
    return await fhir_errors.dmp_error_response(request, exc)


DOMAIN = Domain(
    name="dmp",
    routers=[fhir.discovery, control.router],
    protected_routers=[fhir.router],
    seed=service.seed,
    exception_handlers={DmpError: _dmp_error},
    openapi_tags=[
        {
            "name": "dmp",
            "description": "DMP over PDSm 3.1.1 / IHE MHD 4.2.3 (FHIR R4, JSON and XML): ITI-65, ITI-105, ITI-67, "
            "ITI-66, ITI-68, conditional PATCH, TD02 (Patient), access traces (AuditEvent). Bearer: a PSC "
            "access token. Headers X-DMP-Access-Mode / X-DMP-Access-Reason.",
        }
    ],
)
