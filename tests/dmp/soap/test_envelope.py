"""Reading a request into a SoapRequest: pure checks, then every refusal over HTTP as the right SOAP 1.2 fault.

Faults: SOAP 1.2 part 1 §5.4 (codes), WS-Addressing 1.0 SOAP Binding §6.4 (subcodes, fault actions); HTTP status:
500 for every fault, Sender ones included, 413/415 for the HTTP-level refusals (app/dmp/soap/faults.py, the
decision and its sources)."""

from __future__ import annotations

import base64

import httpx
import pytest
from starlette.requests import Request

from app.dmp.soap.envelope import Limits, credentials, media_type, parse_request
from app.dmp.soap.faults import NS_SANDBOX_FAULT, SoapFault
from app.dmp.soap.namespaces import ACTION_ITI18, ACTION_ITI41, ACTION_ITI43, NS_SOAP11, NS_SOAP12, NS_WSA
from tests.dmp.soap.client import PREFIX, envelope, mtom, read_answer

LIMITS = Limits(max_bytes=1_000_000, max_envelope_bytes=500_000, max_parts=8)
REPOSITORY = {ACTION_ITI41, ACTION_ITI43}
PAYLOAD = '<xdsb:RetrieveDocumentSetRequest xmlns:xdsb="urn:ihe:iti:xds-b:2007"/>'
SOAP = "application/soap+xml; charset=UTF-8"
WSA_FAULT = "http://www.w3.org/2005/08/addressing/fault"
SOAP_FAULT = "http://www.w3.org/2005/08/addressing/soap/fault"
VIHF = '<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"/>'


def _fault(content_type: str, body: bytes, served: set[str] = REPOSITORY) -> SoapFault:
    with pytest.raises(SoapFault) as caught:
        parse_request(content_type, body, limits=LIMITS, served=served)
    return caught.value


# --- pure -------------------------------------------------------------------------------------------------

def test_drimbox_plain_request_is_read() -> None:
    """DRIMBox posts application/soap+xml without action, WS-A headers with a default namespace declaration."""
    body = envelope(ACTION_ITI43, PAYLOAD, vihf=VIHF, message_id="urn:uuid:1", to="https://dmp/repository")
    request = parse_request("application/soap+xml", body, limits=LIMITS, served=REPOSITORY)
    assert (request.action, request.message_id, request.to) == (ACTION_ITI43, "urn:uuid:1", "https://dmp/repository")
    assert request.payload.tag == "{urn:ihe:iti:xds-b:2007}RetrieveDocumentSetRequest"
    assert request.security is not None and len(request.security) == 1
    assert request.attachments == {}


def test_mtom_request_gives_parts_and_resolves_xop_include() -> None:
    payload = ('<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb="urn:ihe:iti:xds-b:2007"><xdsb:Document id="D1">'
               '<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:doc%401"/></xdsb:Document>'
               "</xdsb:ProvideAndRegisterDocumentSetRequest>")
    content_type, body = mtom(envelope(ACTION_ITI41, payload), {"doc@1": ("application/pdf", b"%PDF")},
                              action=ACTION_ITI41)
    request = parse_request(content_type, body, limits=LIMITS, served=REPOSITORY)
    document = request.payload[0]
    assert request.binary(document) == b"%PDF"  # href cid: URL-decoded (RFC 2392)


def test_inline_base64_document_is_read() -> None:
    payload = ('<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb="urn:ihe:iti:xds-b:2007"><xdsb:Document id="D1">'
               f"{base64.b64encode(b'%PDF inline').decode()}</xdsb:Document>"
               "</xdsb:ProvideAndRegisterDocumentSetRequest>")
    request = parse_request(SOAP, envelope(ACTION_ITI41, payload), limits=LIMITS, served=REPOSITORY)
    assert request.binary(request.payload[0]) == b"%PDF inline"


def _inline(text: str) -> str:
    return ('<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb="urn:ihe:iti:xds-b:2007"><xdsb:Document id="D1">'
            f"{text}</xdsb:Document></xdsb:ProvideAndRegisterDocumentSetRequest>")


def test_inline_base64_may_be_folded_with_whitespace() -> None:  # xs:base64Binary: whitespace is allowed
    encoded = base64.b64encode(b"%PDF folded over lines").decode()
    folded = "\r\n ".join(encoded[i:i + 8] for i in range(0, len(encoded), 8)) + "\n\t"
    request = parse_request(SOAP, envelope(ACTION_ITI41, _inline(folded)), limits=LIMITS, served=REPOSITORY)
    assert request.binary(request.payload[0]) == b"%PDF folded over lines"


@pytest.mark.parametrize("text", ["JVBE*RiBp", "JVBERiBp=", "JVBERiB", "JVBE-RiBp", "JVBE\u00e9RiBp", "JVB=ERiBp"])
def test_malformed_inline_base64_is_refused_never_altered(text: str) -> None:
    """A stray character is no longer dropped (the bytes would silently differ from what was sent), nor a
    wrong padding accepted: MissingPart, which ITI-41 answers as a failure (XDSMissingDocument)."""
    from app.dmp.soap.call import MissingPart

    request = parse_request(SOAP, envelope(ACTION_ITI41, _inline(text)), limits=LIMITS, served=REPOSITORY)
    with pytest.raises(MissingPart):
        request.binary(request.payload[0])


@pytest.mark.parametrize("header, kind, params", [
    ('multipart/related; boundary="a b"; type="application/xop+xml"; start="<r>"', "multipart/related",
     {"boundary": "a b", "type": "application/xop+xml", "start": "<r>"}),
    ("Application/SOAP+XML;charset=utf-8;action=\"urn:x\"", "application/soap+xml",
     {"charset": "utf-8", "action": "urn:x"}),
    (None, "", {}),
])
def test_media_type(header: str | None, kind: str, params: dict[str, str]) -> None:
    assert media_type(header) == (kind, params)


def test_action_mismatch_relates_to_the_request() -> None:
    body = envelope(ACTION_ITI43, PAYLOAD, message_id="urn:uuid:42")
    fault = _fault(f'{SOAP}; action="{ACTION_ITI41}"', body)
    assert (fault.subcode_ns, fault.subcode, fault.relates_to) == (NS_WSA, "InvalidAddressingHeader", "urn:uuid:42")


@pytest.mark.parametrize(("code", "carried", "status"), [
    ("Sender", 500, 500), ("Receiver", 500, 500), ("VersionMismatch", 500, 500), ("MustUnderstand", 500, 500),
    ("Sender", 400, 500),  # SOAP 1.2's 400 for Sender: answered 500 all the same (Java stacks, faults.py)
    ("Sender", 413, 413), ("Sender", 415, 415),  # HTTP-level refusals keep their status
])
def test_every_fault_is_answered_500_but_size_and_media_type(code: str, carried: int, status: int) -> None:
    from app.dmp.soap.faults import status_of

    assert status_of(SoapFault(code, "x", "raison", "r", http_status=carried)) == status
    assert SoapFault(code, "x", "raison", "r").http_status == 500


def test_body_over_the_limit_refused_before_parsing() -> None:
    fault = _fault(SOAP, b" " * (LIMITS.max_bytes + 1))
    assert (fault.subcode, fault.http_status) == ("MessageTooLarge", 413)


def test_inline_document_too_long_for_the_hardened_parser_says_so() -> None:
    """libxml2 stops a text node at 10,000,000 characters without XML_PARSE_HUGE (app.xmlsafe keeps it off)."""
    payload = f'<x xmlns="urn:x">{"A" * 10_000_001}</x>'
    limits = Limits(max_bytes=20_000_000, max_envelope_bytes=20_000_000, max_parts=8)
    with pytest.raises(SoapFault) as caught:
        parse_request(SOAP, envelope(ACTION_ITI43, payload), limits=limits, served=REPOSITORY)
    assert (caught.value.subcode, caught.value.http_status, caught.value.rule) == ("MessageTooLarge", 413,
                                                                                   "dmp-soap:inline-size")
    assert "MTOM" in caught.value.reason


def test_envelope_over_its_own_limit_refused() -> None:
    payload = f'<x xmlns="urn:x">{"A" * LIMITS.max_envelope_bytes}</x>'
    fault = _fault(SOAP, envelope(ACTION_ITI43, payload))
    assert (fault.subcode, fault.http_status) == ("MessageTooLarge", 413)


# --- over HTTP --------------------------------------------------------------------------------------------

async def _post(client: httpx.AsyncClient, body: bytes, content_type: str | None = SOAP,
                service: str = "repository", **headers: str) -> httpx.Response:
    if content_type is not None:
        headers["Content-Type"] = content_type
    return await client.post(f"{PREFIX}/{service}", content=body, headers=headers)


def _ns_fault(response: httpx.Response, status: int, code: str, subcode: str | None, action: str = SOAP_FAULT):
    answer = read_answer(response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/soap+xml"), response.headers
    assert answer.fault_code == f"{{{NS_SOAP12}}}{code}", response.text
    assert answer.fault_subcode == subcode, response.text
    assert answer.action == action
    assert answer.message_id and answer.message_id.startswith("urn:uuid:")
    assert answer.fault_reason
    return answer


SANDBOX = f"{{{NS_SANDBOX_FAULT}}}"
WSA = f"{{{NS_WSA}}}"


async def test_soap11_envelope_is_a_version_mismatch(client: httpx.AsyncClient) -> None:
    body = (f'<s:Envelope xmlns:s="{NS_SOAP11}"><s:Header><Action xmlns="{NS_WSA}">{ACTION_ITI43}</Action>'
            f"</s:Header><s:Body>{PAYLOAD}</s:Body></s:Envelope>").encode()
    response = await _post(client, body, 'text/xml; charset=utf-8')
    answer = _ns_fault(response, 500, "VersionMismatch", None)
    supported = answer.root.find("env:Header/env:Upgrade/env:SupportedEnvelope", {"env": NS_SOAP12})
    assert supported is not None  # SOAP 1.2 part 1 §5.4.7
    prefix, _, local = (supported.get("qname") or "").partition(":")
    assert (supported.nsmap[prefix], local) == (NS_SOAP12, "Envelope")


@pytest.mark.parametrize("body, subcode", [
    (b"<not-xml", "MalformedXml"),
    (b"", "MalformedXml"),
    (b'<!DOCTYPE x [<!ENTITY e "e">]><x/>', "UnsafeXml"),
    (b'<x xmlns="urn:other"/>', "NotAnEnvelope"),
    (f'<e:Envelope xmlns:e="{NS_SOAP12}"><e:Header/></e:Envelope>'.encode(), "MissingBody"),
    (f'<e:Envelope xmlns:e="{NS_SOAP12}"><e:Header/><e:Body/></e:Envelope>'.encode(), "EmptyBody"),
    (f'<e:Envelope xmlns:e="{NS_SOAP12}"><e:Body><a xmlns="urn:a"/><b xmlns="urn:b"/></e:Body></e:Envelope>'.encode(),
     "InvalidBody"),
])
async def test_malformed_envelopes_are_sender_faults(client: httpx.AsyncClient, body: bytes, subcode: str) -> None:
    _ns_fault(await _post(client, body), 500, "Sender", SANDBOX + subcode)


@pytest.mark.parametrize("content_type", [None, "application/json", "text/xml; charset=utf-8",
                                          'multipart/related; boundary="b"; type="text/plain"',
                                          'multipart/related; boundary="b"; type="application/xop+xml"; '
                                          'start-info="text/xml"'])
async def test_wrong_content_type_is_415(client: httpx.AsyncClient, content_type: str | None) -> None:
    _ns_fault(await _post(client, envelope(ACTION_ITI43, PAYLOAD), content_type), 415, "Sender",
              SANDBOX + "UnsupportedMediaType")


@pytest.mark.parametrize("missing, header", [("include_action", "wsa:Action"), ("include_message_id", "wsa:MessageID")])
async def test_missing_addressing_header(client: httpx.AsyncClient, missing: str, header: str) -> None:
    body = envelope(ACTION_ITI43, PAYLOAD, **{missing: False})  # type: ignore[arg-type]
    answer = _ns_fault(await _post(client, body), 500, "Sender", WSA + "MessageAddressingHeaderRequired", WSA_FAULT)
    assert answer.payload is not None
    assert answer.payload.findtext(f"{{{NS_SOAP12}}}Detail/{WSA}ProblemHeaderQName") == header


async def test_duplicate_action_is_an_invalid_addressing_header(client: httpx.AsyncClient) -> None:
    body = envelope(ACTION_ITI43, PAYLOAD, message_id="urn:uuid:dup",
                    extra_headers=f'<Action xmlns="{NS_WSA}">{ACTION_ITI41}</Action>')
    answer = _ns_fault(await _post(client, body), 500, "Sender", WSA + "InvalidAddressingHeader", WSA_FAULT)
    assert answer.relates_to == "urn:uuid:dup"


async def test_content_type_action_contradicting_wsa_action(client: httpx.AsyncClient) -> None:
    body = envelope(ACTION_ITI43, PAYLOAD, message_id="urn:uuid:mismatch")
    answer = _ns_fault(await _post(client, body, f'{SOAP}; action="{ACTION_ITI41}"'), 500, "Sender",
                       WSA + "InvalidAddressingHeader", WSA_FAULT)
    assert answer.relates_to == "urn:uuid:mismatch"


async def test_action_served_elsewhere_is_action_not_supported(client: httpx.AsyncClient) -> None:
    """ITI-41 sent to the registry: the repository serves it."""
    body = envelope(ACTION_ITI41, PAYLOAD, message_id="urn:uuid:elsewhere")
    answer = _ns_fault(await _post(client, body, service="registry"), 500, "Sender", WSA + "ActionNotSupported",
                       WSA_FAULT)
    assert answer.relates_to == "urn:uuid:elsewhere"
    assert answer.payload is not None
    assert answer.payload.findtext(f"{{{NS_SOAP12}}}Detail/{WSA}ProblemAction/{WSA}Action") == ACTION_ITI41


async def test_unknown_action_is_action_not_supported(client: httpx.AsyncClient) -> None:
    _ns_fault(await _post(client, envelope("urn:x:Nope", PAYLOAD), service="registry"), 500, "Sender",
              WSA + "ActionNotSupported", WSA_FAULT)


async def test_non_anonymous_reply_to_refused(client: httpx.AsyncClient) -> None:
    body = envelope(ACTION_ITI18, PAYLOAD,
                    extra_headers=f'<ReplyTo xmlns="{NS_WSA}"><Address>http://elsewhere/cb</Address></ReplyTo>')
    _ns_fault(await _post(client, body, service="registry"), 500, "Sender", WSA + "OnlyAnonymousAddressSupported",
              WSA_FAULT)


async def test_unknown_must_understand_header_is_a_must_understand_fault(client: httpx.AsyncClient) -> None:
    body = envelope(ACTION_ITI43, PAYLOAD, extra_headers=f'<x:Tx xmlns:x="urn:x" xmlns:e="{NS_SOAP12}" '
                    'e:mustUnderstand="true">1</x:Tx>')
    _ns_fault(await _post(client, body), 500, "MustUnderstand", None)


async def test_over_http_malformed_inline_base64_stores_nothing(client: httpx.AsyncClient, auth) -> None:
    """ITI-41 with a stray ``*`` in the inline document: a failed RegistryResponse, nothing stored (before, the
    character was dropped and the document stored as other bytes than those sent)."""
    from app.dmp.soap.namespaces import NS_RS, STATUS_FAILURE
    from tests.dmp.conftest import FONTAINE, ZOE
    from tests.dmp.soap.client import get_vihf, post_soap
    from tests.dmp.soap.ebrim_builders import Doc, provide_and_register

    doc = Doc(data=b"%PDF-1.4 inline, then a stray star")
    encoded = base64.b64encode(doc.data).decode()
    payload = provide_and_register(doc).replace(encoded, encoded[:8] + "*" + encoded[8:], 1)
    assert "*" in payload
    vihf = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE, patient_oid="1.2.250.1.213.1.4.8")
    answer = await post_soap(client, "repository", ACTION_ITI41, payload, vihf=vihf)
    assert answer.status == 200 and answer.payload is not None, answer.fault_reason
    assert answer.payload.get("status") == STATUS_FAILURE
    codes = [e.get("errorCode") for e in answer.payload.iter(f"{{{NS_RS}}}RegistryError")]
    assert codes == ["XDSMissingDocument"]
    found = await client.get("/dmp/fhir/DocumentReference", headers=await auth(), params={
        "patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}", "status": "current"})
    assert found.status_code == 200
    assert f"urn:oid:{doc.unique_id}" not in found.text


async def test_a_platform_refusal_other_than_size_media_type_path_or_method_is_answered_500(
        client: httpx.AsyncClient) -> None:
    """render_generic (the platform's errors under the SOAP paths): 404/405/413 keep their status; a fault the
    platform raises for another reason is answered 500, as every SOAP fault."""
    from starlette.requests import Request as StarletteRequest

    from app.dmp.soap.faults import render_generic

    request = StarletteRequest({"type": "http", "method": "POST", "path": PREFIX + "/registry", "headers": [],
                                "query_string": b"", "state": {}})
    assert render_generic(request, 404, "inconnu", None).status_code == 404
    assert render_generic(request, 405, "méthode", None).status_code == 405
    assert render_generic(request, 413, "trop gros", None).status_code == 413
    assert render_generic(request, 400, "trop imbriqué", None).status_code == 500
    assert render_generic(request, 500, "bug", None).status_code == 500
    wrong_method = await client.get(PREFIX + "/registry/nothing-here")
    assert wrong_method.status_code in (404, 405) and wrong_method.headers["content-type"].startswith(SOAP[:20])


def _too_large(response: httpx.Response) -> None:
    """413 as a SOAP fault: the transport's own bound (SEGUR_DMP_SOAP_MAX_BYTES, over SEGUR_MAX_BODY_BYTES on this
    prefix)."""
    answer = read_answer(response)
    assert response.status_code == 413, response.text
    assert answer.fault_code == f"{{{NS_SOAP12}}}Sender"
    assert answer.fault_subcode in (SANDBOX + "MessageTooLarge", SANDBOX + "http413"), response.text


async def test_declared_length_over_the_limit_is_refused_before_reading(client: httpx.AsyncClient, settings) -> None:
    limit = settings.dmp_soap_max_bytes  # the SOAP prefix's own body limit (Domain.body_limits), not the platform's
    response = await client.post(f"{PREFIX}/repository", content=b"x",
                                 headers={"Content-Type": SOAP, "Content-Length": str(limit + 1)})
    _too_large(response)


async def test_chunked_body_over_the_limit_is_refused(client: httpx.AsyncClient, settings) -> None:
    limit = settings.dmp_soap_max_bytes  # the SOAP prefix's own body limit (Domain.body_limits), not the platform's
    sent = 0

    async def chunks():  # type: ignore[no-untyped-def]
        nonlocal sent
        while sent <= limit + 1024 * 1024:
            sent += 1024 * 1024
            yield b" " * (1024 * 1024)

    response = await client.post(f"{PREFIX}/repository", content=chunks(), headers={"Content-Type": SOAP})
    _too_large(response)
    assert sent <= limit + 2 * 1024 * 1024  # refused while reading, not after


async def test_mtom_with_too_many_parts(client: httpx.AsyncClient, settings) -> None:
    parts = {f"p{i}": ("text/plain", b"x") for i in range(settings.dmp_soap_max_parts + 1)}
    content_type, body = mtom(envelope(ACTION_ITI41, PAYLOAD), parts, action=ACTION_ITI41)
    answer = _ns_fault(await _post(client, body, content_type), 500, "Sender", SANDBOX + "InvalidMultipart")
    assert "parties" in (answer.fault_reason or "")


# --- credentials ------------------------------------------------------------------------------------------

def _request(headers: dict[str, str], tls: dict[str, object] | None = None) -> Request:
    scope: dict[str, object] = {"type": "http", "method": "POST", "path": "/", "query_string": b"",
                                "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    if tls is not None:
        scope["extensions"] = {"tls": tls}
    return Request(scope)


def _certificate_pem(common_name: str) -> str:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Clinique Test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_stand_in_header_and_bearer_token() -> None:
    request = _request({"X-Segur-Client-Certificate": " CN=Structure ", "Authorization": "Bearer abc.def"})
    assert credentials(request, "X-Segur-Client-Certificate") == ("CN=Structure", "abc.def")
    assert credentials(_request({"Authorization": "Basic x"}), "X-Segur-Client-Certificate") == (None, None)


def test_tls_client_certificate_replaces_the_header() -> None:
    """ASGI TLS extension: ``client_cert_name`` when the server gives it, else the chain's first certificate; on a
    TLS connection the stand-in header is not read (a client could otherwise claim any structure)."""
    by_name = _request({"X-Segur-Client-Certificate": "CN=Header"}, {"client_cert_name": "CN=Tls,O=Clinique"})
    assert credentials(by_name, "X-Segur-Client-Certificate")[0] == "CN=Tls,O=Clinique"
    by_chain = _request({"X-Segur-Client-Certificate": "CN=Header"},
                        {"client_cert_chain": [_certificate_pem("Structure TLS")]})
    assert credentials(by_chain, "X-Segur-Client-Certificate")[0] == "O=Clinique Test,CN=Structure TLS"
    no_certificate = _request({"X-Segur-Client-Certificate": "CN=Header"}, {"client_cert_chain": []})
    assert credentials(no_certificate, "X-Segur-Client-Certificate")[0] is None


def test_mtom_action_parameter_must_match_wsa_action() -> None:
    content_type, body = mtom(envelope(ACTION_ITI43, PAYLOAD), {}, action=ACTION_ITI41)
    fault = _fault(content_type, body)
    assert (fault.subcode_ns, fault.subcode) == (NS_WSA, "InvalidAddressingHeader")
