"""Stored documents as ebRIM (pure): every DocumentEntry attribute of ITI TF-3 §4.2.3.2 mapped back from the stored
MHD DocumentReference, in the shape of ehealthsuisse ``samples/ITI-18_response.xml`` (commit 070b249a) and with the
codingScheme OIDs the ANS DRIMbox writes (``DocumentEntry.java``, commit 4ae559df)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree

from app.dmp import jsonio
from app.dmp.models import DmpDocument, DmpRecord, DmpSubmissionSet
from app.dmp.rows import label_flags
from app.dmp.soap import ebrim_out
from app.dmp.soap import namespaces as ns
from tests.dmp import builders

RIM = f"{{{ns.NS_RIM}}}"
INS = "275126322074974"
REPOSITORY = "1.2.250.1.213.1.4.2.999.1"
V3 = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
A07 = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument"


def record() -> DmpRecord:
    return DmpRecord(id=1, ins=INS, ins_oid="1.2.250.1.213.1.4.8")


def stored(resource: dict[str, Any] | None = None, **columns: Any) -> DmpDocument:
    data = builders.pdf_bytes()
    res = resource or builders.document_reference(INS, rpps="10001000016", binary_url="urn:uuid:b", data=data,
                                                  unique_id="urn:oid:1.2.250.1.213.1.4.8.99999.42")
    labels = columns.pop("labels", [[V3, "N", "normal"]])
    values: dict[str, Any] = {
        "id": str(uuid.UUID(int=7)), "dmp_id": 1, "submission_set_id": str(uuid.UUID(int=9)), "binary_id": "b",
        "unique_id": res["masterIdentifier"]["value"], "version_id": 1, "availability": "Approved",
        "is_archived": False, **label_flags(labels), "author_rpps": "10001000016", "author_given": " claire ",
        "author_family": " fontaine ", "content_type": "application/pdf", "size": len(data),
        "hash_b64": builders.sha1(data), "title": "CR de consultation",
        "date": datetime(2026, 6, 12, 8, tzinfo=UTC), "period_start": datetime(2026, 6, 12, 7, 30, tzinfo=UTC),
        "period_end": None, "replaces_id": None, "replaced_by_id": None, "resource": jsonio.dumps_text(res),
    }
    values.update(columns)
    doc = DmpDocument(**values)
    doc.labels = labels
    return doc


def slots(element: etree._Element) -> dict[str, list[str]]:
    return {s.get("name"): [v.text for v in s.iter(RIM + "Value")] for s in element.findall(RIM + "Slot")}


def classified(element: etree._Element, scheme: str) -> list[etree._Element]:
    return [c for c in element.findall(RIM + "Classification") if c.get("classificationScheme") == scheme]


def external(element: etree._Element, scheme: str) -> str:
    found = [e for e in element.findall(RIM + "ExternalIdentifier") if e.get("identificationScheme") == scheme]
    assert len(found) == 1
    return found[0].get("value") or ""


def test_the_extrinsic_object_attributes() -> None:
    eo = ebrim_out.document_entry(stored(), record(), repository_unique_id=REPOSITORY)
    entry = f"urn:uuid:{uuid.UUID(int=7)}"
    assert eo.tag == RIM + "ExtrinsicObject"
    assert (eo.get("id"), eo.get("lid")) == (entry, entry)
    assert eo.get("objectType") == ns.OBJECT_TYPE_STABLE_DOCUMENT
    assert eo.get("mimeType") == "application/pdf"
    assert eo.get("status") == ns.STATUS_APPROVED
    assert eo.find(RIM + "VersionInfo").get("versionName") == "1"


def test_the_slots() -> None:
    doc = stored()
    found = slots(ebrim_out.document_entry(doc, record(), repository_unique_id=REPOSITORY))
    data = builders.pdf_bytes()
    assert found["creationTime"] == ["20260612080000"]  # 10:00+02:00 in UTC, ITI TF-3 §4.2.3.1.8
    assert found["serviceStartTime"] == ["20260612073000"]
    assert "serviceStopTime" not in found
    assert found["hash"] == [hashlib.sha1(data).hexdigest()]  # noqa: S324 - hex, where the store keeps base64
    assert found["size"] == [str(len(data))]
    assert found["languageCode"] == ["fr-FR"]
    assert found["repositoryUniqueId"] == [REPOSITORY]
    assert found["sourcePatientId"] == [f"{INS}^^^&1.2.250.1.213.1.4.8&ISO^NH"]
    assert found["legalAuthenticator"] == ["810001000016^Fontaine^Claire^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"]


def test_the_title_and_the_identifiers() -> None:
    eo = ebrim_out.document_entry(stored(), record(), repository_unique_id=REPOSITORY)
    assert eo.find(f"{RIM}Name/{RIM}LocalizedString").get("value") == "CR de consultation"
    assert external(eo, ns.IDENT_DOC_PATIENT) == f"{INS}^^^&1.2.250.1.213.1.4.8&ISO^NH"
    assert external(eo, ns.IDENT_DOC_UNIQUE) == "1.2.250.1.213.1.4.8.99999.42"  # MHD's urn:oid: dropped


@pytest.mark.parametrize(("scheme", "code", "coding_scheme"), [
    (ns.SCHEME_DOC_CLASS, "10", "1.2.250.1.213.1.1.4.1"),
    (ns.SCHEME_DOC_TYPE, "11488-4", "2.16.840.1.113883.6.1"),
    (ns.SCHEME_DOC_FORMAT, "urn:ihe:iti:xds-sd:pdf:2008", "1.3.6.1.4.1.19376.1.2.3"),
    (ns.SCHEME_DOC_FACILITY, "SA07", "1.2.250.1.71.4.2.4"),
    (ns.SCHEME_DOC_PRACTICE, "AMBULATOIRE", "1.2.250.1.213.1.1.4.9"),
    (ns.SCHEME_DOC_CONFIDENTIALITY, "N", "2.16.840.1.113883.5.25"),
])
def test_each_code_with_its_coding_scheme_and_display(scheme: str, code: str, coding_scheme: str) -> None:
    eo = ebrim_out.document_entry(stored(), record(), repository_unique_id=REPOSITORY)
    found = classified(eo, scheme)
    assert len(found) == 1
    assert found[0].get("nodeRepresentation") == code
    assert found[0].get("classifiedObject") == eo.get("id")
    assert slots(found[0]) == {"codingScheme": [coding_scheme]}
    assert found[0].find(f"{RIM}Name/{RIM}LocalizedString").get("value")


def test_every_confidentiality_label_and_event() -> None:
    res = builders.document_reference(INS, binary_url="u", data=b"x")
    res["context"]["event"] = [{"coding": [{"system": "urn:oid:1.2.250.1.213.2.5", "code": "YYYY001"}]},
                               {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.3", "code": "J45"}]}]
    doc = stored(res, labels=[[V3, "N", "normal"], [A07, "MASQUE_PS", "Masqué aux PS"]])
    eo = ebrim_out.document_entry(doc, record(), repository_unique_id=REPOSITORY)
    labels = {c.get("nodeRepresentation"): slots(c)["codingScheme"][0]
              for c in classified(eo, ns.SCHEME_DOC_CONFIDENTIALITY)}
    assert labels == {"N": "2.16.840.1.113883.5.25", "MASQUE_PS": "1.2.250.1.213.1.1.4.13"}
    events = {c.get("nodeRepresentation"): slots(c)["codingScheme"][0] for c in classified(eo, ns.SCHEME_DOC_EVENT)}
    assert events == {"YYYY001": "1.2.250.1.213.2.5", "J45": "2.16.840.1.113883.6.3"}


def test_the_author_sub_slots() -> None:
    eo = ebrim_out.document_entry(stored(), record(), repository_unique_id=REPOSITORY)
    (author,) = classified(eo, ns.SCHEME_DOC_AUTHOR)
    assert author.get("nodeRepresentation") == ""
    assert slots(author) == {"authorPerson": ["810001000016^Fontaine^Claire^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"]}


def test_a_practitioner_role_author() -> None:
    res = builders.document_reference(INS, binary_url="u", data=b"x")
    res["contained"] += [
        {"resourceType": "Organization", "id": "org", "name": "Cabinet Fontaine",
         "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1SANDBOX0001"}]},
        {"resourceType": "PractitionerRole", "id": "role", "practitioner": {"reference": "#practitioner-author"},
         "organization": {"reference": "#org"},
         "code": [{"coding": [{"system": "urn:oid:1.2.250.1.71.1.2.7", "code": "10", "display": "Médecin"}]}],
         "specialty": [{"coding": [{"system": "urn:oid:1.2.250.1.71.4.2.5", "code": "SM54",
                                    "display": "Médecine générale"}]}]},
    ]
    res["author"] = [{"reference": "#role"}]
    (author,) = classified(ebrim_out.document_entry(stored(res), record(), repository_unique_id=REPOSITORY),
                           ns.SCHEME_DOC_AUTHOR)
    assert slots(author) == {
        "authorPerson": ["810001000016^Fontaine^Claire^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"],
        "authorInstitution": ["Cabinet Fontaine^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1SANDBOX0001"],
        "authorRole": ["10^Médecin^1.2.250.1.71.1.2.7"],
        "authorSpecialty": ["SM54^Médecine générale^1.2.250.1.71.4.2.5"],
    }


@pytest.mark.parametrize(("availability", "archived", "status"), [
    ("Approved", False, ns.STATUS_APPROVED),
    ("Approved", True, ns.STATUS_ARCHIVED),
    ("Deprecated", False, ns.STATUS_DEPRECATED),
    ("Deleted", False, ns.STATUS_DELETED),
])
def test_statuses(availability: str, archived: bool, status: str) -> None:
    doc = stored(availability=availability, is_archived=archived)
    assert ebrim_out.document_entry(doc, record(), repository_unique_id=REPOSITORY).get("status") == status


def test_a_metadata_change_is_a_new_version_name() -> None:
    eo = ebrim_out.document_entry(stored(version_id=3), record(), repository_unique_id=REPOSITORY)
    assert eo.find(RIM + "VersionInfo").get("versionName") == "3"


def test_dates_keep_their_precision_and_a_stop_time() -> None:
    res = builders.document_reference(INS, binary_url="u", data=b"x")
    res["date"] = "2026-06"
    res["content"][0]["attachment"]["creation"] = "2026-06"
    res["context"]["period"] = {"start": "2026-06-01", "end": "2026-06-12T12:00:00Z"}
    found = slots(ebrim_out.document_entry(
        stored(res, date=datetime(2026, 6, 1, tzinfo=UTC), period_start=datetime(2026, 6, 1, tzinfo=UTC),
               period_end=datetime(2026, 6, 12, 12, tzinfo=UTC)), record(), repository_unique_id=REPOSITORY))
    assert (found["creationTime"], found["serviceStartTime"], found["serviceStopTime"]) == (
        ["202606"], ["20260601"], ["20260612120000"])


def test_reference_id_list() -> None:
    res = builders.document_reference(INS, binary_url="u", data=b"x")
    res["context"]["related"] = [{"identifier": {"system": "urn:oid:1.2.3.4", "value": "ACC1"}}]
    found = slots(ebrim_out.document_entry(stored(res), record(), repository_unique_id=REPOSITORY))
    assert found["urn:ihe:iti:xds:2013:referenceIdList"] == ["ACC1^^^&1.2.3.4&ISO"]


def test_children_in_ebrim_order_and_stable_ids() -> None:
    """ebRIM 3.0 RegistryObjectType: Slot*, Name?, Description?, VersionInfo?, Classification*,
    ExternalIdentifier*; the derived ids do not change from one answer to the next."""
    first = ebrim_out.document_entry(stored(), record(), repository_unique_id=REPOSITORY)
    order = ["Slot", "Name", "Description", "VersionInfo", "Classification", "ExternalIdentifier"]
    ranks = [order.index(etree.QName(child).localname) for child in first]
    assert ranks == sorted(ranks)
    again = ebrim_out.document_entry(stored(), record(), repository_unique_id=REPOSITORY)
    assert etree.tostring(first) == etree.tostring(again)


def test_submission_set_package() -> None:
    ss = DmpSubmissionSet(
        id=str(uuid.UUID(int=9)), dmp_id=1, unique_id="urn:oid:1.2.3.4.5.6.7.8.99", source_id="urn:oid:1.2.3.4.5.6.7.8",
        designation_system=builders.A03, designation_code="10", designation_display="Compte rendu",
        submission_time=datetime(2026, 6, 12, 8, tzinfo=UTC), title="Lot", author_rpps=None, document_ids=[],
        resource=builders.submission_set(INS, []))
    package = ebrim_out.submission_set_package(ss, record())
    ss_id = f"urn:uuid:{uuid.UUID(int=9)}"
    assert (package.tag, package.get("id"), package.get("status")) == (RIM + "RegistryPackage", ss_id,
                                                                        ns.STATUS_APPROVED)
    assert slots(package) == {"submissionTime": ["20260612080000"]}
    (content,) = classified(package, ns.SCHEME_SS_CONTENT_TYPE)
    assert (content.get("nodeRepresentation"), slots(content)) == ("10", {"codingScheme": ["1.2.250.1.213.1.1.4.1"]})
    nodes = [c for c in package.findall(RIM + "Classification") if c.get("classificationNode")]
    assert [n.get("classificationNode") for n in nodes] == [ns.NODE_SUBMISSION_SET]
    assert external(package, ns.IDENT_SS_SOURCE) == "1.2.3.4.5.6.7.8"
    assert external(package, ns.IDENT_SS_UNIQUE) == "1.2.3.4.5.6.7.8.99"
    assert external(package, ns.IDENT_SS_PATIENT) == f"{INS}^^^&1.2.250.1.213.1.4.8&ISO^NH"


def test_associations() -> None:
    member = ebrim_out.has_member("s", "d")
    assert (member.get("associationType"), member.get("sourceObject"), member.get("targetObject")) == (
        ns.ASSOC_HAS_MEMBER, "urn:uuid:s", "urn:uuid:d")
    assert slots(member) == {"SubmissionSetStatus": ["Original"]}
    assert ebrim_out.replacement(stored()) is None
    rplc = ebrim_out.replacement(stored(replaces_id="old"))
    assert rplc is not None and (rplc.get("associationType"), rplc.get("targetObject")) == (ns.ASSOC_RPLC,
                                                                                             "urn:uuid:old")
    assert ebrim_out.object_ref("urn:uuid:x").tag == RIM + "ObjectRef"


def test_coding_schemes_both_ways() -> None:
    assert ebrim_out.coding_scheme(builders.A03) == "1.2.250.1.213.1.1.4.1"
    assert ebrim_out.coding_scheme("urn:oid:1.2.3") == "1.2.3"
    assert ebrim_out.coding_scheme("http://loinc.org") == "2.16.840.1.113883.6.1"
    assert ebrim_out.coding_scheme("https://example.org/cs") == "https://example.org/cs"
    assert builders.A03 in ebrim_out.system_spellings("1.2.250.1.213.1.1.4.1")
    assert "urn:oid:1.2.250.1.213.1.1.4.1" in ebrim_out.system_spellings("1.2.250.1.213.1.1.4.1")
    assert "http://loinc.org" in ebrim_out.system_spellings("2.16.840.1.113883.6.1")
    assert set(ebrim_out.system_spellings("9.9.9")) == {"9.9.9", "urn:oid:9.9.9"}


def test_hash_hex() -> None:
    assert ebrim_out.hash_hex(builders.sha1(b"abc")) == hashlib.sha1(b"abc").hexdigest()  # noqa: S324


def test_a_code_without_display_takes_the_value_set_one() -> None:
    res = builders.document_reference(INS, binary_url="u", data=b"x")
    del res["context"]["facilityType"]["coding"][0]["display"]
    eo = ebrim_out.document_entry(stored(res), record(), repository_unique_id=REPOSITORY)
    (facility,) = classified(eo, ns.SCHEME_DOC_FACILITY)
    name = facility.find(f"{RIM}Name/{RIM}LocalizedString").get("value")
    assert name and name != "SA07"


def test_source_patient_info() -> None:
    assert ebrim_out.source_patient_info({"name": [{"family": "ADRUN", "given": ["ZOE"]}], "birthDate": "1975-12-31",
                                          "gender": "female"}) == ["PID-5|ADRUN^ZOE^^^^^L", "PID-7|19751231",
                                                                   "PID-8|F"]
    assert ebrim_out.source_patient_info({"identifier": [{"value": "x"}]}) == []
