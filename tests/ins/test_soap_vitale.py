"""``rechercherInsAvecCarteVitale`` (``RECVITALE``) is checked as the trait search is: element order of the XSD
(``INSi_RECVITALE_INS.xsd``, types ``Beneficiaire`` and ``Matricule``, padoa/tlsi-ins ``src/wsdl/xsd/
ServiceIdentiteCertifiee/`` @12ef794) and INSi's character set, with the faults the trait search answers:
``siram_10``/``sandbox_body`` for the structure, ``siram_40``/``insi_102`` for a character outside the set (CNDA
2.03 case 3), ``siram_10``/``sandbox_vitale`` for another broken value rule.
"""

from __future__ import annotations

import pytest
from lxml import etree

from app.ins.soap.client import build_request, recsansvitale_xml
from app.ins.soap.namespaces import ACTION_VITALE, NS_RECSANS, NS_RECVIT, NS_RESULTAT, NS_SIRAM, NS_SOAP12

NS = {"s": NS_SOAP12, "r": NS_RESULTAT, "siram": NS_SIRAM}
CERT = {"Content-Type": "application/soap+xml; charset=utf-8", "X-Client-Cert-CN": "INSI-AUTO"}
V = "insi_recvit_ins"


def recvitale(*children: str) -> bytes:
    return build_request(f'<{V}:RECVITALE xmlns:{V}="{NS_RECVIT}">' + "".join(children) + f"</{V}:RECVITALE>",
                              action=ACTION_VITALE)


def el(name: str, value: str) -> str:
    return f"<{V}:{name}>{value}</{V}:{name}>"


def matricule(name: str, *children: str) -> str:
    return f"<{V}:{name}>" + "".join(children) + f"</{V}:{name}>"


# ECETINSI's card (VITALE-ECETINSI-0001): the shape zeep builds from the WSDL and padoa's XSD order
OD = matricule("MatriculeOD", el("NumIdentifiant", "1090763220834"), el("Cle", "89"))
DATE, RANG = el("DateNaissance", "2009-07-14"), el("RangNaissance", "1")


async def post(client, body: bytes):  # type: ignore[no-untyped-def]
    return await client.post("/lps", content=body, headers=CERT)


def fault(r) -> tuple:  # type: ignore[no-untyped-def]
    root = etree.fromstring(r.content)
    err = root.find(".//siram:Erreur", NS)
    return (r.status_code, root.findtext(".//s:Fault/s:Code/s:Value", namespaces=NS),
            root.findtext(".//s:Fault/s:Code/s:Subcode/s:Value", namespaces=NS), err.get("code"), err.get("severite"))


def code_cr(r) -> str | None:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text
    return etree.fromstring(r.content).findtext(".//r:CodeCR", namespaces=NS)


async def last_rule(client) -> str:  # type: ignore[no-untyped-def]
    return (await client.get("/sandbox/v1/journal", params={"path": "/lps", "limit": 1})).json()["entries"][0]["rule"]


@pytest.mark.parametrize("children", [
    (OD, DATE, RANG),
    (OD, DATE),
    (matricule("MatriculeIndividu", el("NumIdentifiant", "1090763220834"), el("Cle", "89")), OD, DATE, RANG),
    (OD, el("NomNaissance", "ECETINSI"), DATE, RANG),
    (matricule("MatriculeOD", el("NumIdentifiant", "1090763220834"), el("Cle", "89"), el("TypeMatricule", "NIR")),
     DATE, RANG),
    (OD, "<!-- lu sur la carte -->", DATE, RANG),
])
async def test_requests_in_the_xsd_order_are_accepted(client, children: tuple) -> None:
    assert code_cr(await post(client, recvitale(*children))) == "00"


@pytest.mark.parametrize(("children", "detail"), [
    ((DATE, OD, RANG), "ordre des éléments de RECVITALE : MatriculeOD après DateNaissance"),
    ((OD, RANG, DATE), "ordre des éléments de RECVITALE : DateNaissance après RangNaissance"),
    ((OD, DATE, el("NomNaissance", "ECETINSI"), RANG),
     "ordre des éléments de RECVITALE : NomNaissance après DateNaissance"),
    ((OD, matricule("MatriculeIndividu", el("NumIdentifiant", "1090763220834")), DATE),
     "ordre des éléments de RECVITALE : MatriculeIndividu après MatriculeOD"),
    ((matricule("MatriculeOD", el("Cle", "89"), el("NumIdentifiant", "1090763220834")), DATE),
     "ordre des éléments de MatriculeOD : NumIdentifiant après Cle"),
])
async def test_out_of_order_elements_are_refused_like_the_traits_search(client, children: tuple, detail: str) -> None:
    r = await post(client, recvitale(*children))
    assert fault(r) == (500, "soap:Sender", "soap:siram_10", "sandbox_body", "erreur")
    assert etree.fromstring(r.content).findtext(".//siram:Erreur", namespaces=NS) == detail
    assert (await last_rule(client)).endswith("-order")


async def test_traits_search_answers_the_same_order_fault(client) -> None:
    """The reference the Carte Vitale search is held to: RECSANSVITALE out of order."""
    body = build_request(recsansvitale_xml("ADRUN", "ZOE", "F", "1975-12-31").replace(
        "<insi_recsans_ins:Sexe>F</insi_recsans_ins:Sexe>", "").replace(
        "</insi_recsans_ins:RECSANSVITALE>", "<insi_recsans_ins:Sexe>F</insi_recsans_ins:Sexe>"
                                             "</insi_recsans_ins:RECSANSVITALE>"))
    assert fault(await post(client, body)) == (500, "soap:Sender", "soap:siram_10", "sandbox_body", "erreur")
    assert await last_rule(client) == "INSi:RECSANSVITALE-order"


@pytest.mark.parametrize("children", [
    (OD, OD, DATE),
    (OD, DATE, DATE),
    (OD, el("Prenom", "PIERRE-ALAIN"), DATE),
    (matricule("MatriculeOD", el("NumIdentifiant", "1090763220834"), el("Cle", "89"), el("Cle", "89")), DATE),
    (OD, f'<x:DateNaissance xmlns:x="{NS_RECSANS}">2009-07-14</x:DateNaissance>'),
])
async def test_repeated_or_unknown_elements_are_refused(client, children: tuple) -> None:
    assert fault(await post(client, recvitale(*children)))[3] == "sandbox_body"


@pytest.mark.parametrize("name", ["D’ÆION", "ecetinsi", "ÉCETINSI", "ECETINSI2", "ECETINSI_"])
async def test_forbidden_characters_answer_the_traits_search_fault(client, name: str) -> None:
    r = await post(client, recvitale(OD, el("NomNaissance", name), DATE, RANG))
    assert fault(r) == (500, "soap:Receiver", "soap:siram_40", "insi_102", "fatal")
    assert await last_rule(client) == "INSi:charset"
    # exactly what the trait search answers for the same name
    traits = build_request(recsansvitale_xml(name, "PIERRE-ALAIN", "M", "2009-07-14"))
    assert fault(await post(client, traits)) == fault(r)


@pytest.mark.parametrize(("children", "rule"), [
    (matricule("MatriculeOD", el("NumIdentifiant", "10907632208"), el("Cle", "89")), "INSi:matricule"),
    (matricule("MatriculeOD", el("NumIdentifiant", "109076322083489")), "INSi:matricule"),
    (matricule("MatriculeOD", el("NumIdentifiant", "1090763220834"), el("Cle", "8A")), "INSi:matricule"),
    (matricule("MatriculeIndividu", el("NumIdentifiant", "10907 3220834")), "INSi:matricule"),
])
async def test_malformed_matricules_are_refused(client, children: str, rule: str) -> None:
    body = recvitale(children, DATE) if "MatriculeOD" in children else recvitale(children, OD, DATE)
    assert fault(await post(client, body)) == (500, "soap:Sender", "soap:siram_10", "sandbox_vitale", "erreur")
    assert await last_rule(client) == rule


async def test_impossible_date_is_refused_like_the_traits_search(client) -> None:
    r = await post(client, recvitale(OD, el("DateNaissance", "14/07/2009"), RANG))
    assert fault(r)[3] == "sandbox_vitale"
    assert await last_rule(client) == "INSi:DateLunaire"


async def test_unknown_idam_comes_before_a_value_fault(client) -> None:
    body = recvitale(OD, el("NomNaissance", "D’ÆION"), DATE).replace(b"SEGURSANDBOX01", b"FAKE-IDAM")
    assert fault(await post(client, body))[3] == "desir_550"


async def test_corsican_matricule_and_lunar_date_are_accepted(client) -> None:
    od = matricule("MatriculeOD", el("NumIdentifiant", "297022A020778"), el("Cle", "78"))
    assert code_cr(await post(client, recvitale(od, el("DateNaissance", "1950-00-00")))) == "01"
