"""ITI-57 Update Document Set (app/dmp/soap/iti57.py): masking, visibility, archiving, deletion through the
same metadata update as the FHIR face, seen over FHIR. Requests in the shape of Mediboard's
``CXDSFactory::generateXDS57`` (sergeinack3/PowerCare modules/xds/classes/Factory/CXDSFactory.php @8c3438fa;
tests/dmp/soap/ebrim_builders.py): a submission set
and either an UpdateAvailabilityStatus association (OriginalStatus / NewStatus) or a new DocumentEntry
version with ``SubmissionSetStatus=Original`` and ``PreviousVersion``."""

from __future__ import annotations

import json

import pytest

from app.dmp.exceptions import DmpError
from app.dmp.soap import iti41, iti57
from app.dmp.soap import namespaces as ns
from tests.dmp.conftest import BERNARD, DOMINIQUE, FONTAINE, LEFEVRE, ZOE
from tests.dmp.soap.client import get_vihf, post_soap
from tests.dmp.soap.direct import call
from tests.dmp.soap.ebrim_builders import Doc, provide_and_register, update_metadata, update_status

PATIENT = f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"
V3 = "2.16.840.1.113883.5.25"
A07 = "1.2.250.1.213.1.1.4.13"


async def found(client, auth, subject=FONTAINE, status="current", patient=ZOE):  # type: ignore[no-untyped-def]
    response = await client.get("/dmp/fhir/DocumentReference", params={
                                    "patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{patient}", "status": status},
                                headers=await auth(subject))
    assert response.status_code == 200, response.text
    return {e["resource"]["id"]: e["resource"] for e in response.json().get("entry") or []}


async def filed(app, client, auth, doc: Doc | None = None):  # type: ignore[no-untyped-def]
    doc = doc or Doc()
    await call(app, iti41.provide_and_register, provide_and_register(doc))
    stored = next(r for r in (await found(client, auth)).values()
                  if r["masterIdentifier"]["value"] == f"urn:oid:{doc.unique_id}")
    return doc, stored["id"]


async def refused(app, payload, **kwargs) -> DmpError:  # type: ignore[no-untyped-def]
    with pytest.raises(DmpError) as caught:
        await call(app, iti57.update_document_set, payload, **kwargs)
    return caught.value


async def test_mask_hides_from_other_professionals_not_from_the_author(app, client, auth):  # type: ignore[no-untyped-def]
    doc, doc_id = await filed(app, client, auth)
    await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/10001000024", json={"status": "VALIDE"})
    assert doc_id in await found(client, auth, LEFEVRE)
    masked = Doc(**{**doc.__dict__, "id": "urn:uuid:new-version-1", "confidentiality": (("N", V3), ("MASQUE_PS", A07))})
    reply = await call(app, iti57.update_document_set, update_metadata(masked, doc_id, "1"))
    assert reply.payload.get("status") == ns.STATUS_SUCCESS and reply.action == ns.ACTION_ITI57 + "Response"
    assert doc_id not in await found(client, auth, LEFEVRE)
    mine = (await found(client, auth))[doc_id]
    assert mine["meta"]["versionId"] == "2"
    assert {c["coding"][0]["code"] for c in mine["securityLabel"]} == {"N", "MASQUE_PS"}
    # unmasking: the next version, the stale version number refused
    unmasked = Doc(**{**doc.__dict__, "id": "urn:uuid:new-version-2"})
    stale = await refused(app, update_metadata(unmasked, doc_id, "1"))
    assert stale.xds_code == "XDSMetadataVersionError"
    await call(app, iti57.update_document_set, update_metadata(unmasked, doc_id, "2"))
    assert doc_id in await found(client, auth, LEFEVRE)


async def test_patient_visibility_labels(app, client, auth):  # type: ignore[no-untyped-def]
    doc, doc_id = await filed(app, client, auth)
    labels_in = (("N", V3), ("INVISIBLE_PATIENT", A07), ("INVISIBLE_REPRESENTANTS_LEGAUX", A07))
    hidden = Doc(**{**doc.__dict__, "id": "urn:uuid:v2", "confidentiality": labels_in})
    await call(app, iti57.update_document_set, update_metadata(hidden, doc_id, "1"))
    labels = {c["coding"][0]["code"] for c in (await found(client, auth))[doc_id]["securityLabel"]}
    assert labels == {"N", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"}


async def test_only_confidentiality_may_change(app, client, auth):  # type: ignore[no-untyped-def]
    doc, doc_id = await filed(app, client, auth)
    retyped = Doc(**{**doc.__dict__, "id": "urn:uuid:v2", "type_code": "34133-9"})
    error = await refused(app, update_metadata(retyped, doc_id, "1"))
    assert error.xds_code == "XDSMetadataUpdateOperationError"
    outside_j58 = Doc(**{**doc.__dict__, "id": "urn:uuid:v2", "confidentiality": (("NOPE", A07),)})
    assert (await refused(app, update_metadata(outside_j58, doc_id, "1"))).rule == "PDSm:securityLabel-J58"
    assert (await found(client, auth))[doc_id]["meta"]["versionId"] == "1"


async def test_archive_unarchive_round_trip(app, client, auth):  # type: ignore[no-untyped-def]
    _, doc_id = await filed(app, client, auth)
    await call(app, iti57.update_document_set, update_status(doc_id, ZOE, ns.STATUS_APPROVED, ns.STATUS_ARCHIVED))
    archived = (await found(client, auth))[doc_id]
    assert archived["extension"][0]["valueBoolean"] is True
    wrong = await refused(app, update_status(doc_id, ZOE, ns.STATUS_APPROVED, ns.STATUS_ARCHIVED))
    assert wrong.xds_code == "XDSMetadataUpdateOperationError"  # OriginalStatus is Archived now
    await call(app, iti57.update_document_set, update_status(doc_id, ZOE, ns.STATUS_ARCHIVED, ns.STATUS_APPROVED))
    assert (await found(client, auth))[doc_id]["extension"][0]["valueBoolean"] is False


async def test_delete_is_logical_and_by_the_author_only(app, client, auth):  # type: ignore[no-untyped-def]
    _, doc_id = await filed(app, client, auth)
    other = await refused(app, update_status(doc_id, ZOE, ns.STATUS_APPROVED, ns.STATUS_DELETED), subject=BERNARD)
    assert other.kind.value == "forbidden"
    await call(app, iti57.update_document_set, update_status(doc_id, ZOE, ns.STATUS_APPROVED, ns.STATUS_DELETED))
    assert doc_id not in await found(client, auth, status="current,superseded")
    gone = await refused(app, update_status(doc_id, ZOE, ns.STATUS_APPROVED, ns.STATUS_ARCHIVED))
    assert gone.xds_code == "XDSMetadataUpdateOperationError"  # its status is Deleted now


async def test_unknown_document_and_unsupported_transition(app, client, auth):  # type: ignore[no-untyped-def]
    unknown = await refused(app, update_status("0b9e6a43-0000-4000-8000-000000000000", ZOE, ns.STATUS_APPROVED,
                                               ns.STATUS_DELETED))
    assert unknown.xds_code == "UnresolvedReferenceException"
    _, doc_id = await filed(app, client, auth)
    back = await refused(app, update_status(doc_id, ZOE, ns.STATUS_APPROVED, ns.STATUS_DEPRECATED))
    assert back.xds_code == "XDSMetadataUpdateOperationError" and back.kind.value == "not-allowed"


async def test_traced_as_iti57_refusals_included(app, client, auth):  # type: ignore[no-untyped-def]
    _, doc_id = await filed(app, client, auth)
    await call(app, iti57.update_document_set, update_status(doc_id, ZOE, ns.STATUS_APPROVED, ns.STATUS_ARCHIVED))
    await client.put(f"/sandbox/v1/dmps/{ZOE}/blocked-professionals/10001000032")
    blocked = await refused(app, update_status(doc_id, ZOE, ns.STATUS_ARCHIVED, ns.STATUS_APPROVED), subject=BERNARD)
    assert blocked.rule == "DMP:blocked"
    traces = await client.get("/dmp/fhir/AuditEvent", params={"patient.identifier": PATIENT}, headers=await auth())
    text = json.dumps(traces.json())
    assert "ITI-57" in text and "DMP:blocked" in text
    assert "PATCH" not in {e["resource"].get("subtype", [{}])[0].get("code") for e in traces.json()["entry"]}


# --- over HTTP, through the transport and the VIHF (tests/dmp/soap/client.py) ---------------------------------

async def test_over_http_archive_and_mask(client, auth):  # type: ignore[no-untyped-def]
    vihf = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE, patient_oid="1.2.250.1.213.1.4.8")
    doc = Doc()
    filed_answer = await post_soap(client, "repository", ns.ACTION_ITI41, provide_and_register(doc), vihf=vihf)
    assert filed_answer.payload.get("status") == ns.STATUS_SUCCESS
    doc_id = next(r["id"] for r in (await found(client, auth)).values()
                  if r["masterIdentifier"]["value"] == f"urn:oid:{doc.unique_id}")
    archived = await post_soap(client, "registry", ns.ACTION_ITI57,
                               update_status(doc_id, ZOE, ns.STATUS_APPROVED, ns.STATUS_ARCHIVED), vihf=vihf)
    assert archived.status == 200 and archived.payload.get("status") == ns.STATUS_SUCCESS
    assert archived.action == ns.ACTION_ITI57 + "Response"
    stale = await post_soap(client, "registry", ns.ACTION_ITI57, update_metadata(
        Doc(**{**doc.__dict__, "id": "urn:uuid:v2", "confidentiality": (("N", V3), ("MASQUE_PS", A07))}), doc_id, "1"),
        vihf=vihf)
    assert stale.payload.get("status") == ns.STATUS_FAILURE
    assert [e.get("errorCode") for e in stale.payload.iter(f"{{{ns.NS_RS}}}RegistryError")] == [
        "XDSMetadataVersionError"]
    traces = await client.get("/dmp/fhir/AuditEvent", params={"patient.identifier": PATIENT}, headers=await auth())
    assert "ITI-57" in json.dumps(traces.json())


# --- what a non-author learns of documents it may not see (review of issue 11) ---------------------------------

def is_unknown(error: DmpError, reference: str) -> bool:
    """The answer of an unknown document, word for word (iti57.unresolved), for ``reference``."""
    expected = iti57.unresolved(reference, error.elements[0] if error.elements else "")
    return (error.kind, error.english, error.french, error.rule, error.xds_code, error.elements) == (
        expected.kind, expected.english, expected.french, expected.rule, expected.xds_code, expected.elements)


async def test_a_non_author_probing_a_masked_or_deleted_document_gets_the_unknown_answer(app, client, auth):  # type: ignore[no-untyped-def]
    """Whatever OriginalStatus, codes or version it sends, a professional from whom a document is masked (or
    deleted) gets the answer of an unknown document: nothing says its status, its codes, that it exists."""
    doc, doc_id = await filed(app, client, auth)
    masked = Doc(**{**doc.__dict__, "id": "urn:uuid:new-version-1", "confidentiality": (("N", V3), ("MASQUE_PS", A07))})
    await call(app, iti57.update_document_set, update_metadata(masked, doc_id, "1"))
    _, deleted_id = await filed(app, client, auth, Doc(data=b"%PDF-1.4 deleted"))
    await call(app, iti57.update_document_set, update_status(deleted_id, ZOE, ns.STATUS_APPROVED, ns.STATUS_DELETED))
    unknown = "0b9e6a43-0000-4000-8000-000000000000"
    for target in (doc_id, deleted_id, unknown):
        for original, new in ((ns.STATUS_APPROVED, ns.STATUS_ARCHIVED), (ns.STATUS_ARCHIVED, ns.STATUS_APPROVED),
                              (ns.STATUS_DELETED, ns.STATUS_APPROVED), (ns.STATUS_APPROVED, ns.STATUS_DEPRECATED)):
            error = await refused(app, update_status(target, ZOE, original, new), subject=BERNARD)
            assert is_unknown(error, f"urn:uuid:{target}"), (target, original, error)
        for changed in ({}, {"type_code": "34133-9"}, {"mime": "text/plain"}):
            for version in ("1", "2", "3"):
                guess = Doc(**{**doc.__dict__, "id": "urn:uuid:v-guess", **changed})
                error = await refused(app, update_metadata(guess, target, version), subject=BERNARD)
                assert is_unknown(error, f"urn:uuid:{target}"), (target, changed, version, error)
    # its author still sees what it is
    assert (await refused(app, update_status(doc_id, ZOE, ns.STATUS_ARCHIVED, ns.STATUS_APPROVED))).kind.value == \
        "conflict"


async def test_another_patients_document_is_unknown_whatever_the_patient_named(app, client, auth):  # type: ignore[no-untyped-def]
    """A document of another patient's DMP answers as an unknown one; a request naming a patient other than
    the VIHF's is refused as such before any document is looked up (the same answer for any target)."""
    theirs = Doc(data=b"%PDF-1.4 dominique", ins=DOMINIQUE)
    await call(app, iti41.provide_and_register, provide_and_register(theirs), ins=DOMINIQUE)
    their_id = next(r["id"] for r in (await found(client, auth, patient=DOMINIQUE)).values()
                    if r["masterIdentifier"]["value"] == f"urn:oid:{theirs.unique_id}")
    unknown = "0b9e6a43-0000-4000-8000-000000000001"
    for subject in (FONTAINE, BERNARD):
        error = await refused(app, update_status(their_id, ZOE, ns.STATUS_APPROVED, ns.STATUS_ARCHIVED),
                              subject=subject)
        assert is_unknown(error, f"urn:uuid:{their_id}"), error
        answers = set()
        for target in (their_id, unknown):  # the VIHF names ZOE, the request DOMINIQUE
            error = await refused(app, update_status(target, DOMINIQUE, ns.STATUS_APPROVED, ns.STATUS_ARCHIVED),
                                  subject=subject)
            answers.add((error.english, error.xds_code))
        assert len(answers) == 1 and answers.pop()[1] == "XDSPatientIdDoesNotMatch"
