"""ITI-41 Provide and Register Document Set-b (app/dmp/soap/iti41.py): filed through the same service as
ITI-65, then found and read over FHIR (ITI-67 / ITI-68) as a document filed over FHIR; every refusal leaves
nothing stored; RPLC deprecates the replaced document. Requests in the shape of tests/dmp/soap/ebrim_builders.py
(ehealthsuisse/EPR-by-example samples/ITI-41_request_raw.xml @03b844f; Mediboard's DMP client)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from lxml import etree

from app.dmp import service
from app.dmp.exceptions import DmpError
from app.dmp.soap import iti41, iti57
from app.dmp.soap import namespaces as ns
from app.dmp.soap.call import Attachment
from tests.dmp.builders import provide_bundle
from tests.dmp.conftest import BERNARD, DOMINIQUE, FONTAINE, LEFEVRE, ZOE
from tests.dmp.soap.client import get_vihf, post_soap
from tests.dmp.soap.direct import call
from tests.dmp.soap.ebrim_builders import Doc, provide_and_register, update_metadata, update_status
from tests.dmp.soap.test_iti18 import objects, query
from tests.dmp.soap.test_storedquery import request

PATIENT = f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"
V3 = "2.16.840.1.113883.5.25"
A07 = "1.2.250.1.213.1.1.4.13"


async def documents(client, auth, subject=FONTAINE, **params):  # type: ignore[no-untyped-def]
    found = await client.get("/dmp/fhir/DocumentReference", params={"patient.identifier": PATIENT,
                                                                    "status": "current", **params},
                             headers=await auth(subject))
    assert found.status_code == 200, found.text
    return {e["resource"]["masterIdentifier"]["value"]: e["resource"] for e in found.json().get("entry") or []}


async def refused(app, payload, **kwargs) -> DmpError:  # type: ignore[no-untyped-def]
    with pytest.raises(DmpError) as caught:
        await call(app, iti41.provide_and_register, payload, **kwargs)
    return caught.value


def codes(error: DmpError) -> list[str | None]:
    return [e.xds_code for e in error.errors]


async def test_filed_over_soap_found_and_read_over_fhir(app, client, auth):  # type: ignore[no-untyped-def]
    doc = Doc(data=b"%PDF-1.4 consultation", stop="20260612083000")
    reply = await call(app, iti41.provide_and_register, provide_and_register(doc))
    assert reply.action == ns.ACTION_ITI41 + "Response"
    assert reply.payload.get("status") == ns.STATUS_SUCCESS
    stored = (await documents(client, auth, status="current", type="11488-4", category="10"))[
        f"urn:oid:{doc.unique_id}"]
    assert stored["status"] == "current"
    assert stored["date"] == "2026-06-12T08:00:00Z"
    assert stored["context"]["period"] == {"start": "2026-06-12T07:30:00Z", "end": "2026-06-12T08:30:00Z"}
    assert stored["securityLabel"][0]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
    assert stored["context"]["facilityType"]["coding"][0]["code"] == "SA07"
    assert stored["content"][0]["format"]["code"] == "urn:ihe:iti:xds-sd:pdf:2008"
    attachment = stored["content"][0]["attachment"]
    assert attachment["title"] == "CR de consultation" and attachment["language"] == "fr-FR"
    read = await client.get(attachment["url"], headers={**await auth(), "Accept": "application/pdf"})
    assert read.status_code == 200 and read.content == doc.data
    # same searchable metadata as a document filed over FHIR: author, format, facility
    by_author = await documents(client, auth, **{"author.family": "fontaine"})
    assert f"urn:oid:{doc.unique_id}" in by_author


def _codes(value):  # type: ignore[no-untyped-def]
    """(system, code) of every coding below ``value``: what searches compare."""
    if isinstance(value, dict):
        own = [(value["system"], value["code"])] if "system" in value and "code" in value else []
        return own + [c for v in value.values() for c in _codes(v)]
    return [c for v in value for c in _codes(v)] if isinstance(value, list) else []


async def test_soap_and_fhir_file_the_same_document(app, client, auth):  # type: ignore[no-untyped-def]
    """The same metadata sent over ITI-41 and over ITI-65 (tests/dmp/builders.py) reads back the same over
    FHIR: codes, dates (in UTC), patient, status; and the same searches find both."""
    doc = Doc()
    await call(app, iti41.provide_and_register, provide_and_register(doc))
    bundle = provide_bundle(ZOE)
    response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                 headers={**await auth(), "Content-Type": "application/fhir+json"})
    assert response.status_code == 200, response.text
    fhir_uid = bundle["entry"][1]["resource"]["masterIdentifier"]["value"]
    found = await documents(client, auth, type="http://loinc.org|11488-4", format="urn:ihe:iti:xds-sd:pdf:2008",
                            facility="SA07", setting="AMBULATOIRE", **{"security-label": "N"})
    soap, fhir = found[f"urn:oid:{doc.unique_id}"], found[fhir_uid]
    for element in ("type", "category", "securityLabel", "subject"):
        assert _codes(soap[element]) == _codes(fhir[element]) and soap.get(element) is not None, element
    assert soap["subject"] == fhir["subject"]
    assert _codes(soap["content"][0]["format"]) == _codes(fhir["content"][0]["format"])
    for element in ("facilityType", "practiceSetting", "period"):
        assert _codes(soap["context"][element]) == _codes(fhir["context"][element]), element
    assert soap["context"]["period"] == fhir["context"]["period"] and soap["date"] == fhir["date"]
    assert (soap["status"], soap["meta"]["versionId"]) == (fhir["status"], fhir["meta"]["versionId"])


async def test_mtom_part_is_the_document(app, client, auth):  # type: ignore[no-untyped-def]
    doc = Doc(data=b"%PDF-1.4 mtom", mtom=True)
    part = Attachment(doc.content_id, "application/pdf", doc.data)
    await call(app, iti41.provide_and_register, provide_and_register(doc), attachments={doc.content_id: part})
    stored = (await documents(client, auth))[f"urn:oid:{doc.unique_id}"]
    read = await client.get(stored["content"][0]["attachment"]["url"], headers={**await auth(),
                                                                                "Accept": "application/pdf"})
    assert read.content == doc.data


async def test_every_refusal_at_once_and_nothing_stored(app, client, auth):  # type: ignore[no-untyped-def]
    bad_hash = Doc(hash="0" * 40)
    bad_size = Doc(size="3")
    no_bytes = Doc(with_bytes=False)
    error = await refused(app, provide_and_register(bad_hash, bad_size, no_bytes))
    assert sorted(codes(error)) == ["XDSMissingDocument", "XDSRepositoryMetadataError",
                                    "XDSRepositoryMetadataError"]
    assert not set(await documents(client, auth)) & {f"urn:oid:{d.unique_id}" for d in (bad_hash, bad_size, no_bytes)}


async def test_bytes_without_metadata(app):  # type: ignore[no-untyped-def]
    doc = Doc()
    orphan = '<xdsb:Document id="Orphan01">JVBERg==</xdsb:Document></xdsb:ProvideAndRegisterDocumentSetRequest>'
    payload = provide_and_register(doc).replace("</xdsb:ProvideAndRegisterDocumentSetRequest>", orphan)
    assert codes(await refused(app, payload)) == ["XDSMissingDocumentMetadata"]


async def test_patient_mismatch_submission_set_and_vihf(app):  # type: ignore[no-untyped-def]
    error = await refused(app, provide_and_register(Doc(ins=DOMINIQUE), ss_ins=ZOE))
    assert codes(error) == ["XDSPatientIdDoesNotMatch"]
    assert codes(await refused(app, provide_and_register(Doc()), ins=DOMINIQUE)) == ["XDSPatientIdDoesNotMatch"]


async def test_unknown_patient(app):  # type: ignore[no-untyped-def]
    error = await refused(app, provide_and_register(Doc(ins="180012A01234599")), ins=None)
    assert codes(error) == ["XDSUnknownPatientId"]


async def test_duplicate_and_non_identical_hash(app, client, auth):  # type: ignore[no-untyped-def]
    first = Doc(data=b"%PDF-1.4 first")
    await call(app, iti41.provide_and_register, provide_and_register(first))
    again = Doc(data=first.data, unique_id=first.unique_id)
    assert codes(await refused(app, provide_and_register(again))) == ["XDSDuplicateUniqueIdInRegistry"]
    other = Doc(data=b"%PDF-1.4 other", unique_id=first.unique_id)
    assert codes(await refused(app, provide_and_register(other))) == ["XDSNonIdenticalHash"]


async def test_rplc_deprecates_the_replaced_document(app, client, auth):  # type: ignore[no-untyped-def]
    old = Doc(data=b"%PDF-1.4 v1")
    await call(app, iti41.provide_and_register, provide_and_register(old))
    old_id = (await documents(client, auth))[f"urn:oid:{old.unique_id}"]["id"]
    new = Doc(data=b"%PDF-1.4 v2")
    await call(app, iti41.provide_and_register, provide_and_register(new, replaces={new.id: old_id}))
    everything = await documents(client, auth, status="current,superseded")
    assert everything[f"urn:oid:{old.unique_id}"]["status"] == "superseded"
    replacing = everything[f"urn:oid:{new.unique_id}"]
    assert replacing["relatesTo"] == [{"code": "replaces", "target": {"reference": f"DocumentReference/{old_id}"}}]
    # a second replacement of the same (now deprecated) document is refused, nothing stored
    third = Doc(data=b"%PDF-1.4 v3")
    error = await refused(app, provide_and_register(third, replaces={third.id: old_id}))
    assert error.english == (f"Association[RPLC].targetObject: urn:uuid:{old_id} is no longer the current version: "
                             "replace the current version of the chain")
    unknown = Doc()
    missing = await refused(app, provide_and_register(unknown, replaces={unknown.id: "0b9e6a43-0000-4000-8000-0"}))
    assert missing.xds_code == "UnresolvedReferenceException"
    assert "urn:uuid:0b9e6a43-0000-4000-8000-0 designates no document" in missing.english
    assert f"urn:oid:{third.unique_id}" not in await documents(client, auth, status="current,superseded")


async def test_the_access_rules_apply(app, client):  # type: ignore[no-untyped-def]
    """Feeding needs no authorisation (SC.DMP/CONF.05) but a professional the patient blocked is refused."""
    await call(app, iti41.provide_and_register, provide_and_register(Doc()), subject=LEFEVRE)
    await client.put(f"/sandbox/v1/dmps/{ZOE}/blocked-professionals/10001000024")
    error = await refused(app, provide_and_register(Doc()), subject=LEFEVRE)
    assert error.kind.value == "forbidden" and error.rule == "DMP:blocked"


async def test_traced_as_iti41(app, client, auth):  # type: ignore[no-untyped-def]
    await call(app, iti41.provide_and_register, provide_and_register(Doc()), subject=BERNARD)
    traces = await client.get("/dmp/fhir/AuditEvent", params={"patient.identifier": PATIENT}, headers=await auth())
    assert "ITI-41" in json.dumps(traces.json())


def test_inline_document_is_base64():  # the builder writes what clients write
    assert base64.b64decode(Doc(data=b"x").document().split(">")[1].split("<")[0]) == b"x"


# --- over HTTP, through the transport and the VIHF (tests/dmp/soap/client.py) ---------------------------------

async def soap_vihf(client, subject: str = FONTAINE, ins: str = ZOE) -> str:  # type: ignore[no-untyped-def]
    return await get_vihf(client, subject_name_id=subject, patient_ins=ins, patient_oid="1.2.250.1.213.1.4.8")


def error_codes(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.get("errorCode") for e in answer.payload.iter(f"{{{ns.NS_RS}}}RegistryError")]


async def test_over_http_mtom_then_fhir_reads_it(client, auth):  # type: ignore[no-untyped-def]
    doc = Doc(data=b"%PDF-1.4 over http", mtom=True)
    answer = await post_soap(client, "repository", ns.ACTION_ITI41, provide_and_register(doc),
                             vihf=await soap_vihf(client), parts={doc.content_id: ("application/pdf", doc.data)})
    assert answer.status == 200 and answer.payload.get("status") == ns.STATUS_SUCCESS, answer.payload
    assert answer.action == ns.ACTION_ITI41 + "Response"
    stored = (await documents(client, auth))[f"urn:oid:{doc.unique_id}"]
    read = await client.get(stored["content"][0]["attachment"]["url"],
                            headers={**await auth(), "Accept": "application/pdf"})
    assert read.content == doc.data
    traces = await client.get("/dmp/fhir/AuditEvent", params={"patient.identifier": PATIENT}, headers=await auth())
    assert "ITI-41" in json.dumps(traces.json())


async def test_over_http_a_refusal_is_a_failure_response_and_nothing_is_stored(client, auth):  # type: ignore[no-untyped-def]
    good, bad = Doc(), Doc(hash="0" * 40)
    answer = await post_soap(client, "repository", ns.ACTION_ITI41, provide_and_register(good, bad),
                             vihf=await soap_vihf(client))
    assert answer.status == 200 and answer.payload.get("status") == ns.STATUS_FAILURE
    assert error_codes(answer) == ["XDSRepositoryMetadataError"]
    assert f"urn:oid:{good.unique_id}" not in await documents(client, auth)
    other_patient = await post_soap(client, "repository", ns.ACTION_ITI41, provide_and_register(Doc()),
                                    vihf=await soap_vihf(client, ins=DOMINIQUE))
    assert error_codes(other_patient) == ["XDSPatientIdDoesNotMatch"]


async def test_over_http_rplc_then_fhir_shows_superseded(client, auth):  # type: ignore[no-untyped-def]
    vihf = await soap_vihf(client)
    old, new = Doc(data=b"%PDF-1.4 v1"), Doc(data=b"%PDF-1.4 v2")
    await post_soap(client, "repository", ns.ACTION_ITI41, provide_and_register(old), vihf=vihf)
    old_id = (await documents(client, auth))[f"urn:oid:{old.unique_id}"]["id"]
    answer = await post_soap(client, "repository", ns.ACTION_ITI41,
                             provide_and_register(new, replaces={new.id: old_id}), vihf=vihf)
    assert answer.payload.get("status") == ns.STATUS_SUCCESS
    both = await documents(client, auth, status="current,superseded")
    assert both[f"urn:oid:{old.unique_id}"]["status"] == "superseded"
    assert both[f"urn:oid:{new.unique_id}"]["relatesTo"][0]["target"]["reference"] == f"DocumentReference/{old_id}"
    third = Doc()
    again = await post_soap(client, "repository", ns.ACTION_ITI41,
                            provide_and_register(third, replaces={third.id: old_id}), vihf=vihf)
    assert again.payload.get("status") == ns.STATUS_FAILURE


# --- what a caller learns of documents it may not see (review of issue 11) -------------------------------------

async def test_a_caller_who_may_not_feed_gets_the_access_refusal_not_a_duplicate(app, client):  # type: ignore[no-untyped-def]
    """The caller's standing is checked before any uniqueId is looked up: a blocked professional learns
    neither that a uniqueId is registered nor whether its bytes are the same."""
    first = Doc(data=b"%PDF-1.4 registered")
    await call(app, iti41.provide_and_register, provide_and_register(first))
    await client.put(f"/sandbox/v1/dmps/{ZOE}/blocked-professionals/10001000024")
    for data in (first.data, b"%PDF-1.4 other bytes"):
        error = await refused(app, provide_and_register(Doc(data=data, unique_id=first.unique_id)), subject=LEFEVRE)
        assert (error.kind.value, error.rule, codes(error)) == ("forbidden", "DMP:blocked", [None])


async def test_hashes_are_compared_only_for_documents_the_caller_may_read(app, client):  # type: ignore[no-untyped-def]
    """XDSNonIdenticalHash tells the caller something of a registered document's bytes: only for a document of
    the VIHF's patient's DMP it may read; any other registered uniqueId is the plain duplicate."""
    theirs = Doc(data=b"%PDF-1.4 dominique", ins=DOMINIQUE)
    await call(app, iti41.provide_and_register, provide_and_register(theirs), ins=DOMINIQUE)
    probe = Doc(data=b"%PDF-1.4 guess", unique_id=theirs.unique_id)
    assert codes(await refused(app, provide_and_register(probe))) == ["XDSDuplicateUniqueIdInRegistry"]
    mine = Doc(data=b"%PDF-1.4 mine")
    await call(app, iti41.provide_and_register, provide_and_register(mine))
    guess = Doc(data=b"%PDF-1.4 guess", unique_id=mine.unique_id)
    # LEFEVRE may feed but not consult (no authorisation): the plain duplicate
    assert codes(await refused(app, provide_and_register(guess), subject=LEFEVRE)) == [
        "XDSDuplicateUniqueIdInRegistry"]
    # authorised, LEFEVRE reads it: the hash is compared; masked from LEFEVRE, it is not
    await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/10001000024", json={"status": "VALIDE"})
    assert codes(await refused(app, provide_and_register(guess), subject=LEFEVRE)) == ["XDSNonIdenticalHash"]
    doc_id = await entry_uuid_of(app, mine)
    masked = Doc(**{**mine.__dict__, "id": "urn:uuid:9d0f1c1e-0000-4000-8000-00000000000a",
                    "confidentiality": (("N", V3), ("MASQUE_PS", A07))})
    await call(app, iti57.update_document_set, update_metadata(masked, doc_id, "1"))
    assert codes(await refused(app, provide_and_register(guess), subject=LEFEVRE)) == [
        "XDSDuplicateUniqueIdInRegistry"]
    assert codes(await refused(app, provide_and_register(guess))) == ["XDSNonIdenticalHash"]  # its author


async def entry_uuid_of(app, doc: Doc) -> str:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        [found] = await service.find_by_identifier(session, f"urn:oid:{doc.unique_id}")
        return found.id


def as_unknown(error: DmpError, doc_id: str, unknown: str) -> tuple[str, str | None, str, str | None, list[str]]:
    """The refusal with the target's id written as ``unknown``'s: to compare it word for word."""
    return (error.english.replace(doc_id, unknown), (error.french or "").replace(doc_id, unknown), error.rule,
            error.xds_code, error.elements)


async def test_rplc_of_a_document_the_caller_may_not_see_is_an_unknown_target(app, client):  # type: ignore[no-untyped-def]
    """A document masked from the caller, or deleted, is answered as an unknown RPLC target, word for word;
    its author may still replace a masked one (replacement stays open to any professional who may feed)."""
    unknown = "0b9e6a43-0000-4000-8000-00000000000b"
    missing = Doc()
    expected = as_unknown(await refused(app, provide_and_register(missing, replaces={missing.id: unknown}),
                                        subject=BERNARD), unknown, unknown)
    old = Doc(data=b"%PDF-1.4 masked")
    await call(app, iti41.provide_and_register, provide_and_register(old))
    old_id = await entry_uuid_of(app, old)
    masked = Doc(**{**old.__dict__, "id": "urn:uuid:9d0f1c1e-0000-4000-8000-00000000000c",
                    "confidentiality": (("N", V3), ("MASQUE_PS", A07))})
    await call(app, iti57.update_document_set, update_metadata(masked, old_id, "1"))
    new = Doc()
    error = await refused(app, provide_and_register(new, replaces={new.id: old_id}), subject=BERNARD)
    assert as_unknown(error, old_id, unknown) == expected
    deleted = Doc(data=b"%PDF-1.4 deleted")
    await call(app, iti41.provide_and_register, provide_and_register(deleted))
    deleted_id = await entry_uuid_of(app, deleted)
    await call(app, iti57.update_document_set, update_status(deleted_id, ZOE, ns.STATUS_APPROVED, ns.STATUS_DELETED))
    for subject in (BERNARD, FONTAINE):
        again = Doc()
        error = await refused(app, provide_and_register(again, replaces={again.id: deleted_id}), subject=subject)
        assert as_unknown(error, deleted_id, unknown) == expected
    by_author = Doc()
    await call(app, iti41.provide_and_register, provide_and_register(by_author, replaces={by_author.id: old_id}))


# --- the client's entryUUIDs (ITI TF-3 §4.2.3.1.5: a urn:uuid id is kept, a symbolic one replaced) ------------

async def test_the_clients_entry_uuids_are_kept_and_used(client, auth):  # type: ignore[no-untyped-def]
    """ITI-41 with UUID ids: the registry keeps them; GetDocuments, GetSubmissionSets and ITI-57 on them work."""
    vihf = await soap_vihf(client)
    doc, ss_uuid = Doc(data=b"%PDF-1.4 entryUUID"), str(uuid.uuid4())
    payload = provide_and_register(doc).replace("SubmissionSet01", f"urn:uuid:{ss_uuid}")
    answer = await post_soap(client, "repository", ns.ACTION_ITI41, payload, vihf=vihf)
    assert answer.payload.get("status") == ns.STATUS_SUCCESS, etree.tostring(answer.payload)
    found = objects(await query(client, request(ns.QUERY_GET_DOCUMENTS, [
        ("$XDSDocumentEntryEntryUUID", [f"('{doc.id}')"])])))
    assert [e.get("id") for e in found] == [doc.id]
    packages = objects(await query(client, request(ns.QUERY_GET_SUBMISSION_SETS, [("$uuid", [f"('{doc.id}')"])])),
                       "RegistryPackage")
    assert [p.get("id") for p in packages] == [f"urn:uuid:{ss_uuid}"]
    entry = doc.id.removeprefix("urn:uuid:")
    archived = await post_soap(client, "registry", ns.ACTION_ITI57,
                               update_status(entry, ZOE, ns.STATUS_APPROVED, ns.STATUS_ARCHIVED), vihf=vihf)
    assert archived.payload.get("status") == ns.STATUS_SUCCESS, etree.tostring(archived.payload)
    # a symbolic id still gets a UUID of the registry's
    symbolic = Doc(id="Document01")
    await post_soap(client, "repository", ns.ACTION_ITI41, provide_and_register(symbolic), vihf=vihf)
    stored = (await documents(client, auth))[f"urn:oid:{symbolic.unique_id}"]
    assert uuid.UUID(stored["id"]) and stored["id"] != "Document01"


async def test_an_entry_uuid_already_registered_is_refused_and_nothing_stored(client, auth):  # type: ignore[no-untyped-def]
    vihf = await soap_vihf(client)
    first, ss_uuid = Doc(), str(uuid.uuid4())
    payload = provide_and_register(first).replace("SubmissionSet01", f"urn:uuid:{ss_uuid}")
    assert (await post_soap(client, "repository", ns.ACTION_ITI41, payload, vihf=vihf)).payload.get("status") == \
        ns.STATUS_SUCCESS
    reused = [Doc(id=first.id), Doc(id=first.id.upper().replace("URN:UUID:", "urn:uuid:")),  # RFC 4122: any case
              Doc(id=f"urn:uuid:{ss_uuid}")]
    for again in reused:
        answer = await post_soap(client, "repository", ns.ACTION_ITI41, provide_and_register(again), vihf=vihf)
        assert error_codes(answer) == ["XDSRegistryMetadataError"], etree.tostring(answer.payload)
        assert "is already registered" in etree.tostring(answer.payload).decode()
        assert f"urn:oid:{again.unique_id}" not in await documents(client, auth)
    other = Doc()
    payload = provide_and_register(other).replace("SubmissionSet01", f"urn:uuid:{ss_uuid}")
    assert error_codes(await post_soap(client, "repository", ns.ACTION_ITI41, payload, vihf=vihf)) == [
        "XDSRegistryMetadataError"]
    assert f"urn:oid:{other.unique_id}" not in await documents(client, auth)
    twice = Doc()
    same_id = Doc(id=twice.id)
    answer = await post_soap(client, "repository", ns.ACTION_ITI41, provide_and_register(twice, same_id), vihf=vihf)
    assert answer.payload.get("status") == ns.STATUS_FAILURE
    assert not {f"urn:oid:{d.unique_id}" for d in (twice, same_id)} & set(await documents(client, auth))
