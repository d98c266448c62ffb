"""What the dmp domain plugs into the platform."""

from fastapi import Request
from starlette.responses import Response

from app.dmp import control, service
from app.dmp.exceptions import DmpError
from app.dmp.fhir import errors as fhir_errors
from app.dmp.fhir import router as fhir
from app.dmp.soap import faults as soap_faults
from app.dmp.soap import operations as soap_operations
from app.dmp.soap import router as soap
from app.domains import Domain


async def _dmp_error(request: Request, exc: DmpError) -> Response:
    """A domain error in the shape of the face it was raised under (one mapper per protocol)."""
    if request.url.path.startswith(control.router.prefix):
        return await control.dmp_error_response(request, exc)
    if request.url.path.startswith(soap_operations.PREFIX):
        # the SOAP face renders its handlers' errors itself (inside the transaction); one escaping elsewhere on
        # its paths is still answered in SOAP, never as FHIR
        return soap_faults.fault_response(request, soap_faults.sender(
            exc.kind.value, exc.french or exc.english, rule=exc.rule))
    return await fhir_errors.dmp_error_response(request, exc)


DOMAIN = Domain(
    name="dmp",
    routers=[fhir.discovery, control.router, soap.router],  # the SOAP face's auth is the VIHF, not a PSC bearer
    protected_routers=[fhir.router],
    seed=service.seed,
    exception_handlers={DmpError: _dmp_error},  # the SOAP face answers its SoapFaults itself (soap/router.py)
    error_renderers={soap_operations.PREFIX: soap_faults.render_generic},
    # a 20 MB document sent inline in base64 is 26.7 MB: the SOAP face's own bound, checked by its reader too
    body_limits=lambda settings: {soap_operations.PREFIX: settings.dmp_soap_max_bytes},
    openapi_tags=[
        {
            "name": "dmp",
            "description": "DMP over PDSm 3.1.1 / IHE MHD 4.2.3 (FHIR R4, JSON and XML): ITI-65, ITI-105, ITI-67, "
            "ITI-66, ITI-68, conditional PATCH, TD02 (Patient), access traces (AuditEvent). Bearer: a PSC "
            "access token. Headers X-DMP-Access-Mode / X-DMP-Access-Reason.",
        },
        {
            "name": "dmp-soap",
            "description": "DMP over IHE XDS.b (the DMPi route): SOAP 1.2 + WS-Addressing + MTOM/XOP at "
            "`/si-dmp-server/v2/services/{registry,repository,...}`: ITI-41, ITI-18, ITI-43, ITI-57, TD0.2, TD1.1; "
            "a signed VIHF in wsse:Security; WSDL at `?wsdl`.",
        },
    ],
)
