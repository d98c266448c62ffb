"""The shipped CI-SIS value sets load, say whether they are complete, and accept system aliases."""

import json

import pytest

from app.shared import valuesets

A03 = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"


@pytest.mark.parametrize("vs_id", ["J02", "J04", "J06", "J07", "J08", "J10", "J57", "J58", "J60", "J61", "J66"])
def test_every_value_set_loads_and_cites_its_source(vs_id):
    vs = valuesets.load(vs_id)
    assert vs.concepts and vs.source and vs.url.startswith("https://mos.esante.gouv.fr/NOS/")
    if not vs.complete:
        assert "SUBSET" in vs.note or "APPROXIMATION" in vs.note


@pytest.mark.parametrize(
    ("vs_id", "system", "code", "expected"),
    [
        ("J57", A03, "11", True),
        ("J57", "urn:oid:1.2.250.1.213.1.1.4.1", "10", True),
        ("J57", A03, "99", False),
        ("J06", A03, "99", True),
        ("J66", "http://loinc.org", "11488-4", True),
        ("J66", "http://loinc.org", "0000-0", False),
        ("J66", "http://snomed.info/sct", "11488-4", False),
        ("J58", "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N", True),
        ("J58", "urn:oid:1.2.250.1.213.1.1.4.13", "MASQUE_PS", True),
        ("J58", "urn:oid:1.2.250.1.213.1.1.4.13", "MASQUE_PT", False),
        ("J08", "urn:oid:1.2.250.1.213.1.1.4.13", "MASQUE_PT", True),
        ("J10", "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode",
         "urn:ihe:iti:xds-sd:pdf:2008", True),
        ("J10", "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
         "urn:ihe:iti:xds:2017:mimeTypeSufficient", False),
        ("J61", "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite", "SA01", True),
        ("J61", "http://snomed.info/sct", "22232009", False),
        ("J04", "https://mos.esante.gouv.fr/NOS/TRE_A01-CadreExercice/FHIR/TRE-A01-CadreExercice",
         "ETABLISSEMENT", True),
    ],
)
def test_membership(vs_id, system, code, expected):
    assert valuesets.load(vs_id).contains(system, code) is expected


def test_unknown_value_set():
    with pytest.raises(KeyError):
        valuesets.load("J99")


def test_files_are_valid_json_with_required_keys():
    for vs_id in valuesets.available():
        raw = json.loads((valuesets._DIR / f"{vs_id}.json").read_text(encoding="utf-8"))
        assert {"id", "name", "url", "oid", "source", "complete", "include"} <= raw.keys()
