"""Metadata patches (app/dmp/patch.py): the paths PDSm lets change, RFC 6902 and FHIRPath Patch."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.dmp.exceptions import DmpError
from app.dmp.fhir.errors import http_status
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


def test_hostile_patches_are_refused_not_crashed():
    for index in ("\u00b2", "9" * 5000, "-1"):
        with pytest.raises(DmpError) as odd:
            apply_json_patch(START, [op("remove", f"/securityLabel/{index}")])
        assert http_status(odd.value.kind) in (405, 422)
