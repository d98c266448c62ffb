"""HTTP status of the faults of ``/lps``: 500 for every SOAP fault, as the live INSi answers (docs/ins.md).

Source: padoa/tlsi-ins @12ef794 ``src/ins/insi-client.service.ts`` reads a fault only when
``err?.response?.status === 500 && err.body`` (any other status rejects), and its live test "should have a failed
request if the software is not allowed" (``src/ins/test/insi-client.test.ts``, run by
``.github/workflows/test-ins.yml`` against the qualif service) gets the ``soap:Sender`` ``siram_100``/``desir_550``
fault through that branch: the live service sends a Sender fault with HTTP 500, not the 400 of SOAP 1.2 part 2
§7.5.1.2. Same for the ``soap:Sender`` ``siram_40``/``desir_1020`` fault its live test recorded until 8c889e5.
One test per fault family; the fault bodies are those the other tests check.

And the fault shape itself (pure), as recorded.
"""

from __future__ import annotations

import pytest
from lxml import etree

from app.ins.exceptions import IdamRefused, InsiTechnicalFault, TraitError
from app.ins.soap import faults
from app.ins.soap.client import build_request, recsansvitale_xml
from app.ins.soap.namespaces import NS_SIRAM, NS_SOAP11, NS_SOAP12

NS = {"s": NS_SOAP12, "siram": NS_SIRAM}

CERT = {"Content-Type": "application/soap+xml; charset=utf-8", "X-Client-Cert-CN": "INSI-AUTO"}


def adrun(**kw) -> bytes:  # type: ignore[no-untyped-def]
    return build_request(recsansvitale_xml("ADRUN", "ZOE", "F", "1975-12-31"), **kw)


def fault(r) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    assert r.headers["content-type"].startswith("application/soap+xml")
    root = etree.fromstring(r.content)
    return (root.findtext(".//s:Fault/s:Code/s:Value", namespaces=NS),
            root.findtext(".//s:Fault/s:Code/s:Subcode/s:Value", namespaces=NS),
            root.find(".//siram:Erreur", NS).get("code"))


async def test_sender_access_faults_are_500(client) -> None:
    """Unknown IDAM (the recorded live case) and a refused certificate CN."""
    r = await client.post("/lps", content=adrun(idam="FAKE-IDAM"), headers=CERT)
    assert (r.status_code, fault(r)) == (500, ("soap:Sender", "soap:siram_100", "desir_550"))
    r = await client.post("/lps", content=adrun(), headers={**CERT, "X-Client-Cert-CN": "MEDECIN"})
    assert (r.status_code, fault(r)) == (500, ("soap:Sender", "soap:siram_100", "DESIR_560"))


async def test_receiver_technical_faults_are_500(client) -> None:
    body = build_request(recsansvitale_xml("D'AEION", "COEUR", "M", "1987-01-25"))
    r = await client.post("/lps", content=body, headers=CERT)
    assert (r.status_code, fault(r)) == (500, ("soap:Receiver", "soap:siram_40", "insi_102"))
    r = await client.post("/lps", content=adrun(), headers={**CERT, "X-Segur-INS-Fault": "insi_102"})
    assert (r.status_code, fault(r)) == (500, ("soap:Receiver", "soap:siram_40", "insi_102"))


async def test_malformed_request_faults_are_500(client) -> None:
    """The sandbox's own siram_10 refusals (headers, body): the same status as the live service's faults."""
    missing_header = adrun().replace(b'Version="01_02"', b'Version="01_01"')
    r = await client.post("/lps", content=missing_header, headers=CERT)
    assert (r.status_code, fault(r)) == (500, ("soap:Sender", "soap:siram_10", "sandbox_ctxbam"))
    bad_trait = build_request(recsansvitale_xml("ADRUN", "ZOE", "X", "1975-12-31"))
    r = await client.post("/lps", content=bad_trait, headers=CERT)
    assert (r.status_code, fault(r)) == (500, ("soap:Sender", "soap:siram_10", "sandbox_traits"))


@pytest.mark.parametrize(("body", "code"), [
    (b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><e>&x;</e>', "sandbox_dtd"),
    (b"<soap:Envelope", "sandbox_xml"),
    (b"<a>" * 300 + b"</a>" * 300, "sandbox_xml"),
    (b"<?xml version='1.0'?><x/>", "sandbox_envelope"),
])
async def test_xml_attack_and_malformed_envelope_faults_are_500(client, body: bytes, code: str) -> None:
    r = await client.post("/lps", content=body, headers=CERT)
    assert (r.status_code, fault(r)) == (500, ("soap:Sender", "soap:siram_10", code))


async def test_soap_11_envelope_is_500(client) -> None:
    """VersionMismatch: 500 in SOAP 1.2 part 2 as well."""
    r = await client.post("/lps", content=adrun().replace(NS_SOAP12.encode(), NS_SOAP11.encode()),
                          headers=CERT)
    assert (r.status_code, fault(r)[0]) == (500, "soap:VersionMismatch")


async def test_oversize_is_500_whichever_limit_is_hit(client, settings) -> None:
    """Over the INSi limit (SEGUR_INS_SOAP_MAX_BYTES) or over the platform's (SEGUR_MAX_BODY_BYTES)."""
    big = adrun().replace(b"</soap:Header>", b"<!--" + b"x" * (settings.ins_soap_max_bytes + 1) + b"--></soap:Header>")
    r = await client.post("/lps", content=big, headers=CERT)
    assert (r.status_code, fault(r)) == (500, ("soap:Sender", "soap:siram_10", "sandbox_size"))
    r = await client.post("/lps", content=adrun(), headers={**CERT, "content-length": "9" * 30})
    assert (r.status_code, fault(r)) == (500, ("soap:Sender", "soap:siram_10", "sandbox_http_413"))


async def test_http_layer_errors_keep_their_status(client) -> None:
    """No SOAP processing happens for an unknown path or method: 404 / 405, still with a SOAP body."""
    r = await client.get("/lps/nothing")
    assert r.status_code == 404 and fault(r)[2] == "sandbox_http_404"
    r = await client.put("/lps", content=adrun(), headers=CERT)
    assert r.status_code == 405 and fault(r)[2] == "sandbox_http_405"
    r = await client.get("/lps")
    assert r.status_code == 405 and fault(r)[2] == "sandbox_http_405"


async def test_journal_keeps_the_rule_of_a_500_refusal(client) -> None:
    await client.post("/lps", content=adrun(idam="FAKE-IDAM"), headers=CERT)
    entry = (await client.get("/sandbox/v1/journal", params={"path": "/lps", "limit": 1})).json()["entries"][0]
    assert (entry["status"], entry["rule"]) == (500, "INSi:IDAM")


async def test_json_facade_keeps_its_own_statuses(client) -> None:
    """RFC 9457 problems with their statuses: 400 for a refused trait, 503 for the technical fault."""
    traits = {"NomNaissance": "D’ÆION", "Prenom": "CŒUR", "Sexe": "M", "DateNaissance": "1987-01-25"}
    r = await client.post("/insi/v1/search-traits", json=traits)
    assert r.status_code == 400 and r.json()["rule"] == "INSi:charset"
    r = await client.post("/insi/v1/search-traits", json={**traits, "NomNaissance": "D'AEION", "Prenom": "COEUR"})
    assert r.status_code == 503


def test_fault_shape_matches_the_recorded_fault() -> None:
    xml = faults.build_fault(faults.fault_unknown_idam("uuid:1"))
    root = etree.fromstring(xml)
    ns = {"s": NS_SOAP12, "siram": NS_SIRAM}
    assert root.findtext("s:Body/s:Fault/s:Code/s:Value", namespaces=ns) == "soap:Sender"
    assert root.findtext("s:Body/s:Fault/s:Code/s:Subcode/s:Value", namespaces=ns) == "soap:siram_100"
    assert root.find("s:Body/s:Fault/s:Reason/s:Text", ns).get("{http://www.w3.org/XML/1998/namespace}lang") == "fr"
    err = root.find("s:Body/s:Fault/s:Detail/siram:Erreur", ns)
    assert (err.get("code"), err.get("severite"), err.get("messageID")) == ("desir_550", "erreur", "uuid:1")


def test_domain_errors_map_to_the_faults_insi_answers() -> None:
    """map_error, the SOAP face's one mapper: same codes, texts and rules as the live INSi's faults."""
    refused = faults.map_error(IdamRefused("NOPE"), "uuid:1")
    assert (refused.code, refused.subcode, refused.detail_code, refused.rule, refused.message_id) == (
        "Sender", "siram_100", "desir_550", "INSi:IDAM", "uuid:1")
    technical = faults.map_error(InsiTechnicalFault("INSi:injected-fault"))
    assert (technical.code, technical.subcode, technical.detail_code, technical.severite, technical.rule) == (
        "Receiver", "siram_40", "insi_102", "fatal", "INSi:injected-fault")
    charset = faults.map_error(TraitError("NomNaissance", "INSi:charset", "outside INSi's set", "ADRUN"))
    assert (charset.subcode, charset.detail_code, charset.rule) == ("siram_40", "insi_102", "INSi:charset")
    sex = faults.map_error(TraitError("Sexe", "INSi:Sexe", "Sexe is M or F"), "uuid:2", detail_code="sandbox_vitale")
    assert (sex.code, sex.subcode, sex.detail_code, sex.detail_text, sex.rule) == (
        "Sender", "siram_10", "sandbox_vitale", "Sexe is M or F", "INSi:Sexe")
    assert sex.reason == "La requête est invalide : Sexe is M or F"
    assert {f.http_status for f in (refused, technical, charset, sex)} == {500}
