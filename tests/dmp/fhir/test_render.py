"""TD02 (``GET /dmp/fhir/Patient?identifier=`` and the read), in the shape of the PDSm4DMP example.

Shape of ansforge/IG-FHIR-PDSM4DMP-EEDS input/pagecontent/transaction_td02.md ("Exemple FHIR",
"Réponse (DMP fermé)") @94d8b1d15a3dd37565cb4e1ae5e3cf0fca47a7ab: a searchset of one Patient with
``meta.profile`` = FR Core Patient, ``extension`` dmp-fermeture (dateFermeture valueDate, motifFermeture
valueCodeableConcept, raisonFermeture valueString) and dmp-rattachement-mes (valueBoolean),
``identifier`` {use official, system urn:oid:1.2.250.1.213.1.4.8, value}, ``active``, ``name`` with
``use``/``family``/``given``, ``gender``, ``birthDate``. The identifier ``type`` per INS kind follows FR Core
(fr-core-cs-v2-0203, reference/ins.md §2.3). The traits are the INS person's (app/ins/fixtures/persons.json).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient

from app.dmp.fhir.render import birth_date
from tests.dmp.conftest import FONTAINE, LEFEVRE, ZOE

DMP_EXT = "https://interop.esante.gouv.fr/ig/fhir/dmp/StructureDefinition/"
AUTHORISATION_EXT = "https://segur-sandbox.example/fhir/StructureDefinition/dmp-autorisation-acces"
V2_0203 = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
TRAORE = "187079933552313"  # TRAORE MAMADOU, an INS-NIA (OID .9) of the INS fixtures


async def td02(client, auth, system: str, ins: str, subject: str = FONTAINE) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await client.get("/dmp/fhir/Patient", params={"identifier": f"{system}|{ins}"},
                                headers=await auth(subject))
    assert response.status_code == 200, response.text
    bundle = response.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset" and bundle["total"] == len(bundle.get("entry", []))
    return bundle


def extension(resource: dict[str, Any], url: str) -> dict[str, Any]:
    return next(e for e in resource["extension"] if e["url"] == url)


async def test_a_nir_patient_in_the_example_shape(client, auth) -> None:  # type: ignore[no-untyped-def]
    bundle = await td02(client, auth, "urn:oid:1.2.250.1.213.1.4.8", ZOE)
    assert bundle["total"] == 1
    patient = bundle["entry"][0]["resource"]
    Patient.model_validate(patient)
    assert patient["resourceType"] == "Patient" and patient["id"] == ZOE
    assert patient["meta"]["profile"] == ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"]
    assert patient["identifier"] == [{
        "use": "official", "type": {"coding": [{"system": V2_0203, "code": "INS-NIR"}]},
        "system": "urn:oid:1.2.250.1.213.1.4.8", "value": ZOE}]
    assert patient["active"] is True
    assert patient["name"] == [{"use": "official", "family": "ADRUN", "given": ["ZOE"]}]
    assert patient["gender"] == "female" and patient["birthDate"] == "1975-12-31"
    assert extension(patient, DMP_EXT + "dmp-rattachement-mes") == {
        "url": DMP_EXT + "dmp-rattachement-mes", "valueBoolean": True}
    assert extension(patient, AUTHORISATION_EXT)["valueCode"] == "VALIDE"
    assert not any(e["url"] == DMP_EXT + "dmp-fermeture" for e in patient["extension"])
    # the read gives the same resource
    read = await client.get(f"/dmp/fhir/Patient/{ZOE}", headers=await auth())
    assert read.status_code == 200 and read.json() == patient


async def test_a_nia_patient_carries_the_nia_identifier(client, auth) -> None:  # type: ignore[no-untyped-def]
    bundle = await td02(client, auth, "urn:oid:1.2.250.1.213.1.4.9", TRAORE)
    assert bundle["total"] == 1
    patient = bundle["entry"][0]["resource"]
    Patient.model_validate(patient)
    assert patient["identifier"] == [{
        "use": "temp", "type": {"coding": [{"system": V2_0203, "code": "INS-NIA"}]},
        "system": "urn:oid:1.2.250.1.213.1.4.9", "value": TRAORE}]
    assert patient["name"] == [{"use": "official", "family": "TRAORE", "given": ["MAMADOU"]}]
    assert patient["gender"] == "male" and patient["birthDate"] == "1987-07-07"


async def test_a_closed_dmp_in_the_example_shape(client, auth) -> None:  # type: ignore[no-untyped-def]
    closed = await client.post(f"/sandbox/v1/dmps/{ZOE}/close", json={
        "motifFermeture": "patient-demande", "raisonFermeture": "Demande explicite du patient"})
    assert closed.status_code == 200, closed.text
    patient = (await td02(client, auth, "urn:oid:1.2.250.1.213.1.4.8", ZOE))["entry"][0]["resource"]
    Patient.model_validate(patient)
    assert patient["active"] is False
    closure = extension(patient, DMP_EXT + "dmp-fermeture")["extension"]
    assert [e["url"] for e in closure] == ["dateFermeture", "motifFermeture", "raisonFermeture"]
    assert len(closure[0]["valueDate"]) == 10 and "valueDateTime" not in closure[0]
    assert closure[1]["valueCodeableConcept"] == {"coding": [{
        "system": "https://interop.esante.gouv.fr/ig/fhir/dmp/CodeSystem/dmp-motif-fermeture",
        "code": "patient-demande"}]}
    assert closure[2] == {"url": "raisonFermeture", "valueString": "Demande explicite du patient"}


async def test_a_blocked_professional_reads_interdit_on_search_and_read(client, auth) -> None:  # type: ignore[no-untyped-def]
    blocked = await client.put(f"/sandbox/v1/dmps/{ZOE}/blocked-professionals/{LEFEVRE[1:]}")
    assert blocked.status_code == 200, blocked.text
    searched = (await td02(client, auth, "urn:oid:1.2.250.1.213.1.4.8", ZOE, LEFEVRE))["entry"][0]["resource"]
    assert extension(searched, AUTHORISATION_EXT)["valueCode"] == "INTERDIT"
    read = (await client.get(f"/dmp/fhir/Patient/{ZOE}", headers=await auth(LEFEVRE))).json()
    assert extension(read, AUTHORISATION_EXT)["valueCode"] == "INTERDIT"


async def test_no_dmp_is_an_empty_searchset(client, auth) -> None:  # type: ignore[no-untyped-def]
    assert (await td02(client, auth, "urn:oid:1.2.250.1.213.1.4.8", "199999999999999"))["total"] == 0


def test_lunar_birth_dates_keep_the_precision_known() -> None:
    """INSi DateLunaire: 00 for an unknown day or month (reference/ins.md §3.3); FHIR has partial dates."""
    assert birth_date("1975-12-31") == "1975-12-31"
    assert birth_date("1950-05-00") == "1950-05"
    assert birth_date("1948-00-00") == "1948"
    assert birth_date("0000-00-00") is None
