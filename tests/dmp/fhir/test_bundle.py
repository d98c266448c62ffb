"""ITI-65 Bundles against the PDSm comprehensive profiles (app/dmp/fhir/bundle.py), no I/O; and one
``entry[Patient]`` in an ITI-65 Bundle over HTTP (IHE MHD 4.2.3 ``IHE.MHD.Minimal.ProvideBundle`` slice Patient
0..1, request.method GET/POST/PUT)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from app.api.errors import FhirError
from app.dmp import submission
from app.dmp.fhir import bundle as bundle_parser
from app.dmp.fhir import document_reference
from app.dmp.patch import MetadataState
from tests.dmp.builders import INS_OID, PDSM, TRE_A07, V3, docref, pdf_bytes, provide_bundle, sha1, simplified_publish
from tests.dmp.conftest import DOMINIQUE, ZOE

INS = "275126322074974"


def refused(bundle, **kwargs) -> FhirError:
    with pytest.raises(FhirError) as info:
        bundle_parser.parse_provide_bundle(bundle, **kwargs, fast=True)
    return info.value


def test_vendor_bundle_parses_into_a_submission():
    bundle = provide_bundle(INS, documents=2)
    sub = bundle_parser.parse_provide_bundle(bundle, fast=True)
    assert sub.patient == submission.PatientId("1.2.250.1.213.1.4.8", INS)
    assert sub.source_id == "urn:oid:1.2.3.4.5.6.7.8"
    assert sub.designation_type.code == "10"
    assert [k for k, _ in sub.entry_kinds] == ["submissionset", "document", "document", "binary", "binary"]
    doc = sub.documents[0]
    data = pdf_bytes()
    assert doc.data == data and doc.size == len(data) and doc.hash_b64 == sha1(data)
    assert doc.author_rpps == "10001000016" and doc.author_family == ["Fontaine"]
    assert doc.type.code == "11488-4" and doc.labels == [(V3, "N", "normal")]
    assert doc.period_start.isoformat() == "2026-06-12T09:30:00+02:00"


def test_wrong_bundle_profile_is_400():
    bundle = provide_bundle(INS)
    bundle["meta"]["profile"] = ["https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.ProvideBundle"]
    error = refused(bundle)
    assert (error.status, error.rule, error.expression) == (400, "PDSm:Bundle.meta.profile", ["Bundle.meta.profile"])


def test_versioned_profile_accepted():
    bundle = provide_bundle(INS)
    bundle["meta"]["profile"] = [PDSM + "pdsm-comprehensive-provide-document-bundle|3.1.1"]
    bundle_parser.parse_provide_bundle(bundle, fast=True)


def _drop(path):
    def mutate(bundle):
        node = docref(bundle)
        *parents, last = path
        for key in parents:
            node = node[key]
        del node[last]
    return mutate


MISSING = [
    (("author",), "PDSm:DocumentReference.author", "Bundle.entry[1].resource.author"),
    (("custodian",), "PDSm:DocumentReference.custodian", "Bundle.entry[1].resource.custodian"),
    (("date",), "PDSm:DocumentReference.date", "Bundle.entry[1].resource.date"),
    (("masterIdentifier",), "PDSm:DocumentReference.masterIdentifier", "Bundle.entry[1].resource.masterIdentifier"),
    (("securityLabel",), "PDSm:DocumentReference.securityLabel", "Bundle.entry[1].resource.securityLabel"),
    (("context", "period", "start"), "PDSm:DocumentReference.context.period.start",
     "Bundle.entry[1].resource.context.period.start"),
    (("content", 0, "attachment", "hash"), "PDSm:DocumentReference.content.attachment.hash",
     "Bundle.entry[1].resource.content[0].attachment.hash"),
    (("content", 0, "attachment", "size"), "PDSm:DocumentReference.content.attachment.size",
     "Bundle.entry[1].resource.content[0].attachment.size"),
    (("content", 0, "attachment", "title"), "PDSm:DocumentReference.content.attachment.title",
     "Bundle.entry[1].resource.content[0].attachment.title"),
    (("context", "facilityType"), "PDSm:DocumentReference.context.facilityType",
     "Bundle.entry[1].resource.context.facilityType"),
    (("content", 0, "format"), "PDSm:DocumentReference.content.format", "Bundle.entry[1].resource.content[0].format"),
]


@pytest.mark.parametrize(("path", "rule", "expression"), MISSING)
def test_each_missing_required_element_is_named(path, rule, expression):
    bundle = provide_bundle(INS)
    _drop(path)(bundle)
    error = refused(bundle)
    assert error.status == 400 and error.rule == rule and error.expression == [expression]
    assert error.details_code == "XDSRegistryMetadataError"
    assert expression.split(".")[-1].split("[")[0] in error.diagnostics


def test_hash_mismatch_names_hash_and_repository_code():
    bundle = provide_bundle(INS)
    docref(bundle)["content"][0]["attachment"]["hash"] = sha1(b"other")
    error = refused(bundle)
    assert error.rule == "PDSm:DocumentReference.content.attachment.hash"
    assert error.details_code == "XDSRepositoryMetadataError"


def test_hex_hash_gets_a_hint():
    import hashlib

    bundle = provide_bundle(INS)
    docref(bundle)["content"][0]["attachment"]["hash"] = hashlib.sha1(pdf_bytes()).hexdigest()  # noqa: S324
    error = refused(bundle)
    assert error.rule == "PDSm:DocumentReference.content.attachment.hash"
    assert "hex-encoded" in error.diagnostics


def test_size_mismatch():
    bundle = provide_bundle(INS)
    docref(bundle)["content"][0]["attachment"]["size"] = 10
    error = refused(bundle)
    assert error.rule == "PDSm:DocumentReference.content.attachment.size"
    assert "10" in error.diagnostics


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda d: d["type"]["coding"][0].update(code="99999-9"), "PDSm:type-J66"),
        (lambda d: d["category"][0]["coding"][0].update(code="99"), "PDSm:category-J57"),
        (lambda d: d["content"][0]["format"].update(system="http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/"
                                                     "formatcode", code="urn:ihe:iti:xds:2017:mimeTypeSufficient"),
         "PDSm:format-J60"),
        (lambda d: d["context"]["facilityType"]["coding"][0].update(system="http://snomed.info/sct", code="22232009"),
         "PDSm:facilityType-J61"),
        (lambda d: d["context"]["practiceSetting"]["coding"][0].update(code="NOPE"), "PDSm:practiceSetting-J04"),
        (lambda d: d["securityLabel"][0]["coding"][0].update(system=TRE_A07, code="MASQUE_PT"),
         "PDSm:securityLabel-J58"),
    ],
)
def test_value_sets_checked(mutate, rule):
    bundle = provide_bundle(INS)
    mutate(docref(bundle))
    error = refused(bundle)
    assert error.rule == rule
    bundle_parser.parse_provide_bundle(bundle, lenient=True, fast=True)  # lenient mode accepts the code


def test_tre_a07_n_accepted_and_emitted_as_v3():
    bundle = provide_bundle(INS, labels=[{"system": TRE_A07, "code": "N"},
                                          {"system": "urn:oid:1.2.250.1.213.1.1.4.13", "code": "MASQUE_PS"}])
    with pytest.raises(FhirError):  # TRE_A07#N is not in J58 strictly ...
        bundle_parser.parse_provide_bundle(bundle, fast=True)
    doc = bundle_parser.parse_provide_bundle(bundle, lenient=True, fast=True).documents[0]
    assert doc.labels[0][:2] == (V3, "N") and doc.labels[1][:2] == (TRE_A07, "MASQUE_PS")


def test_too_many_labels():
    bundle = provide_bundle(INS, labels=[{"system": V3, "code": c} for c in "NRVN"] + [
        {"system": TRE_A07, "code": "MASQUE_PS"}])
    assert refused(bundle).rule == "PDSm4DMP:confidentiality-1..4"


def test_submission_set_rules():
    bundle = provide_bundle(INS)
    bundle["entry"][0]["resource"]["extension"] = bundle["entry"][0]["resource"]["extension"][1:]
    assert refused(bundle).rule == "PDSm:SubmissionSet.designationType"
    bundle = provide_bundle(INS)
    bundle["entry"][0]["resource"]["extension"] = bundle["entry"][0]["resource"]["extension"][:1]
    assert refused(bundle).rule == "PDSm:SubmissionSet.sourceId"
    bundle = provide_bundle(INS)
    bundle["entry"].append(bundle["entry"][0] | {"fullUrl": "urn:uuid:0e0e0e0e-0000-0000-0000-000000000000"})
    assert refused(bundle).rule == "PDSm:Bundle.submissionSet-1..1"


def test_patient_mismatch_gives_xds_code():
    bundle = provide_bundle(INS)
    docref(bundle)["subject"]["reference"] = "Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|297022A02077878"
    error = refused(bundle)
    assert error.details_code == "XDSPatientIdDoesNotMatch"


def test_not_an_ins_oid():
    bundle = provide_bundle(INS)
    bundle["entry"][0]["resource"]["subject"]["reference"] = "Patient?identifier=urn:oid:1.2.3|275126322074974"
    assert refused(bundle).details_code == "XDSUnknownPatientId"


def test_duplicate_unique_id_in_bundle():
    bundle = provide_bundle(INS, documents=2, unique_id="urn:oid:1.2.3.4")
    error = refused(bundle)
    assert (error.status, error.details_code) == (409, "XDSDuplicateUniqueIdInRegistry")


def test_unresolved_urn_uuid():
    bundle = provide_bundle(INS)
    docref(bundle)["content"][0]["attachment"]["url"] = "urn:uuid:00000000-0000-0000-0000-000000000000"
    assert refused(bundle).rule == "MHD:ITI-65.reference-resolution"


def test_malformed_fhir_named_by_location():
    bundle = provide_bundle(INS)
    docref(bundle)["statuz"] = "current"
    error = refused(bundle)
    assert error.rule == "FHIR:R4-structure" and "statuz" in error.diagnostics


def test_bad_base64():
    bundle = provide_bundle(INS)
    bundle["entry"][-1]["resource"]["data"] = "***"
    assert refused(bundle).rule == "FHIR:base64Binary"


def test_replacement_bundle_with_patch_entry():
    bundle = provide_bundle(INS, replaces="old-id")
    sub = bundle_parser.parse_provide_bundle(bundle, fast=True)
    assert sub.documents[0].replaces == "old-id"
    assert [k for k, _ in sub.entry_kinds] == ["submissionset", "document", "patch", "binary"]
    state = sub.patches[0].apply(MetadataState("current", ((V3, "N", "normal"),), False))
    assert state.status == "superseded"


def test_patch_entry_without_replacement_refused():
    bundle = provide_bundle(INS, replaces="old-id")
    bundle["entry"][2]["request"]["url"] = "DocumentReference/other"
    assert refused(bundle).rule == "PDSm4DMP:TD2.1-patch"


def test_folder_not_supported():
    bundle = provide_bundle(INS)
    folder = {"fullUrl": "urn:uuid:0e0e0e0e-0000-0000-0000-000000000001",
              "resource": {"resourceType": "List", "status": "current", "mode": "working",
                           "code": {"coding": [{"system": submission.MHD_LIST_TYPES, "code": "folder"}]}},
              "request": {"method": "POST", "url": "List"}}
    bundle["entry"].append(folder)
    assert refused(bundle).status == 422


def test_simplified_publish():
    doc = document_reference.parse_simplified_publish(simplified_publish(INS), fast=True)
    assert doc.data == pdf_bytes()
    body = simplified_publish(INS)
    del body["content"][0]["attachment"]["data"]
    with pytest.raises(FhirError) as info:
        document_reference.parse_simplified_publish(body, fast=True)
    assert info.value.rule == "PDSm:ITI-105.data"


def _pdsm4dmp_td2_draft(master_identifier: str | None = None) -> dict:
    """The PDSm4DMP TD2 example Bundle (draft): no author, hash, size, custodian, ..."""
    return {
        "resourceType": "Bundle", "meta": {"profile": [PDSM + "pdsm-comprehensive-provide-document-bundle"]},
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000001", "resource": {
                "resourceType": "List", "status": "current", "mode": "working",
                "code": {"coding": [{"system": submission.MHD_LIST_TYPES, "code": "submissionset"}]},
                "subject": {"reference": f"Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|{INS}"},
                "date": "2026-06-12T10:00:00+02:00",
                "entry": [{"item": {"reference": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000002"}}]},
             "request": {"method": "POST", "url": "List"}},
            {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000002", "resource": {
                "resourceType": "DocumentReference", "status": "current",
                **({"masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": master_identifier}}
                   if master_identifier else {}),
                "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
                "subject": {"reference": f"Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|{INS}"},
                "date": "2026-06-12T10:00:00+02:00",
                "content": [{"attachment": {"contentType": "application/xml",
                                            "url": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000003",
                                            "title": "Compte rendu de consultation"}}]},
             "request": {"method": "POST", "url": "DocumentReference"}},
            {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000003", "resource": {
                "resourceType": "Binary", "contentType": "application/xml",
                "data": base64.b64encode(b"<ClinicalDocument/>").decode()},
             "request": {"method": "POST", "url": "Binary"}},
        ],
    }


def test_ans_draft_example_is_refused_naming_what_to_add():
    """The PDSm4DMP TD2 example (draft) lacks author, hash, size...: strict mode names the first gap."""
    error = refused(_pdsm4dmp_td2_draft())
    assert error.rule == "PDSm:SubmissionSet.designationType"


def test_ans_draft_example_reports_every_gap_at_once():
    """Same PDSm4DMP TD2 draft shape: every independent gap is an issue of its own, in Bundle order."""
    example = _pdsm4dmp_td2_draft("urn:oid:1.2.250.1.213.1.4.8.99999.2")
    error = refused(example)
    assert [e.rule for e in error.issues] == [
        "PDSm:SubmissionSet.designationType", "PDSm:SubmissionSet.sourceId",
        "PDSm:DocumentReference.category", "PDSm:DocumentReference.author", "PDSm:DocumentReference.custodian",
        "PDSm:DocumentReference.securityLabel", "PDSm:DocumentReference.content.attachment.size",
        "PDSm:DocumentReference.content.attachment.hash", "PDSm:DocumentReference.content.format",
        "PDSm:DocumentReference.context.period.start", "PDSm:DocumentReference.context.facilityType",
        "PDSm:DocumentReference.context.practiceSetting",
    ]
    assert all(e.french and "[profil " in e.french for e in error.issues[2:])


PATIENT_URL = "urn:uuid:0e0e0e0e-0000-0000-0000-0000000000aa"


def with_patient(ins: str, *, referenced: bool = True, method: str = "GET", patient_ins: str | None = None
                 ) -> dict[str, Any]:
    """Shape of IHE/ITI.MHD input/fsh/ex-ProvideBundles*.fsh @24c374c (a Patient entry the subjects reference),
    on the PDSm Bundle of ansforge/IG-FHIR-PDSM4DMP-EEDS Bundle-example-td2-iti65-lot-soumission.json @94d8b1d."""
    bundle = provide_bundle(ins)
    patient = {"resourceType": "Patient",
               "identifier": [{"system": f"urn:oid:{INS_OID}", "value": patient_ins or ins}]}
    url = "Patient" if method == "POST" else f"Patient?identifier=urn:oid:{INS_OID}|{patient_ins or ins}"
    bundle["entry"].append({"fullUrl": PATIENT_URL, "resource": patient, "request": {"method": method, "url": url}})
    if referenced:
        bundle["entry"][0]["resource"]["subject"] = {"reference": PATIENT_URL}
        docref(bundle)["subject"] = {"reference": PATIENT_URL}
    return bundle


async def _post(client, auth, bundle):  # type: ignore[no-untyped-def]
    return await client.post("/dmp/fhir", content=json.dumps(bundle),
                             headers={**await auth(), "Content-Type": "application/fhir+json"})


async def test_one_patient_entry_referenced_by_the_subjects_is_accepted(client, auth):  # type: ignore[no-untyped-def]
    response = await _post(client, auth, with_patient(ZOE))
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["201 Created", "201 Created", "201 Created", "200 OK"]
    assert entries[3]["response"]["location"].endswith(f"/dmp/fhir/Patient/{ZOE}")
    response = await _post(client, auth, with_patient(ZOE, referenced=False, method="POST"))
    assert response.status_code == 200, response.text


async def test_patient_entry_rules(client, auth):  # type: ignore[no-untyped-def]
    two = with_patient(ZOE)
    two["entry"].append({**two["entry"][-1], "fullUrl": "urn:uuid:0e0e0e0e-0000-0000-0000-0000000000ab"})
    issue = (await _post(client, auth, two)).json()["issue"][0]
    assert "MHD:ITI-65.Patient" in {c["code"] for c in issue["details"]["coding"]}
    other = await _post(client, auth, with_patient(ZOE, referenced=False, patient_ins=DOMINIQUE))
    assert other.status_code == 400
    assert "XDSPatientIdDoesNotMatch" in {c["code"] for c in other.json()["issue"][0]["details"]["coding"]}
    deleted = await _post(client, auth, with_patient(ZOE, method="DELETE"))
    assert deleted.status_code == 400
    assert deleted.json()["issue"][0]["expression"] == ["Bundle.entry[3].request.method"]
    no_ins = with_patient(ZOE)
    no_ins["entry"][-1]["resource"]["identifier"] = [{"system": "urn:oid:1.2.3", "value": "IPP-1"}]
    response = await _post(client, auth, no_ins)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[3].resource.identifier"]
