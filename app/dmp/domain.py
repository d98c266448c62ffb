"""What the dmp domain plugs into the platform."""

from app.dmp import control, router, service
from app.domains import Domain

DOMAIN = Domain(
    name="dmp",
    routers=[router.router, control.router],
    seed=service.seed,
    openapi_tags=[
        {
            "name": "dmp",
            "description": "DMP over PDSm 3.1.1 / IHE MHD 4.2.3 (FHIR R4, JSON and XML): ITI-65, ITI-105, ITI-67, "
            "ITI-66, ITI-68, conditional PATCH, TD02 (Patient), access traces (AuditEvent). Bearer: a PSC "
            "access token. Headers X-DMP-Access-Mode / X-DMP-Access-Reason.",
        }
    ],
)
