"""``rechercherInsAvecCarteVitale`` (``RECVITALE``) is checked as the trait search is: element order of the XSD
(``INSi_RECVITALE_INS.xsd``, types ``Beneficiaire`` and ``Matricule``, padoa/tlsi-ins ``src/wsdl/xsd/
ServiceIdentiteCertifiee/`` @12ef794) and INSi's character set, with the faults the trait search answers:
``siram_10``/``sandbox_body`` for the structure, ``siram_40``/``insi_102`` for a character outside the set (CNDA
2.03 case 3), ``siram_10``/``sandbox_vitale`` for another broken value rule.

And the ``RECSANSVITALE`` reader against a plain QName reading (pure).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from app.ins.soap import bodies, faults
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


def _reference_parse_traits(payload: etree._Element) -> tuple:
    """parse_traits as it was written with etree.QName (the outcome, or the fault's detail and rule)."""
    order = ["NomNaissance", "Prenom", "Sexe", "DateNaissance", "LieuNaissance"]
    seen: list[str] = []
    values: dict[str, list[str]] = {k: [] for k in order}
    for child in payload:
        qn = etree.QName(child)
        if qn.namespace != NS_RECSANS or qn.localname not in values:
            return ("fault", f"élément inattendu dans RECSANSVITALE : {qn.localname}", "INSi:RECSANSVITALE")
        if seen and order.index(qn.localname) < order.index(seen[-1]):
            return ("fault", f"ordre des éléments de RECSANSVITALE : {qn.localname} après {seen[-1]}",
                    "INSi:RECSANSVITALE-order")
        if qn.localname != "Prenom" and values[qn.localname]:
            return ("fault", f"{qn.localname} répété", "INSi:RECSANSVITALE")
        seen.append(qn.localname)
        values[qn.localname].append((child.text or "").strip())
    return ("ok", {k: v for k, v in values.items()})


_ELEMENTS = st.sampled_from([
    ("ns", "NomNaissance"), ("ns", "Prenom"), ("ns", "Sexe"), ("ns", "DateNaissance"), ("ns", "LieuNaissance"),
    ("other", "Prenom"), ("none", "Sexe"), ("ns", "Autre"),
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_ELEMENTS, st.text("AB -", max_size=4)), max_size=8))
def test_parse_traits_matches_the_qname_reading(elements: list) -> None:
    ns = {"ns": NS_RECSANS, "other": "urn:other", "none": None}
    payload = etree.Element(f"{{{NS_RECSANS}}}RECSANSVITALE")
    for (space, name), text in elements:
        child = etree.SubElement(payload, f"{{{ns[space]}}}{name}" if ns[space] else name)
        child.text = text
    expected = _reference_parse_traits(payload)
    try:
        t = bodies.parse_traits(payload)
    except faults.SoapFault as fault:
        assert expected == ("fault", fault.detail_text, fault.rule)
        return
    assert expected[0] == "ok"
    values = expected[1]
    one = {k: (v[0] if v else None) for k, v in values.items()}
    assert (t.NomNaissance, t.Prenom, t.Sexe, t.DateNaissance, t.LieuNaissance) == (
        one["NomNaissance"], values["Prenom"], one["Sexe"], one["DateNaissance"], one["LieuNaissance"])
