"""ITI-18 Registry Stored Query over HTTP (SOAP 1.2, a signed VIHF), against the real store: documents filed over
FHIR ITI-65 found with the same metadata, the seeded ones, ObjectRef and LeafClass, every stored query, the
visibility of ITI-67 (masked, deleted), access refusals, errors, traces.

Requests in the shapes of public clients: ehealthsuisse ``EPR-by-example`` ``samples/ITI-18_request.xml`` (commit
e4fd5cf6; FindDocuments, quoted CX patient, ``('...Approved')``) and DRIMbox ``FindEntryUUIDDocumentRequest.java``
(``ansforge/DRIM-M_DRIMbox`` commit 4ae559df: GetDocuments on ``$XDSDocumentEntryUniqueId``, ObjectRef).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from app.dmp.models import DmpAuditEvent
from app.dmp.soap import namespaces as ns
from tests.dmp import builders
from tests.dmp.conftest import BERNARD, DOMINIQUE, FONTAINE, LEFEVRE, ZOE
from tests.dmp.soap.client import post_soap
from tests.dmp.soap.ebrim_builders import Doc, provide_and_register
from tests.dmp.soap.test_storedquery import request

RIM = f"{{{ns.NS_RIM}}}"
RS = f"{{{ns.NS_RS}}}"
INS_OID = "1.2.250.1.213.1.4.8"
TRE_A07 = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument"


def cx(ins: str) -> str:
    return f"'{ins}^^^&{INS_OID}&ISO^NH'"


async def vihf_for(client, subject: str = FONTAINE, patient: str = ZOE, **attributes: Any
                   ) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A signed VIHF from the control API, and the header standing in for the structure's TLS certificate."""
    response = await client.post("/sandbox/v1/dmps/vihf", json={"subject_name_id": subject, "patient_ins": patient,
                                                                 **attributes})
    assert response.status_code == 201, response.text
    answer = response.json()
    subject_dn = answer.get("client_certificate_subject")
    return answer["assertion"], ({"X-Segur-Client-Certificate": subject_dn} if subject_dn else {})


async def query(client, payload: etree._Element, *, subject: str = FONTAINE, patient: str = ZOE,
                **attributes: Any) -> etree._Element:  # type: ignore[no-untyped-def]
    """POST an AdhocQueryRequest to the registry; the AdhocQueryResponse."""
    assertion, headers = await vihf_for(client, subject, patient, **attributes)
    answer = await post_soap(client, "registry", ns.ACTION_ITI18, payload, vihf=assertion, headers=headers)
    assert answer.status == 200 and not answer.is_fault, (answer.fault_subcode, answer.fault_reason)
    assert answer.action == ns.response_action(ns.ACTION_ITI18)
    assert answer.payload is not None and answer.payload.tag == f"{{{ns.NS_QUERY}}}AdhocQueryResponse"
    return answer.payload


def find_documents(ins: str = ZOE, statuses: tuple[str, ...] = (ns.STATUS_APPROVED,), *extra: tuple[str, list[str]],
                   return_type: str = "LeafClass") -> etree._Element:
    listed = ",".join(f"'{s}'" for s in statuses)
    return request(ns.QUERY_FIND_DOCUMENTS, [("$XDSDocumentEntryPatientId", [cx(ins)]),
                                             ("$XDSDocumentEntryStatus", [f"({listed})"]), *extra],
                   return_type=return_type)


def objects(response: etree._Element, tag: str = "ExtrinsicObject") -> list[etree._Element]:
    assert response.get("status") == ns.STATUS_SUCCESS, etree.tostring(response)
    return response.findall(f"{RIM}RegistryObjectList/{RIM}{tag}")


def errors(response: etree._Element) -> list[str]:
    assert response.get("status") == ns.STATUS_FAILURE, etree.tostring(response)
    return [e.get("errorCode") or "" for e in response.iter(RS + "RegistryError")]


def slot(element: etree._Element, name: str) -> list[str]:
    found = element.find(f"{RIM}Slot[@name='{name}']")
    return [v.text or "" for v in found.iter(RIM + "Value")] if found is not None else []


def unique_id(element: etree._Element) -> str:
    return next(e.get("value") or "" for e in element.findall(RIM + "ExternalIdentifier")
                if e.get("identificationScheme") == ns.IDENT_DOC_UNIQUE)


def code(element: etree._Element, scheme: str) -> list[tuple[str, str]]:
    return [(c.get("nodeRepresentation") or "", slot(c, "codingScheme")[0])
            for c in element.findall(RIM + "Classification") if c.get("classificationScheme") == scheme]


async def file_fhir(client, auth, *, subject: str = FONTAINE, ins: str = ZOE, **kwargs: Any
                    ) -> tuple[str, str, bytes]:  # type: ignore[no-untyped-def]
    """A document filed over FHIR ITI-65: (its entryUUID, its XDS uniqueId, its bytes)."""
    data = kwargs.pop("data", None) or builders.pdf_bytes()
    bundle = builders.provide_bundle(ins, data=data, rpps=subject[1:], **kwargs)
    response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                 headers={**await auth(subject), "Content-Type": "application/fhir+json"})
    assert response.status_code == 200, response.text
    doc_id = response.json()["entry"][1]["response"]["location"].split("/DocumentReference/")[1].split("/")[0]
    master = bundle["entry"][1]["resource"]["masterIdentifier"]["value"]
    return doc_id, master.removeprefix("urn:oid:"), data


async def patch_document(client, auth, uid: str, operations: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    """A FHIR metadata update (JSON Patch) of the document ``uid`` by its author."""
    identifier = f"urn:ietf:rfc:3986|urn:oid:{uid}"
    response = await client.patch("/dmp/fhir/DocumentReference", params={"identifier": identifier},
                                  content=json.dumps(operations),
                                  headers={**await auth(), "Content-Type": "application/json-patch+json"})
    assert response.status_code == 200, response.text


# --- FindDocuments ----------------------------------------------------------------------------------------

async def test_a_document_filed_over_fhir_is_found_with_its_metadata(client, auth):  # type: ignore[no-untyped-def]
    doc_id, uid, data = await file_fhir(client, auth)
    found = {unique_id(e): e for e in objects(await query(client, find_documents()))}
    eo = found[uid]
    assert eo.get("id") == f"urn:uuid:{doc_id}" and eo.get("status") == ns.STATUS_APPROVED
    assert eo.get("mimeType") == "application/pdf"
    assert slot(eo, "hash") == [hashlib.sha1(data).hexdigest()]  # noqa: S324
    assert slot(eo, "size") == [str(len(data))]
    assert slot(eo, "creationTime") == ["20260612080000"]
    assert slot(eo, "repositoryUniqueId") == [ns.DEFAULT_REPOSITORY_UNIQUE_ID]
    assert code(eo, ns.SCHEME_DOC_CLASS) == [("10", "1.2.250.1.213.1.1.4.1")]
    assert code(eo, ns.SCHEME_DOC_TYPE) == [("11488-4", "2.16.840.1.113883.6.1")]
    assert code(eo, ns.SCHEME_DOC_FORMAT) == [("urn:ihe:iti:xds-sd:pdf:2008", "1.3.6.1.4.1.19376.1.2.3")]
    assert code(eo, ns.SCHEME_DOC_CONFIDENTIALITY) == [("N", "2.16.840.1.113883.5.25")]
    author = next(c for c in eo.findall(RIM + "Classification")
                  if c.get("classificationScheme") == ns.SCHEME_DOC_AUTHOR)
    assert slot(author, "authorPerson")[0].startswith(f"{FONTAINE}^Fontaine^Claire^")
    assert eo.find(f"{RIM}Name/{RIM}LocalizedString").get("value") == "CR de consultation"


async def test_the_seeded_documents_and_object_refs(client):  # type: ignore[no-untyped-def]
    leaf = objects(await query(client, find_documents()))
    assert len(leaf) == 5 and {e.get("status") for e in leaf} == {ns.STATUS_APPROVED}
    refs = objects(await query(client, find_documents(return_type="ObjectRef")), "ObjectRef")
    assert [r.get("id") for r in refs] == [e.get("id") for e in leaf]
    assert not objects(await query(client, find_documents(return_type="ObjectRef")))  # no ExtrinsicObject


async def test_code_filters_match_fhir_filed_codes_by_oid(client, auth):  # type: ignore[no-untyped-def]
    _, uid, _ = await file_fhir(client, auth, type_code="34133-9")
    def by(name: str, value: str) -> etree._Element:  # noqa: E306
        return find_documents(ZOE, (ns.STATUS_APPROVED,), (name, [value]))
    assert [unique_id(e) for e in objects(await query(client, by(
        "$XDSDocumentEntryTypeCode", "('34133-9^^2.16.840.1.113883.6.1')")))] == [uid]
    assert [unique_id(e) for e in objects(await query(client, by(
        "$XDSDocumentEntryTypeCode", "('34133-9^^^&2.16.840.1.113883.6.1&ISO')")))] == [uid]
    assert not objects(await query(client, by("$XDSDocumentEntryTypeCode", "('34133-9^^1.2.3')")))
    assert uid in {unique_id(e) for e in objects(await query(client, by(
        "$XDSDocumentEntryPracticeSettingCode", "('AMBULATOIRE^^1.2.250.1.213.1.1.4.9')")))}
    assert uid in {unique_id(e) for e in objects(await query(client, by(
        "$XDSDocumentEntryHealthcareFacilityTypeCode", "('SA07^^1.2.250.1.71.4.2.4')")))}
    assert uid in {unique_id(e) for e in objects(await query(client, by(
        "$XDSDocumentEntryFormatCode", "('urn:ihe:iti:xds-sd:pdf:2008^^1.3.6.1.4.1.19376.1.2.3')")))}
    authored = objects(await query(client, by("$XDSDocumentEntryAuthorPerson", "('%^fontaine^%')")))
    assert uid in {unique_id(e) for e in authored}
    assert not any(unique_id(e) == uid for e in objects(await query(client, by(
        "$XDSDocumentEntryAuthorPerson", "('%^Bernard^%')"))))


async def test_times_from_inclusive_to_exclusive(client, auth):  # type: ignore[no-untyped-def]
    _, uid, _ = await file_fhir(client, auth)  # creationTime 20260612080000, serviceStart 20260612073000
    async def found(*slots: tuple[str, list[str]]) -> bool:  # noqa: E306
        return uid in {unique_id(e) for e in objects(await query(client, find_documents(ZOE, (ns.STATUS_APPROVED,),
                                                                                             *slots)))}
    assert await found(("$XDSDocumentEntryCreationTimeFrom", ["20260612080000"]))
    assert not await found(("$XDSDocumentEntryCreationTimeTo", ["20260612080000"]))
    assert await found(("$XDSDocumentEntryCreationTimeFrom", ["20260612"]),
                       ("$XDSDocumentEntryCreationTimeTo", ["20260613"]))
    assert await found(("$XDSDocumentEntryServiceStartTimeTo", ["202607"]))
    assert not await found(("$XDSDocumentEntryServiceStartTimeFrom", ["202607"]))
    assert not await found(("$XDSDocumentEntryServiceStopTimeFrom", ["2000"]))  # no stop time: not matched


async def test_confidentiality_and_or(client, auth):  # type: ignore[no-untyped-def]
    _, uid, _ = await file_fhir(client, auth, labels=[
        {"system": builders.V3, "code": "N"}, {"system": TRE_A07, "code": "INVISIBLE_PATIENT"}])
    async def found(*groups: str) -> bool:  # noqa: E306
        slots = [("$XDSDocumentEntryConfidentialityCode", [g]) for g in groups]
        return uid in {unique_id(e) for e in objects(await query(client, find_documents(ZOE, (ns.STATUS_APPROVED,),
                                                                                             *slots)))}
    assert await found("('INVISIBLE_PATIENT^^1.2.250.1.213.1.1.4.13')")
    assert await found("('N^^2.16.840.1.113883.5.25')", "('INVISIBLE_PATIENT^^1.2.250.1.213.1.1.4.13', 'R^^x')")
    assert not await found("('N^^2.16.840.1.113883.5.25')", "('MASQUE_PS^^1.2.250.1.213.1.1.4.13')")


async def test_masked_documents_only_to_their_author(client, auth):  # type: ignore[no-untyped-def]
    _, uid, _ = await file_fhir(client, auth, labels=[{"system": TRE_A07, "code": "MASQUE_PS"}])
    assert uid in {unique_id(e) for e in objects(await query(client, find_documents()))}
    other = await query(client, find_documents(), subject=BERNARD, access_mode="bris_de_glace",
                        access_reason="urgence vitale")
    assert uid not in {unique_id(e) for e in objects(other)}
    assert len(objects(other)) == 5


async def test_deleted_documents_only_when_asked_and_to_their_author(client, auth):  # type: ignore[no-untyped-def]
    doc_id, uid, _ = await file_fhir(client, auth)
    await patch_document(client, auth, uid, [{"op": "replace", "path": "/status", "value": "entered-in-error"}])
    assert uid not in {unique_id(e) for e in objects(await query(client, find_documents()))}
    own = objects(await query(client, find_documents(ZOE, (ns.STATUS_DELETED,))))
    assert [(unique_id(e), e.get("status")) for e in own] == [(uid, ns.STATUS_DELETED)]
    await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/10001000032", json={"status": "VALIDE"})
    assert not objects(await query(client, find_documents(ZOE, (ns.STATUS_DELETED,)), subject=BERNARD))
    by_id = request(ns.QUERY_GET_DOCUMENTS, [("$XDSDocumentEntryEntryUUID", [f"('urn:uuid:{doc_id}')"])])
    assert not objects(await query(client, by_id))


async def test_archived_is_its_own_status(client, auth):  # type: ignore[no-untyped-def]
    _, uid, _ = await file_fhir(client, auth)
    await patch_document(client, auth, uid, [{"op": "replace", "path": "/extension/0/valueBoolean", "value": True}])
    assert uid not in {unique_id(e) for e in objects(await query(client, find_documents()))}
    archived = objects(await query(client, find_documents(ZOE, (ns.STATUS_ARCHIVED,))))
    assert [(unique_id(e), e.get("status")) for e in archived] == [(uid, ns.STATUS_ARCHIVED)]
    both = objects(await query(client, find_documents(ZOE, (ns.STATUS_APPROVED, ns.STATUS_ARCHIVED))))
    assert len(both) == 6


# --- refusals ---------------------------------------------------------------------------------------------

async def test_access_refused_without_authorisation_and_traced(client, session):  # type: ignore[no-untyped-def]
    response = await query(client, find_documents(), subject=LEFEVRE)
    assert errors(response) == ["XDSRegistryError"]
    assert "NON_EXISTE" in response.find(f".//{RS}RegistryError").get("codeContext")
    refusals = (await session.execute(select(DmpAuditEvent).where(
        DmpAuditEvent.ins == ZOE, DmpAuditEvent.transaction == "ITI-18"))).scalars().all()
    assert [(t.outcome, t.agent_rpps) for t in refusals] == [("4", LEFEVRE[1:])]


async def test_the_patient_must_be_the_vihf_one(client):  # type: ignore[no-untyped-def]
    assert errors(await query(client, find_documents(DOMINIQUE))) == ["XDSPatientIdDoesNotMatch"]


async def test_a_closed_dmp(client):  # type: ignore[no-untyped-def]
    closed = await client.post(f"/sandbox/v1/dmps/{ZOE}/close", json={"motifFermeture": "patient-demande"})
    assert closed.status_code == 200, closed.text
    response = await query(client, find_documents())
    assert len(errors(response)) == 1 and "DMP:closed" in response.find(f".//{RS}RegistryError").get("codeContext")


@pytest.mark.parametrize(("payload", "code"), [
    (request("urn:uuid:00000000-0000-0000-0000-000000000000", []), "XDSUnknownStoredQuery"),
    (request(ns.QUERY_FIND_DOCUMENTS, [("$XDSDocumentEntryPatientId", [cx(ZOE)])]), "XDSStoredQueryMissingParam"),
    (request(ns.QUERY_GET_DOCUMENTS, [("$XDSDocumentEntryEntryUUID", ["('a')"]),
                                      ("$XDSDocumentEntryUniqueId", ["('b')"])]), "XDSStoredQueryParamNumber"),
    (request(ns.QUERY_FIND_DOCUMENTS, [("$XDSDocumentEntryPatientId", [cx(ZOE)]),
                                       ("$XDSDocumentEntryStatus", ["Approved"])]), "XDSRegistryError"),
])
async def test_request_errors(client, payload: etree._Element, code: str):  # type: ignore[no-untyped-def]
    assert errors(await query(client, payload)) == [code]


async def test_too_many_results(client, settings, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(settings, "dmp_max_page_size", 4)
    assert errors(await query(client, find_documents())) == ["XDSTooManyResults"]


async def test_queries_are_traced(client, session):  # type: ignore[no-untyped-def]
    leaf = objects(await query(client, find_documents()))
    traces = (await session.execute(select(DmpAuditEvent).where(
        DmpAuditEvent.ins == ZOE, DmpAuditEvent.transaction == "ITI-18"))).scalars().all()
    assert len(traces) == 1 and traces[0].outcome == "0" and traces[0].action == "E"
    assert sorted(f"urn:uuid:{i}" for i in traces[0].document_ids) == sorted(e.get("id") for e in leaf)
    assert (traces[0].query or "").startswith("FindDocuments?")


# --- the id-based queries ---------------------------------------------------------------------------------

async def test_get_documents_by_unique_id_drimbox_shape(client, auth):  # type: ignore[no-untyped-def]
    doc_id, uid, _ = await file_fhir(client, auth)
    payload = request(ns.QUERY_GET_DOCUMENTS, [("$XDSDocumentEntryUniqueId", [f"('{uid}')"])],
                      return_type="ObjectRef")
    refs = objects(await query(client, payload), "ObjectRef")
    assert [r.get("id") for r in refs] == [f"urn:uuid:{doc_id}"]
    ids = f"('urn:uuid:{doc_id}', 'urn:uuid:x')"
    by_uuid = request(ns.QUERY_GET_DOCUMENTS, [("$XDSDocumentEntryEntryUUID", [ids])])
    assert [unique_id(e) for e in objects(await query(client, by_uuid))] == [uid]


async def test_a_replacement_and_its_associations(client, auth):  # type: ignore[no-untyped-def]
    old_id, old_uid, _ = await file_fhir(client, auth)
    new_id, new_uid, _ = await file_fhir(client, auth, replaces=old_id)
    ids = f"('urn:uuid:{old_id}', 'urn:uuid:{new_id}')"
    response = await query(client, request(ns.QUERY_GET_DOCUMENTS_AND_ASSOCIATIONS,
                                           [("$XDSDocumentEntryEntryUUID", [ids])]))
    statuses = {unique_id(e): e.get("status") for e in objects(response)}
    assert statuses == {old_uid: ns.STATUS_DEPRECATED, new_uid: ns.STATUS_APPROVED}
    associations = [(a.get("associationType"), a.get("sourceObject"), a.get("targetObject"))
                    for a in objects(response, "Association")]
    assert (ns.ASSOC_RPLC, f"urn:uuid:{new_id}", f"urn:uuid:{old_id}") in associations
    assert sum(1 for a in associations if a[0] == ns.ASSOC_HAS_MEMBER) == 2
    assert len(associations) == 3
    related = await query(client, request(ns.QUERY_GET_RELATED_DOCUMENTS, [
        ("$XDSDocumentEntryUniqueId", [f"('{old_uid}')"]), ("$AssociationTypes", [f"('{ns.ASSOC_RPLC}')"])]))
    assert {unique_id(e) for e in objects(related)} == {old_uid, new_uid}
    assert [a.get("associationType") for a in objects(related, "Association")] == [ns.ASSOC_RPLC]
    alone = await query(client, request(ns.QUERY_GET_RELATED_DOCUMENTS, [
        ("$XDSDocumentEntryUniqueId", [f"('{old_uid}')"]), ("$AssociationTypes", [f"('{ns.ASSOC_XFRM}')"])]))
    assert not objects(alone)


async def test_submission_sets_and_their_contents(client, auth):  # type: ignore[no-untyped-def]
    doc_id, uid, _ = await file_fhir(client, auth)
    found = await query(client, request(ns.QUERY_FIND_SUBMISSION_SETS, [
        ("$XDSSubmissionSetPatientId", [cx(ZOE)]), ("$XDSSubmissionSetStatus", [f"('{ns.STATUS_APPROVED}')"]),
        ("$XDSSubmissionSetContentType", ["('10^^1.2.250.1.213.1.1.4.1')"])]))
    packages = objects(found, "RegistryPackage")
    assert len(packages) == 2  # the seed's and this one
    members = await query(client, request(ns.QUERY_GET_ASSOCIATIONS, [("$uuid", [f"('urn:uuid:{doc_id}')"])]))
    (member,) = objects(members, "Association")
    ss_id = member.get("sourceObject")
    assert (member.get("associationType"), member.get("targetObject")) == (ns.ASSOC_HAS_MEMBER, f"urn:uuid:{doc_id}")
    assert ss_id in {p.get("id") for p in packages}
    contents = await query(client, request(ns.QUERY_GET_SUBMISSION_SET_AND_CONTENTS,
                                           [("$XDSSubmissionSetEntryUUID", [f"'{ss_id}'"])]))
    assert [p.get("id") for p in objects(contents, "RegistryPackage")] == [ss_id]
    assert [unique_id(e) for e in objects(contents)] == [uid]
    assert [a.get("targetObject") for a in objects(contents, "Association")] == [f"urn:uuid:{doc_id}"]
    holding = await query(client, request(ns.QUERY_GET_SUBMISSION_SETS, [("$uuid", [f"('urn:uuid:{doc_id}')"])]))
    assert [p.get("id") for p in objects(holding, "RegistryPackage")] == [ss_id]
    by_author = await query(client, request(ns.QUERY_FIND_SUBMISSION_SETS, [
        ("$XDSSubmissionSetPatientId", [cx(ZOE)]), ("$XDSSubmissionSetStatus", [f"('{ns.STATUS_APPROVED}')"]),
        ("$XDSSubmissionSetAuthorPerson", ["'%nobody%'"])]))
    assert not objects(by_author, "RegistryPackage")


async def test_seeded_submission_set_contents_hide_masked_documents(client, auth):  # type: ignore[no-untyped-def]
    doc_id, _, _ = await file_fhir(client, auth, labels=[{"system": TRE_A07, "code": "MASQUE_PS"}])
    members = await query(client, request(ns.QUERY_GET_ASSOCIATIONS, [("$uuid", [f"('urn:uuid:{doc_id}')"])]))
    ss_id = objects(members, "Association")[0].get("sourceObject")
    contents = await query(client, request(ns.QUERY_GET_SUBMISSION_SET_AND_CONTENTS,
                                           [("$XDSSubmissionSetEntryUUID", [f"'{ss_id}'"])]),
                           subject=BERNARD, access_mode="bris_de_glace", access_reason="urgence vitale")
    assert not objects(contents) and not objects(contents, "Association")


# --- the two faces agree ----------------------------------------------------------------------------------

def _xds_time(fhir: str) -> str:
    return datetime.fromisoformat(fhir.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y%m%d%H%M%S")


async def test_every_document_reads_the_same_over_iti67_and_iti18(client, auth):  # type: ignore[no-untyped-def]
    """The seeded documents and one filed over ITI-65: each DocumentReference of ITI-67 and its ExtrinsicObject
    of ITI-18 carry the same metadata (MHD 4.2.3 Table 4.5.1.1-1 pairs them)."""
    await file_fhir(client, auth)
    fhir = await client.get("/dmp/fhir/DocumentReference", headers=await auth(), params={
        "patient.identifier": f"urn:oid:{INS_OID}|{ZOE}", "status": "current"})
    references = {e["resource"]["id"]: e["resource"] for e in fhir.json()["entry"]}
    entries = {e.get("id").removeprefix("urn:uuid:"): e for e in objects(await query(client, find_documents()))}
    assert set(references) == set(entries) and len(entries) == 6
    for doc_id, ref in references.items():
        eo = entries[doc_id]
        attachment = ref["content"][0]["attachment"]
        assert unique_id(eo) == ref["masterIdentifier"]["value"].removeprefix("urn:oid:")
        assert eo.get("mimeType") == attachment["contentType"]
        assert slot(eo, "size") == [str(attachment["size"])]
        assert slot(eo, "hash") == [base64.b64decode(attachment["hash"]).hex()]
        assert slot(eo, "creationTime") == [_xds_time(ref["date"])]
        assert slot(eo, "serviceStartTime") == [_xds_time(ref["context"]["period"]["start"])]
        assert eo.find(f"{RIM}Name/{RIM}LocalizedString").get("value") == attachment["title"]
        assert [c for c, _ in code(eo, ns.SCHEME_DOC_TYPE)] == [ref["type"]["coding"][0]["code"]]
        assert [c for c, _ in code(eo, ns.SCHEME_DOC_CLASS)] == [ref["category"][0]["coding"][0]["code"]]
        assert [c for c, _ in code(eo, ns.SCHEME_DOC_FORMAT)] == [ref["content"][0]["format"]["code"]]
        assert [c for c, _ in code(eo, ns.SCHEME_DOC_FACILITY)] == [
            ref["context"]["facilityType"]["coding"][0]["code"]]
        assert [c for c, _ in code(eo, ns.SCHEME_DOC_PRACTICE)] == [
            ref["context"]["practiceSetting"]["coding"][0]["code"]]
        assert [c for c, _ in code(eo, ns.SCHEME_DOC_CONFIDENTIALITY)] == [
            label["coding"][0]["code"] for label in ref["securityLabel"]]
        assert eo.find(f"{RIM}VersionInfo").get("versionName") == ref["meta"]["versionId"]


async def file_fhir_dated(client, auth, *, date: str, creation: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A document filed over ITI-65 with its own ``date`` and ``content.attachment.creation``: (entryUUID, uniqueId)."""
    bundle = builders.provide_bundle(ZOE, data=builders.pdf_bytes(), rpps=FONTAINE[1:])
    docref = bundle["entry"][1]["resource"]
    docref["date"], docref["content"][0]["attachment"]["creation"] = date, creation
    response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                 headers={**await auth(), "Content-Type": "application/fhir+json"})
    assert response.status_code == 200, response.text
    doc_id = response.json()["entry"][1]["response"]["location"].split("/DocumentReference/")[1].split("/")[0]
    return doc_id, docref["masterIdentifier"]["value"].removeprefix("urn:oid:")


@pytest.mark.parametrize("creation", ["2026-05-01", "2026-05-01T09:00:00+02:00"])
async def test_creation_time_is_the_date_on_both_faces(client, auth, creation: str):  # type: ignore[no-untyped-def]
    """PDSm4DMP maps creationTime to DocumentReference.date (annexe_dates_xds_fhir.md; MHD 4.2.3 says
    attachment.creation): a document whose attachment.creation differs shows, and is found by, its date on ITI-18
    as ITI-67's ``creation`` finds it; ITI-67 keeps the attachment's creation as filed."""
    doc_id, uid = await file_fhir_dated(client, auth, date="2026-06-12T10:00:00+02:00", creation=creation)
    (eo,) = [e for e in objects(await query(client, find_documents())) if unique_id(e) == uid]
    assert slot(eo, "creationTime") == ["20260612080000"]

    async def xds(*slots: tuple[str, list[str]]) -> bool:
        return uid in {unique_id(e) for e in objects(await query(client, find_documents(ZOE, (ns.STATUS_APPROVED,),
                                                                                         *slots)))}

    async def fhir(value: str) -> dict[str, Any] | None:
        answer = await client.get("/dmp/fhir/DocumentReference", headers=await auth(), params={
            "patient.identifier": f"urn:oid:{INS_OID}|{ZOE}", "status": "current", "creation": value})
        assert answer.status_code == 200, answer.text
        return next((e["resource"] for e in answer.json().get("entry") or [] if e["resource"]["id"] == doc_id), None)

    assert await xds(("$XDSDocumentEntryCreationTimeFrom", ["20260612080000"]),
                     ("$XDSDocumentEntryCreationTimeTo", ["20260612080001"]))
    assert not await xds(("$XDSDocumentEntryCreationTimeFrom", ["20260501"]),
                         ("$XDSDocumentEntryCreationTimeTo", ["20260502"]))
    found = await fhir("ge2026-06-12T08:00:00Z")
    assert found is not None and found["date"] == "2026-06-12T08:00:00Z"
    assert found["content"][0]["attachment"]["creation"] in (creation, "2026-05-01T07:00:00Z")
    assert await fhir("lt2026-05-02") is None


async def test_creation_time_keeps_a_date_only_creation_of_the_same_instant(client, auth):  # type: ignore[no-untyped-def]
    _, uid = await file_fhir_dated(client, auth, date="2026-06-12T00:00:00Z", creation="2026-06-12")
    (eo,) = [e for e in objects(await query(client, find_documents())) if unique_id(e) == uid]
    assert slot(eo, "creationTime") == ["20260612"]


async def test_a_document_filed_over_iti41_reads_back_as_filed(client):  # type: ignore[no-untyped-def]
    """ITI-41 in, ITI-18 out: the DocumentEntry the registry returns carries every slot, classification and
    external identifier the submitter sent (the feed helper's ``ebrim_builders``, Mediboard / ehealthsuisse
    shapes), through the stored MHD DocumentReference both faces share."""
    doc = Doc(data=b"%PDF-1.4 round trip", mtom=True, stop="20260612090000")
    assertion, headers = await vihf_for(client)
    filed = await post_soap(client, "repository", ns.ACTION_ITI41, provide_and_register(doc), vihf=assertion,
                            headers=headers, parts={doc.content_id: ("application/pdf", doc.data)})
    assert filed.payload is not None and filed.payload.get("status") == ns.STATUS_SUCCESS, etree.tostring(
        filed.payload)
    sent = etree.fromstring(f'<rim:RegistryObjectList xmlns:rim="{ns.NS_RIM}">{doc.xml()}</rim:RegistryObjectList>')[0]
    (back,) = [e for e in objects(await query(client, find_documents())) if unique_id(e) == doc.unique_id]

    def slots_of(element: etree._Element) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for s in element.findall(RIM + "Slot"):
            found.setdefault(s.get("name") or "", []).extend(v.text or "" for v in s.iter(RIM + "Value"))
        return found

    def codes_of(element: etree._Element) -> dict[str, set[tuple[str, str]]]:
        found: dict[str, set[tuple[str, str]]] = {}
        for c in element.findall(RIM + "Classification"):
            if c.get("classificationScheme") != ns.SCHEME_DOC_AUTHOR:
                found.setdefault(c.get("classificationScheme") or "", set()).add(
                    (c.get("nodeRepresentation") or "", slot(c, "codingScheme")[0]))
        return found

    def author_of(element: etree._Element) -> dict[str, list[str]]:
        (author,) = [c for c in element.findall(RIM + "Classification")
                     if c.get("classificationScheme") == ns.SCHEME_DOC_AUTHOR]
        return slots_of(author)

    expected = slots_of(sent)
    expected["repositoryUniqueId"] = [ns.DEFAULT_REPOSITORY_UNIQUE_ID]  # the repository's own (ITI TF-3 §4.2.3.2.18)
    assert len(expected) == 10 and len(expected["sourcePatientInfo"]) == 3
    assert slots_of(back) == expected
    assert codes_of(back) == codes_of(sent)
    assert author_of(back) == author_of(sent)
    for scheme in (ns.IDENT_DOC_PATIENT, ns.IDENT_DOC_UNIQUE):
        assert [e.get("value") for e in back.findall(RIM + "ExternalIdentifier")
                if e.get("identificationScheme") == scheme] == [
            e.get("value") for e in sent.findall(RIM + "ExternalIdentifier") if e.get("identificationScheme") == scheme]
    assert back.find(f"{RIM}Name/{RIM}LocalizedString").get("value") == "CR de consultation"
    assert (back.get("mimeType"), back.get("objectType")) == (sent.get("mimeType"), sent.get("objectType"))
    retrieved = await post_soap(client, "repository", ns.ACTION_ITI43, etree.fromstring(
        f'<xdsb:RetrieveDocumentSetRequest xmlns:xdsb="{ns.NS_XDSB}"><xdsb:DocumentRequest>'
        f"<xdsb:RepositoryUniqueId>{ns.DEFAULT_REPOSITORY_UNIQUE_ID}</xdsb:RepositoryUniqueId>"
        f"<xdsb:DocumentUniqueId>{doc.unique_id}</xdsb:DocumentUniqueId></xdsb:DocumentRequest>"
        "</xdsb:RetrieveDocumentSetRequest>"), vihf=assertion, headers=headers)
    assert list(retrieved.parts.values()) == [("application/pdf", doc.data)]
