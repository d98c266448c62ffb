"""ITI-41's SubmitObjectsRequest read into the domain's Submission, without I/O (app/dmp/soap/ebrim_in.py,
ebrim_rim.py): the MHD DocumentEntry / SubmissionSet mapping the FHIR face stores and renders, the DTM / CX /
XCN types, the DMP's value sets, and every independent refusal at once with its XDS code. Requests in the
shapes of tests/dmp/soap/ebrim_builders.py (ehealthsuisse/EPR-by-example samples/ITI-41_request_raw.xml
@03b844f; Mediboard's DMP client)."""

from __future__ import annotations

import pytest
from lxml import etree

from app.dmp.exceptions import DmpError
from app.dmp.soap import namespaces as ns
from app.dmp.soap.call import SoapRequest
from app.dmp.soap.ebrim_in import read_provide_and_register
from app.dmp.soap.ebrim_rim import parse_cx, parse_dtm, read_objects, xcn_practitioner, xon_organization
from app.dmp.submission import sha1_b64
from tests.dmp.soap.ebrim_builders import Doc, association, classification, provide_and_register

A03 = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
A07 = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument"
V3 = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"


def read(payload: str, *, lenient: bool = False):  # type: ignore[no-untyped-def]
    request = SoapRequest(action=ns.ACTION_ITI41, message_id="urn:uuid:1", to=None, reply_to=None,
                          header=etree.Element("Header"), payload=etree.fromstring(payload.encode()), security=None)
    return read_provide_and_register(request, lenient=lenient)


def refusals(payload: str) -> list[DmpError]:
    with pytest.raises(DmpError) as caught:
        read(payload)
    return caught.value.errors


@pytest.mark.parametrize(("dtm", "fhir"), [
    ("2026", "2026"), ("202606", "2026-06"), ("20260612", "2026-06-12"), ("2026061208", "2026-06-12T08:00:00Z"),
    ("202606120830", "2026-06-12T08:30:00Z"), ("20260612083015", "2026-06-12T08:30:15Z")])
def test_dtm_keeps_its_precision_in_utc(dtm: str, fhir: str) -> None:
    """ITI TF-3 Table 4.2.3.1.7-2: DTM YYYY[MM[DD[hh[mm[ss]]]]], UTC."""
    assert parse_dtm(dtm, element="x")[1] == fhir


@pytest.mark.parametrize("bad", ["2026-06-12", "20261301", "2026061", "", "20260612T0830"])
def test_dtm_refused(bad: str) -> None:
    with pytest.raises(DmpError) as caught:
        parse_dtm(bad, element="ExtrinsicObject[d].creationTime")
    assert caught.value.rule == "XDS:DTM" and caught.value.xds_code == "XDSRegistryMetadataError"


def test_cx_is_the_ins() -> None:
    patient = parse_cx("275126322074974^^^&1.2.250.1.213.1.4.8&ISO^NH", element="x")
    assert (patient.oid, patient.ins) == ("1.2.250.1.213.1.4.8", "275126322074974")
    for bad in ("275126322074974^^^&1.2.3&ISO^NH", "275126322074974", "12^^^&1.2.250.1.213.1.4.8&ISO"):
        with pytest.raises(DmpError) as caught:
            parse_cx(bad, element="x")
        assert caught.value.xds_code == "XDSUnknownPatientId"


def test_xcn_and_xon() -> None:
    practitioner, rpps = xcn_practitioner("810001000016^FONTAINE^Claire^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS", "p")
    assert rpps == "10001000016"
    assert practitioner["identifier"] == [{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810001000016"}]
    assert practitioner["name"] == [{"family": "FONTAINE", "given": ["Claire"]}]
    organization = xon_organization("Cabinet^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^31SANDBOX0001", "o")
    assert organization["identifier"] == [{"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "31SANDBOX0001"}]


def test_the_mhd_mapping_of_a_document_entry() -> None:
    doc = Doc(data=b"%PDF-1.4 x", stop="20260612", confidentiality=(("N", "2.16.840.1.113883.5.25"),
                                                                     ("MASQUE_PS", "1.2.250.1.213.1.1.4.13")))
    submission = read(provide_and_register(doc))
    (entry,) = submission.documents
    assert entry.unique_id == f"urn:oid:{doc.unique_id}" and entry.hash_b64 == sha1_b64(doc.data)
    assert (entry.type.system, entry.category.system) == ("http://loinc.org", A03)
    assert entry.labels == [(V3, "N", "N"), (A07, "MASQUE_PS", "MASQUE_PS")]  # display: the Name sent
    assert entry.author_rpps == "10001000016" and entry.author_family == ["FONTAINE"]
    resource = entry.resource
    assert resource["masterIdentifier"] == {"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{doc.unique_id}"}
    assert resource["subject"] == {"reference": "Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|275126322074974"}
    assert resource["date"] == "2026-06-12T08:00:00Z"
    assert resource["context"]["period"] == {"start": "2026-06-12T07:30:00Z", "end": "2026-06-12"}
    assert resource["content"][0]["attachment"] == {
        "contentType": "application/pdf", "language": "fr-FR", "size": len(doc.data), "hash": sha1_b64(doc.data),
        "title": "CR de consultation", "creation": "2026-06-12T08:00:00Z"}
    assert resource["content"][0]["format"]["system"].endswith("TRE-A11-IheFormatCode")
    contained = {c["id"]: c for c in resource["contained"]}
    assert contained["patient-source"]["birthDate"] == "1975-12-31"
    assert contained["author0"]["specialty"][0]["coding"][0]["code"] == "SM54"
    assert contained["author0"]["telecom"] == [{"system": "email", "value": "claire.fontaine@sandbox.mssante.fr"}]
    assert resource["authenticator"] == {"reference": "#legal-authenticator"}


def test_the_submission_set_as_a_list() -> None:
    submission = read(provide_and_register(Doc()))
    assert submission.source_id == "urn:oid:1.2.250.1.213.1.4.8.99999.1"
    assert submission.designation_type.code == "04" and submission.title == "Lot de soumission"
    ss = submission.submission_set
    assert ss["code"]["coding"][0]["code"] == "submissionset" and ss["date"] == "2026-06-12T08:05:00Z"
    assert ss["entry"] == [{"item": {"reference": submission.documents[0].full_url}}]


def test_rplc_names_the_replaced_entry() -> None:
    doc = Doc()
    submission = read(provide_and_register(doc, replaces={doc.id: "3f2a0c4e-1111-4aaa-8bbb-0123456789ab"}))
    assert submission.documents[0].replaces == "3f2a0c4e-1111-4aaa-8bbb-0123456789ab"
    assert submission.documents[0].resource["relatesTo"][0]["target"]["reference"].endswith("0123456789ab")


def test_every_independent_refusal_at_once() -> None:
    no_class = Doc(class_code="99", creation=None, hash="0" * 40, unique_id="not-an-oid")
    errors = refusals(provide_and_register(no_class))
    rules = {e.rule for e in errors}
    assert {"XDS:category-J57", "XDS:metadata", "XDS:DocumentEntry.uniqueId"} <= rules, rules
    assert {e.xds_code for e in errors} == {"XDSRegistryMetadataError", "XDSRepositoryMetadataError"}
    assert any("creationTime" in e.english for e in errors)


def test_lenient_accepts_codes_outside_the_value_sets() -> None:
    assert read(provide_and_register(Doc(class_code="99")), lenient=True).documents[0].category.code == "99"


def test_repository_metadata_and_missing_document() -> None:
    errors = refusals(provide_and_register(Doc(hash="0" * 40), Doc(size="1"), Doc(with_bytes=False)))
    assert sorted(str(e.xds_code) for e in errors) == ["XDSMissingDocument", "XDSRepositoryMetadataError",
                                                        "XDSRepositoryMetadataError"]


def test_an_mtom_include_without_its_part() -> None:
    errors = refusals(provide_and_register(Doc(mtom=True)))
    assert [e.xds_code for e in errors] == ["XDSMissingDocument"]


def test_confidentiality_one_to_four() -> None:
    five = tuple(("N", "2.16.840.1.113883.5.25") for _ in range(5))
    assert "PDSm4DMP:confidentiality-1..4" in {e.rule for e in refusals(provide_and_register(Doc(
        confidentiality=five)))}
    assert "XDS:metadata" in {e.rule for e in refusals(provide_and_register(Doc(confidentiality=())))}


def test_structure_refusals() -> None:
    doc = Doc()
    no_member = refusals(provide_and_register(doc, members=False))
    assert [e.rule for e in no_member] == ["XDS:SubmissionSet-HasMember"]
    xfrm = refusals(provide_and_register(doc, extra=association(doc.id, "urn:uuid:x", ns.ASSOC_XFRM)))
    assert [e.rule for e in xfrm] == ["XDS:associationType"]
    folder = ('<rim:RegistryPackage id="Folder01"/>'
              + f'<rim:Classification classificationNode="{ns.NODE_FOLDER}" classifiedObject="Folder01" id="f"/>')
    assert [e.rule for e in refusals(provide_and_register(doc, extra=folder))] == ["XDS:Folder"]
    on_demand = provide_and_register(doc).replace(ns.OBJECT_TYPE_STABLE_DOCUMENT, ns.OBJECT_TYPE_ON_DEMAND_DOCUMENT)
    assert [e.rule for e in refusals(on_demand)] == ["XDS:DocumentEntry.objectType"]
    two_class = classification(ns.SCHEME_DOC_CLASS, doc.id, "10", "1.2.250.1.213.1.1.4.1")
    assert "XDS:metadata" in {e.rule for e in refusals(provide_and_register(doc, extra=two_class))}


def test_what_the_store_cannot_hold() -> None:
    errors = refusals(provide_and_register(Doc(title="x" * 600)))
    assert [e.rule for e in errors] == ["DMP:element-length"] and "title" in errors[0].english


def test_top_level_and_nested_classifications_join_their_object() -> None:
    objects = read_objects(etree.fromstring(provide_and_register(Doc()).encode())[0])
    (entry,) = objects.extrinsics
    assert len(entry.coded(ns.SCHEME_DOC_CLASS)) == 1 and entry.identifiers[ns.IDENT_DOC_UNIQUE]
    assert objects.node_classified == {"SubmissionSet01"}
