"""ITI-18 request reading (pure): the value syntax of ITI TF-2a §3.18.4.1.2.3.5, each stored query's required
parameters, the XDS error of each refusal.

Requests are built in the shapes public clients send: ehealthsuisse ``EPR-by-example`` ``samples/ITI-18_request.xml``
(commit e4fd5cf6: ``query:ResponseOption returnType=ObjectRef``, FindDocuments with ``('...Approved')`` and a quoted
CX patient id) and DRIMbox ``FindEntryUUIDDocumentRequest.java`` (``ansforge/DRIM-M_DRIMbox`` commit 4ae559df:
GetDocuments on ``$XDSDocumentEntryUniqueId`` = ``('<uid>')``, ObjectRef, the AdhocQuery in the rim default namespace).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from app.dmp.exceptions import DmpError
from app.dmp.soap import namespaces as ns
from app.dmp.soap.storedquery import (
    QUERIES,
    CodeValue,
    PatientValue,
    parse_code,
    parse_patient,
    parse_request,
    parse_time,
    parse_value,
)

PATIENT = "'275126322074974^^^&1.2.250.1.213.1.4.8&ISO^NH'"
APPROVED = "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')"


def request(query_id: str, slots: list[tuple[str, list[str]]], *, return_type: str = "LeafClass") -> etree._Element:
    """An AdhocQueryRequest: query/rim prefixes as ehealthsuisse writes them."""
    root = etree.Element(f"{{{ns.NS_QUERY}}}AdhocQueryRequest", nsmap={"query": ns.NS_QUERY, "rim": ns.NS_RIM})
    etree.SubElement(root, f"{{{ns.NS_QUERY}}}ResponseOption", returnType=return_type, returnComposedObjects="true")
    query = etree.SubElement(root, f"{{{ns.NS_RIM}}}AdhocQuery", id=query_id)
    for name, values in slots:
        value_list = etree.SubElement(etree.SubElement(query, f"{{{ns.NS_RIM}}}Slot", name=name),
                                      f"{{{ns.NS_RIM}}}ValueList")
        for value in values:
            etree.SubElement(value_list, f"{{{ns.NS_RIM}}}Value").text = value
    return root


def find_documents(*extra: tuple[str, list[str]]) -> etree._Element:
    return request(ns.QUERY_FIND_DOCUMENTS, [("$XDSDocumentEntryPatientId", [PATIENT]),
                                             ("$XDSDocumentEntryStatus", [APPROVED]), *extra])


def refused(payload: etree._Element) -> DmpError:
    with pytest.raises(DmpError) as info:
        parse_request(payload)
    return info.value


# --- the value syntax -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "values"), [
    ("'a'", ["a"]),
    ("  'a'  ", ["a"]),
    ("''", [""]),
    ("'it''s'", ["it's"]),
    ("''''", ["'"]),
    ("'a,b'", ["a,b"]),
    ("'(a)'", ["(a)"]),
    ("20070315", [20070315]),
    ("-3", [-3]),
    ("('a')", ["a"]),
    ("('a','b')", ["a", "b"]),
    ("( 'a' , 'b' )", ["a", "b"]),
    ("('a', 12, 'c''d')", ["a", 12, "c'd"]),
    ("(1,2)", [1, 2]),
    ("('x^^1.2.3')", ["x^^1.2.3"]),
])
def test_values(text: str, values: list[object]) -> None:
    assert parse_value(text) == values


@pytest.mark.parametrize("text", [
    "", "   ", "abc", "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved", "'a", "('a'", "('a',)", "(,'a')",
    "('a' 'b')", "'a' 'b'", "'a''", "12x", "1.5", "()", "('a'))", "('a')x",
])
def test_malformed_values_are_xds_registry_errors(text: str) -> None:
    with pytest.raises(DmpError) as info:
        parse_value(text, name="$X")
    assert info.value.xds_code == "XDSRegistryError"
    assert info.value.elements == ["$X"]


def test_several_value_elements_and_lists_add_up() -> None:
    query = parse_request(find_documents(("$XDSDocumentEntryClassCode", ["('10^^1.2.250.1.213.1.1.4.1')",
                                                                          "('11^^1.2.250.1.213.1.1.4.1', '31')"])))
    assert [c.code for c in query.codes("$XDSDocumentEntryClassCode")] == ["10", "11", "31"]


# --- codes, patients, times -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "code"), [
    ("10^^1.2.250.1.213.1.1.4.1", CodeValue("10", "1.2.250.1.213.1.1.4.1")),  # ITI TF-2a / NIST Gazelle form
    ("10^Compte rendu^1.2.250.1.213.1.1.4.1", CodeValue("10", "1.2.250.1.213.1.1.4.1")),
    ("10^^^&1.2.250.1.213.1.1.4.1&ISO", CodeValue("10", "1.2.250.1.213.1.1.4.1")),
    ("MASQUE_PS^^1.2.250.1.213.1.1.4.13", CodeValue("MASQUE_PS", "1.2.250.1.213.1.1.4.13")),
    ("urn:ihe:iti:xds-sd:pdf:2008^^1.3.6.1.4.1.19376.1.2.3",
     CodeValue("urn:ihe:iti:xds-sd:pdf:2008", "1.3.6.1.4.1.19376.1.2.3")),
    ("N", CodeValue("N", None)),
    ("N^^", CodeValue("N", None)),
])
def test_codes(text: str, code: CodeValue) -> None:
    assert parse_code(text, name="$c") == code


def test_a_code_needs_a_code() -> None:
    with pytest.raises(DmpError):
        parse_code("^^1.2.3", name="$c")


def test_patient_cx() -> None:
    assert parse_patient("275126322074974^^^&1.2.250.1.213.1.4.8&ISO^NH", name="$p") == PatientValue(
        "275126322074974", "1.2.250.1.213.1.4.8")
    assert parse_patient("297022A02077878^^^&1.2.250.1.213.1.4.8&ISO", name="$p").id == "297022A02077878"
    for bad in ("275126322074974", "275126322074974^^^1.2.250&ISO", "^^^&1.2&ISO"):
        with pytest.raises(DmpError) as info:
            parse_patient(bad, name="$p")
        assert info.value.xds_code == "XDSRegistryError"


@pytest.mark.parametrize(("value", "instant"), [
    (2007, datetime(2007, 1, 1, tzinfo=UTC)),
    (200703, datetime(2007, 3, 1, tzinfo=UTC)),
    (20070315, datetime(2007, 3, 15, tzinfo=UTC)),
    ("2007031512", datetime(2007, 3, 15, 12, tzinfo=UTC)),
    (200703151230, datetime(2007, 3, 15, 12, 30, tzinfo=UTC)),
    (20070315123045, datetime(2007, 3, 15, 12, 30, 45, tzinfo=UTC)),
])
def test_times(value: object, instant: datetime) -> None:
    assert parse_time(value, name="$t") == instant  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [20071315, 20070230, 200, "2007-03-15", 2007031512304501])
def test_bad_times(value: object) -> None:
    with pytest.raises(DmpError) as info:
        parse_time(value, name="$t")  # type: ignore[arg-type]
    assert info.value.xds_code == "XDSRegistryError"


# --- the request ------------------------------------------------------------------------------------------

def test_the_ehealthsuisse_find_documents_request() -> None:
    query = parse_request(request(ns.QUERY_FIND_DOCUMENTS, [
        ("$XDSDocumentEntryStatus", ["('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')"]),
        ("$XDSDocumentEntryPatientId", ["'7e1c6e78-58f1-4a43-ae88-0d5a5c4ab43e^^^&1.3.6.1.4.1.21367.2017.2.5.45&ISO'"]),
    ], return_type="ObjectRef"))
    assert (query.name, query.return_type) == ("FindDocuments", "ObjectRef")
    assert query.patient("$XDSDocumentEntryPatientId") == PatientValue("7e1c6e78-58f1-4a43-ae88-0d5a5c4ab43e",
                                                                        "1.3.6.1.4.1.21367.2017.2.5.45")
    assert query.strings("$XDSDocumentEntryStatus") == [ns.STATUS_APPROVED]


def test_the_drimbox_get_documents_request() -> None:
    # the AdhocQuery in the rim default namespace, the query prefixed ns3 (FindEntryUUIDDocumentRequest.java)
    xml = (b'<ns3:AdhocQueryRequest xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0" '
           b'xmlns:ns2="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" '
           b'xmlns:ns3="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" '
           b'xmlns:ns4="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0">'
           b'<ns3:ResponseOption returnComposedObjects="true" returnType="ObjectRef"/>'
           b'<AdhocQuery id="urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4">'
           b"<Slot name=\"$XDSDocumentEntryUniqueId\"><ValueList><Value>('1.2.250.1.999.1.1.8121.21.42')</Value>"
           b"</ValueList></Slot></AdhocQuery></ns3:AdhocQueryRequest>")
    query = parse_request(etree.fromstring(xml))
    assert (query.name, query.return_type) == ("GetDocuments", "ObjectRef")
    assert query.strings("$XDSDocumentEntryUniqueId") == ["1.2.250.1.999.1.1.8121.21.42"]


def test_return_type_defaults_to_leaf_class_and_is_checked() -> None:
    payload = find_documents()
    payload.remove(payload[0])
    assert parse_request(payload).return_type == "LeafClass"
    assert refused(request(ns.QUERY_FIND_DOCUMENTS, [], return_type="Everything")).xds_code == "XDSRegistryError"


def test_unknown_and_folder_queries() -> None:
    error = refused(request("urn:uuid:00000000-0000-0000-0000-000000000000", []))
    assert error.xds_code == "XDSUnknownStoredQuery"
    error = refused(request(ns.QUERY_FIND_FOLDERS, []))
    assert error.xds_code == "XDSUnknownStoredQuery" and "FindFolders" in error.english


def test_not_an_adhoc_query_request() -> None:
    assert refused(etree.Element(f"{{{ns.NS_QUERY}}}Other")).xds_code == "XDSRegistryError"
    bare = etree.Element(f"{{{ns.NS_QUERY}}}AdhocQueryRequest")
    assert refused(bare).xds_code == "XDSRegistryError"


REQUIRED_CASES = [
    (ns.QUERY_FIND_DOCUMENTS, [("$XDSDocumentEntryPatientId", [PATIENT]), ("$XDSDocumentEntryStatus", [APPROVED])]),
    (ns.QUERY_FIND_DOCUMENTS_BY_REFERENCE_ID, [("$XDSDocumentEntryPatientId", [PATIENT]),
                                               ("$XDSDocumentEntryStatus", [APPROVED]),
                                               ("$XDSDocumentEntryReferenceIdList", ["('A1^^^&1.2.3&ISO')"])]),
    (ns.QUERY_FIND_SUBMISSION_SETS, [("$XDSSubmissionSetPatientId", [PATIENT]),
                                     ("$XDSSubmissionSetStatus", [APPROVED])]),
    (ns.QUERY_GET_ASSOCIATIONS, [("$uuid", ["('urn:uuid:1')"])]),
    (ns.QUERY_GET_SUBMISSION_SETS, [("$uuid", ["('urn:uuid:1')"])]),
    (ns.QUERY_GET_RELATED_DOCUMENTS, [("$AssociationTypes", [f"('{ns.ASSOC_RPLC}')"]),
                                      ("$XDSDocumentEntryEntryUUID", ["('urn:uuid:1')"])]),
]


@pytest.mark.parametrize(("query_id", "slots"), REQUIRED_CASES)
def test_each_required_parameter(query_id: str, slots: list[tuple[str, list[str]]]) -> None:
    assert parse_request(request(query_id, slots)).query_id == query_id
    for missing in range(len(slots)):
        kept = [s for n, s in enumerate(slots) if n != missing]
        error = refused(request(query_id, kept))
        assert error.xds_code == "XDSStoredQueryMissingParam"
        assert slots[missing][0] in error.english


@pytest.mark.parametrize(("query_id", "pair"), [
    (ns.QUERY_GET_DOCUMENTS, ("$XDSDocumentEntryEntryUUID", "$XDSDocumentEntryUniqueId")),
    (ns.QUERY_GET_DOCUMENTS_AND_ASSOCIATIONS, ("$XDSDocumentEntryEntryUUID", "$XDSDocumentEntryUniqueId")),
    (ns.QUERY_GET_SUBMISSION_SET_AND_CONTENTS, ("$XDSSubmissionSetEntryUUID", "$XDSSubmissionSetUniqueId")),
])
def test_exclusive_pairs(query_id: str, pair: tuple[str, str]) -> None:
    single = "'x'" if "SubmissionSet" in pair[0] else "('x')"
    for name in pair:
        assert parse_request(request(query_id, [(name, [single])])).has(name)
    assert refused(request(query_id, [])).xds_code == "XDSStoredQueryMissingParam"
    assert refused(request(query_id, [(pair[0], [single]), (pair[1], [single])])).xds_code == \
        "XDSStoredQueryParamNumber"


def test_every_query_is_specified() -> None:
    names = {spec.name for spec in QUERIES.values()}
    assert {"FindDocuments", "FindSubmissionSets", "GetDocuments", "GetAssociations", "GetDocumentsAndAssociations",
            "GetSubmissionSetAndContents", "GetSubmissionSets", "GetRelatedDocuments",
            "FindDocumentsByReferenceId"} <= names


def test_single_valued_parameters_take_one_value() -> None:
    error = refused(find_documents(("$XDSDocumentEntryCreationTimeFrom", ["(20070101, 20080101)"])))
    assert error.xds_code == "XDSStoredQueryParamNumber"
    two_patients = request(ns.QUERY_FIND_DOCUMENTS, [("$XDSDocumentEntryPatientId", [PATIENT, PATIENT]),
                                                     ("$XDSDocumentEntryStatus", [APPROVED])])
    assert refused(two_patients).xds_code == "XDSStoredQueryParamNumber"


def test_only_and_or_parameters_repeat_their_slot() -> None:
    query = parse_request(find_documents(
        ("$XDSDocumentEntryEventCodeList", ["('A^^1.2.3', 'B^^1.2.3')"]),
        ("$XDSDocumentEntryEventCodeList", ["('C^^1.2.3')"]),
        ("$XDSDocumentEntryConfidentialityCode", ["('N^^2.16.840.1.113883.5.25')"]),
        ("$XDSDocumentEntryConfidentialityCode", ["('MASQUE_PS^^1.2.250.1.213.1.1.4.13')"]),
    ))
    assert [[c.code for c in group] for group in query.code_groups("$XDSDocumentEntryEventCodeList")] == [
        ["A", "B"], ["C"]]
    assert len(query.code_groups("$XDSDocumentEntryConfidentialityCode")) == 2
    error = refused(find_documents(("$XDSDocumentEntryClassCode", ["('10^^1.2')"]),
                                   ("$XDSDocumentEntryClassCode", ["('11^^1.2')"])))
    assert error.xds_code == "XDSStoredQueryParamNumber"


def test_a_slot_without_value_is_malformed() -> None:
    assert refused(find_documents(("$XDSDocumentEntryClassCode", []))).xds_code == "XDSRegistryError"


def test_a_malformed_value_names_its_parameter() -> None:
    error = refused(find_documents(("$XDSDocumentEntryTypeCode", ["11488-4^^2.16.840.1.113883.6.1"])))
    assert error.xds_code == "XDSRegistryError" and error.elements == ["$XDSDocumentEntryTypeCode"]


def test_unknown_parameters_are_ignored() -> None:
    assert parse_request(find_documents(("$SomethingElse", ["'x'"]))).name == "FindDocuments"


def test_describe_for_the_trace() -> None:
    text = parse_request(find_documents()).describe()
    assert text.startswith("FindDocuments?") and "275126322074974" in text
