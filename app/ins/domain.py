"""What the ins domain plugs into the platform."""

from fastapi import Request
from starlette.responses import Response

from app.api.errors import ProblemError, problem_response, unexpected_error_response
from app.api.journal import note_refusal
from app.domains import Domain
from app.ins.control import control, control_problem
from app.ins.exceptions import InsError
from app.ins.national_base import seed
from app.ins.readpool import lifespan
from app.ins.router import problem_of, router
from app.ins.soap.endpoint import router as soap_router
from app.ins.soap.faults import SoapFault, map_error, render_lps_error, soap_fault_handler

LPS = "/lps"


async def _ins_error(request: Request, exc: InsError) -> Response:
    """The fallback for a domain error no route caught: the shape of the face it was raised under (one mapper
    per protocol). Each route maps its errors itself (the SOAP face with the request's MessageID); this only
    keeps a forgotten ``try`` from becoming a 500."""
    path = request.url.path
    if path.startswith(LPS):
        return await soap_fault_handler(request, map_error(exc))
    problem: ProblemError
    if path.startswith(router.prefix):
        problem = problem_of(exc)
    elif path.startswith(control.prefix):
        problem = control_problem(exc)
    else:
        return await unexpected_error_response(request, exc)
    note_refusal(request, rule=problem.rule, detail=problem.detail, status=problem.status)
    return problem_response(request, problem.status, problem.title, problem.detail, type_=problem.type,
                            rule=problem.rule, extra=problem.extra, headers=problem.headers)


DOMAIN = Domain(
    name="ins",
    # No PSC-protected router: /lps authenticates its caller itself (certificate CN, CPx assertion or a PSC
    # token, app/ins/soap/endpoint.py), /insi/v1 stays open as it was (a sandbox facade with no real
    # counterpart), and /sandbox/v1 takes the control API's token.
    routers=[soap_router, router, control],
    # the two search faces, dispatched beside FastAPI's router on the fast path (app/api/hotpaths.py)
    hot_operations=("ins_soap", "insi_search_traits"),
    seed=seed,
    lifespan=lifespan,
    exception_handlers={SoapFault: soap_fault_handler, InsError: _ins_error},
    error_renderers={LPS: render_lps_error},
    openapi_tags=[{
        "name": "ins",
        "description": "INSi teleservice: SOAP 1.2 at `/lps` (WSDL at `/lps?wsdl`, compatible with "
        "DESIR_ICIR_EXP_1.5.0) and its JSON facade `/insi/v1` (search by traits, by Carte Vitale, "
        "verification, NIR tools, RNIV status engine).",
    }],
)
