"""SOAP answers compared element by element with the answers padoa/tlsi-ins recorded.

Which padoa file is what (docs/ins.md, "Sources of the test persons"): its CI (``.github/workflows/test-ins.yml``)
runs ``src/ins/test/insi-client.test.ts`` against the live qualif INSi. The answers of the persons that test does
*not* override are live recordings (``src/ins/fixtures/persons/*.fixture.ts``: ``getPierreAlainLiveXmlResponse``,
``getAdrtroisToussaintXmlResponse``, ``getTchitchiCatarinaXmlResponse``, ``getAdrtroisDominiqueXmlResponse``;
``src/ins/fixtures/insi-client.fixture.ts`` ``getCR02XmlResponse``). With ``overrideSpecialCases`` the client
swaps the live body for a CNDA sample file (``src/ins/fixtures/TEST_2.0x*.xml``, ``REP_CR01.xml``,
``insi-client.service.ts`` ``_manageCndaValidationSpecialCases``): those are samples, not recordings. All at
commit 12ef794a663bc6c30fd430b6cdeaa8b47daeb765. The expected shapes below are written out by hand.

And the answer's escaping and element order (pure).
"""

from __future__ import annotations

import pytest
from lxml import etree

from app.ins import nir, search
from app.ins.soap import answers
from app.ins.soap.client import build_request, recsansvitale_xml, recvitale_xml
from app.ins.soap.namespaces import ACTION_VITALE, NS_RESULTAT
from app.shared.identifiers import OID_INS_NIR

NIR_OID = "1.2.250.1.213.1.4.8"

CERT = {"Content-Type": "application/soap+xml; charset=utf-8", "X-Client-Cert-CN": "INSI-AUTO"}


def shape(el: etree._Element) -> tuple:
    """(local name, text) for a leaf, (local name, [children]) otherwise; every element in INSiResultat."""
    assert etree.QName(el).namespace == NS_RESULTAT, el.tag
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        return (etree.QName(el).localname, el.text)
    return (etree.QName(el).localname, [shape(c) for c in children])


def ins(tag: str, number: str, key: str, *dates: tuple[str, str]) -> tuple:
    return (tag, [("IdIndividu", [("NumIdentifiant", number), ("Cle", key)]), ("OID", NIR_OID), *dates])


def tiq(nom: str, liste: str, sexe: str, date: str, lieu: str) -> tuple:
    return ("TIQ", [("NomNaissance", nom), ("ListePrenom", liste), ("Sexe", sexe), ("DateNaissance", date),
                    ("LieuNaissance", lieu)])


def ok(*individu: tuple) -> tuple:
    return ("RESULTAT", [("CR", [("CodeCR", "00"), ("LibelleCR", "OK")]), ("INDIVIDU", list(individu))])


# The live answers, as recorded (values, element order, and what is absent: no TypeMatricule, no TIQ/Prenom).
LIVE = {
    # getPierreAlainLiveXmlResponse, test "should handle single INSHISTO as an array, test_2.04 LIVE" (since
    # 91e1bfc, 2022-11): ONE history entry, IdIndividu then OID then DateDeb/DateFin, no TypeMatricule.
    ("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14"): ok(
        ins("INSACTIF", "1090763220834", "89"),
        ins("INSHISTO", "2090763220834", "39", ("DateDeb", "2019-03-01"), ("DateFin", "2019-02-28")),
        tiq("ECETINSI", "PIERRE-ALAIN MURIEL FLORIANT", "M", "2009-07-14", "63220")),
    # getAdrtroisToussaintXmlResponse, test "should be able to call fetchIns" (Security: Pfx)
    ("ADRTROIS", "TOUSSAINT", "M", "1960-01-01"): ok(
        ins("INSACTIF", "160012B020777", "13"), tiq("ADRTROIS", "TOUSSAINT", "M", "1960-01-01", "2B020")),
    # getAdrtroisDominiqueXmlResponse (the live test's person until 583ffe8, 2022-11)
    ("ADRTROIS", "DOMINIQUE", "F", "1997-02-26"): ok(
        ins("INSACTIF", "297022A020778", "78"), tiq("ADRTROIS", "DOMINIQUE", "F", "1997-02-26", "2A020")),
    # getTchitchiCatarinaXmlResponse, test "... even if the first name fails (OLA CATARINA BELLA)"
    ("TCHITCHI", "CATARINA", "F", "1936-06-21"): ok(
        ins("INSACTIF", "2360663220836", "56"), tiq("TCHITCHI", "CATARINA BELLA", "F", "1936-06-21", "63220")),
    # getCR02XmlResponse, test "should respond with CR02 code when multiple identities are found"
    ("DE VINCI", "LEONARDO", "M", "2014-02-01"): (
        "RESULTAT", [("CR", [("CodeCR", "02"), ("LibelleCR", "Plusieurs identites trouvees")])]),
}


# The live envelope, byte for byte up to the RESULTAT content (every recording above has it).
LIVE_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">'
    b'<env:Body xmlns:S="http://www.w3.org/2003/05/soap-envelope" xmlns:env="http://www.w3.org/2003/05/soap-envelope">'
    b'<RESULTAT xmlns="http://www.cnamts.fr/INSiResultat" xmlns:ns0="http://www.cnamts.fr/INSiRecVit" '
    b'xmlns:ns1="http://www.cnamts.fr/INSiRecSans"><CR>'
)


LIVE_TAIL = b"</RESULTAT></env:Body></soap:Envelope>"


async def _search(client, nom: str, prenom: str, sexe: str, date: str):  # type: ignore[no-untyped-def]
    body = build_request(recsansvitale_xml(nom, prenom, sexe, date))
    r = await client.post("/lps", content=body, headers=CERT)
    assert r.status_code == 200, r.text
    return r


@pytest.mark.parametrize("query", list(LIVE), ids=[" ".join(q[:2]) for q in LIVE])
async def test_answer_is_the_live_recording(client, query: tuple) -> None:
    r = await _search(client, *query)
    assert r.content.startswith(LIVE_HEAD) and r.content.endswith(LIVE_TAIL), r.content[:400]
    resultat = etree.fromstring(r.content).find(f".//{{{NS_RESULTAT}}}RESULTAT")
    assert shape(resultat) == LIVE[query]


async def test_ecetinsi_history_over_the_vitale_search_too(client) -> None:
    """The same person found by card (``VITALE-ECETINSI-0001``) answers the same INDIVIDU."""
    body = build_request(recvitale_xml("109076322083489", "2009-07-14", "1"), action=ACTION_VITALE)
    r = await client.post("/lps", content=body, headers=CERT)
    resultat = etree.fromstring(r.content).find(f".//{{{NS_RESULTAT}}}RESULTAT")
    assert shape(resultat) == LIVE[("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14")]


# Persons padoa knows only from a CNDA sample file (no live recording): the sandbox keeps its own rendering
# of them, which differs from the sample where docs/ins.md says so: no TIQ/Prenom by default (live answers have
# none), and a TypeMatricule NIR on the history entries of CORSE and HERMANN (the sandbox's; not in the samples).
def _sandbox_histo(number: str, key: str) -> tuple:
    return ("INSHISTO", [("IdIndividu", [("NumIdentifiant", number), ("Cle", key), ("TypeMatricule", "NIR")]),
                         ("OID", NIR_OID)])


SAMPLES = {
    # TEST_2.05.xml: a NIA, OID .9
    ("PROVISOIRE", "MATRICULE", "M", "2009-07-01"): ok(
        ("INSACTIF", [("IdIndividu", [("NumIdentifiant", "1090763220888"), ("Cle", "35")]),
                      ("OID", "1.2.250.1.213.1.4.9")]),
        tiq("PROVISOIRE", "MATRICULE", "M", "2009-07-01", "63220")),
    # TEST_2.08_cas1.xml: the active INS repeated in INSHISTO
    ("CORSE", "ANTHONY", "M", "1980-03-02"): ok(
        ins("INSACTIF", "180032B020401", "23"), _sandbox_histo("180032B020401", "23"),
        tiq("CORSE", "ANTHONY", "M", "1980-03-02", "2B020")),
    # TEST_2.08_cas2.xml: keys that fail mod 97, kept as the sample gives them
    ("HERMANN", "GATIEN", "M", "1981-03-24"): ok(
        ins("INSACTIF", "1810363220456", "60"), _sandbox_histo("1810363220456", "60"),
        _sandbox_histo("2810363220456", "10"), tiq("HERMANN", "GATIEN", "M", "1981-03-24", "63220")),
    # REP_CR01.xml, padoa's substitute for OLA, PIERRE, PAUL, JACQUES and "PIERRE PAUL JACQUES"
    ("TCHITCHI", "OLA", "F", "1936-06-21"): (
        "RESULTAT", [("CR", [("CodeCR", "01"), ("LibelleCR", "Aucune identite trouvee")])]),
    ("HOUILLES", "PIERRE PAUL JACQUES", "M", "1993-01-27"): (
        "RESULTAT", [("CR", [("CodeCR", "01"), ("LibelleCR", "Aucune identite trouvee")])]),
}


@pytest.mark.parametrize("query", list(SAMPLES), ids=[" ".join(q[:2]) for q in SAMPLES])
async def test_sample_file_persons_keep_the_sandbox_rendering(client, query: tuple) -> None:
    r = await _search(client, *query)
    assert r.content.startswith(LIVE_HEAD)  # one envelope for every answer: the live one
    resultat = etree.fromstring(r.content).find(f".//{{{NS_RESULTAT}}}RESULTAT")
    assert shape(resultat) == SAMPLES[query]


def test_no_type_matricule_unless_the_record_has_one() -> None:
    """Rendering rule under the recorded shape: TypeMatricule is written only when a fixture gives it."""
    from app.ins import search

    plain = search.InsRecord("2090763220834", "39", "NIR", date_deb="2019-03-01", date_fin="2019-02-28")
    assert answers._ins_xml("INSHISTO", plain, NIR_OID) == (
        "<INSHISTO><IdIndividu><NumIdentifiant>2090763220834</NumIdentifiant><Cle>39</Cle></IdIndividu>"
        f"<OID>{NIR_OID}</OID><DateDeb>2019-03-01</DateDeb><DateFin>2019-02-28</DateFin></INSHISTO>")
    typed = search.InsRecord("2090763220834", "39", "NIR", type_matricule="NIR")
    written = answers._ins_xml("INSHISTO", typed, NIR_OID)
    assert "<Cle>39</Cle><TypeMatricule>NIR</TypeMatricule></IdIndividu>" in written


def test_answer_escapes_and_keeps_order() -> None:
    person = search.PersonRecord("D'ARTAGNAN", "JEAN", "M", "1950-00-00", None,
                                 search.InsRecord("1502099350001", nir.compute_key("1502099350001"), "NIR"))
    xml = answers.resultat_xml(search.Outcome("00", "OK", person), lambda r: OID_INS_NIR, with_prenom=True)
    root = etree.fromstring(xml.encode())
    tiq = root.find(f"{{{NS_RESULTAT}}}INDIVIDU/{{{NS_RESULTAT}}}TIQ")
    assert [etree.QName(c).localname for c in tiq] == ["NomNaissance", "Prenom", "ListePrenom", "Sexe",
                                                        "DateNaissance"]
    assert tiq.findtext(f"{{{NS_RESULTAT}}}DateNaissance") == "1950-00-00"
