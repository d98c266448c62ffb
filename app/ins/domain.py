"""What the ins domain plugs into the platform."""

from app.domains import Domain
from app.ins.router import control, router
from app.ins.service import lifespan, seed
from app.ins.soap import SoapFault
from app.ins.soap_router import render_lps_error, soap_fault_handler
from app.ins.soap_router import router as soap_router

DOMAIN = Domain(
    name="ins",
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
