"""The Annuaire Santé FHIR stub (/fhir/v2)."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.practitioner import Practitioner

from app.mss.annuaire import MAILBOX_EXT
from tests.mss.conftest import DOCTOR, DOCTOR_SNI

KEY = {"ESANTE-API-KEY": "sandbox-esante-api-key"}


async def search(client, path, **params):
    response = await client.get(f"/fhir/v2/{path}", params=params, headers=KEY)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    Bundle.model_validate(bundle)  # valid FHIR R4
    return bundle


def ids(bundle, mode="match"):
    return [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == mode]


async def test_api_key_required(client):
    response = await client.get("/fhir/v2/Practitioner")
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    wrong = await client.get("/fhir/v2/Practitioner", headers={"ESANTE-API-KEY": "nope"})
    assert wrong.status_code == 401


async def test_practitioner_by_identifier_with_mailbox_extension(client):
    bundle = await search(client, "Practitioner", identifier=f"urn:oid:1.2.250.1.71.4.2.1|{DOCTOR_SNI}")
    assert ids(bundle) == [DOCTOR_SNI]
    resource = bundle["entry"][0]["resource"]
    Practitioner.model_validate(resource)
    telecom = {t["value"]: t for t in resource["telecom"]}
    assert DOCTOR in telecom and "cabinet.fontaine@medecin.mssante.fr" in telecom
    meta = next(e for e in telecom[DOCTOR]["extension"] if e["url"] == MAILBOX_EXT)
    types = [x["valueCodeableConcept"]["coding"][0]["code"] for x in meta["extension"] if x["url"] == "type"]
    assert types == ["PER"]
    assert ids(await search(client, "Practitioner", identifier=DOCTOR_SNI)) == [DOCTOR_SNI]


@pytest.mark.parametrize(("params", "expected"), [
    ({"family": "font"}, [DOCTOR_SNI]),
    ({"family:exact": "Fontaine"}, [DOCTOR_SNI]),
    ({"family:exact": "font"}, []),
    ({"given": "claire"}, [DOCTOR_SNI]),
    ({"name": "FONTAINE"}, [DOCTOR_SNI]),
    ({"name:contains": "ntai"}, [DOCTOR_SNI]),
    ({"mailbox-mss": DOCTOR}, [DOCTOR_SNI]),
    ({"mailbox-mss:exact": DOCTOR}, [DOCTOR_SNI]),
    ({"mailbox-mss:exact": "claire.fontaine@medecin"}, []),
])
async def test_practitioner_searches(client, params, expected):
    assert ids(await search(client, "Practitioner", **params)) == expected


async def test_mailbox_contains_domain(client):
    bundle = await search(client, "Practitioner", **{"mailbox-mss:contains": "@hopital-a.mssante.fr"})
    assert "810001000032" in ids(bundle) and DOCTOR_SNI not in ids(bundle)


async def test_organization_with_org_and_app_mailboxes_and_revinclude(client):
    bundle = await search(client, "Organization", identifier="https://finess.esante.gouv.fr|330781022",
                          _revinclude="PractitionerRole:organization")
    assert ids(bundle) == ["F330781029"]
    org = bundle["entry"][0]["resource"]
    assert {t["value"] for t in org["telecom"]} == {"secretariat.cardiologie@hopital-a.mssante.fr",
                                                     "dpi@hopital-a.mssante.fr"}
    roles = ids(bundle, "include")
    assert "810001000032-F330781029" in roles and "810001000149-F330781029" in roles
    http_form = await search(client, "Organization", identifier="http://finess.esante.gouv.fr|330781022")
    assert ids(http_form) == ["F330781029"]


async def test_practitioner_role_include(client):
    bundle = await search(client, "PractitionerRole", practitioner=f"Practitioner/{DOCTOR_SNI}",
                          _include=["PractitionerRole:practitioner", "PractitionerRole:organization"])
    assert ids(bundle) == [f"{DOCTOR_SNI}-R10000000001"]
    assert sorted(ids(bundle, "include")) == sorted([DOCTOR_SNI, "R10000000001"])


async def test_practitioner_revinclude(client):
    bundle = await search(client, "Practitioner", _id="810001000115", _revinclude="PractitionerRole:practitioner")
    assert len(ids(bundle, "include")) == 3  # three activities


async def test_read_and_not_found(client):
    response = await client.get(f"/fhir/v2/Practitioner/{DOCTOR_SNI}", headers=KEY)
    assert response.status_code == 200 and response.json()["id"] == DOCTOR_SNI
    missing = await client.get("/fhir/v2/Organization/nope", headers=KEY)
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"


async def test_unsupported_parameter_refused(client):
    response = await client.get("/fhir/v2/Practitioner", params={"mailbox-mss-type": "PER"}, headers=KEY)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_patients_not_published(client):
    bundle = await search(client, "Practitioner", **{"mailbox-mss:contains": "patient.mssante.fr"})
    assert bundle["total"] == 0
