"""Metadata patches (app/dmp/patch.py) and the generated seed documents (app/dmp/documents.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from app.api.errors import FhirError
from app.dmp import documents
from app.dmp.exceptions import DmpError
from app.dmp.fhir.errors import http_status
from app.dmp.fhir.requests import parse_patch_body
from app.dmp.patch import (
    IS_ARCHIVED_SP_URL,
    IS_ARCHIVED_URL,
    TRE_A07,
    V3_CONFIDENTIALITY,
    MetadataState,
    apply_fhirpath_patch,
    apply_json_patch,
)

N = (V3_CONFIDENTIALITY, "N", "normal")
MASK = (TRE_A07, "MASQUE_PS", "")
INVISIBLE = (TRE_A07, "INVISIBLE_PATIENT", "")
START = MetadataState("current", (N,), False)


def op(kind, path, value=None):
    return {"op": kind, "path": path, **({"value": value} if value is not None else {})}


def a07(code):
    return {"coding": [{"system": TRE_A07, "code": code}]}


def test_mask_then_unmask_with_the_td33a_idiom_keeps_the_level():
    masked = apply_json_patch(START, [op("replace", "/securityLabel/0", a07("MASQUE_PS"))])
    assert [lab[1] for lab in masked.labels] == ["N", "MASQUE_PS"]
    both = apply_json_patch(masked, [op("replace", "/securityLabel/0", a07("INVISIBLE_PATIENT"))])
    assert [lab[1] for lab in both.labels] == ["N", "MASQUE_PS", "INVISIBLE_PATIENT"]
    unmasked = apply_json_patch(both, [op("replace", "/securityLabel/0",
                                          {"coding": [{"system": V3_CONFIDENTIALITY, "code": "N"}]})])
    assert [lab[1] for lab in unmasked.labels] == ["N", "INVISIBLE_PATIENT"]


def test_rfc6902_pointers():
    state = MetadataState("current", (N, MASK, INVISIBLE), False)
    assert apply_json_patch(state, [op("remove", "/securityLabel/2")]).labels == (N, MASK)
    assert apply_json_patch(state, [op("replace", "/extension/0/valueBoolean", True)]).is_archived is True
    assert apply_json_patch(state, [op("replace", "/status", "entered-in-error")]).status == "entered-in-error"


def test_illustrative_extension_syntax():
    path = f"/extension[url:'{IS_ARCHIVED_URL}']/valueBoolean"
    assert apply_json_patch(START, [op("replace", path, True)]).is_archived
    wrong = f"/extension[url:'{IS_ARCHIVED_SP_URL}']/valueBoolean"
    with pytest.raises(DmpError) as info:
        apply_json_patch(START, [op("replace", wrong, True)])
    assert http_status(info.value.kind) == 405
    assert apply_json_patch(START, [op("replace", wrong, True)], lenient=True).is_archived


@pytest.mark.parametrize("path", ["/type", "/subject/reference", "/content/0/attachment/url", "/date", "/author/0"])
def test_other_paths_are_405(path):
    with pytest.raises(DmpError) as info:
        apply_json_patch(START, [op("replace", path, "x")])
    assert (http_status(info.value.kind), info.value.rule) == (405, "PDSm:patch-allowed-paths")


def test_label_cardinality():
    with pytest.raises(DmpError) as info:
        apply_json_patch(START, [op("remove", "/securityLabel/0")])
    assert http_status(info.value.kind) == 422


def test_fhirpath_patch():
    params = {"resourceType": "Parameters", "parameter": [
        {"name": "operation", "part": [{"name": "type", "valueCode": "add"},
                                       {"name": "path", "valueString": "DocumentReference"},
                                       {"name": "name", "valueString": "securityLabel"},
                                       {"name": "value", "valueCodeableConcept": a07("MASQUE_PS")}]},
        {"name": "operation", "part": [
            {"name": "type", "valueCode": "replace"},
            {"name": "path", "valueString": f"DocumentReference.extension.where(url='{IS_ARCHIVED_URL}').value"},
            {"name": "value", "valueBoolean": True}]},
    ]}
    state = apply_fhirpath_patch(START, params)
    assert state.labels == (N, MASK) and state.is_archived
    remove = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "delete"},
        {"name": "path", "valueString": "DocumentReference.securityLabel.where(coding.code='MASQUE_PS')"}]}]}
    assert apply_fhirpath_patch(state, remove).labels == (N,)
    bad = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "DocumentReference.type"},
        {"name": "value", "valueString": "x"}]}]}
    with pytest.raises(DmpError) as info:
        apply_fhirpath_patch(START, bad)
    assert http_status(info.value.kind) == 405


def test_patch_body_content_types():
    assert parse_patch_body("application/json-patch+json", b"[]")[0] == "json-patch"
    assert parse_patch_body("application/fhir+json; charset=utf-8", b'{"resourceType":"Parameters"}')[0] == "fhirpath"
    with pytest.raises(FhirError) as info:
        parse_patch_body("application/xml", b"<x/>")
    assert info.value.status == 415


def test_generated_pdf_is_well_formed():
    pdf = documents.make_pdf("Titre", ("ligne (1)",))
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    startxref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[startxref:].startswith(b"xref\n0 6\n")
    for line in pdf[startxref:].split(b"\n")[3:8]:
        offset = int(line[:10])
        assert pdf[offset:].split(b"\n", 1)[0].endswith(b" 0 obj")
    padded = documents.make_pdf("Titre", ("x",), padding=100_000)
    assert len(padded) > 100_000


@pytest.mark.parametrize("kind", sorted(documents.KINDS))
def test_generated_cda_n1(kind):
    doc = documents.make_cda(kind=kind, ins="275126322074974", ins_oid="1.2.250.1.213.1.4.8", given="ZOE",
                             family="ADRUN", birth_date="1975-12-31", sex="F", author_rpps="10001000016",
                             author_given="Claire", author_family="Fontaine", effective="20260612100000")
    root = etree.fromstring(doc.cda)
    ns = {"h": "urn:hl7-org:v3"}
    assert root.find("h:code", ns).get("code") == documents.KINDS[kind].loinc
    assert root.find(".//h:patientRole/h:id", ns).get("extension") == "275126322074974"
    text = root.find(".//h:nonXMLBody/h:text", ns)
    assert text.get("mediaType") == "application/pdf"
    import base64

    assert base64.b64decode(text.text) == doc.pdf
    again = documents.make_cda(kind=kind, ins="275126322074974", ins_oid="1.2.250.1.213.1.4.8", given="ZOE",
                               family="ADRUN", birth_date="1975-12-31", sex="F", author_rpps="10001000016",
                               author_given="Claire", author_family="Fontaine", effective="20260612100000")
    assert again is doc  # cached


A07_CODES = ["MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["mask", "unmask", "level"]), st.sampled_from(A07_CODES),
                          st.sampled_from(["N", "R", "V"])), max_size=8))
def test_td33a_merges_keep_the_labels_valid(steps):
    """Whatever sequence of TD3.3a-style patches: one HL7 level, no duplicate, at most 4 labels."""
    state = START
    for kind, code, level in steps:
        if kind == "mask":
            value = a07(code)
        else:
            value = {"coding": [{"system": V3_CONFIDENTIALITY, "code": "N" if kind == "unmask" else level}]}
        state = apply_json_patch(state, [op("replace", "/securityLabel/0", value)])
        levels = [lab for lab in state.labels if lab[0] == V3_CONFIDENTIALITY]
        assert len(levels) == 1 and state.labels[0] == levels[0]
        assert len({lab[1] for lab in state.labels}) == len(state.labels) <= 4
        if kind != "mask":
            assert "MASQUE_PS" not in {lab[1] for lab in state.labels}
        else:
            assert code in {lab[1] for lab in state.labels}


def test_hostile_patch_bodies_are_refused_not_crashed():
    with pytest.raises(FhirError) as deep:
        parse_patch_body("application/json-patch+json", b"[" * 100_000)
    assert deep.value.status == 400
    for index in ("\u00b2", "9" * 5000, "-1"):
        with pytest.raises(DmpError) as odd:
            apply_json_patch(START, [op("remove", f"/securityLabel/{index}")])
        assert http_status(odd.value.kind) in (405, 422)
