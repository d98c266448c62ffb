"""The Annuaire Santé FHIR API v2 stub (/fhir/v2): key, reads, mailboxes, includes, errors.

Helpers shared by tests/mss/annuaire/test_*.py live here: resources are named by their business
identifiers (IDNPS for a Practitioner, RPPS rang for a site, FINEJ for a legal entity, IDNPS@structure
for a PractitionerRole), as a vendor would, since technical ids are opaque.
"""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.practitioner import Practitioner

from app.mss.annuaire import MAILBOX_EXT
from app.mss.annuaire import routes as annuaire
from app.mss.annuaire.resources import organization_id, practitioner_id
from tests.mss.conftest import DOCTOR, DOCTOR_SNI, HOSPITAL_SNI

KEY = {"ESANTE-API-KEY": "sandbox-esante-api-key"}
HOSPITAL = "F330781029"  # CHU DE BORDEAUX - HOPITAL PELLEGRIN (FINESS 330781022, legal entity 330781014)
CABINET = "R10000000001"  # Dr Claire Fontaine's practice
PHARMACIST_SNI = "810001000040"
ALL_PRACTITIONERS = [f"8100010000{n:02d}" for n in (16, 24, 32, 40, 57, 65, 73, 81, 99)] + [
    f"810001000{n}" for n in (107, 115, 123, 131, 149)]


def pid(sni: str) -> str:
    return practitioner_id(sni)


def site_id(structure: str) -> str:
    return organization_id("site", structure)


def legal_id(finess: str) -> str:
    return organization_id("legal", finess)


async def search(client: Any, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/fhir/v2/{path}", params=params, headers=KEY)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    Bundle.model_validate(bundle)  # valid FHIR R4
    return bundle


def ident(resource: dict[str, Any], system: str) -> str | None:
    return next((i["value"] for i in resource.get("identifier", []) if i.get("system") == system), None)


def key_of(resource: dict[str, Any], directory: dict[str, str] | None = None) -> str:
    kind = resource["resourceType"]
    if kind == "Practitioner":
        return ident(resource, "urn:oid:1.2.250.1.71.4.2.1") or resource["id"]
    if kind == "Organization":
        return ident(resource, "https://rppsrang.esante.gouv.fr") or f"EJ:{ident(resource, 'https://finess.esante.gouv.fr')}"
    names = directory or {}
    who = resource["practitioner"]["reference"].split("/")[1]
    where = resource.get("organization", {}).get("reference", "/").split("/")[1]
    return f"{names.get(who, who)}@{names.get(where, where)}"


async def names(client: Any) -> dict[str, str]:
    """Technical id -> business key of every Practitioner and Organization."""
    out = {}
    for kind in ("Practitioner", "Organization"):
        for e in (await search(client, kind, _count=1000))["entry"]:
            out[e["resource"]["id"]] = key_of(e["resource"])
    return out


def keys(bundle: dict[str, Any], mode: str = "match", directory: dict[str, str] | None = None) -> list[str]:
    return sorted(key_of(e["resource"], directory) for e in bundle["entry"] if e["search"]["mode"] == mode)


def ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == mode]


async def test_api_key_required(client):
    for path in ("Practitioner", "metadata", f"Practitioner/{pid(DOCTOR_SNI)}"):
        response = await client.get(f"/fhir/v2/{path}")
        assert response.status_code == 401, path
        assert response.json()["resourceType"] == "OperationOutcome"
        wrong = await client.get(f"/fhir/v2/{path}", headers={"ESANTE-API-KEY": "nope"})
        assert wrong.status_code == 401


async def test_practitioner_by_identifier_with_mailbox_extension(client):
    bundle = await search(client, "Practitioner", identifier=f"urn:oid:1.2.250.1.71.4.2.1|{DOCTOR_SNI}")
    assert ids(bundle) == [pid(DOCTOR_SNI)]
    resource = bundle["entry"][0]["resource"]
    Practitioner.model_validate(resource)
    telecom = {t["value"]: t for t in resource["telecom"]}
    assert DOCTOR in telecom and "cabinet.fontaine@medecin.mssante.fr" in telecom
    meta = next(e for e in telecom[DOCTOR]["extension"] if e["url"] == MAILBOX_EXT)
    types = [x["valueCodeableConcept"]["coding"][0]["code"] for x in meta["extension"] if x["url"] == "type"]
    assert types == ["PER"]
    assert ids(await search(client, "Practitioner", identifier=DOCTOR_SNI)) == [pid(DOCTOR_SNI)]


async def test_organization_with_org_and_app_mailboxes_and_revinclude(client):
    directory = await names(client)
    bundle = await search(client, "Organization", identifier="https://finess.esante.gouv.fr|330781022",
                          _revinclude="PractitionerRole:organization")
    assert keys(bundle) == [HOSPITAL]
    org = bundle["entry"][0]["resource"]
    assert {t["value"] for t in org["telecom"] if t["system"] == "email"} == {
        "secretariat.cardiologie@hopital-a.mssante.fr", "dpi@hopital-a.mssante.fr"}
    assert keys(bundle, "include", directory) == [f"810001000032@{HOSPITAL}", f"810001000149@{HOSPITAL}"]
    http_form = await search(client, "Organization", identifier="http://finess.esante.gouv.fr|330781022")
    assert keys(http_form) == [HOSPITAL]


async def test_practitioner_role_include(client):
    directory = await names(client)
    bundle = await search(client, "PractitionerRole", practitioner=f"Practitioner/{pid(DOCTOR_SNI)}",
                          _include=["PractitionerRole:practitioner", "PractitionerRole:organization"])
    assert keys(bundle, directory=directory) == [f"{DOCTOR_SNI}@{CABINET}"]
    assert keys(bundle, "include") == sorted([DOCTOR_SNI, CABINET])
    star = await search(client, "PractitionerRole", practitioner=pid(DOCTOR_SNI), _include="*")
    assert keys(star, "include") == sorted([DOCTOR_SNI, CABINET])


async def test_practitioner_revinclude(client):
    bundle = await search(client, "Practitioner", _id=pid("810001000115"), _revinclude="PractitionerRole:practitioner")
    assert len(ids(bundle, "include")) == 3  # three activities


async def test_organization_partof_include_and_revinclude(client):
    """Sites are partOf their FINESS legal entity (IG AsOrganizationProfile.fsh, partOf; organization.md
    _include=Organization:partof; modifying-search-results.md _revinclude=Organization:partof)."""
    bundle = await search(client, "Organization", identifier="330781022", _include="Organization:partof")
    assert keys(bundle) == [HOSPITAL] and keys(bundle, "include") == ["EJ:330781014"]
    rev = await search(client, "Organization", identifier="330781014", _revinclude="Organization:partof")
    assert keys(rev) == ["EJ:330781014"] and keys(rev, "include") == [HOSPITAL]
    none = await search(client, "Organization", identifier="330781014", _revinclude="Device:organization")
    assert keys(none) == ["EJ:330781014"] and keys(none, "include") == []


async def test_read_and_not_found(client):
    response = await client.get(f"/fhir/v2/Practitioner/{pid(DOCTOR_SNI)}", headers=KEY)
    assert response.status_code == 200 and response.json()["id"] == pid(DOCTOR_SNI)
    site = await client.get(f"/fhir/v2/Organization/{site_id(HOSPITAL)}", headers=KEY)
    assert site.status_code == 200 and key_of(site.json()) == HOSPITAL
    missing = await client.get("/fhir/v2/Organization/nope", headers=KEY)
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"


async def test_unknown_resource_type_answers_as_documented(client):
    """Shape of the failure answer of ansforge/annuaire-sante-fhir-documentation
    docs/pages/guide/version-2/getting-started/api-basics.md @9f3d7d0 (HAPI-0302)."""
    response = await client.get("/fhir/v2/PractitiXXXner", headers=KEY)
    assert response.status_code == 404
    issue = response.json()["issue"][0]
    assert issue["severity"] == "error" and issue["code"] == "processing"
    assert issue["diagnostics"].startswith("HAPI-0302: Unknown resource type 'PractitiXXXner'")


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "Practitioner"), ("PUT", "Practitioner/x"), ("DELETE", "Organization/x"), ("PATCH", "PractitionerRole/x"),
])
async def test_only_search_and_read(client, method, path):
    """api-basics.md: GET and POST …/_search; PUT and DELETE are forbidden."""
    response = await client.request(method, f"/fhir/v2/{path}", headers=KEY)
    assert response.status_code == 405, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_unsupported_parameter_refused(client):
    response = await client.get("/fhir/v2/Practitioner", params={"mailbox-mss-type": "PER"}, headers=KEY)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "processing"
    assert 'Unknown search parameter "mailbox-mss-type"' in outcome["issue"][0]["diagnostics"]


async def test_patients_not_published(client):
    bundle = await search(client, "Practitioner", **{"mailbox-mss:contains": "patient.mssante.fr"})
    assert bundle["total"] == 0


async def test_hospital_doctor_role_carries_the_per_mailbox(client):
    directory = await names(client)
    bundle = await search(client, "PractitionerRole", **{"mailbox-mss": "sophie.bernard@hopital-a.mssante.fr"})
    assert keys(bundle, directory=directory) == [f"{HOSPITAL_SNI}@{HOSPITAL}"]


async def test_annuaire_key_compared_in_constant_time(client, monkeypatch):
    calls = []
    real = annuaire.hmac.compare_digest

    def compare(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(annuaire.hmac, "compare_digest", compare)
    wrong = await client.get("/fhir/v2/Practitioner", headers={"ESANTE-API-KEY": "sandbox-esante-api-kez"})
    assert wrong.status_code == 401
    missing = await client.get("/fhir/v2/Practitioner")
    assert missing.status_code == 401
    right = await client.get("/fhir/v2/Practitioner", headers={"ESANTE-API-KEY": "sandbox-esante-api-key"})
    assert right.status_code == 200
    assert len(calls) == 3
