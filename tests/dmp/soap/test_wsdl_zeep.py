"""The SOAP face's WSDLs as a vendor uses them: a client generated with zeep.

Offline, zeep loads each WSDL from ``app/dmp/soap/wsdl`` (its schemas are sibling files), and builds and reads
messages in the IHE shapes (ITI TF-2a §3.18.4.1.2 FindDocuments, a LeafClass ``AdhocQueryResponse``). Over HTTP,
zeep fetches ``GET /si-dmp-server/v2/services/<service>?wsdl`` from the running app (the schemas through
``?xsd=``) and calls ITI-18, ITI-41 (inline base64: zeep does not send MTOM), ITI-43 (zeep reads the MTOM
answer) and TD0.2 with a signed VIHF from the control API in ``wsse:Security``.

zeep is blocking: it runs in a thread, and its transport hands each HTTP exchange back to the test's event loop
(which serves the app through httpx's ASGI transport), as tests/ins/soap/test_endpoint.py does.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree
from zeep import Client
from zeep.transports import Transport

from app.dmp.soap import td
from app.dmp.soap.namespaces import (
    IDENT_DOC_UNIQUE,
    NS_RIM,
    NS_WSSE,
    QUERY_FIND_DOCUMENTS,
    STATUS_APPROVED,
    STATUS_SUCCESS,
)
from tests.dmp.conftest import FONTAINE, ZOE
from tests.dmp.soap.ebrim_builders import Doc, provide_and_register
from tests.dmp.soap.test_td import existence_query
from tests.psc.helpers import access_token_for

WSDL_DIR = Path(__file__).parents[3] / "app" / "dmp" / "soap" / "wsdl"
SERVICES = "http://sandbox.test/si-dmp-server/v2/services"

OPERATIONS = {
    "registry": {"DocumentRegistry_RegistryStoredQuery": "urn:ihe:iti:2007:RegistryStoredQuery",
                 "DocumentRegistry_UpdateDocumentSet": "urn:ihe:iti:2010:UpdateDocumentSet"},
    "repository": {"DocumentRepository_ProvideAndRegisterDocumentSet-b":
                   "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b",
                   "DocumentRepository_RetrieveDocumentSet": "urn:ihe:iti:2007:RetrieveDocumentSet"},
    td.SERVICE: {"PatientGetDemographics_PRPA_IN201307UV02": td.ACTION_TD02,
                 "PatientAdd_PRPA_IN201311UV02": td.ACTION_TD11},
}


def patient_cx(ins: str) -> str:
    """The XDS patient id as the DMP takes it (Déhempé ``XdsConstants.DmpInsOid``: CX rooted .10, type NH)."""
    return f"{ins}^^^&1.2.250.1.213.1.4.10&ISO^NH"


def find_documents(client: Client, ins: str, **extra: Any) -> dict[str, Any]:
    """FindDocuments (ITI TF-2a §3.18.4.1.2.3.7.1) with LeafClass, in zeep's terms."""
    slots = [{"name": "$XDSDocumentEntryPatientId", "ValueList": {"Value": [f"'{patient_cx(ins)}'"]}},
             {"name": "$XDSDocumentEntryStatus", "ValueList": {"Value": [f"('{STATUS_APPROVED}')"]}}]
    return {"ResponseOption": {"returnType": "LeafClass", "returnComposedObjects": True},
            "AdhocQuery": {"id": QUERY_FIND_DOCUMENTS, "Slot": slots}, **extra}


# --- offline: the WSDL files ---------------------------------------------------------------------------

@pytest.mark.parametrize("service", sorted(OPERATIONS))
def test_each_wsdl_loads_in_zeep_with_its_soap12_operations_and_actions(service: str) -> None:
    client = Client(str(WSDL_DIR / f"{service}.wsdl"))
    [port] = [port for svc in client.wsdl.services.values() for port in svc.ports.values()]
    assert port.binding.__class__.__name__ == "Soap12Binding"
    assert port.binding_options["address"].endswith(f"/si-dmp-server/v2/services/{service}")
    operations = port.binding._operations
    assert {name: op.abstract.wsa_action for name, op in operations.items()} == OPERATIONS[service]
    assert {name: op.soapaction for name, op in operations.items()} == OPERATIONS[service]


def test_schema_locations_are_sibling_files_the_transport_rewrites() -> None:
    """Every ``schemaLocation`` names a file of the folder (the transport serves it at ``?xsd=<file>``)."""
    for path in WSDL_DIR.glob("*.*sd*"):
        for location in re.findall(r'schemaLocation="([^"]+)"', path.read_text(encoding="utf-8")):
            assert "/" not in location and (WSDL_DIR / location).is_file(), (path.name, location)
    names = {p.name for p in WSDL_DIR.iterdir()}
    assert {"registry.wsdl", "repository.wsdl", f"{td.SERVICE}.wsdl", "rim.xsd", "rs.xsd", "lcm.xsd", "query.xsd",
            "XDS.b_DocumentRepository.xsd"} <= names


def test_zeep_builds_find_documents_in_the_ihe_shape() -> None:
    client = Client(str(WSDL_DIR / "registry.wsdl"))
    envelope = client.create_message(client.service, "DocumentRegistry_RegistryStoredQuery", **find_documents(
        client, ZOE))
    ns = {"q": "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0", "rim": NS_RIM,
          "wsa": "http://www.w3.org/2005/08/addressing"}
    assert envelope.findtext(".//wsa:Action", namespaces=ns) == "urn:ihe:iti:2007:RegistryStoredQuery"
    request = envelope.find(".//q:AdhocQueryRequest", ns)
    assert request.find("q:ResponseOption", ns).get("returnType") == "LeafClass"
    query = request.find("rim:AdhocQuery", ns)
    assert query.get("id") == QUERY_FIND_DOCUMENTS
    values = {slot.get("name"): slot.findtext("rim:ValueList/rim:Value", namespaces=ns)
              for slot in query.iterfind("rim:Slot", ns)}
    assert values["$XDSDocumentEntryPatientId"] == f"'{patient_cx(ZOE)}'"


def test_zeep_reads_a_leafclass_answer_and_a_failure() -> None:
    """A LeafClass AdhocQueryResponse (ExtrinsicObject with Slot, Name, VersionInfo, Classification,
    ExternalIdentifier, and an ObjectRef) and a RegistryErrorList deserialize through the WSDL's types."""
    client = Client(str(WSDL_DIR / "registry.wsdl"))
    operation = client.service._binding._operations["DocumentRegistry_RegistryStoredQuery"]
    answer = operation.output.deserialize(etree.fromstring(f"""
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>
 <query:AdhocQueryResponse xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" xmlns:rim="{NS_RIM}"
   status="{STATUS_SUCCESS}">
  <rim:RegistryObjectList>
   <rim:ExtrinsicObject id="urn:uuid:08a15a6f-5b4a-42de-8f95-89474f83abdf" mimeType="text/xml"
     objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1" status="{STATUS_APPROVED}">
    <rim:Slot name="creationTime"><rim:ValueList><rim:Value>20260302083000</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString xml:lang="fr-FR" value="CR de biologie"/></rim:Name>
    <rim:VersionInfo versionName="2"/>
    <rim:Classification id="urn:uuid:c1" classificationScheme="urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
      classifiedObject="urn:uuid:08a15a6f-5b4a-42de-8f95-89474f83abdf" nodeRepresentation="11502-2"/>
    <rim:ExternalIdentifier id="urn:uuid:e1" registryObject="urn:uuid:08a15a6f-5b4a-42de-8f95-89474f83abdf"
      identificationScheme="{IDENT_DOC_UNIQUE}" value="1.2.250.1.999.1.2.3"/>
   </rim:ExtrinsicObject>
   <rim:ObjectRef id="urn:uuid:6f1d1b8c-9a2e-4b45-8d0c-000000000001"/>
  </rim:RegistryObjectList>
 </query:AdhocQueryResponse></env:Body></env:Envelope>""".encode()))
    assert answer.status == STATUS_SUCCESS
    document, reference = answer.RegistryObjectList._value_1
    entry = document["ExtrinsicObject"]
    assert (entry.VersionInfo.versionName, entry.Name.LocalizedString[0].value) == ("2", "CR de biologie")
    assert entry.ExternalIdentifier[0].value == "1.2.250.1.999.1.2.3"
    assert reference["ObjectRef"].id.endswith("000000000001")
    failure = operation.output.deserialize(etree.fromstring(b"""
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>
 <query:AdhocQueryResponse xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
   xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
   status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure">
  <rs:RegistryErrorList highestSeverity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error">
   <rs:RegistryError errorCode="XDSStoredQueryParamNumber" codeContext="$XDSDocumentEntryPatientId manquant"
     severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"/>
  </rs:RegistryErrorList>
 </query:AdhocQueryResponse></env:Body></env:Envelope>"""))
    assert failure.RegistryErrorList.RegistryError[0].errorCode == "XDSStoredQueryParamNumber"


# --- over HTTP: the running app ------------------------------------------------------------------------

class AsgiTransport(Transport):
    """zeep's transport over the test's ASGI client: each exchange runs on the test's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, http: Any, headers: dict[str, str]) -> None:
        super().__init__()
        self.loop, self.http, self.extra = loop, http, headers

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def load(self, url: str) -> bytes:
        response = self._call(self.http.get(url))
        assert response.status_code == 200, (url, response.text[:300])
        return bytes(response.content)

    def post(self, address: str, message: Any, headers: dict[str, str]) -> requests.Response:
        r = self._call(self.http.post(address, content=message, headers={**headers, **self.extra}))
        out = requests.models.Response()
        out.status_code, out._content, out.encoding = r.status_code, r.content, "utf-8"
        out.headers = requests.structures.CaseInsensitiveDict(r.headers)
        return out


async def signed_vihf(http: Any, subject: str = FONTAINE, patient: str = ZOE) -> tuple[etree._Element, dict[str, str]]:
    """``wsse:Security`` with a VIHF the control API signed, and the INDIRECTE structure-certificate header."""
    response = await http.post("/sandbox/v1/dmps/vihf", json={"subject_name_id": subject, "patient_ins": patient})
    assert response.status_code in (200, 201), response.text
    issued = response.json()
    security = etree.Element(f"{{{NS_WSSE}}}Security", nsmap={"wsse": NS_WSSE})
    security.append(etree.fromstring(issued["assertion"].encode()))
    headers = {}
    if issued.get("client_certificate_subject"):
        headers[http_app_setting(http, "dmp_soap_client_cert_header")] = issued["client_certificate_subject"]
    return security, headers


def http_app_setting(http: Any, name: str) -> str:
    return str(getattr(http._transport.app.state.settings, name))


async def zeep_client(http: Any, service: str) -> tuple[Client, etree._Element]:
    security, headers = await signed_vihf(http)
    loop = asyncio.get_running_loop()
    client = await asyncio.to_thread(Client, f"{SERVICES}/{service}?wsdl",
                                     transport=AsgiTransport(loop, http, headers))
    return client, security


async def test_wsdl_served_with_the_sandboxs_address_and_schemas(client) -> None:
    for service in OPERATIONS:
        response = await client.get(f"/si-dmp-server/v2/services/{service}", params={"wsdl": ""})
        assert response.status_code == 200, response.text
        text = response.text
        assert f'location="{SERVICES}/{service}"' in text
        for location in re.findall(r'schemaLocation="([^"]+)"', text):
            assert location.startswith(f"{SERVICES}/{service}?xsd="), location
            assert (await client.get(location)).status_code == 200


async def test_zeep_find_documents_over_http(client) -> None:
    zeep, security = await zeep_client(client, "registry")
    answer = await asyncio.to_thread(zeep.service.DocumentRegistry_RegistryStoredQuery,
                                     **find_documents(zeep, ZOE), _soapheaders=[security])
    assert answer.status == STATUS_SUCCESS, answer
    entries = [item["ExtrinsicObject"] for item in answer.RegistryObjectList._value_1 if item["ExtrinsicObject"]]
    assert entries, "ZOE's seeded DMP has documents FONTAINE (médecin traitant, VALIDE) may read"
    for entry in entries:
        assert entry.status == STATUS_APPROVED
        assert any(e.identificationScheme == IDENT_DOC_UNIQUE for e in entry.ExternalIdentifier)


async def test_zeep_retrieve_reads_the_mtom_answer(client) -> None:
    registry, security = await zeep_client(client, "registry")
    found = await asyncio.to_thread(registry.service.DocumentRegistry_RegistryStoredQuery,
                                    **find_documents(registry, ZOE), _soapheaders=[security])
    entry = next(item["ExtrinsicObject"] for item in found.RegistryObjectList._value_1 if item["ExtrinsicObject"])
    unique_id = next(e.value for e in entry.ExternalIdentifier if e.identificationScheme == IDENT_DOC_UNIQUE)
    repository_id = next(s.ValueList.Value[0] for s in entry.Slot if s.name == "repositoryUniqueId")
    repository, security = await zeep_client(client, "repository")
    answer = await asyncio.to_thread(repository.service.DocumentRepository_RetrieveDocumentSet, DocumentRequest=[
        {"RepositoryUniqueId": repository_id, "DocumentUniqueId": unique_id}], _soapheaders=[security])
    assert answer.RegistryResponse.status == STATUS_SUCCESS
    [document] = answer.DocumentResponse
    assert document.DocumentUniqueId == unique_id and document.mimeType == entry.mimeType
    assert document.Document.startswith(b"<?xml") or document.Document.startswith(b"<ClinicalDocument")


async def test_zeep_provide_and_register_inline_base64(client) -> None:
    """ITI-41 through the generated client: the feed tests' request (EPR-by-example / Mediboard shape) read into
    zeep's objects through the WSDL's types and sent again by zeep, the document inline in base64 (zeep does not
    send MTOM); then found over FHIR."""
    zeep, security = await zeep_client(client, "repository")
    doc = Doc(data=b"%PDF-1.4 sent by zeep\n%%EOF\n")
    request = zeep.get_element("{urn:ihe:iti:xds-b:2007}ProvideAndRegisterDocumentSetRequest").parse(
        etree.fromstring(provide_and_register(doc).encode()), zeep.wsdl.types)
    operation = zeep.service["DocumentRepository_ProvideAndRegisterDocumentSet-b"]
    answer = await asyncio.to_thread(operation, SubmitObjectsRequest=request.SubmitObjectsRequest,
                                     Document=request.Document, _soapheaders=[security])
    assert answer.status == STATUS_SUCCESS, answer
    found = await client.get("/dmp/fhir/DocumentReference", headers=await fhir_auth(client), params={
        "patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}", "status": "current", "_count": "100"})
    assert found.status_code == 200, found.text
    unique_ids = [e["resource"]["masterIdentifier"]["value"] for e in found.json()["entry"]]
    assert any(value.endswith(str(doc.unique_id)) for value in unique_ids), unique_ids


async def fhir_auth(http: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {await access_token_for(http, FONTAINE)}", "Accept": "application/fhir+json"}


async def test_zeep_td02_over_http(client) -> None:
    zeep, security = await zeep_client(client, td.SERVICE)
    query = existence_query(ZOE)
    answer = await asyncio.to_thread(zeep.service.PatientGetDemographics_PRPA_IN201307UV02,
                                     _value_1=list(query), _attr_1={"ITSVersion": "XML_1.0"},
                                     _soapheaders=[security])
    children = {etree.QName(child).localname: child for child in answer._value_1}
    assert children["acknowledgement"].get("typeCode") == "AA"
    assert children["controlActProcess"].find(f"{td.H}queryAck/{td.H}queryResponseCode").get("code") == "OK"
