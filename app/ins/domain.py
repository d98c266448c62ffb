"""What the ins domain plugs into the platform."""

from app.domains import Domain
from app.ins.control import control
from app.ins.national_base import seed
from app.ins.readpool import lifespan
from app.ins.router import router
from app.ins.soap.endpoint import router as soap_router
from app.ins.soap.faults import SoapFault, render_lps_error, soap_fault_handler

DOMAIN = Domain(
    name="ins",
    # No PSC-protected router: /lps authenticates its caller itself (certificate CN, CPx assertion or a PSC
    # token, app/ins/soap/endpoint.py), /insi/v1 stays open as it was (a sandbox facade with no real
    # counterpart), and /sandbox/v1 takes the control API's token.
    routers=[soap_router, router, control],
    seed=seed,
    lifespan=lifespan,
    exception_handlers={SoapFault: soap_fault_handler},
    error_renderers={"/lps": render_lps_error},
    openapi_tags=[{
        "name": "ins",
        "description": "INSi teleservice: SOAP 1.2 at `/lps` (WSDL at `/lps?wsdl`, compatible with "
        "DESIR_ICIR_EXP_1.5.0) and its JSON facade `/insi/v1` (search by traits, by Carte Vitale, "
        "verification, NIR tools, RNIV status engine).",
    }],
)
