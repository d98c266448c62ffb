"""What the INS plugs into the platform (app/ins/domain.py): the fallback for a domain error no route caught,
in the shape of the face it was raised under, the same answer the face's own mapper gives.

Throwaway routes on a bare app with the platform's handlers and the domain's: under each face, a route that
maps the error itself (as the faces do) and one that forgets to; both must answer the same."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app.api.errors import install_exception_handlers
from app.ins.control import control_problem
from app.ins.domain import DOMAIN
from app.ins.exceptions import (
    BeneficiaryUnknown,
    IdamRefused,
    InsConflict,
    InsError,
    InsiTechnicalFault,
    NirError,
    NotFound,
    OidError,
    RnivError,
    TraitError,
)
from app.ins.router import problem_of
from app.ins.soap.faults import SoapFault, map_error

ERRORS: list[InsError] = [
    TraitError("Nom", "INSi:charset", "character outside INSi's set", suggestion="ADRUN"),
    TraitError("Prenom", "INSi:length", "too long"),
    NirError("NIR:key", "wrong key"),
    OidError("1.2.3", "not an INS OID"),
    RnivError("0", "RNIV:event", "unknown event"),
    IdamRefused("nope"),
    InsiTechnicalFault(),
    InsConflict("INSACTIF", "INS:exists", "already there"),
    BeneficiaryUnknown("BENEFICIAIRES.INS", "INS:card-beneficiary", "no such beneficiary"),
    NotFound("unknown IDAM x", rule="INS:idam-unknown", field="idam"),
]

MAPPERS = {"/lps": map_error, "/insi/v1": problem_of, "/sandbox/v1": control_problem}


def _app(err: InsError) -> FastAPI:
    app = FastAPI()
    install_exception_handlers(app)
    for exc_class, handler in DOMAIN.exception_handlers.items():
        app.add_exception_handler(exc_class, handler)  # type: ignore[arg-type]

    for prefix, mapper in MAPPERS.items():
        def mapped(mapper=mapper) -> None:  # type: ignore[no-untyped-def]
            raise mapper(err)

        def forgotten() -> None:
            raise err

        app.add_api_route(f"{prefix}/mapped", mapped, methods=["POST"])
        app.add_api_route(f"{prefix}/forgotten", forgotten, methods=["POST"])

    def elsewhere() -> None:
        raise err

    app.add_api_route("/elsewhere", elsewhere, methods=["POST"])
    return app


def test_one_fallback_handler_for_the_domain_errors():
    assert set(DOMAIN.exception_handlers) == {SoapFault, InsError}


@pytest.mark.parametrize("err", ERRORS, ids=lambda e: f"{type(e).__name__}-{e.rule}")
async def test_a_forgotten_domain_error_speaks_the_shape_of_its_face(err: InsError):
    app = _app(err)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        for prefix in MAPPERS:
            mapped = await http.post(f"{prefix}/mapped")
            forgotten = await http.post(f"{prefix}/forgotten")
            assert forgotten.status_code == mapped.status_code, prefix
            assert forgotten.headers["content-type"] == mapped.headers["content-type"], prefix
            if prefix == "/lps":
                assert forgotten.status_code == 500
                assert forgotten.headers["content-type"].startswith("application/soap+xml")
                assert forgotten.content == mapped.content
            else:
                assert forgotten.headers["content-type"] == "application/problem+json"
                body = forgotten.json()
                assert body["rule"] == err.rule
                assert body["instance"] == f"{prefix}/forgotten"
                assert {**body, "instance": None} == {**mapped.json(), "instance": None}
        assert (await http.post("/insi/v1/forgotten")).status_code == problem_of(err).status
        assert (await http.post("/sandbox/v1/forgotten")).status_code == control_problem(err).status


async def test_a_domain_error_outside_the_domain_s_faces_stays_an_unexpected_error():
    app = _app(NirError("NIR:key", "wrong key"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.post("/elsewhere")
    assert response.status_code == 500 and response.json()["rule"] == "platform:unexpected"
