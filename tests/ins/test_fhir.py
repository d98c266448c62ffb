"""The FR Core Patient of an INSi answer (app/ins/fhir.py), for every shipped person."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.patient import Patient

from app.ins import fhir, national_base, nir, search, traits

FIXTURES = national_base.builtin_fixtures()

RECORDS = [p.record(i) for i, p in enumerate(FIXTURES.persons)]


def real(rec: search.InsRecord) -> str:
    return nir.oid_for(rec.kind, "real")


@pytest.mark.parametrize("record", [r for r in RECORDS if r.ins_actif], ids=lambda r: r.nom_naissance)
def test_every_fixture_person_is_a_valid_fr_core_patient(record: search.PersonRecord) -> None:
    res = fhir.patient(record, real, date_insi="2026-11-24")
    Patient.model_validate(res)
    assert res["meta"]["profile"] == [fhir.PROFILE_PATIENT_INS]
    name = res["name"][0]
    assert name["given"] == [traits.first_prenom(record.liste_prenom)]
    assert name["extension"][0] == {"url": fhir.EXT_BIRTH_LIST, "valueString": record.liste_prenom}
    ident = res["identifier"][0]
    assert ident["value"] == record.ins_actif.ins
    assert ident["system"] == f"urn:oid:{real(record.ins_actif)}"
    assert ident["use"] == ("temp" if record.ins_actif.kind == "NIA" else "official")


def test_patient_details() -> None:
    ecetinsi = next(r for r in RECORDS if r.nom_naissance == "ECETINSI")
    res = fhir.patient(ecetinsi, lambda r: nir.oid_for(r.kind, "test"), status="QUAL", validation_mode="CN")
    assert [i["use"] for i in res["identifier"]] == ["official", "old"]
    assert res["identifier"][0]["type"]["coding"][0]["code"] == "INS-NIR-TEST"
    rel = {e["url"]: e for e in res["extension"][0]["extension"]}
    assert rel["identityStatus"]["valueCoding"]["code"] == "QUAL"
    assert rel["validationMode"]["valueCoding"]["code"] == "CN"
    place = res["extension"][1]["valueAddress"]["extension"][0]
    assert place["url"] == fhir.EXT_INSEE and place["valueCoding"]["code"] == "63220"
    old = fhir.patient(ecetinsi, real, status="QUAL", status_system="old")
    assert old["extension"][0]["extension"][0]["valueCoding"]["code"] == "VALI"
    assert old["extension"][0]["extension"][0]["valueCoding"]["system"] == fhir.CS_STATUS_OLD
    lunar = next(r for r in RECORDS if r.date_naissance == "1948-00-00")
    assert fhir.patient(lunar, real)["birthDate"] == "1948"
    corse = next(r for r in RECORDS if r.nom_naissance == "CORSE")
    assert len(fhir.patient(corse, real)["identifier"]) == 1  # the repeated active INS is not duplicated
