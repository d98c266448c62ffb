"""Every search parameter of the Annuaire stub: one search that finds exactly the expected resources and
one that finds none; modifiers, AND/OR, dates, paging, result parameters, POST _search, ignored and
refused parameters.

Parameters and example requests from ansforge/annuaire-sante-fhir-documentation @9f3d7d0
(docs/pages/guide/version-2/resources/{practitioner,practitioner-role,organization}.md,
advanced/common-search-params.md, advanced/modifying-search-results.md, use-case/uc-segur.md,
uc-bal-mss.md) and the IG CapabilityStatement (ansforge/IG-fhir-annuaire @5fbc358
input/fsh/CapabilityStatement/AsServerDPCapabilityStatement.fsh).
"""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.mss.annuaire.resources import smartcard_number
from app.psc.rpps import rpps_with_key, subject_name_id
from tests.mss.annuaire.test_routes import (
    ALL_PRACTITIONERS,
    CABINET,
    DOCTOR_SNI,
    HOSPITAL,
    KEY,
    PHARMACIST_SNI,
    keys,
    legal_id,
    names,
    pid,
    search,
    site_id,
)

FIXTURE = Path(__file__).resolve().parents[3] / "app/psc/fixtures/professionals.json"
R21 = "https://mos.esante.gouv.fr/NOS/TRE_R21-Fonction/FHIR/TRE-R21-Fonction"
R22 = "https://mos.esante.gouv.fr/NOS/TRE_R22-GenreActivite/FHIR/TRE-R22-GenreActivite"
R23 = "https://mos.esante.gouv.fr/NOS/TRE_R23-ModeExercice/FHIR/TRE-R23-ModeExercice"
R06 = "https://mos.esante.gouv.fr/NOS/TRE_R06-SectionTableauCNOP/FHIR/TRE-R06-SectionTableauCNOP"
R02 = "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite"
R66 = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
R38 = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
G15 = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
V2_0203 = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
FINESS = "https://finess.esante.gouv.fr"
WOMEN = ["810001000016", "810001000032", "810001000057", "810001000073", "810001000081", "810001000107",
         "810001000123"]
FINESS_SITES = sorted(["F330781029", "F350000054", "F440020010", "F130040012", "F670010021", "F670020038"])
RPPS_SITES = sorted(["R10000000001", "R10000000002", "R10000000006", "R10000000007", "R10000000009",
                     "R10000000010", "R10000000111", "R10000000013"])
LEGAL = ["EJ:330781014", "EJ:350000014"]
SALARIED = sorted([f"810001000032@{HOSPITAL}", "810001000081@F350000054", "810001000115@F670010021",
                   "810001000115@F670020038", f"810001000149@{HOSPITAL}"])

def _case_id(value: object) -> str:
    return json.dumps(value) if isinstance(value, dict) else ""


PRACTITIONER_CASES = [
    ({"_id": pid(DOCTOR_SNI)}, [DOCTOR_SNI]), ({"_id": "003-1-1"}, []),
    ({"_lastUpdated": "ge2000"}, ALL_PRACTITIONERS), ({"_lastUpdated": "lt2000-01-01"}, []),
    ({"active": "true"}, ALL_PRACTITIONERS), ({"active": "false"}, []),
    ({"data-information-system": "RPPS"}, ALL_PRACTITIONERS), ({"data-information-system": "FINESS"}, []),
    ({"data-registration-authority": "CNOPP"}, ["810001000131"]), ({"data-registration-authority": "CNOM"}, []),
    ({"family": "font"}, [DOCTOR_SNI]), ({"family": "zzz"}, []),
    ({"family:exact": "FONTAINE"}, [DOCTOR_SNI]), ({"family:exact": "Fontaine"}, []),
    ({"given": "claire"}, [DOCTOR_SNI]), ({"given": "fontaine"}, []),
    ({"identifier": "10001000016"}, [DOCTOR_SNI]),
    ({"identifier": "https://rpps.esante.gouv.fr|10001000016"}, [DOCTOR_SNI]),
    ({"identifier": "urn:oid:1.2.250.1.71.4.2.1|10001000016"}, []),
    ({"identifier": "https://rpps.esante.gouv.fr|"}, ALL_PRACTITIONERS),
    ({"identifier": "10001000016,810001000040"}, [DOCTOR_SNI, PHARMACIST_SNI]),
    ({"identifier": "10001000016\\,810001000040"}, []),  # an escaped comma is part of the value
    ({"identifier-type": "RPPS"}, ALL_PRACTITIONERS), ({"identifier-type": f"{V2_0203}|IDNPS"}, ALL_PRACTITIONERS),
    ({"identifier-type": "FINEG"}, []),
    ({"mailbox-mss": "claire.fontaine@medecin.mssante.fr"}, [DOCTOR_SNI]),
    ({"mailbox-mss:exact": "claire.fontaine@medecin"}, []),
    ({"mailbox-mss:contains": "cabinet.fontaine"}, [DOCTOR_SNI]), ({"mailbox-mss:contains": "@nowhere.fr"}, []),
    ({"name": "MME"}, WOMEN), ({"name": "FONTAINE"}, [DOCTOR_SNI]), ({"name:contains": "ntai"}, [DOCTOR_SNI]),
    ({"name": "Zorro"}, []),
    ({"name:family": "FONTAINE", "name:given": "CLAIRE"}, [DOCTOR_SNI]),
    ({"name:family": "FONTAINE", "name:given": "Marc"}, []),
    ({"number-smartcard": smartcard_number(DOCTOR_SNI)}, [DOCTOR_SNI]), ({"number-smartcard": "0000000000"}, []),
    ({"qualification-code": "SM54"}, ["810001000016", "810001000115", "810001000123"]),
    ({"qualification-code": f"{R38}|SM54"}, ["810001000016", "810001000115", "810001000123"]),
    ({"qualification-code": f"{G15}|SM54"}, []),
    ({"qualification-code": f"{G15}|21"}, [PHARMACIST_SNI, "810001000057"]),
    ({"qualification-code": "C", "active": "true"}, ALL_PRACTITIONERS),
    ({"type-smartcard": "CPS"}, ALL_PRACTITIONERS), ({"type-smartcard": "CPF"}, []),
]

ROLE_CASES = [
    ({"role": "FON-01"}, [f"{PHARMACIST_SNI}@F440020010"]),
    ({"role": f"{R21}|FON-01"}, [f"{PHARMACIST_SNI}@F440020010"]),
    ({"role": f"{R22}|FON-01"}, []),
    ({"role": f"{R23}|S"}, SALARIED), ({"role": f"{R06}|A"}, [f"{PHARMACIST_SNI}@F440020010"]),
    ({"role": f"{R22}|GENR01", "practitioner": pid(DOCTOR_SNI)}, [f"{DOCTOR_SNI}@{CABINET}"]),
    ({"role": "10"}, []),  # v2: the profession moved to Practitioner (nouveautes.md)
    ({"practitioner": f"Practitioner/{pid(DOCTOR_SNI)}"}, [f"{DOCTOR_SNI}@{CABINET}"]),
    ({"practitioner": "Practitioner/003-1-1"}, []),
    ({"organization": site_id(HOSPITAL)}, [f"810001000032@{HOSPITAL}", f"810001000149@{HOSPITAL}"]),
    ({"organization": f"Organization/{site_id(HOSPITAL)}"}, [f"810001000032@{HOSPITAL}", f"810001000149@{HOSPITAL}"]),
    ({"organization": "Organization/001-01-1"}, []),
    ({"mailbox-mss:contains": "@medecin.mssante.fr", "practitioner": pid(DOCTOR_SNI)}, [f"{DOCTOR_SNI}@{CABINET}"]),
    ({"mailbox-mss": "cabinet.fontaine@medecin.mssante.fr"}, []),  # a CAB mailbox is on Practitioner only
    ({"data-information-system": "RPPS", "practitioner": pid(DOCTOR_SNI)}, [f"{DOCTOR_SNI}@{CABINET}"]),
    ({"data-information-system": "MSS"}, []),
    ({"data-registration-authority": "CNOPP"}, ["810001000131@R10000000013"]),
    ({"data-registration-authority": "ARS"}, []),
    ({"active": "true", "practitioner": pid(DOCTOR_SNI)}, [f"{DOCTOR_SNI}@{CABINET}"]),
    ({"active": "false"}, []),
    ({"_lastUpdated": "lt1990", "practitioner": pid(DOCTOR_SNI)}, []),
]

ORGANIZATION_CASES = [
    ({"_id": site_id(HOSPITAL)}, [HOSPITAL]), ({"_id": "001-01-1"}, []),
    ({"active": "true"}, sorted(FINESS_SITES + RPPS_SITES + LEGAL)), ({"active": "false"}, []),
    ({"address": "bordeaux"}, [HOSPITAL]), ({"address": "Brest"}, []),
    ({"address-city": "PARIS"}, ["R10000000002", "R10000000013"]),
    ({"address-city": "PAR", "address-postalcode": "75017"},
                                                                      ["R10000000002"]),
    ({"address-city": "Lille,Dijon"}, ["R10000000007", "R10000000009"]), ({"address-city": "Brest"}, []),
    ({"address-line": "12 R DE LA"}, [CABINET]), ({"address-line": "99 R"}, []),
    ({"address-postalcode": "33"}, [HOSPITAL]),
    ({"address-postalcode": "67"}, ["F670010021", "F670020038", "R10000000111"]),
    ({"address-postalcode": "99"}, []),
    ({"data-information-system": "FINESS"}, sorted(FINESS_SITES + LEGAL)),
    ({"data-information-system": "RPPS"}, RPPS_SITES),
    ({"data-information-system": "CG"}, []),
    ({"data-registration-authority": "ARS"}, sorted(FINESS_SITES + LEGAL)),
    ({"data-registration-authority": "CNOPP"}, ["R10000000013"]), ({"data-registration-authority": "CNOM"}, []),
    ({"identifier": f"{FINESS}|330781022"}, [HOSPITAL]), ({"identifier": f"{FINESS}|"}, sorted(FINESS_SITES + LEGAL)),
    ({"identifier": "330781014"}, ["EJ:330781014"]), ({"identifier": "1330781022"}, [HOSPITAL]),
    ({"identifier": "R10000000001"}, [CABINET]), ({"identifier": f"{FINESS}|R10000000001"}, []),
    ({"identifier-type": "FINEJ"}, LEGAL), ({"identifier-type": f"{V2_0203}|FINEG"}, FINESS_SITES),
    ({"identifier-type": "SIREN"}, []),
    ({"mailbox-mss:contains": "@hopital-a.mssante.fr"}, [HOSPITAL, "F350000054"]),
    ({"mailbox-mss": "resultats@labo-b.mssante.fr"}, ["F130040012"]), ({"mailbox-mss": "nobody@x.fr"}, []),
    ({"mailbox-mss": "ancien.secretariat@hopital-a.mssante.fr"}, []),  # closed mailbox: not published
    ({"name": "pharmacie"}, ["F440020010"]), ({"name:exact": "PHARMACIE DU MARCHE"}, ["F440020010"]),
    ({"name:exact": "Pharmacie du marché"}, []), ({"name": "CHU DE BORDEAUX"}, [HOSPITAL, "EJ:330781014"]),
    ({"name:contains": "imagerie,centre"}, ["F670010021", "R10000000006"]),
    ({"name:contains": ["CENTRE", "IMAGERIE"]}, ["R10000000006"]),
    ({"partof": f"Organization/{legal_id('330781014')}"}, [HOSPITAL]),
    ({"partof": legal_id("350000014")}, ["F350000054"]),
    ({"partof": "Organization/001-01-1"}, []),
    ({"pharmacy-licence": "44#000123"}, ["F440020010"]), ({"pharmacy-licence": "13#"}, []),
    ({"type": "GEOGRAPHICAL-ENTITY"}, sorted(FINESS_SITES + RPPS_SITES)), ({"type": "LEGAL-ENTITY"}, LEGAL),
    ({"type": f"{R02}|SA33"}, ["F440020010"]), ({"type": f"{R66}|101"}, [HOSPITAL, "F350000054"]),
    ({"type": "SA33,SA38,SA39,SA65"}, ["F440020010"]), ({"type": f"{R66}|SA33"}, []),
    ({"type": "GEOGRAPHICAL-ENTITY", "type:not": "SA07,SA08"}, FINESS_SITES),
    ({"type": f"{R02}|SA05", "mailbox-mss:contains": "@"}, []),  # uc-bal-mss.md §2: SA05 has no mailbox here
    ({"identifier": f"{FINESS}|", "type": "SA01,SA02,SA03", "type:not": "159,165,500"}, [HOSPITAL, "F350000054"]),
    ({"_lastUpdated": "ge2000-01"}, sorted(FINESS_SITES + RPPS_SITES + LEGAL)), ({"_lastUpdated": "le1999-12-31"}, []),
]


@pytest.mark.parametrize(("params", "expected"), PRACTITIONER_CASES, ids=_case_id)
async def test_practitioner_parameter(client, params, expected):
    assert keys(await search(client, "Practitioner", **params)) == sorted(expected)


@pytest.mark.parametrize(("params", "expected"), ROLE_CASES, ids=_case_id)
async def test_practitioner_role_parameter(client, params, expected):
    directory = await names(client)
    assert keys(await search(client, "PractitionerRole", **params), directory=directory) == sorted(expected)


@pytest.mark.parametrize(("params", "expected"), ORGANIZATION_CASES, ids=_case_id)
async def test_organization_parameter(client, params, expected):
    assert keys(await search(client, "Organization", **params)) == sorted(expected)


async def test_role_identifier_and_id(client):
    directory = await names(client)
    role = (await search(client, "PractitionerRole", practitioner=pid(DOCTOR_SNI)))["entry"][0]["resource"]
    value = role["identifier"][0]["value"]
    doctor = [f"{DOCTOR_SNI}@{CABINET}"]
    assert keys(await search(client, "PractitionerRole", identifier=value), directory=directory) == doctor
    assert keys(await search(client, "PractitionerRole", identifier="https://rpps.esante.gouv.fr|" + value),
                directory=directory) == [f"{DOCTOR_SNI}@{CABINET}"]
    assert keys(await search(client, "PractitionerRole", identifier="0000000000")) == []
    assert keys(await search(client, "PractitionerRole", _id=role["id"]), directory=directory) == doctor
    assert keys(await search(client, "PractitionerRole", _id="005-1-1")) == []


async def test_missing_modifier(client):
    """FHIR R4 search :missing on any parameter."""
    assert keys(await search(client, "Organization", **{"partof:missing": "false"})) == sorted([HOSPITAL, "F350000054"])
    with_licence = keys(await search(client, "Organization", **{"pharmacy-licence:missing": "true"}))
    assert "F440020010" not in with_licence and len(with_licence) == 15


async def test_last_updated_tracks_what_changed(client):
    """Delta calls (use-case/uc-call-type.md §2): a professional created later, and the site it works at,
    come back for _lastUpdated=ge<before>; the rest does not. Prefixes and precisions of
    advanced/common-search-params.md §4."""
    template = json.loads(FIXTURE.read_text(encoding="utf-8"))  # noqa: ASYNC240 - a small test fixture
    professional = copy.deepcopy(next(p for p in template if p["SubjectNameID"] == "810001000032"))
    sni = subject_name_id(rpps_with_key("1000900002"))
    professional.update({"SubjectNameID": sni, "preferred_username": sni, "given_name": "Inès",
                         "family_name": "Nouvelle", "sub": f"f:sandbox:{sni}", "otherIds": []})
    before = datetime.now(UTC)
    await asyncio.sleep(0.02)
    created = await client.post("/sandbox/v1/professionals", json=professional)
    assert created.status_code == 201, created.text
    stamp = before.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    assert keys(await search(client, "Practitioner", _lastUpdated=f"ge{stamp}")) == [sni]
    assert keys(await search(client, "Practitioner", _lastUpdated=f"gt{stamp}")) == [sni]
    assert keys(await search(client, "Practitioner", _lastUpdated=f"sa{stamp}")) == [sni]
    older = keys(await search(client, "Practitioner", _lastUpdated=f"lt{stamp}", _count=100))
    assert sni not in older and len(older) == 14
    assert keys(await search(client, "Practitioner", _lastUpdated=f"eb{stamp}", _count=100)) == older
    assert keys(await search(client, "Practitioner", _lastUpdated=f"le{stamp}", _count=100)) == older
    assert keys(await search(client, "Organization", _lastUpdated=f"ge{stamp}")) == sorted([HOSPITAL, "EJ:330781014"])
    year = str(datetime.now(UTC).year)
    assert len(keys(await search(client, "Practitioner", _lastUpdated=f"eq{year}", _count=100))) == 15
    assert keys(await search(client, "Practitioner", _lastUpdated=f"ne{year}")) == []
    assert len(keys(await search(client, "Practitioner", _lastUpdated=f"ap{year}", _count=100))) == 15
    assert keys(await search(client, "Practitioner", _lastUpdated="ge2022-08-08T06:47:02", identifier=sni)) == [sni]
    assert keys(await search(client, "Practitioner", _lastUpdated="ge2999-01-01T00:00:00+02:00")) == []


async def test_paging_links(client):
    """50 by default (api-basics.md), _count pages, next links until the last page (uc-call-type.md)."""
    first = await search(client, "Practitioner", **{"identifier-type": "RPPS", "_count": "5"})
    assert first["total"] == 14 and len(first["entry"]) == 5
    seen, bundle, pages = [], first, 0
    while True:
        pages += 1
        seen += keys(bundle)
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not nxt:
            break
        assert "/fhir/v2/_page?id=" in nxt[0]
        response = await client.get("/" + nxt[0].split("://", 1)[1].split("/", 1)[1], headers=KEY)
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert any(link["relation"] == "previous" for link in bundle["link"])
    assert pages == 3 and sorted(seen) == ALL_PRACTITIONERS
    assert len((await search(client, "Practitioner"))["entry"]) == 14  # under the default page of 50
    gone = await client.get("/fhir/v2/_page", params={"id": "not-a-page"}, headers=KEY)
    assert gone.status_code == 410 and gone.json()["resourceType"] == "OperationOutcome"


async def test_result_parameters(client):
    """advanced/modifying-search-results.md: _total, _elements (meta.tag SUBSETTED), and _summary=count."""
    assert "total" not in await search(client, "Practitioner", _total="none")
    assert (await search(client, "Practitioner", _total="accurate"))["total"] == 14
    counted = await search(client, "Practitioner", _summary="count")
    assert counted["total"] == 14 and counted["entry"] == []
    subset = await search(client, "Practitioner", identifier="10001766123,10001000016", _elements="name")
    resource = subset["entry"][0]["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "identifier", "active", "name"}
    assert resource["meta"]["tag"][0]["code"] == "SUBSETTED"
    zero = await search(client, "Practitioner", _count="0")
    assert zero["total"] == 14 and zero["entry"] == []


@pytest.mark.parametrize(("kind", "params"), [
    ("Practitioner", {"family": "font"}),
    ("Practitioner", {"qualification-code": "SM54", "_revinclude": "PractitionerRole:practitioner"}),
    ("PractitionerRole", {"role": f"{R23}|S", "_include": "*"}),
    ("Organization", {"type": f"{R66}|159,{R66}|101", "identifier": f"{FINESS}|"}),
    ("Organization", {"name:contains": "centre", "_count": "1"}),
])
async def test_post_search_equals_get(client, kind, params):
    """POST [type]/_search with a form body (api-basics.md; uc-segur.md uses curl -X POST … -d)."""
    get = await search(client, kind, **params)
    response = await client.post(f"/fhir/v2/{kind}/_search", data=params, headers=KEY)
    assert response.status_code == 200, response.text
    post = response.json()
    assert [e["fullUrl"] for e in post["entry"]] == [e["fullUrl"] for e in get["entry"]]
    assert post["total"] == get["total"]
    split = await client.post(f"/fhir/v2/{kind}/_search?{next(iter(params))}={next(iter(params.values()))}",
                              data=dict(list(params.items())[1:]), headers=KEY)
    assert [e["fullUrl"] for e in split.json()["entry"]] == [e["fullUrl"] for e in get["entry"]]


async def test_post_search_needs_a_form_body(client):
    response = await client.post("/fhir/v2/Practitioner/_search", content=b'{"family": "x"}',
                                 headers={**KEY, "Content-Type": "application/json"})
    assert response.status_code == 415 and response.json()["resourceType"] == "OperationOutcome"
    empty = await client.post("/fhir/v2/Practitioner/_search", headers=KEY)
    assert empty.status_code == 200 and empty.json()["total"] == 14


async def test_ignored_parameters_are_left_out_of_the_self_link(client, settings):
    bundle = await search(client, "Practitioner", _pretty="true", _format="json", family="", given="claire")
    assert keys(bundle) == [DOCTOR_SNI]
    assert [link["url"] for link in bundle["link"] if link["relation"] == "self"] == [
        f"{settings.public_base_url}/fhir/v2/Practitioner?given=claire"]


@pytest.mark.parametrize(("kind", "params", "status", "rule"), [
    ("Practitioner", {"foo": "bar"}, 400, "ANN:search.parameter"),
    ("Practitioner", {"mailbox-mss-type": "PER"}, 400, "ANN:search.parameter"),
    ("Practitioner", {"role": "FON-01"}, 400, "ANN:search.parameter"),
    ("Organization", {"family": "x"}, 400, "ANN:search.parameter"),
    ("Organization", {"_sort": "name"}, 400, "ANN:search.parameter"),
    ("Practitioner", {"family:text": "x"}, 400, "ANN:search.modifier"),
    ("Practitioner", {"identifier:of-type": "x"}, 400, "ANN:search.modifier"),
    ("Organization", {"type:exact": "x"}, 400, "ANN:search.modifier"),
    ("Practitioner", {"_lastUpdated": "yesterday"}, 400, "ANN:search.date"),
    ("Practitioner", {"_lastUpdated": "ge2024-13-01"}, 400, "ANN:search.date"),
    ("Practitioner", {"active": "yes"}, 400, "ANN:search.active"),
    ("Practitioner", {"family:missing": "maybe"}, 400, "ANN:search.missing"),
    ("Practitioner", {"_include": "PractitionerRole:organization"}, 400, "ANN:search.include"),
    ("Practitioner", {"_include": "*"}, 400, "ANN:search.include"),
    ("Organization", {"_revinclude": "PractitionerRole:practitioner"}, 400, "ANN:search.revinclude"),
    ("Practitioner", {"_total": "maybe"}, 400, "ANN:search.total"),
    ("Practitioner", {"_summary": "true"}, 400, "ANN:search.summary"),
    ("Practitioner", {"_count": "ten"}, 400, "ANN:search.count"),
    ("Practitioner", {"_format": "xml"}, 406, "ANN:search.format"),
])
async def test_refused_parameters(client, kind, params, status, rule):
    for response in (await client.get(f"/fhir/v2/{kind}", params=params, headers=KEY),
                     await client.post(f"/fhir/v2/{kind}/_search", data=params, headers=KEY)):
        assert response.status_code == status, response.text
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["severity"] == "error"
        assert rule in json.dumps(outcome)


WEIRD = ["\\", "|", "a|b|c", ",,,", "\\,", "ap0001", "ap9998", "ge9999", "eq0001-01-01", "9" * 400, "Organization/",
         "http://x/Organization/1", "true|true", "é", "\x7f", "ap2024-02-29T23:59:59.999999999-14:00", "sa2024-13"]


@pytest.mark.parametrize("kind", ["Practitioner", "PractitionerRole", "Organization"])
async def test_odd_values_never_break_the_search(client, kind):
    """Bad input gets a 400 OperationOutcome, never a 500 (common rules)."""
    from app.mss.annuaire.params import SEARCH_PARAMS

    for name in SEARCH_PARAMS[kind]:
        for value in WEIRD:
            response = await client.get(f"/fhir/v2/{kind}", params={name: value}, headers=KEY)
            assert response.status_code in (200, 400), (name, value, response.text)
            assert response.json()["resourceType"] in ("Bundle", "OperationOutcome")


@pytest.mark.parametrize("count", ["²", "9" * 5000, "1e3", "-1", " 5"])
async def test_annuaire_count_not_an_integer(client, count):
    response = await client.get("/fhir/v2/Practitioner", params={"_count": count},
                                headers={"ESANTE-API-KEY": "sandbox-esante-api-key"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
