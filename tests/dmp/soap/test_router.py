"""The SOAP face's endpoints over HTTP: dispatch with a real VIHF, WS-Addressing response headers, failures as
the transaction's own response (HTTP 200, never the FHIR mapper), faults, ``?wsdl`` / ``?xsd=``, 404 / 405."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from app.dmp import service
from app.dmp.exceptions import DmpError, Kind
from app.dmp.soap import router as soap_router
from app.dmp.soap import td
from app.dmp.soap.call import OutPart, SoapCall, SoapReply
from app.dmp.soap.faults import SoapFault
from app.dmp.soap.namespaces import (
    ACTION_ITI18,
    ACTION_ITI43,
    NS_QUERY,
    NS_RIM,
    NS_RS,
    NS_SOAP12,
    NS_WSA,
    NS_XDSB,
    STATUS_FAILURE,
)
from tests.dmp.conftest import FONTAINE, LEFEVRE, ZOE
from tests.dmp.soap.client import PREFIX, envelope, get_vihf, post_soap, read_answer

UNKNOWN_QUERY = (f'<query:AdhocQueryRequest xmlns:query="{NS_QUERY}" xmlns:rim="{NS_RIM}">'
                 '<query:ResponseOption returnComposedObjects="true" returnType="LeafClass"/>'
                 '<rim:AdhocQuery id="urn:uuid:00000000-0000-0000-0000-000000000000"/></query:AdhocQueryRequest>')
MISSING_DOCUMENT = (f'<xdsb:RetrieveDocumentSetRequest xmlns:xdsb="{NS_XDSB}"><xdsb:DocumentRequest>'
                    "<xdsb:RepositoryUniqueId>1.2.3.4.5.999</xdsb:RepositoryUniqueId>"
                    "<xdsb:DocumentUniqueId>1.2.3.4.5.999.1</xdsb:DocumentUniqueId>"
                    "</xdsb:DocumentRequest></xdsb:RetrieveDocumentSetRequest>")


async def test_a_failed_stored_query_is_an_adhoc_query_response_with_ws_addressing(client: httpx.AsyncClient) -> None:
    """An unknown stored query (or any DmpError a handler raises): HTTP 200, query:AdhocQueryResponse Failure, the
    response action, RelatesTo the request's MessageID, a new MessageID (WS-Addressing 1.0 SOAP Binding §5)."""
    vihf = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE)
    answer = await post_soap(client, "registry", ACTION_ITI18, UNKNOWN_QUERY, vihf=vihf, message_id="urn:uuid:q-1")
    assert answer.status == 200, etree.tostring(answer.root)
    assert answer.content_type.startswith("application/soap+xml")
    assert f'action="{ACTION_ITI18}Response"' in answer.content_type
    assert answer.action == ACTION_ITI18 + "Response"
    assert answer.relates_to == "urn:uuid:q-1"
    assert answer.message_id and answer.message_id.startswith("urn:uuid:") and answer.message_id != "urn:uuid:q-1"
    assert answer.payload is not None and answer.payload.tag == f"{{{NS_QUERY}}}AdhocQueryResponse"
    assert answer.payload.get("status") == STATUS_FAILURE
    errors = answer.payload.findall(f"{{{NS_RS}}}RegistryErrorList/{{{NS_RS}}}RegistryError")
    assert errors and all(e.get("errorCode") and e.get("codeContext") for e in errors)


async def test_retrieve_answers_mtom_even_when_it_fails(client: httpx.AsyncClient) -> None:
    vihf = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE)
    answer = await post_soap(client, "repository", ACTION_ITI43, MISSING_DOCUMENT, vihf=vihf)
    assert answer.status == 200
    assert answer.content_type.startswith("multipart/related")
    assert 'type="application/xop+xml"' in answer.content_type
    assert answer.payload is not None and answer.payload.tag == f"{{{NS_XDSB}}}RetrieveDocumentSetResponse"
    status = answer.payload.find(f"{{{NS_RS}}}RegistryResponse")
    assert status is not None and status.get("status") != "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"


async def test_a_request_without_vihf_is_a_fault_relating_to_it(client: httpx.AsyncClient) -> None:
    answer = await post_soap(client, "registry", ACTION_ITI18, UNKNOWN_QUERY, message_id="urn:uuid:no-vihf")
    assert answer.status == 500  # every fault, Sender ones included (faults.py: Java stacks read a fault on 500)
    assert answer.fault_code == f"{{{NS_SOAP12}}}Sender"
    assert answer.relates_to == "urn:uuid:no-vihf"
    assert answer.action == "http://www.w3.org/2005/08/addressing/soap/fault"


async def _last_entry(client: httpx.AsyncClient) -> dict[str, object]:
    response = await client.get("/sandbox/v1/journal", params={"path": PREFIX, "limit": 1})
    assert response.status_code == 200, response.text
    return dict(response.json()["entries"][0])


async def test_refusals_are_journaled_with_their_rule(client: httpx.AsyncClient) -> None:
    await post_soap(client, "registry", "urn:x:Nope", UNKNOWN_QUERY)
    entry = await _last_entry(client)
    assert (entry["rule"], entry["status"], entry["operation"]) == ("dmp-soap:action", 500, "dmp_soap_registry")
    vihf = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE)
    await post_soap(client, "registry", ACTION_ITI18, UNKNOWN_QUERY, vihf=vihf)
    entry = await _last_entry(client)  # a failed transaction: HTTP 200, its rule noted all the same
    assert entry["status"] == 200 and entry["rule"]


async def test_inline_and_mtom_requests_reach_the_same_handler(client: httpx.AsyncClient) -> None:
    vihf = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE)
    plain = await post_soap(client, "repository", ACTION_ITI43, MISSING_DOCUMENT, vihf=vihf)
    multipart = await post_soap(client, "repository", ACTION_ITI43, MISSING_DOCUMENT, vihf=vihf, mtom=True)
    assert plain.status == multipart.status == 200
    assert plain.payload is not None and multipart.payload is not None
    assert plain.payload.tag == multipart.payload.tag


# --- WSDL -------------------------------------------------------------------------------------------------

FIXTURE_WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test">
  <wsdl:types><xsd:schema>
    <xsd:import namespace="urn:test:t" schemaLocation="schemas/tiny.xsd"/>
  </xsd:schema></wsdl:types>
  <wsdl:service name="Registry"><wsdl:port name="p" binding="b">
    <soap12:address location="https://lps2.dmp.gouv.fr/si-dmp-server/v2/services/registry"/>
  </wsdl:port></wsdl:service>
</wsdl:definitions>
"""
FIXTURE_XSD = '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test:t"/>'


@pytest.fixture
def wsdl_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny WSDL and its XSD in place of app/dmp/soap/wsdl/ (the real files are tested with zeep)."""
    (tmp_path / "registry.wsdl").write_text(FIXTURE_WSDL, encoding="utf-8")
    (tmp_path / "tiny.xsd").write_text(FIXTURE_XSD, encoding="utf-8")
    monkeypatch.setattr(soap_router, "WSDL_DIR", tmp_path)
    return tmp_path


async def test_wsdl_address_and_schema_locations_point_at_the_sandbox(client: httpx.AsyncClient, wsdl_dir: Path,
                                                                      settings) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(f"{PREFIX}/registry?wsdl")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(response.content)
    endpoint = f"{settings.public_base_url}{PREFIX}/registry"
    address = root.find(".//{http://schemas.xmlsoap.org/wsdl/soap12/}address")
    assert address is not None and address.get("location") == endpoint
    schema_import = root.find(".//{http://www.w3.org/2001/XMLSchema}import")
    assert schema_import is not None and schema_import.get("schemaLocation") == f"{endpoint}?xsd=tiny.xsd"
    xsd = await client.get(f"{PREFIX}/registry", params={"xsd": "tiny.xsd"})
    assert xsd.status_code == 200 and b"urn:test:t" in xsd.content


@pytest.mark.parametrize("query", ["xsd=../registry.wsdl", "xsd=missing.xsd", "xsd=registry.wsdl"])
async def test_only_known_schemas_are_served(client: httpx.AsyncClient, wsdl_dir: Path, query: str) -> None:
    response = await client.get(f"{PREFIX}/registry?{query}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/soap+xml")


async def test_unknown_service_is_404_as_a_soap_fault(client: httpx.AsyncClient) -> None:
    for response in (await client.get(f"{PREFIX}/nope?wsdl"),
                     await client.post(f"{PREFIX}/nope", content=envelope(ACTION_ITI18, UNKNOWN_QUERY),
                                       headers={"Content-Type": "application/soap+xml"})):
        answer = read_answer(response)
        assert response.status_code == 404, response.text
        assert answer.fault_code == f"{{{NS_SOAP12}}}Sender"


async def test_get_without_wsdl_is_405_allow_post(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PREFIX}/registry")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert read_answer(response).fault_code == f"{{{NS_SOAP12}}}Sender"


async def test_openapi_describes_the_soap_endpoints(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    registry = spec["paths"][f"{PREFIX}/registry"]["post"]
    assert registry["operationId"] == "dmp_soap_registry"
    assert set(registry["requestBody"]["content"]) == {"application/soap+xml", "multipart/related"}
    assert spec["paths"][f"{PREFIX}/repository"]["post"]["operationId"] == "dmp_soap_repository"
    assert spec["paths"][f"{PREFIX}/{{service}}"]["get"]["operationId"] == "dmp_soap_wsdl"
    assert "dmp-soap" in {tag["name"] for tag in spec["tags"]}


def test_response_envelope_headers() -> None:
    payload = etree.Element("{urn:x}R")
    root = etree.fromstring(soap_router.response_envelope("urn:x:Response", payload, relates_to="urn:uuid:r"))
    ns = {"env": NS_SOAP12, "wsa": NS_WSA}
    assert root.findtext("env:Header/wsa:Action", namespaces=ns) == "urn:x:Response"
    assert root.findtext("env:Header/wsa:RelatesTo", namespaces=ns) == "urn:uuid:r"
    assert (root.findtext("env:Header/wsa:MessageID", namespaces=ns) or "").startswith("urn:uuid:")
    assert root.find("env:Body/{urn:x}R", ns) is not None


# --- one transaction per call ---------------------------------------------------------------------------
# A handler registered where the TD service registers its own (td.OPERATIONS, the agreed registration point):
# it writes to the real store through the service (blocks LEFEVRE on ZOE's DMP), then answers or refuses.

WRITE_THEN_ANSWER = "urn:segur-sandbox:test:WriteThenAnswer"
WRITE_THEN_REFUSE = "urn:segur-sandbox:test:WriteThenRefuse"
WRITE_THEN_FAULT = "urn:segur-sandbox:test:WriteThenFault"
WRITE_THEN_CRASH = "urn:segur-sandbox:test:WriteThenCrash"


async def _write_then(call: SoapCall) -> SoapReply:
    record = await service.get_record(call.session, ins=ZOE)
    assert record is not None
    await service.set_blocked(call.session, record=record, rpps=LEFEVRE, blocked=True)
    await call.session.flush()
    action = call.request.action
    if action == WRITE_THEN_REFUSE:
        raise DmpError(Kind.FORBIDDEN, "refused after writing", french="refusé après écriture", rule="test:refuse")
    if action == WRITE_THEN_FAULT:
        raise SoapFault("Sender", "Test", "faute après écriture", "test:fault")
    if action == WRITE_THEN_CRASH:
        raise RuntimeError("a handler's bug")
    return SoapReply(action=action + "Response", payload=etree.Element("{urn:segur-sandbox:test}Done"))


@pytest.fixture
def writing_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    for action in (WRITE_THEN_ANSWER, WRITE_THEN_REFUSE, WRITE_THEN_FAULT, WRITE_THEN_CRASH):
        monkeypatch.setitem(td.OPERATIONS, action, _write_then)


async def _blocked(client: httpx.AsyncClient) -> list[str]:
    response = await client.get(f"/sandbox/v1/dmps/{ZOE}")
    assert response.status_code == 200, response.text
    return list(response.json()["blocked_professionals"])


async def test_an_answered_call_is_committed(client: httpx.AsyncClient, writing_handlers: None) -> None:
    vihf = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE)
    answer = await post_soap(client, td.SERVICE, WRITE_THEN_ANSWER, "<t:Go xmlns:t='urn:t'/>", vihf=vihf)
    assert answer.status == 200 and answer.action == WRITE_THEN_ANSWER + "Response"
    assert LEFEVRE in await _blocked(client)


@pytest.mark.parametrize("action, status", [(WRITE_THEN_REFUSE, 200), (WRITE_THEN_FAULT, 500),
                                            (WRITE_THEN_CRASH, 500)])
async def test_nothing_is_stored_from_a_refused_call(client: httpx.AsyncClient, writing_handlers: None,
                                                     action: str, status: int) -> None:
    vihf = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE)
    response = await client.post(
        f"{PREFIX}/{td.SERVICE}", content=envelope(action, "<t:Go xmlns:t='urn:t'/>", vihf=vihf),
        headers={"Content-Type": "application/soap+xml", "X-Segur-Client-Certificate":
                 vihf.client_certificate_subject or ""})
    answer = read_answer(response)
    assert response.status_code == status, response.text
    if status == 200:  # a DmpError: the transaction's failure response, never FHIR's OperationOutcome
        assert answer.payload is not None and answer.payload.get("status") == STATUS_FAILURE
        error = answer.payload.find(f"{{{NS_RS}}}RegistryErrorList/{{{NS_RS}}}RegistryError")
        assert error is not None and error.get("codeContext", "").startswith("refusé après écriture")
    else:  # a fault, or a bug answered as a Receiver fault by the platform's last resort
        assert response.headers["content-type"].startswith("application/soap+xml"), response.text
        assert answer.is_fault
    assert LEFEVRE not in await _blocked(client)


# --- streaming ------------------------------------------------------------------------------------------

STREAM = "urn:segur-sandbox:test:Stream"
CHUNK, CHUNKS = 1024 * 1024, 20


async def _stream(call: SoapCall) -> SoapReply:
    async def chunks() -> AsyncIterator[bytes]:
        for index in range(CHUNKS):
            yield bytes([index % 251]) * CHUNK

    payload = etree.Element(f"{{{NS_XDSB}}}RetrieveDocumentSetResponse")
    return SoapReply(action=STREAM + "Response", payload=payload,
                     parts=[OutPart("big@sandbox", "application/pdf", chunks)])


async def test_a_20_mb_part_is_streamed_with_flat_memory(app, client: httpx.AsyncClient,  # type: ignore[no-untyped-def]
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The app called as an ASGI server calls it, each body chunk dropped as it is sent: the response never holds
    the 20 MB document (httpx's ASGITransport would buffer the whole body, so it is not used here)."""
    monkeypatch.setitem(td.OPERATIONS, STREAM, _stream)
    vihf = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE)
    body = envelope(STREAM, "<t:Go xmlns:t='urn:t'/>", vihf=vihf)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": f"{PREFIX}/{td.SERVICE}", "raw_path": f"{PREFIX}/{td.SERVICE}".encode(), "query_string": b"",
             "root_path": "", "server": ("sandbox.test", 80), "client": ("127.0.0.1", 1),
             "headers": [(b"host", b"sandbox.test"), (b"content-type", b"application/soap+xml"),
                         (b"content-length", str(len(body)).encode()),
                         (b"x-segur-client-certificate", (vihf.client_certificate_subject or "").encode())]}
    sent = {"status": 0, "bytes": 0, "chunks": 0}
    request_sent = False

    async def receive() -> dict[str, object]:
        nonlocal request_sent
        if request_sent:
            await asyncio.sleep(3600)
        request_sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = int(message["status"])  # type: ignore[call-overload]
        elif message["type"] == "http.response.body":
            sent["bytes"] += len(message.get("body", b""))  # type: ignore[arg-type]
            sent["chunks"] += 1

    tracemalloc.start()
    try:
        await app(scope, receive, send)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sent["status"] == 200
    assert sent["bytes"] > CHUNK * CHUNKS and sent["chunks"] > CHUNKS
    assert peak < 6 * CHUNK, f"peak {peak} bytes while streaming {CHUNK * CHUNKS} bytes"
