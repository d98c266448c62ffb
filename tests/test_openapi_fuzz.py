"""Property-based fuzzing of every operation of the sandbox's own OpenAPI document (schemathesis).

Each operation of ``/openapi.json`` gets generated requests — valid ones (``positive``) and ones that
break the declared schema (``negative``) — sent in-process to the ASGI app, and every answer is checked:
no 5xx, the status code is one the operation declares, the content type and the body match what is
declared for that status, declared response headers are there, and a request that breaks the declared
schema is refused with a 4xx. The two legs:

- ``psc``: the tests' own ``app`` fixture (so PostgreSQL and SQLite), control API open, every request
  with a real PSC access token of a test professional (plus ``X-Client-Cert-CN: INSI-AUTO`` for the
  INSi facade and the right ``ESANTE-API-KEY`` for the Annuaire in positive cases). The store is reset
  (and a fresh token taken) after every operation that may write, and at the end of the leg, so nothing
  the fuzzer wrote reaches another test; ``POST /sandbox/v1/signing-keys`` is left to the other leg, as
  keys survive a reset. Half the positive cases use the fixtures' path values (an INS, an RPPS, a mailbox,
  a client, an IDAM), so the fuzzer gets past the 404 of a random id.
- ``control``: a second app with ``SEGUR_CONTROL_TOKEN`` set, on a database of its own (on both
  engines), fuzzing every ``/sandbox/v1`` operation behind its token, and checking that each one refuses a
  call without it (401 problem JSON with ``WWW-Authenticate``).

Bounds: ``SEGUR_FUZZ_EXAMPLES`` examples per operation and generation mode (default 8), derandomized
(the same examples on every run, so CI is reproducible), no example database, no deadline. Run it longer
locally with e.g. ``SEGUR_FUZZ_EXAMPLES=200 .venv/bin/pytest tests/test_openapi_fuzz.py``, and set
``SEGUR_FUZZ_SEED=<int>`` to explore other examples than the fixed ones.

Hypothesis drives the examples in a worker thread; each request is sent through ``httpx.ASGITransport``
on the test's own event loop (the one the app's engine lives on), and schemathesis validates the answer.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from pydantic import BaseModel
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.db import create_engine, upgrade
from app.main import create_app
from tests.conftest import ADMIN_URL, BASE_URL, drop_fresh_database, fresh_database_url, make_settings
from tests.mes.helpers import token_for as patient_token_for
from tests.psc.helpers import access_token_for

EXAMPLES = int(os.environ.get("SEGUR_FUZZ_EXAMPLES", "8"))
SEED = os.environ.get("SEGUR_FUZZ_SEED")
CONTROL_TOKEN = "fuzz-control-token-0123456789"
PROFESSIONAL = "810001000016"  # Claire Fontaine, a seeded test professional
ANNUAIRE_KEY_HEADER = "ESANTE-API-KEY"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# INSi answers every SOAP fault with HTTP 500, as the live service does (docs/ins.md, "HTTP status of the
# faults"): on /lps a 500 is the protocol's refusal, provided it is a SOAP 1.2 fault naming its siram code;
# anything else there (a bare 500, a traceback) still fails.
# The DMP's XDS.b face does the same (README Decisions, issue 11): a 500 there must be a SOAP 1.2 fault with a subcode.
SOAP_FAULT_PATHS = ("/lps", "/si-dmp-server")
SOAP_CHECKS = [check for check in CHECKS if check is not not_a_server_error]


def assert_soap_fault(response: httpx.Response, *, insi: bool) -> None:
    """A 5xx on a SOAP path must be a SOAP 1.2 ``Fault`` with a subcode: on /lps a ``siram_NN`` one and a
    ``siram:Erreur`` code; on the DMP's face, env:Sender or env:Receiver with any subcode."""
    if response.status_code < 500:
        return
    from lxml import etree

    assert response.status_code == 500, response.text
    assert response.headers["content-type"].startswith("application/soap+xml"), response.headers
    root = etree.fromstring(response.content)
    ns = {"env": "http://www.w3.org/2003/05/soap-envelope", "siram": "urn:siram"}
    code = root.findtext(".//env:Fault/env:Code/env:Value", namespaces=ns) or ""
    subcode = root.findtext(".//env:Fault/env:Code/env:Subcode/env:Value", namespaces=ns) or ""
    if insi:
        assert ":siram_" in subcode, response.text
        assert root.find(".//env:Fault/env:Detail/siram:Erreur", namespaces=ns) is not None, response.text
    else:
        assert code.endswith((":Sender", ":Receiver")) and subcode, response.text


# Keys survive a reset (``POST /sandbox/v1/reset`` keeps them): fuzzed only on the control leg's own store.
OUTLIVES_RESET = {"POST /sandbox/v1/signing-keys"}


@schemathesis.serializer("application/zip", "application/pdf")
def _zip(context: schemathesis.SerializationContext, value: Any) -> bytes:
    """``POST /mss/v1/xdm/inspect`` takes raw bytes (an IHE_XDM.ZIP), the patient API's upload a PDF: whatever was
    generated, as bytes."""
    return value if isinstance(value, bytes) else str(value).encode()


def _openapi_document() -> dict[str, Any]:
    """The document the app serves at ``/openapi.json`` (it depends on no store state)."""
    return create_app(make_settings("sqlite+aiosqlite:///:memory:")).openapi()


DOCUMENT = _openapi_document()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
LABELS = sorted(
    f"{method.upper()} {path}" for path, operations in DOCUMENT["paths"].items() for method in operations
)
CONTROL_LABELS = [label for label in LABELS if label.split(" ", 1)[1].startswith("/sandbox/v1")]


def _hypothesis_settings() -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


async def _fuzz(
    http: httpx.AsyncClient, label: str, headers_for: Any, *, known: dict[str, str] | None = None,
    schema: Any = None,
) -> None:
    """Run both generation modes of ``label``; fail with every failing example found.

    ``known``: path parameter values of the fixtures (an INS, an RPPS, a mailbox, ...). Half the positive
    cases use them where the operation has such a parameter, so the fuzzer gets past the 404 of a random id.
    """
    operation = (schema or SCHEMA).find_operation_by_label(label)
    assert operation is not None, label
    loop = asyncio.get_running_loop()
    path_names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in (known or {}).items() if name in path_names}

    async def send(case: schemathesis.Case) -> httpx.Response:
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers_for(case))
        headers = dict(kwargs.get("headers") or {})
        if kwargs.get("cookies"):
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in kwargs["cookies"].items())
        return await http.request(
            kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=headers,
            content=_content(kwargs), files=kwargs.get("files"),
        )

    def run(mode: GenerationMode) -> None:
        strategy = operation.as_strategy(generation_mode=mode)
        if fixed and mode == GenerationMode.POSITIVE:
            strategy = strategy | operation.as_strategy(generation_mode=mode, path_parameters=fixed)

        @_hypothesis_settings()
        @hypothesis.given(case=strategy)
        def example(case: schemathesis.Case) -> None:
            response = asyncio.run_coroutine_threadsafe(send(case), loop).result(timeout=60)
            if operation.path.startswith(SOAP_FAULT_PATHS):
                assert_soap_fault(response, insi=operation.path.startswith("/lps"))
                case.validate_response(response, checks=SOAP_CHECKS)
            else:
                case.validate_response(response, checks=CHECKS)

        if SEED is not None:
            example = hypothesis.seed(int(SEED))(example)
        example()

    failures = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            await asyncio.to_thread(run, mode)
        except hypothesis.errors.Unsatisfiable:
            pass  # nothing to break in the request (no parameters, no body): no negative case exists
        except (Exception, BaseExceptionGroup) as exc:  # one report with both modes' failures
            failures.append(f"--- {mode.value} ---\n{exc}")
    if failures:
        pytest.fail(f"{label}\n" + "\n".join(failures), pytrace=False)


def _content(kwargs: dict[str, Any]) -> Any:
    """The body as requests would send it: ``json=`` serialised, ``data=`` as bytes or a form."""
    if "json" in kwargs:
        import json

        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data")
    if isinstance(data, dict):
        import urllib.parse

        return urllib.parse.urlencode(data, doseq=True).encode()
    if isinstance(data, str):
        return data.encode()
    return data


# --- the PSC leg: the tests' own app, both engines ------------------------------------------------------

class PscLeg:
    """The PSC leg's client, its token, the fixtures' path values, and whether the store needs a reset."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http, self.token, self.known, self.dirty = http, "", dict(KNOWN_PATH_VALUES), True
        self.patient_token = ""

    async def ready(self) -> None:
        """Back to the fixtures after an operation that may have written (a reset, and a fresh token)."""
        if not self.dirty:
            return
        assert (await self.http.post("/sandbox/v1/reset")).status_code == 200
        self.token = await access_token_for(self.http, PROFESSIONAL)
        self.patient_token = await patient_token_for(self.http, KNOWN_PATH_VALUES["ins"])
        mailboxes = await self.http.get("/mss/v1/mailboxes", headers={"Authorization": f"Bearer {self.token}"})
        assert mailboxes.status_code == 200, mailboxes.text
        self.known["address"] = mailboxes.json()[0]["address"]
        self.dirty = False


# Path values of the seeded fixtures: ADRUN ZOE (INS person with a DMP), Claire Fontaine (PSC professional),
# the public PSC client, the default IDAM.
KNOWN_PATH_VALUES = {
    "ins": "275126322074974", "value": "275126322074974", "rpps": PROFESSIONAL[1:],
    "subject_name_id": PROFESSIONAL, "client_id": "segur-sandbox-public", "idam": "SEGURSANDBOX01",
}


@pytest.fixture(scope="module")
async def psc_leg(app) -> AsyncIterator[PscLeg]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        leg = PscLeg(http)
        yield leg
        # What the fuzzer wrote must not reach the next test (each resets too; this is belt and braces).
        assert (await http.post("/sandbox/v1/reset")).status_code == 200


@pytest.mark.parametrize("label", [label for label in LABELS if label not in OUTLIVES_RESET])
async def test_every_operation_with_a_psc_token(psc_leg: PscLeg, label: str) -> None:
    await psc_leg.ready()
    annuaire = ANNUAIRE_KEY_HEADER in {p.name for p in SCHEMA.find_operation_by_label(label).headers}

    # the patient API takes the patient's own token (Mon espace santé), every other face a PSC one
    bearer = psc_leg.patient_token if label.split(" ", 1)[1].startswith("/mes/api/") else psc_leg.token

    def headers_for(case: schemathesis.Case) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {bearer}", "X-Client-Cert-CN": "INSI-AUTO"}
        if annuaire and case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
            headers[ANNUAIRE_KEY_HEADER] = "sandbox-esante-api-key"
        return headers

    # Whatever happens, a write (or a GET that fails half-way) leaves the store for the next one to reset.
    psc_leg.dirty = not label.startswith("GET ")
    await _fuzz(psc_leg.http, label, headers_for, known=psc_leg.known)


# --- the control leg: SEGUR_CONTROL_TOKEN set, a store of its own -----------------------------------------

CONTROL_AUTH = {"Authorization": f"Bearer {CONTROL_TOKEN}"}


class ControlLeg:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http, self.known, self.dirty = http, dict(KNOWN_PATH_VALUES), True

    async def ready(self) -> None:
        if not self.dirty:
            return
        reset = await self.http.post("/sandbox/v1/reset", headers=CONTROL_AUTH)
        assert reset.status_code == 200, reset.text
        mailboxes = await self.http.get("/sandbox/v1/mailboxes", headers=CONTROL_AUTH)
        assert mailboxes.status_code == 200, mailboxes.text
        self.known["address"] = mailboxes.json()[0]["address"]
        self.dirty = False


@pytest.fixture(scope="module")
async def control_leg(  # type: ignore[no-untyped-def]
    database_url: str, tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ControlLeg]:
    engine_name = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    admin_url = ADMIN_URL if engine_name == "postgresql" else None
    url, name = await asyncio.to_thread(fresh_database_url, engine_name, admin_url,
                                        tmp_path_factory.mktemp("fuzz"), "fuzz")
    try:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        application = create_app(make_settings(url, control_token=CONTROL_TOKEN))
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
                yield ControlLeg(http)
    finally:
        await asyncio.to_thread(drop_fresh_database, engine_name, admin_url, name)


@pytest.mark.parametrize("label", CONTROL_LABELS)
async def test_every_control_operation_behind_the_control_token(control_leg: ControlLeg, label: str) -> None:
    await control_leg.ready()
    method, path = label.split(" ", 1)
    # Without the token, the operation is refused as declared (401, problem JSON, WWW-Authenticate).
    refused = await control_leg.http.request(method, path.replace("{", "x").replace("}", ""))
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["rule"] == "sandbox:control-token" and "Bearer" in refused.headers["www-authenticate"]
    assert "401" in DOCUMENT["paths"][path][method.lower()]["responses"]

    control_leg.dirty = method != "GET"
    await _fuzz(control_leg.http, label, lambda case: dict(CONTROL_AUTH), known=control_leg.known)


# --- the fuzzer itself can fail ---------------------------------------------------------------------------

class _Thing(BaseModel):
    name: str


async def test_the_fuzzer_reports_a_server_error_and_an_undeclared_answer() -> None:
    """A small app whose route answers 500 on an empty name, and 418 (declared nowhere) on "tea"."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    mini = FastAPI()

    @mini.post("/things", status_code=201)
    async def create(thing: _Thing) -> Any:
        if not thing.name:
            return JSONResponse({"detail": "boom"}, status_code=500)
        return {"name": thing.name}

    @mini.get("/teapot")
    async def teapot(kind: str = "") -> Any:
        return JSONResponse({"kind": kind}, status_code=418 if kind == "" else 200)

    schema = schemathesis.openapi.from_dict(mini.openapi())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=mini), base_url=BASE_URL) as http:
        with pytest.raises(pytest.fail.Exception, match="Server error"):
            await _fuzz(http, "POST /things", lambda case: {}, schema=schema)
        with pytest.raises(pytest.fail.Exception, match="Undocumented status code"):
            await _fuzz(http, "GET /teapot", lambda case: {}, schema=schema)
