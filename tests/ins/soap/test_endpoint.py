"""The INSi SOAP endpoint over HTTP, with requests in the shape real clients send (padoa/tlsi-ins).

A real SOAP client (zeep) loads the sandbox's WSDL and calls INSi as a vendor would.

zeep is blocking: it runs in a thread, and its transport hands each HTTP exchange back to the test's event
loop (which serves the app through httpx's ASGI transport).
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources

import pytest
import requests
from lxml import etree
from zeep import Client
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsa import WsAddressingPlugin

from app.ins.soap.client import build_request, recsansvitale_xml, recvitale_xml, saml_security
from app.ins.soap.namespaces import ACTION_VITALE, NS_RECVIT, NS_RESULTAT, NS_SIRAM, NS_SOAP11, NS_SOAP12
from app.shared.identifiers import OID_INS_NIA, OID_INS_NIR, OID_INS_NIR_TEST

NS = {"s": NS_SOAP12, "r": NS_RESULTAT, "siram": NS_SIRAM}

CERT = {"Content-Type": "application/soap+xml; charset=utf-8", "X-Client-Cert-CN": "INSI-AUTO"}


SCENARIOS = json.loads((resources.files("app.ins") / "fixtures" / "scenarios.json").read_text())["scenarios"]


def traits_request(nom, prenoms, sexe, date, lieu=None, **kw) -> bytes:
    return build_request(recsansvitale_xml(nom, prenoms, sexe, date, lieu), **kw)


async def post(client, body: bytes, headers: dict | None = None):
    return await client.post("/lps", content=body, headers=headers if headers is not None else CERT)


def parse(response) -> etree._Element:
    assert response.headers["content-type"].startswith("application/soap+xml")
    return etree.fromstring(response.content)


def fault_of(response) -> tuple[str, str, str, str]:
    root = parse(response)
    return (
        root.findtext(".//s:Fault/s:Code/s:Value", namespaces=NS),
        root.findtext(".//s:Fault/s:Code/s:Subcode/s:Value", namespaces=NS),
        root.find(".//siram:Erreur", NS).get("code"),
        root.find(".//siram:Erreur", NS).get("severite"),
    )


@pytest.mark.parametrize("case", SCENARIOS, ids=[s["label"] for s in SCENARIOS])
async def test_every_fixture_scenario_over_soap(client, case: dict) -> None:
    q = case["RECSANSVITALE"]
    r = await post(client, traits_request(q["NomNaissance"], q["Prenom"], q["Sexe"], q["DateNaissance"],
                                          q.get("LieuNaissance")))
    if case["CodeCR"].startswith("fault:"):
        assert r.status_code == 500
        assert fault_of(r) == ("soap:Receiver", "soap:siram_40", "insi_102", "fatal")
        return
    assert r.status_code == 200, r.text
    root = parse(r)
    assert root.findtext(".//r:RESULTAT/r:CR/r:CodeCR", namespaces=NS) == case["CodeCR"]
    individu = root.find(".//r:RESULTAT/r:INDIVIDU", NS)
    assert (individu is not None) is (case["CodeCR"] == "00")
    if case["INS"]:
        number = individu.findtext("r:INSACTIF/r:IdIndividu/r:NumIdentifiant", namespaces=NS)
        key = individu.findtext("r:INSACTIF/r:IdIndividu/r:Cle", namespaces=NS)
        assert number + key == case["INS"]


async def test_nia_answers_oid_9(client) -> None:
    root = parse(await post(client, traits_request("PROVISOIRE", "MATRICULE", "M", "2009-07-01")))
    assert root.findtext(".//r:INSACTIF/r:OID", namespaces=NS) == OID_INS_NIA


async def test_test_oid_policy(app, client) -> None:
    app.state.settings.ins_oid_policy = "test"
    try:
        root = parse(await post(client, traits_request("ADRUN", "ZOE", "F", "1975-12-31")))
        assert root.findtext(".//r:INSACTIF/r:OID", namespaces=NS) == OID_INS_NIR_TEST
        root = parse(await post(client, traits_request("PROVISOIRE", "MATRICULE", "M", "2009-07-01")))
        assert root.findtext(".//r:INSACTIF/r:OID", namespaces=NS) == OID_INS_NIA
    finally:
        app.state.settings.ins_oid_policy = "real"


async def test_search_by_carte_vitale(client) -> None:
    card = (await client.get("/sandbox/v1/cards")).json()["cards"]
    rousseau = next(c for c in card if c["NumeroSerie"] == "VITALE-ROUSSEAU-0001")
    od = rousseau["MatriculeOD"]["NumIdentifiant"]
    body = build_request(recvitale_xml(od + "00", "2015-04-10", "2"), action=ACTION_VITALE)
    root = parse(await post(client, body))
    assert root.findtext(".//r:CodeCR", namespaces=NS) == "00"
    assert root.findtext(".//r:TIQ/r:ListePrenom", namespaces=NS) == "EMMA"
    body = build_request(recvitale_xml(od + "00", "1970-01-01", "1"), action=ACTION_VITALE)
    assert parse(await post(client, body)).findtext(".//r:CodeCR", namespaces=NS) == "01"


async def test_cpx_assertion_instead_of_certificate(client) -> None:
    body = traits_request("ADRUN", "ZOE", "F", "1975-12-31", security=saml_security())
    r = await post(client, body, {"Content-Type": "application/soap+xml"})
    assert r.status_code == 200 and parse(r).findtext(".//r:CodeCR", namespaces=NS) == "00"


@pytest.mark.parametrize("cn", ["INSI-MANU", "INSI-AUTO"])
async def test_accepted_certificate_names(client, cn: str) -> None:
    r = await post(client, traits_request("ADRUN", "ZOE", "F", "1975-12-31"),
                   {"Content-Type": "application/soap+xml", "X-Client-Cert-CN": cn})
    assert r.status_code == 200


@pytest.mark.parametrize("cn", ["insi-auto", "INSI AUTO", "MEDECIN", ""])
async def test_wrong_certificate_name_is_desir_560(client, cn: str) -> None:
    r = await post(client, traits_request("ADRUN", "ZOE", "F", "1975-12-31"),
                   {"Content-Type": "application/soap+xml", "X-Client-Cert-CN": cn})
    assert r.status_code == 500
    assert fault_of(r)[2] == "DESIR_560"


async def test_no_credential_is_desir_560(client) -> None:
    r = await post(client, traits_request("ADRUN", "ZOE", "F", "1975-12-31"), {"Content-Type": "application/soap+xml"})
    assert fault_of(r)[2] == "DESIR_560"


async def test_unknown_idam_is_siram_100_desir_550(client) -> None:
    r = await post(client, traits_request("ADRUN", "ZOE", "F", "1975-12-31", idam="FAKEIDAM"))
    assert r.status_code == 500
    assert fault_of(r) == ("soap:Sender", "soap:siram_100", "desir_550", "erreur")
    root = parse(r)
    assert root.find(".//siram:Erreur", NS).get("messageID") == "uuid:b3549edd-4ae9-472a-b26f-fd2fb4ef397f"
    assert root.find(".//siram:Erreur", NS).text == "Numéro d'autorisation du logiciel inconnu."
    journal = (await client.get("/sandbox/v1/journal", params={"path": "/lps", "limit": 1})).json()
    assert journal["entries"][0]["rule"] == "INSi:IDAM"


async def test_idam_registered_through_the_control_api(client) -> None:
    body = traits_request("ADRUN", "ZOE", "F", "1975-12-31", idam="MONLOGICIEL42")
    assert fault_of(await post(client, body))[2] == "desir_550"
    assert (await client.post("/sandbox/v1/idams", json={"IDAM": "MONLOGICIEL42"})).status_code == 201
    assert (await post(client, body)).status_code == 200
    assert (await client.post("/sandbox/v1/idams", json={"IDAM": "MONLOGICIEL42"})).status_code == 409
    assert (await client.delete("/sandbox/v1/idams/MONLOGICIEL42")).status_code == 204
    assert fault_of(await post(client, body))[2] == "desir_550"


@pytest.mark.parametrize(("mutate", "code"), [
    (lambda b: b.replace(b'Version="01_02"', b'Version="01_01"'), "sandbox_ctxbam"),
    (lambda b: b.replace(b'Version="01_00"', b'Version="02_00"'), "sandbox_ctxlps"),
    (lambda b: b.replace(b"rechercherInsAvecTraitsIdentite</wsa:Action>", b"rechercherInsAvecCarteVitale</wsa:Action>"),
     "sandbox_body"),
    (lambda b: b.replace(b"urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite", b"urn:autre"),
     "sandbox_wsa_action"),
    (lambda b: b.split(b"<wsa:MessageID")[0] + b"</soap:Header>" + b.split(b"</soap:Header>")[1],
     "sandbox_wsa_messageid"),
    (lambda b: b.split(b"<ctxbam:ContexteBAM")[0] + b"<ctxlps:ContexteLPS" + b.split(b"<ctxlps:ContexteLPS")[1],
     "sandbox_ctxbam"),
    (lambda b: b.replace(b'R="4"', b'R="3"'), "sandbox_idam_r"),
    (lambda b: b.replace(b"<insi_recsans_ins:Sexe>F</insi_recsans_ins:Sexe>", b""), "sandbox_traits"),
    (lambda b: b.replace(b">1975-12-31<", b">31/12/1975<"), "sandbox_traits"),
])
async def test_malformed_requests_are_sender_faults(client, mutate, code: str) -> None:
    body = mutate(traits_request("ADRUN", "ZOE", "F", "1975-12-31"))
    r = await post(client, body)
    assert r.status_code == 500, r.text
    c, sub, detail, _ = fault_of(r)
    assert (c, sub, detail) == ("soap:Sender", "soap:siram_10", code)


async def test_soap_11_envelope_is_refused(client) -> None:
    body = traits_request("ADRUN", "ZOE", "F", "1975-12-31").replace(
        NS_SOAP12.encode(), NS_SOAP11.encode())
    r = await post(client, body)
    assert r.status_code == 500 and fault_of(r)[0] == "soap:VersionMismatch"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>&lol4;</soap:Body></soap:Envelope>"""


XXE = b"""<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>&x;</soap:Body></soap:Envelope>"""


XXE_PARAM = b"""<?xml version="1.0"?><!DOCTYPE e [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"/>"""


@pytest.mark.parametrize(("body", "code"), [
    (BILLION_LAUGHS, "sandbox_dtd"), (XXE, "sandbox_dtd"), (XXE_PARAM, "sandbox_dtd"),
    (b"<soap:Envelope", "sandbox_xml"), (b"", "sandbox_xml"), (b"\xff\xfe\x00garbage", "sandbox_xml"),
    (b"<a>" * 300 + b"</a>" * 300, "sandbox_xml"),  # past libxml2's depth limit (huge_tree off)
    (b"<a>" * 50 + b"</a>" * 50, "sandbox_envelope"),
    (b"<?xml version='1.0'?><x/>", "sandbox_envelope"),
])
async def test_xml_attacks_are_faults_not_500(client, body: bytes, code: str) -> None:
    r = await post(client, body)
    assert r.status_code == 500, r.text
    assert fault_of(r)[2] == code
    assert b"root:" not in r.content


async def test_oversized_request_is_refused_before_parsing(client, settings) -> None:
    big = traits_request("ADRUN", "ZOE", "F", "1975-12-31").replace(
        b"</soap:Header>", b"<!--" + b"x" * (settings.ins_soap_max_bytes + 10) + b"--></soap:Header>")
    r = await post(client, big)
    assert r.status_code == 500 and fault_of(r)[2] == "sandbox_size"


async def test_deep_nesting_is_refused(client) -> None:
    deep = b"<a>" * 100_000 + b"</a>" * 100_000
    r = await post(client, deep)
    assert r.status_code == 500 and fault_of(r)[1] == "soap:siram_10"


async def test_wsdl(client, settings) -> None:
    r = await client.get("/lps?wsdl")
    assert r.status_code == 200
    root = etree.fromstring(r.content)
    wsdl = "http://schemas.xmlsoap.org/wsdl/"
    assert root.get("targetNamespace") == "http://www.cnamts.fr/webservice"
    ops = {op.get("name") for op in root.iterfind(f"{{{wsdl}}}portType/{{{wsdl}}}operation")}
    assert ops == {"rechercherInsAvecTraitsIdentite", "rechercherInsAvecCarteVitale"}
    address = root.find(f".//{{{wsdl}}}port/{{http://schemas.xmlsoap.org/wsdl/soap12/}}address")
    assert address.get("location") == f"{settings.public_base_url}/lps"


async def test_generic_errors_under_lps_are_soap_faults(client) -> None:
    r = await client.put("/lps")
    assert r.status_code == 405 and fault_of(r)[1] == "soap:siram_10"
    r = await client.get("/lps")
    assert r.status_code == 405 and fault_of(r)[2] == "sandbox_http_405" and r.headers["allow"] == "POST"


async def test_psc_access_token_is_accepted(client) -> None:
    from tests.psc.helpers import access_token_for

    token = await access_token_for(client, "810001000016")
    body = traits_request("ADRUN", "ZOE", "F", "1975-12-31")
    r = await post(client, body, {"Content-Type": "application/soap+xml", "Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and parse(r).findtext(".//r:CodeCR", namespaces=NS) == "00"
    r = await post(client, body, {"Content-Type": "application/soap+xml", "Authorization": "Bearer forged"})
    assert r.status_code == 500 and fault_of(r)[2] == "DESIR_560"


async def test_injected_technical_fault(client) -> None:
    r = await post(client, traits_request("ADRUN", "ZOE", "F", "1975-12-31"), {**CERT, "X-Segur-INS-Fault": "insi_102"})
    assert r.status_code == 500 and fault_of(r) == ("soap:Receiver", "soap:siram_40", "insi_102", "fatal")


async def test_vitale_data_in_contexte_bam_couverture(client) -> None:
    """Pyxvital templates put the card data in ContexteBAM/COUVERTURE rather than in RECVITALE."""
    body = build_request(f'<insi_recvit_ins:RECVITALE xmlns:insi_recvit_ins="{NS_RECVIT}"/>',
                              action=ACTION_VITALE)
    couverture = (b"<ctxbam:COUVERTURE><ctxbam:ASSURE><ctxbam:Id><ctxbam:Num>2751263220749</ctxbam:Num>"
                  b"</ctxbam:Id></ctxbam:ASSURE><ctxbam:BENEFICIAIRE><ctxbam:DateNai>1975-12-31</ctxbam:DateNai>"
                  b"<ctxbam:Rang>1</ctxbam:Rang></ctxbam:BENEFICIAIRE></ctxbam:COUVERTURE>")
    body = body.replace(b"<ctxbam:COUVERTURE></ctxbam:COUVERTURE>", couverture)
    root = parse(await post(client, body))
    assert root.findtext(".//r:CodeCR", namespaces=NS) == "00"
    assert root.findtext(".//r:TIQ/r:NomNaissance", namespaces=NS) == "ADRUN"
    empty = build_request(f'<insi_recvit_ins:RECVITALE xmlns:insi_recvit_ins="{NS_RECVIT}"/>',
                               action=ACTION_VITALE)
    assert fault_of(await post(client, empty))[2] == "sandbox_vitale"


async def test_every_answer_is_in_the_call_log(client) -> None:
    await post(client, traits_request("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14"))
    entry = (await client.get("/sandbox/v1/journal", params={"path": "/lps", "limit": 1})).json()["entries"][0]
    assert entry["outcome"] == "ok"
    assert entry["detail"].startswith(
        "rechercherInsAvecTraitsIdentite CodeCR=00 INS=109076322083489 OID=1.2.250.1.213.1.4.8")
    assert "INSHISTO=209076322083439 " in entry["detail"]
    assert "credential=certificate:INSI-AUTO IDAM=SEGURSANDBOX01" in entry["detail"]


async def test_odd_vitale_rank_and_padded_values(client) -> None:
    body = build_request(recvitale_xml("275126322074974", "1975-12-31", "A"), action=ACTION_VITALE)
    r = await post(client, body)
    assert r.status_code == 200 and parse(r).findtext(".//r:CodeCR", namespaces=NS) == "01"
    padded = traits_request("ADRUN", "ZOE", "F", "1975-12-31").replace(b">ADRUN<", b">\n  ADRUN\n<")
    assert parse(await post(client, padded)).findtext(".//r:CodeCR", namespaces=NS) == "00"


class AsgiTransport(Transport):
    def __init__(self, loop: asyncio.AbstractEventLoop, http, cn: str = "INSI-AUTO") -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.loop, self.http, self.cn = loop, http, cn

    def _call(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def load(self, url: str) -> bytes:
        return self._call(self.http.get(url)).content

    def post(self, address, message, headers):  # type: ignore[no-untyped-def]
        r = self._call(self.http.post(address, content=message, headers={**headers, "X-Client-Cert-CN": self.cn}))
        out = requests.models.Response()
        out.status_code, out._content, out.encoding = r.status_code, r.content, "utf-8"
        out.headers = requests.structures.CaseInsensitiveDict(r.headers)
        return out


def _zeep_calls(loop: asyncio.AbstractEventLoop, http, idam: str = "SEGURSANDBOX01") -> dict:  # type: ignore[no-untyped-def]
    client = Client("http://sandbox.test/lps?wsdl", transport=AsgiTransport(loop, http),
                    plugins=[WsAddressingPlugin()])
    bam = client.get_element("{urn:siram:bam:ctxbam}ContexteBAM")(
        Version="01_02", Id="1f7425e2-b913-415c-adaa-785ee1076a70", Temps="2026-11-24T10:00:00Z", COUVERTURE={})
    lps = client.get_element("{urn:siram:lps:ctxlps}ContexteLPS")(
        Version="01_00", Nature="CTXLPS", Id="1f7425e2-b913-415c-adaa-785ee1076a70", Temps="2026-11-24T10:00:00Z",
        LPS={"IDAM": {"_value_1": idam, "R": "4"}, "Version": "1.0", "Nom": "urn:lps:zeep:1.0"})
    headers = [bam, lps]
    out: dict = {}
    out["adrun"] = client.service.rechercherInsAvecTraitsIdentite(
        NomNaissance="ADRUN", Prenom=["ZOE"], Sexe="F", DateNaissance="1975-12-31", _soapheaders=headers)
    out["devinci"] = client.service.rechercherInsAvecTraitsIdentite(
        NomNaissance="DE VINCI", Prenom=["LEONARDO"], Sexe="M", DateNaissance="2014-02-01", _soapheaders=headers)
    out["ecetinsi_vitale"] = client.service.rechercherInsAvecCarteVitale(
        MatriculeOD={"NumIdentifiant": "1090763220834", "Cle": "89"}, DateNaissance="2009-07-14",
        RangNaissance="1", _soapheaders=headers)
    for name, kwargs in {
        "aeion": {"NomNaissance": "D'AEION", "Prenom": ["COEUR"], "Sexe": "M", "DateNaissance": "1987-01-25"},
    }.items():
        try:
            client.service.rechercherInsAvecTraitsIdentite(**kwargs, _soapheaders=headers)
        except Fault as fault:
            out[name] = fault
    return out


async def test_zeep_against_the_wsdl(client) -> None:
    out = await asyncio.to_thread(_zeep_calls, asyncio.get_running_loop(), client)
    adrun = out["adrun"]
    assert adrun.CR.CodeCR == "00" and adrun.CR.LibelleCR == "OK"
    assert adrun.INDIVIDU.INSACTIF.IdIndividu.NumIdentifiant == "2751263220749"
    assert adrun.INDIVIDU.INSACTIF.OID == OID_INS_NIR
    assert adrun.INDIVIDU.TIQ.ListePrenom == "ZOE"
    assert out["devinci"].CR.CodeCR == "02" and out["devinci"].INDIVIDU is None
    vitale = out["ecetinsi_vitale"]
    assert vitale.CR.CodeCR == "00" and len(vitale.INDIVIDU.INSHISTO) == 1
    fault = out["aeion"]
    assert fault.code == "soap:Receiver"
    assert fault.detail[0].get("code") == "insi_102"


async def test_zeep_unknown_idam(client) -> None:
    with pytest.raises(Fault) as err:
        await asyncio.to_thread(_zeep_calls, asyncio.get_running_loop(), client, "INCONNU")
    assert err.value.detail[0].get("code") == "desir_550"
