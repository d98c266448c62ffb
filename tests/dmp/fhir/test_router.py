"""The DMP over HTTP, as a vendor's software uses it: PSC tokens, FHIR JSON built like vendors build it."""

from __future__ import annotations

import base64
import json

from tests.dmp.builders import (
    A03,
    IS_ARCHIVED,
    TRE_A07,
    V3,
    docref,
    pdf_bytes,
    provide_bundle,
    simplified_publish,
)
from tests.dmp.conftest import BERNARD, DOMINIQUE, FONTAINE, LEFEVRE, ZOE

FHIR = "application/fhir+json"
BASE = "http://sandbox.test/dmp/fhir"
PATIENT_ID = f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"


def issue(response):  # type: ignore[no-untyped-def]
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]


def codes(response) -> set[str]:  # type: ignore[no-untyped-def]
    return {c["code"] for c in issue(response).get("details", {}).get("coding", [])}


async def post_bundle(client, auth, bundle, subject=FONTAINE, **headers):  # type: ignore[no-untyped-def]
    return await client.post("/dmp/fhir", content=json.dumps(bundle),
                             headers={**await auth(subject, **headers), "Content-Type": FHIR})


async def search(client, auth, subject=FONTAINE, headers=None, **params):  # type: ignore[no-untyped-def]
    query = {"patient.identifier": PATIENT_ID, "status": "current", **params}
    return await client.get("/dmp/fhir/DocumentReference", params=query,
                            headers={**await auth(subject), **(headers or {})})


async def test_metadata_is_a_capability_statement(client):  # type: ignore[no-untyped-def]
    response = await client.get("/dmp/fhir/metadata")
    assert response.status_code == 200
    body = response.json()
    assert body["resourceType"] == "CapabilityStatement" and body["fhirVersion"] == "4.0.1"
    assert {"application/fhir+json", "application/fhir+xml"} <= set(body["format"])
    xml = await client.get("/dmp/fhir/metadata", headers={"Accept": "application/fhir+xml"})
    assert xml.headers["content-type"].startswith("application/fhir+xml")
    assert b"<CapabilityStatement" in xml.content


async def test_unauthenticated_is_401_operation_outcome(client):  # type: ignore[no-untyped-def]
    response = await client.get("/dmp/fhir/DocumentReference", params={"patient.identifier": PATIENT_ID,
                                                                        "status": "current"})
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_td02_dmp_state(client, auth):  # type: ignore[no-untyped-def]
    response = await client.get("/dmp/fhir/Patient", params={"identifier": PATIENT_ID}, headers=await auth())
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["total"] == 1
    patient = bundle["entry"][0]["resource"]
    assert patient["active"] is True and patient["identifier"][0]["value"] == ZOE
    assert any(e["valueCode"] == "VALIDE" for e in patient["extension"] if "valueCode" in e)
    unknown = await client.get("/dmp/fhir/Patient", params={"identifier": "urn:oid:1.2.250.1.213.1.4.8|"
                                                                       "199999999999999"}, headers=await auth())
    assert unknown.status_code == 200 and unknown.json()["total"] == 0
    closed = await client.post(f"/sandbox/v1/dmps/{ZOE}/close", json={"motifFermeture": "patient-demande",
                                                                       "raisonFermeture": "à sa demande"})
    assert closed.status_code == 200 and closed.json()["active"] is False
    response = await client.get("/dmp/fhir/Patient", params={"identifier": PATIENT_ID}, headers=await auth())
    patient = response.json()["entry"][0]["resource"]
    assert patient["active"] is False
    closure = next(e for e in patient["extension"] if e["url"].endswith("dmp-fermeture"))
    assert {"dateFermeture", "motifFermeture", "raisonFermeture"} == {e["url"] for e in closure["extension"]}


async def test_seeded_documents_of_every_sector(client, auth):  # type: ignore[no-untyped-def]
    response = await search(client, auth)
    assert response.status_code == 200
    bundle = response.json()
    types = {e["resource"]["type"]["coding"][0]["code"] for e in bundle["entry"]}
    assert {"11502-2", "18748-4", "11490-0", "57833-6", "87273-9"} <= types
    doc = bundle["entry"][0]["resource"]
    url = doc["content"][0]["attachment"]["url"]
    assert url.startswith(f"{BASE}/Binary/")
    raw = await client.get(url.removeprefix("http://sandbox.test"), headers=await auth(**{"Accept": "application/xml"}))
    assert raw.status_code == 200 and raw.content.startswith(b"<?xml")
    assert b"<nonXMLBody>" in raw.content and len(raw.content) == doc["content"][0]["attachment"]["size"]


async def test_iti65_add_then_find_then_retrieve(client, auth):  # type: ignore[no-untyped-def]
    bundle = provide_bundle(ZOE, documents=2)
    response = await post_bundle(client, auth, bundle)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "transaction-response"
    entries = body["entry"]
    assert len(entries) == len(bundle["entry"])
    assert [e["response"]["status"] for e in entries] == ["201 Created"] * 5
    kinds = [e["response"]["location"].removeprefix(BASE + "/").split("/")[0] for e in entries]
    assert kinds == ["List", "DocumentReference", "DocumentReference", "Binary", "Binary"]
    doc_location = entries[1]["response"]["location"]
    read = await client.get(doc_location.removeprefix("http://sandbox.test"), headers=await auth())
    assert read.status_code == 200 and read.headers["etag"] == 'W/"1"'
    stored = read.json()
    unique_id = docref(bundle)["masterIdentifier"]["value"]
    assert stored["masterIdentifier"]["value"] == unique_id
    found = await search(client, auth, identifier=f"urn:ietf:rfc:3986|{unique_id}")
    assert found.json()["total"] == 1
    binary_url = stored["content"][0]["attachment"]["url"].removeprefix("http://sandbox.test")
    pdf = await client.get(binary_url, headers=await auth(**{"Accept": "application/pdf"}))
    assert pdf.status_code == 200 and pdf.content == pdf_bytes()
    assert pdf.headers["content-type"] == "application/pdf" and pdf.headers["etag"]
    as_binary = await client.get(binary_url, headers=await auth())
    assert as_binary.json()["resourceType"] == "Binary"
    assert base64.b64decode(as_binary.json()["data"]) == pdf_bytes()
    wrong = await client.get(binary_url, headers=await auth(**{"Accept": "image/png"}))
    assert wrong.status_code == 406
    not_modified = await client.get(binary_url, headers=await auth(**{"Accept": "application/pdf",
                                                                       "If-None-Match": pdf.headers["etag"]}))
    assert not_modified.status_code == 304
    lists = await client.get("/dmp/fhir/List", params={"patient.identifier": PATIENT_ID, "code": "submissionset",
                                                        "sourceId": "urn:oid:1.2.3.4.5.6.7.8"}, headers=await auth())
    assert lists.status_code == 200 and lists.json()["total"] == 1
    assert len(lists.json()["entry"][0]["resource"]["entry"]) == 2


async def test_rejected_bundle_stores_nothing(client, auth, session):  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from app.dmp.models import DmpBinary, DmpDocument, DmpSubmissionSet

    async def counts():  # type: ignore[no-untyped-def]
        return [(await session.execute(select(func.count()).select_from(t))).scalar_one()
                for t in (DmpDocument, DmpBinary, DmpSubmissionSet)]

    before = await counts()
    bundle = provide_bundle(ZOE, documents=2)
    docref(bundle, 1)["content"][0]["attachment"]["hash"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
    response = await post_bundle(client, auth, bundle)
    assert response.status_code == 400
    assert issue(response)["expression"] == ["Bundle.entry[2].resource.content[0].attachment.hash"]
    assert "XDSRepositoryMetadataError" in codes(response)
    assert await counts() == before
    # a store-level refusal (duplicate uniqueId) after the first document was checked also stores nothing
    first = provide_bundle(ZOE)
    assert (await post_bundle(client, auth, first)).status_code == 200
    after_first = await counts()
    again = provide_bundle(ZOE, documents=1, unique_id=docref(first)["masterIdentifier"]["value"])
    duplicate = await post_bundle(client, auth, again)
    assert duplicate.status_code == 409 and "XDSDuplicateUniqueIdInRegistry" in codes(duplicate)
    assert await counts() == after_first


async def test_wrong_profile_is_400(client, auth):  # type: ignore[no-untyped-def]
    bundle = provide_bundle(ZOE)
    bundle["meta"]["profile"] = ["http://example.org/not-pdsm"]
    response = await post_bundle(client, auth, bundle)
    assert response.status_code == 400
    assert issue(response)["expression"] == ["Bundle.meta.profile"]


async def test_unknown_patient_and_closed_dmp(client, auth):  # type: ignore[no-untyped-def]
    unknown = await post_bundle(client, auth, provide_bundle("199999999999999"))
    assert unknown.status_code == 404 and "XDSUnknownPatientId" in codes(unknown)
    await client.post(f"/sandbox/v1/dmps/{ZOE}/close", json={"motifFermeture": "patient-demande"})
    closed = await post_bundle(client, auth, provide_bundle(ZOE))
    assert closed.status_code == 422 and "DMP:closed" in codes(closed)
    consult = await search(client, auth)
    assert consult.status_code == 422
    await client.post(f"/sandbox/v1/dmps/{ZOE}/reopen")
    assert (await post_bundle(client, auth, provide_bundle(ZOE))).status_code == 200


async def test_feeding_needs_no_authorisation_but_consultation_does(client, auth):  # type: ignore[no-untyped-def]
    fed = await post_bundle(client, auth, provide_bundle(ZOE, rpps="10001000024"), subject=LEFEVRE)
    assert fed.status_code == 200
    refused = await search(client, auth, subject=LEFEVRE)
    assert refused.status_code == 403 and "DMP:authorisation-non-existe" in codes(refused)
    await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/10001000024", json={"status": "EXPIRE"})
    assert "DMP:authorisation-expire" in codes(await search(client, auth, subject=LEFEVRE))
    await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/10001000024", json={"status": "VALIDE"})
    assert (await search(client, auth, subject=LEFEVRE)).status_code == 200


async def test_break_glass_and_centre_15(client, auth):  # type: ignore[no-untyped-def]
    no_reason = await search(client, auth, subject=LEFEVRE, headers={"X-DMP-Access-Mode": "bris_de_glace"})
    assert no_reason.status_code == 400 and "DMP:bris-de-glace-reason" in codes(no_reason)
    reason = "Patient inconscient aux urgences"
    ok = await search(client, auth, subject=LEFEVRE, headers={
        "X-DMP-Access-Mode": "bris_de_glace", "X-DMP-Access-Reason": "Patient%20inconscient%20aux%20urgences"})
    assert ok.status_code == 200
    centre = await search(client, auth, subject=LEFEVRE, headers={"X-DMP-Access-Mode": "centre_15"})
    assert centre.status_code == 200
    await client.put(f"/sandbox/v1/dmps/{ZOE}/opt-outs", json={"bris_de_glace": True, "centre_15": True})
    opted = await search(client, auth, subject=LEFEVRE, headers={"X-DMP-Access-Mode": "bris_de_glace",
                                                                 "X-DMP-Access-Reason": "urgence"})
    assert opted.status_code == 403 and "DMP:opt-out-bris-de-glace" in codes(opted)
    assert (await search(client, auth, subject=LEFEVRE, headers={"X-DMP-Access-Mode": "centre_15"})).status_code == 403
    bad_mode = await search(client, auth, headers={"X-DMP-Access-Mode": "urgence"})
    assert bad_mode.status_code == 400
    traces = await client.get("/dmp/fhir/AuditEvent", params={"patient.identifier": PATIENT_ID},
                              headers=await auth())
    events = [e["resource"] for e in traces.json()["entry"]]
    glass = [e for e in events if e["agent"][0]["purposeOfUse"][0]["coding"][0]["code"] == "bris_de_glace"]
    done = [e for e in glass if e["outcome"] == "0"]
    assert len(done) == 1 and done[0]["agent"][0]["purposeOfUse"][0]["text"] == reason
    assert done[0]["agent"][0]["who"]["identifier"]["value"] == LEFEVRE
    # refused attempts are traced too, with the rule that refused them: no reason, then the opt-out
    refused = sorted(e["outcomeDesc"].split(": ")[0] for e in glass if e["outcome"] == "4")
    assert refused == ["DMP:bris-de-glace-reason", "DMP:opt-out-bris-de-glace"]


async def test_blocked_professional_always_refused(client, auth):  # type: ignore[no-untyped-def]
    await client.put(f"/sandbox/v1/dmps/{ZOE}/blocked-professionals/10001000016")
    for headers in ({}, {"X-DMP-Access-Mode": "bris_de_glace", "X-DMP-Access-Reason": "x"},
                    {"X-DMP-Access-Mode": "centre_15"}):
        response = await search(client, auth, headers=headers)
        assert response.status_code == 403 and "DMP:blocked" in codes(response)
    assert (await post_bundle(client, auth, provide_bundle(ZOE))).status_code == 403
    await client.delete(f"/sandbox/v1/dmps/{ZOE}/blocked-professionals/10001000016")
    assert (await search(client, auth)).status_code == 200


async def test_iti67_rules_and_paging(client, auth):  # type: ignore[no-untyped-def]
    missing_status = await client.get("/dmp/fhir/DocumentReference", params={"patient.identifier": PATIENT_ID},
                                      headers=await auth())
    assert missing_status.status_code == 400 and issue(missing_status)["expression"] == ["status"]
    missing_patient = await client.get("/dmp/fhir/DocumentReference", params={"status": "current"},
                                       headers=await auth())
    assert missing_patient.status_code == 400
    page = await search(client, auth, _count="2")
    body = page.json()
    assert body["total"] == 5 and len(body["entry"]) == 2
    next_url = next(link["url"] for link in body["link"] if link["relation"] == "next")
    assert next_url.startswith(BASE + "/DocumentReference?")
    seen = {e["resource"]["id"] for e in body["entry"]}
    while next_url:
        page = (await client.get(next_url.removeprefix("http://sandbox.test"), headers=await auth())).json()
        seen |= {e["resource"]["id"] for e in page["entry"]}
        next_url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert len(seen) == 5
    nothing = await search(client, auth, type="http://loinc.org|0000-0")
    assert nothing.status_code == 200 and nothing.json()["total"] == 0
    posted = await client.post("/dmp/fhir/DocumentReference/_search",
                               data={"patient.identifier": PATIENT_ID, "status": "current", "type": "11502-2"},
                               headers=await auth())
    assert posted.status_code == 200 and posted.json()["total"] == 1


async def test_iti67_parameters(client, auth):  # type: ignore[no-untyped-def]
    async def total(**params) -> int:  # type: ignore[no-untyped-def]
        response = await search(client, auth, **params)
        assert response.status_code == 200, response.text
        return response.json()["total"]

    assert await total(creation="ge2026-05-01") == 3
    assert await total(creation=["ge2026-04-01", "lt2026-06-01"]) == 2
    assert await total(**{"author.family": "bernard"}) == 2
    assert await total(**{"author.given": "Sophie"}) == 2
    assert await total(category=f"{A03}|42") == 1
    assert await total(type="11502-2,18748-4") == 2
    assert await total(setting="AMBULATOIRE") == 2
    assert await total(facility="SA01") == 3
    assert await total(format="urn:ihe:iti:xds-sd:pdf:2008") == 5
    assert await total(**{"security-label": "N"}) == 5
    # token codes match exactly, case included, on both engines (SQLite's LIKE would ignore ASCII case)
    assert await total(**{"security-label": "n"}) == 0
    assert await total(setting="ambulatoire") == 0
    assert await total(isArchived="false") == 5
    assert await total(**{"period-start": "ge2026-10-01"}) == 1
    assert await total(period="ge2026-06-01") == 2
    by_reference = await client.get("/dmp/fhir/DocumentReference", params={
        "patient": f"{BASE}/Patient/{ZOE}", "status": "current"}, headers=await auth())
    assert by_reference.status_code == 200 and by_reference.json()["total"] == 5
    warning = await search(client, auth, foo="bar")
    assert warning.json()["entry"][-1]["resource"]["resourceType"] == "OperationOutcome"
    xml = await search(client, auth, _format="xml")
    assert xml.headers["content-type"].startswith("application/fhir+xml") and b"<Bundle" in xml.content


async def test_replacement_chain(client, auth):  # type: ignore[no-untyped-def]
    first = await post_bundle(client, auth, provide_bundle(ZOE))
    old_id = first.json()["entry"][1]["response"]["location"].rsplit("/", 1)[1]
    replacement = provide_bundle(ZOE, replaces=old_id, data=pdf_bytes("CR v2"))
    response = await post_bundle(client, auth, replacement)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == ["201 Created", "201 Created", "200 OK", "201 Created"]  # PDSm4DMP TD2.1
    assert response.json()["entry"][2]["response"]["location"].endswith(f"DocumentReference/{old_id}/_history/2")
    old = (await client.get(f"/dmp/fhir/DocumentReference/{old_id}", headers=await auth())).json()
    assert old["status"] == "superseded" and old["meta"]["versionId"] == "2"
    superseded = await search(client, auth, status="superseded")
    assert [e["resource"]["id"] for e in superseded.json()["entry"]] == [old_id]
    new_id = response.json()["entry"][1]["response"]["location"].rsplit("/", 1)[1]
    new = (await client.get(f"/dmp/fhir/DocumentReference/{new_id}", headers=await auth())).json()
    assert new["relatesTo"][0] == {"code": "replaces", "target": {"reference": f"DocumentReference/{old_id}"}}
    related = await search(client, auth, status="current,superseded", identifier=f"urn:uuid:{old_id}")
    assert related.json()["total"] == 1
    again = await post_bundle(client, auth, provide_bundle(ZOE, replaces=old_id))
    assert again.status_code == 409 and issue(again)["expression"] == ["DocumentReference.relatesTo.target"]
    gone = await client.get(old["content"][0]["attachment"]["url"].removeprefix("http://sandbox.test"),
                            headers=await auth(**{"Accept": "application/pdf"}))
    assert gone.status_code == 410
    # MHD style: relatesTo without the PATCH entry also supersedes
    mhd_style = await post_bundle(client, auth, provide_bundle(ZOE, replaces=new_id, patch=None))
    assert mhd_style.status_code == 200
    assert (await client.get(f"/dmp/fhir/DocumentReference/{new_id}", headers=await auth())).json()["status"] == \
        "superseded"


async def _new_document(client, auth, subject=FONTAINE, **kwargs) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    bundle = provide_bundle(ZOE, **kwargs)
    response = await post_bundle(client, auth, bundle, subject=subject)
    assert response.status_code == 200, response.text
    return response.json()["entry"][1]["response"]["location"].rsplit("/", 1)[1], \
        docref(bundle)["masterIdentifier"]["value"]


async def patch(client, auth, unique_id, body, subject=FONTAINE, content_type="application/json-patch+json",
                **headers):  # type: ignore[no-untyped-def]
    return await client.patch("/dmp/fhir/DocumentReference", params={"identifier": f"urn:ietf:rfc:3986|{unique_id}"},
                              content=json.dumps(body),
                              headers={**await auth(subject, **headers), "Content-Type": content_type})


async def test_masking_is_author_only_and_hides_from_others(client, auth):  # type: ignore[no-untyped-def]
    await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/10001000024", json={"status": "VALIDE"})
    doc_id, unique_id = await _new_document(client, auth)
    mask = [{"op": "replace", "path": "/securityLabel/0",
             "value": {"coding": [{"system": TRE_A07, "code": "MASQUE_PS"}]}}]
    not_author = await patch(client, auth, unique_id, mask, subject=LEFEVRE)
    assert not_author.status_code == 403
    masked = await patch(client, auth, unique_id, mask, **{"If-Match": 'W/"1"'})
    assert masked.status_code == 200 and masked.headers["etag"] == 'W/"2"'
    assert [c["coding"][0]["code"] for c in masked.json()["securityLabel"]] == ["N", "MASQUE_PS"]
    assert masked.json()["meta"]["versionId"] == "2"
    others = await search(client, auth, subject=LEFEVRE)
    assert doc_id not in {e["resource"]["id"] for e in others.json()["entry"]}
    assert (await client.get(f"/dmp/fhir/DocumentReference/{doc_id}", headers=await auth(LEFEVRE))).status_code == 404
    author = await search(client, auth)
    assert doc_id in {e["resource"]["id"] for e in author.json()["entry"]}
    stale = await patch(client, auth, unique_id, mask, **{"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    unmask = [{"op": "replace", "path": "/securityLabel/0", "value": {"coding": [{"system": V3, "code": "N"}]}}]
    assert (await patch(client, auth, unique_id, unmask)).json()["securityLabel"] == [
        {"coding": [{"system": V3, "code": "N", "display": "normal"}]}]
    assert doc_id in {e["resource"]["id"] for e in (await search(client, auth, subject=LEFEVRE)).json()["entry"]}


MASK = [{"op": "replace", "path": "/securityLabel/0", "value": {"coding": [{"system": TRE_A07, "code": "MASQUE_PS"}]}}]
ARCHIVE = [{"op": "replace", "path": "/extension/0/valueBoolean", "value": True}]


async def test_concurrent_patches_with_the_same_if_match_are_one_200_and_one_412(client, auth, session):  # type: ignore[no-untyped-def]
    """The If-Match check and the write were not atomic: two PATCHes at once, both with W/"1", could both
    pass the check and both write (version 2 twice, one change silently lost). Now one wins, the other is
    a 412; without If-Match both apply, one after the other, and neither change is lost."""
    import asyncio

    from app.dmp.models import DmpDocument

    for _ in range(4):
        doc_id, unique_id = await _new_document(client, auth)
        responses = await asyncio.gather(*(patch(client, auth, unique_id, body, **{"If-Match": 'W/"1"'})
                                           for body in (MASK, ARCHIVE)))
        assert sorted(r.status_code for r in responses) == [200, 412], [r.text[:300] for r in responses]
        loser = next(r for r in responses if r.status_code == 412)
        assert issue(loser)["code"] == "conflict" and "FHIR:If-Match" in codes(loser)
        winner = next(r for r in responses if r.status_code == 200)
        assert winner.headers["etag"] == 'W/"2"'
        session.expire_all()
        stored = await session.get(DmpDocument, ("default", doc_id))
        assert stored is not None and stored.version_id == 2
        masked = "MASQUE_PS" in {lab[1] for lab in stored.labels}
        assert masked != stored.is_archived  # exactly one of the two changes, the winner's
        assert masked == (responses[0].status_code == 200)

        doc_id, unique_id = await _new_document(client, auth)
        responses = await asyncio.gather(*(patch(client, auth, unique_id, body) for body in (MASK, ARCHIVE)))
        assert [r.status_code for r in responses] == [200, 200], [r.text[:300] for r in responses]
        assert sorted(r.headers["etag"] for r in responses) == ['W/"2"', 'W/"3"']
        session.expire_all()
        stored = await session.get(DmpDocument, ("default", doc_id))
        assert stored is not None and stored.version_id == 3
        assert "MASQUE_PS" in {lab[1] for lab in stored.labels} and stored.is_archived


async def test_patch_only_allowed_paths(client, auth):  # type: ignore[no-untyped-def]
    _, unique_id = await _new_document(client, auth)
    response = await patch(client, auth, unique_id, [{"op": "replace", "path": "/type/coding/0/code",
                                                      "value": "11502-2"}])
    assert response.status_code == 405
    fhirpath = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"},
        {"name": "path", "valueString": f"DocumentReference.extension.where(url='{IS_ARCHIVED}').value"},
        {"name": "value", "valueBoolean": True}]}]}
    archived = await patch(client, auth, unique_id, fhirpath, content_type=FHIR)
    assert archived.status_code == 200
    assert archived.json()["extension"][0] == {"url": IS_ARCHIVED, "valueBoolean": True}
    assert (await search(client, auth, isArchived="true")).json()["total"] == 1
    missing = await client.patch("/dmp/fhir/DocumentReference", params={"identifier": "urn:ietf:rfc:3986|urn:oid:9"},
                                 content="[]", headers={**await auth(), "Content-Type": "application/json-patch+json"})
    assert missing.status_code == 404


async def test_logical_delete_by_author_only(client, auth):  # type: ignore[no-untyped-def]
    doc_id, unique_id = await _new_document(client, auth)
    delete = [{"op": "replace", "path": "/status", "value": "entered-in-error"}]
    assert (await patch(client, auth, unique_id, delete, subject=BERNARD)).status_code == 403
    deleted = await patch(client, auth, unique_id, delete)
    assert deleted.status_code == 200 and deleted.json()["status"] == "entered-in-error"
    current = await search(client, auth)
    assert doc_id not in {e["resource"]["id"] for e in current.json()["entry"]}
    own = await search(client, auth, status="entered-in-error")
    assert [e["resource"]["id"] for e in own.json()["entry"]] == [doc_id]
    assert (await client.get(f"/dmp/fhir/DocumentReference/{doc_id}", headers=await auth())).status_code == 410
    await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/10001000032", json={"status": "VALIDE"})
    assert (await client.get(f"/dmp/fhir/DocumentReference/{doc_id}",
                             headers=await auth(BERNARD))).status_code == 404
    traces = await client.get("/dmp/fhir/AuditEvent", params={"patient.identifier": PATIENT_ID}, headers=await auth())
    assert "D" in {e["resource"]["action"] for e in traces.json()["entry"]}


async def test_patient_and_legal_representative_visibility(client, auth):  # type: ignore[no-untyped-def]
    doc_id, unique_id = await _new_document(client, auth)
    hide = [{"op": "add", "path": "/securityLabel/-",
             "value": {"coding": [{"system": TRE_A07, "code": "INVISIBLE_REPRESENTANTS_LEGAUX"}]}}]
    assert (await patch(client, auth, unique_id, hide)).status_code == 200
    patient = await client.get(f"/sandbox/v1/dmps/{ZOE}/documents", params={"role": "patient"})
    assert doc_id in {d["id"] for d in patient.json()}
    rl = await client.get(f"/sandbox/v1/dmps/{ZOE}/documents", params={"role": "legal_representative"})
    assert doc_id not in {d["id"] for d in rl.json()}
    hide_patient = [{"op": "replace", "path": "/securityLabel/0",
                     "value": {"coding": [{"system": TRE_A07, "code": "INVISIBLE_PATIENT"}]}}]
    assert (await patch(client, auth, unique_id, hide_patient)).status_code == 200
    patient = await client.get(f"/sandbox/v1/dmps/{ZOE}/documents", params={"role": "patient"})
    assert doc_id not in {d["id"] for d in patient.json()}


async def test_iti105_simplified_publish(client, auth):  # type: ignore[no-untyped-def]
    response = await client.post("/dmp/fhir/DocumentReference", content=json.dumps(simplified_publish(ZOE)),
                                 headers={**await auth(), "Content-Type": FHIR})
    assert response.status_code == 201, response.text
    assert response.headers["location"].startswith(f"{BASE}/DocumentReference/")
    body = response.json()
    assert body["status"] == "current" and body["content"][0]["attachment"]["url"].startswith(f"{BASE}/Binary/")
    bad = simplified_publish(ZOE)
    del bad["author"]
    refused = await client.post("/dmp/fhir/DocumentReference", content=json.dumps(bad),
                                headers={**await auth(), "Content-Type": FHIR})
    assert refused.status_code == 400 and issue(refused)["expression"] == ["DocumentReference.author"]


async def test_xml_bundle_accepted(client, auth):  # type: ignore[no-untyped-def]
    from app.dmp.fhir.xml import to_xml

    bundle = provide_bundle(DOMINIQUE)
    response = await client.post("/dmp/fhir", content=to_xml(bundle), headers={
        **await auth(), "Content-Type": "application/fhir+xml", "Accept": "application/fhir+xml"})
    assert response.status_code == 200, response.text
    assert b"transaction-response" in response.content


async def test_xml_with_a_dtd_is_refused(client, auth):  # type: ignore[no-untyped-def]
    from app.dmp.fhir.xml import to_xml

    xml = to_xml(provide_bundle(DOMINIQUE)).decode()
    attack = xml.replace("<Bundle", '<!DOCTYPE Bundle [<!ENTITY x SYSTEM "file:///etc/passwd">]><Bundle', 1)
    for declaration in ("<?xml version='1.0' encoding='utf-8'?>", '<?xml version="1.0" encoding="UTF-8"?>'):
        attack = attack.replace(declaration, "")
    response = await client.post("/dmp/fhir", content=attack.encode(), headers={
        **await auth(), "Content-Type": "application/fhir+xml"})
    assert response.status_code == 400, response.text
    assert "DTD" in response.json()["issue"][0]["diagnostics"]
    assert "root:" not in response.text


async def test_audit_event_for_every_access(client, auth):  # type: ignore[no-untyped-def]
    await post_bundle(client, auth, provide_bundle(ZOE))
    found = await search(client, auth)
    doc = found.json()["entry"][0]["resource"]
    await client.get(f"/dmp/fhir/DocumentReference/{doc['id']}", headers=await auth())
    await client.get(doc["content"][0]["attachment"]["url"].removeprefix("http://sandbox.test"),
                     headers=await auth(**{"Accept": "*/*"}))
    traces = await client.get("/dmp/fhir/AuditEvent", params={"patient.identifier": PATIENT_ID}, headers=await auth())
    assert traces.status_code == 200
    subtypes = [e["resource"]["subtype"][0]["code"] for e in traces.json()["entry"]]
    assert subtypes == ["ITI-68", "READ", "ITI-67", "ITI-65"]
    assert all(e["resource"]["agent"][0]["who"]["identifier"]["value"] == FONTAINE for e in traces.json()["entry"])


async def test_large_document_round_trip_in_chunks(client, auth, session):  # type: ignore[no-untyped-def]
    from app.dmp.models import DmpBinary

    data = pdf_bytes() + bytes(range(256)) * 10_000  # ~2.5 MB: three 1 MiB chunks
    response = await post_bundle(client, auth, provide_bundle(ZOE, data=data))
    assert response.status_code == 200, response.text
    binary_id = response.json()["entry"][2]["response"]["location"].rsplit("/", 1)[1]
    stored = await session.get(DmpBinary, binary_id)
    assert stored.chunks == 3 and stored.size == len(data)
    raw = await client.get(f"/dmp/fhir/Binary/{binary_id}", headers=await auth(**{"Accept": "application/pdf"}))
    assert raw.status_code == 200 and raw.content == data
    assert raw.headers["content-length"] == str(len(data))


async def test_body_over_limit_is_413(client, auth, settings):  # type: ignore[no-untyped-def]
    big = b"x" * (settings.max_body_bytes + 10)
    response = await client.post("/dmp/fhir", content=big, headers={**await auth(), "Content-Type": FHIR})
    assert response.status_code == 413
    assert response.json()["resourceType"] == "OperationOutcome"



async def test_retrieve_refused_without_authorisation_and_lists(client, auth):  # type: ignore[no-untyped-def]
    found = (await search(client, auth)).json()["entry"][0]["resource"]
    url = found["content"][0]["attachment"]["url"].removeprefix("http://sandbox.test")
    refused = await client.get(url, headers=await auth(LEFEVRE, **{"Accept": "*/*"}))
    assert refused.status_code == 403 and "DMP:authorisation-non-existe" in codes(refused)
    lists = await client.get("/dmp/fhir/List", params={"patient.identifier": PATIENT_ID, "date": "ge2000-01-01"},
                             headers=await auth())
    assert lists.status_code == 200 and lists.json()["total"] == 1
    seeded = lists.json()["entry"][0]["resource"]
    assert {e["item"]["reference"].split("/")[0] for e in seeded["entry"]} == {"DocumentReference"}
    read = await client.get(f"/dmp/fhir/List/{seeded['id']}", headers=await auth())
    assert read.status_code == 200 and read.json()["code"]["coding"][0]["code"] == "submissionset"
    none = await client.get("/dmp/fhir/List", params={"patient.identifier": PATIENT_ID, "date": "lt2000-01-01"},
                            headers=await auth())
    assert none.json()["total"] == 0
    patient = await client.get(f"/dmp/fhir/Patient/{ZOE}", headers=await auth(**{"Accept": "application/fhir+xml"}))
    assert patient.status_code == 200 and b"<Patient" in patient.content
    assert b'<active value="true"/>' in patient.content


async def test_nul_anywhere_in_a_request_is_a_400_on_every_engine(client, auth):  # type: ignore[no-untyped-def]
    """U+0000 in a search value, a path id, a form body or the access reason reached PostgreSQL (a query
    parameter or a trace column), which cannot hold it: a 500 there, where SQLite answered."""
    headers = await auth()
    for path in ("/dmp/fhir/DocumentReference", "/dmp/fhir/List", "/dmp/fhir/AuditEvent"):
        for name in ("title", "type", "status", "unknown", "patient.identifier"):
            params = {"patient.identifier": PATIENT_ID, "status": "current", name: "a\x00"}
            response = await client.get(path, params=params, headers=headers)
            assert response.status_code == 400, (path, name, response.text)
            assert "FHIR:string" in codes(response)
    for path in ("/dmp/fhir/DocumentReference/a%00", "/dmp/fhir/Binary/a%00", "/dmp/fhir/List/a%00",
                 "/dmp/fhir/Patient/a%00"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 400, (path, response.text)
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/dmp/fhir/DocumentReference/_search", headers=form,
                                 content=f"patient.identifier={PATIENT_ID}&status=current&title=a%00")
    assert response.status_code == 400 and "FHIR:string" in codes(response), response.text
    response = await client.post("/dmp/fhir/DocumentReference/_search", headers=form, content=b"title=\xff")
    assert response.status_code == 400 and "FHIR:search-post" in codes(response), response.text
    response = await client.get("/dmp/fhir/DocumentReference", params={"patient.identifier": PATIENT_ID,
                                "status": "current"}, headers=await auth(
                                    LEFEVRE, **{"X-DMP-Access-Mode": "bris_de_glace", "X-DMP-Access-Reason": "a%00"}))
    assert response.status_code == 400 and "FHIR:string" in codes(response), response.text


async def test_masking_in_a_replacement_patch_hides_the_superseded_document(client, auth):  # type: ignore[no-untyped-def]
    """The replacement's PATCH entry may also add MASQUE_PS: the superseded document's labels said masked,
    but its masked flag (what searches filter on) was left unset, so other professionals still found it."""
    await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/10001000024", json={"status": "VALIDE"})
    first = await post_bundle(client, auth, provide_bundle(ZOE))
    old_id = first.json()["entry"][1]["response"]["location"].rsplit("/", 1)[1]
    replacement = provide_bundle(ZOE, replaces=old_id)
    parameters = next(e["resource"] for e in replacement["entry"] if e["resource"]["resourceType"] == "Parameters")
    parameters["parameter"].append({"name": "operation", "part": [
        {"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "DocumentReference"},
        {"name": "name", "valueString": "securityLabel"},
        {"name": "value", "valueCodeableConcept": {"coding": [{"system": TRE_A07, "code": "MASQUE_PS"}]}}]})
    response = await post_bundle(client, auth, replacement)
    assert response.status_code == 200, response.text
    own = (await client.get(f"/dmp/fhir/DocumentReference/{old_id}", headers=await auth())).json()
    assert [c["coding"][0]["code"] for c in own["securityLabel"]] == ["N", "MASQUE_PS"]
    assert old_id in {e["resource"]["id"] for e in (await search(client, auth, status="superseded")).json()["entry"]}
    others = await search(client, auth, subject=LEFEVRE, status="superseded")
    assert old_id not in {e["resource"]["id"] for e in others.json().get("entry", [])}


async def test_token_and_name_searches_take_percent_underscore_and_backslash_literally(client, auth):  # type: ignore[no-untyped-def]
    """``%`` and ``_`` in a search value were LIKE wildcards (and ``\\`` PostgreSQL's escape): ``related=REF_1``
    also found ``REFX1``. Each value now matches only the document that holds it literally."""
    values = ["REF_1", "REFX1", "50%", "50X", "A\\B", "AB"]
    ids = {}
    for i, value in enumerate(values):
        bundle = provide_bundle(ZOE, given=["Jean_Luc", "JeanXLuc", "Jean%", "JeanX", "Jean\\L", "JeanL"][i])
        docref(bundle)["context"]["related"] = [{"identifier": {"system": "urn:oid:1.2.3", "value": value}}]
        response = await post_bundle(client, auth, bundle)
        assert response.status_code == 200, response.text
        ids[value] = response.json()["entry"][1]["response"]["location"].rsplit("/", 1)[1]

    async def found(**params: str) -> list[str]:
        response = await search(client, auth, **params)
        assert response.status_code == 200, response.text
        return sorted(e["resource"]["id"] for e in response.json().get("entry", []) if e["resource"]["resourceType"]
                      == "DocumentReference")

    for value in values:
        assert await found(related=value) == [ids[value]], value
        assert await found(related=f"urn:oid:1.2.3|{value}") == [ids[value]], value
    for given, value in (("jean_", "REF_1"), ("Jean%", "50%"), ("jean\\", "A\\B")):
        assert await found(**{"author.given": given}) == [ids[value]], given
    assert await found(**{"security-label": "_"}) == [] and await found(**{"security-label": "%"}) == []
