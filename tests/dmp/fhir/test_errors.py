"""Every independent error of a submission in one OperationOutcome, French then English (app/api/errors.py
FhirError(french=), FhirIssues, FhirErrors; app/dmp/fhir/bundle.py), and the FHIR face's mapper of domain errors
(app/dmp/fhir/errors.py)."""

from __future__ import annotations

import json

import pytest

from app.api.errors import FhirError, FhirErrors, FhirIssues, operation_outcome
from tests.dmp.builders import docref, provide_bundle, sha1
from tests.dmp.conftest import ZOE


async def _post(client, auth, bundle):  # type: ignore[no-untyped-def]
    return await client.post("/dmp/fhir", content=json.dumps(bundle),
                             headers={**await auth(), "Content-Type": "application/fhir+json"})


def test_french_first_then_english():
    outcome = operation_outcome(code="invalid", diagnostics="x is required", french="x est obligatoire")
    assert outcome["issue"][0]["diagnostics"] == "x est obligatoire — x is required"
    assert operation_outcome(code="invalid", diagnostics="x")["issue"][0]["diagnostics"] == "x"


def test_status_precedence_and_collector():
    duplicate = FhirError(409, "duplicate", "dup", rule="XDS:uniqueId-unique")
    invalid = FhirError(400, "invalid", "bad", rule="PDSm:x")
    folder = FhirError(422, "not-supported", "folder", rule="PDSm:Folder")
    assert FhirErrors([duplicate, folder, invalid]).status == 400
    assert FhirErrors([duplicate, folder]).status == 422
    both = FhirErrors([duplicate, FhirError(409, "duplicate", "dup2")])
    assert (both.status, both.rule, both.diagnostics) == (409, "XDS:uniqueId-unique", "dup (and 1 other issue)")
    issues = FhirIssues()
    with issues.check():
        raise invalid
    with issues.check():
        raise both
    with pytest.raises(FhirErrors) as info:
        issues.raise_any()
    assert [e.diagnostics for e in info.value.issues] == ["bad", "dup", "dup2"]
    single = FhirIssues()
    single.add(invalid)
    with pytest.raises(FhirError) as one:
        single.raise_any()
    assert one.value is invalid
    FhirIssues().raise_any()  # nothing collected: nothing raised


async def test_every_independent_error_in_one_outcome(client, auth):  # type: ignore[no-untyped-def]
    """Shape of ansforge/IG-FHIR-PDSM4DMP-EEDS input/examples/Bundle-example-td2-iti65-lot-soumission.json
    @94d8b1d with several mistakes at once: one issue each (before, only the first was reported)."""
    bundle = provide_bundle(ZOE, documents=2)
    first, second = docref(bundle, 0), docref(bundle, 1)
    del first["custodian"]
    first["content"][0]["attachment"]["hash"] = sha1(b"other")
    second["category"][0]["coding"][0]["code"] = "99"
    del second["context"]["period"]
    bundle["entry"][0]["resource"]["extension"] = bundle["entry"][0]["resource"]["extension"][:1]  # no sourceId
    response = await _post(client, auth, bundle)
    assert response.status_code == 400, response.text
    issues = response.json()["issue"]
    expressions = [i["expression"][0] for i in issues]
    assert expressions == [
        "Bundle.entry[0].resource.extension[sourceId]",
        "Bundle.entry[1].resource.custodian",
        "Bundle.entry[1].resource.content[0].attachment.hash",
        "Bundle.entry[2].resource.category",
        "Bundle.entry[2].resource.context.period.start",
    ]
    for issue in issues:
        french, _, english = issue["diagnostics"].partition(" — ")
        assert french and english and french != english
    assert "est obligatoire" in issues[1]["diagnostics"] and "is required" in issues[1]["diagnostics"]
    listed = await client.get(f"/dmp/fhir/DocumentReference?patient.identifier=urn:oid:1.2.250.1.213.1.4.8|{ZOE}"
                              "&status=current&_count=500", headers=await auth())
    stored = {e["resource"]["masterIdentifier"]["value"] for e in listed.json().get("entry") or []}
    assert first["masterIdentifier"]["value"] not in stored  # nothing stored


async def test_a_duplicate_is_409_only_when_nothing_else_is_wrong(client, auth):  # type: ignore[no-untyped-def]
    bundle = provide_bundle(ZOE, documents=2, unique_id="urn:oid:1.2.250.1.213.1.4.8.99999.424242")
    assert (await _post(client, auth, bundle)).status_code == 409
    del docref(bundle, 0)["author"]
    response = await _post(client, auth, bundle)
    assert response.status_code == 400
    codes = [{c["code"] for c in i["details"]["coding"]} for i in response.json()["issue"]]
    assert any("XDSDuplicateUniqueIdInRegistry" in c for c in codes) is False  # the first document is refused
    assert any("PDSm:DocumentReference.author" in c for c in codes)


# --- the FHIR face's mapper of domain errors (app/dmp/fhir/errors.py) --------------------------------

def test_every_kind_has_a_fhir_status_and_issue_code():
    from app.dmp.exceptions import Kind
    from app.dmp.fhir.errors import FHIR_SHAPES

    assert set(FHIR_SHAPES) == set(Kind)


def test_a_domain_error_keeps_its_rule_texts_element_and_xds_code():
    from app.dmp.exceptions import XDS_METADATA, DmpError, Kind
    from app.dmp.fhir.errors import to_fhir

    fhir = to_fhir(DmpError(Kind.CONFLICT, "replaced meanwhile", rule="PDSm4DMP:TD2.1-replace-current",
                            french="remplacé entre-temps", element="DocumentReference.relatesTo.target",
                            xds_code=XDS_METADATA))
    assert fhir.issue() == operation_outcome(
        code="conflict", diagnostics="replaced meanwhile", french="remplacé entre-temps",
        rule="PDSm4DMP:TD2.1-replace-current", expression=["DocumentReference.relatesTo.target"],
        details_code=XDS_METADATA)["issue"][0]
    assert fhir.status == 409


def test_several_domain_errors_are_one_outcome_with_the_platforms_precedence():
    from app.dmp.exceptions import DmpError, DmpErrors, Kind
    from app.dmp.fhir.errors import to_fhir

    errors = DmpErrors([DmpError(Kind.DUPLICATE, "dup", rule="a"), DmpError(Kind.NOT_ALLOWED, "405", rule="b"),
                        DmpError(Kind.UNPROCESSABLE, "422", rule="c")])
    fhir = to_fhir(errors)
    assert isinstance(fhir, FhirErrors) and (fhir.status, fhir.rule) == (422, "c")
    assert [(i.status, i.code) for i in fhir.issues] == [(409, "duplicate"), (405, "not-supported"),
                                                         (422, "business-rule")]


def test_a_refusal_of_one_entry_says_the_entry_is_invalid_with_its_status():
    from app.dmp.exceptions import DmpError, Kind
    from app.dmp.fhir.errors import to_fhir

    fhir = to_fhir(DmpError(Kind.NOT_ALLOWED, "entry[3] PATCH: no", rule="PDSm:patch-allowed-paths", entry=3))
    assert (fhir.status, fhir.code) == (405, "invalid")
