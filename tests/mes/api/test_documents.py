"""The patient's documents over the patient API, each action checked on the professional side through the real
protocols: FHIR ITI-67 (PDSm) and XDS.b ITI-18 (DMPi, a signed VIHF)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.dmp.documents import make_pdf
from app.dmp.models import DmpDocument
from tests.mes.helpers import (
    FONTAINE,
    LEFEVRE,
    ZOE,
    auth,
    file_document,
    iti18_ids,
    iti67,
    iti67_ids,
)

DOCS = f"/mes/api/v1/patients/{ZOE}/documents"


async def _authorise(client, headers, rpps: str) -> None:
    response = await client.post(f"/mes/api/v1/patients/{ZOE}/access/authorised", json={"rpps": rpps},
                                 headers=headers)
    assert response.status_code == 200, response.text


async def test_the_patient_lists_and_reads_every_document(client) -> None:
    headers = await auth(client, ZOE)
    doc_id = await file_document(client)
    listed = await client.get(DOCS, headers=headers)
    assert listed.status_code == 200, listed.text
    by_id = {d["id"]: d for d in listed.json()}
    assert len(by_id) == 6  # the five seeded ones and the new one
    assert by_id[doc_id]["origin"] == "professional" and by_id[doc_id]["author_rpps"] == FONTAINE[1:]
    detail = await client.get(f"{DOCS}/{doc_id}", headers=headers)
    assert detail.status_code == 200 and detail.json()["document"]["title"]
    content = await client.get(f"{DOCS}/{doc_id}/content", headers=headers)
    assert content.status_code == 200 and content.content.startswith(b"%PDF")
    seeded = next(d for d in listed.json() if d["id"] != doc_id)
    cda = await client.get(f"{DOCS}/{seeded['id']}/content", headers=headers)
    assert cda.headers["content-type"].startswith("application/xml") and b"ClinicalDocument" in cda.content


async def test_masking_hides_the_document_from_other_professionals_not_from_its_author(client) -> None:
    headers = await auth(client, ZOE)
    await _authorise(client, headers, LEFEVRE[1:])
    doc_id = await file_document(client)
    assert doc_id in await iti67_ids(client, LEFEVRE, ZOE)
    assert doc_id in await iti18_ids(client, LEFEVRE, ZOE)

    masked = await client.put(f"{DOCS}/{doc_id}/masked", json={"masked": True}, headers=headers)
    assert masked.status_code == 200 and masked.json()["masked"] is True
    assert doc_id not in await iti67_ids(client, LEFEVRE, ZOE)
    assert doc_id not in await iti18_ids(client, LEFEVRE, ZOE)
    assert doc_id in await iti67_ids(client, FONTAINE, ZOE)  # the author still sees it
    assert doc_id in await iti18_ids(client, FONTAINE, ZOE)
    listed = {d["id"]: d for d in (await client.get(DOCS, headers=headers)).json()}
    assert listed[doc_id]["masked"] is True  # the patient sees it, marked

    unmasked = await client.put(f"{DOCS}/{doc_id}/masked", json={"masked": False}, headers=headers)
    assert unmasked.status_code == 200 and unmasked.json()["masked"] is False
    assert doc_id in await iti67_ids(client, LEFEVRE, ZOE)
    assert doc_id in await iti18_ids(client, LEFEVRE, ZOE)


async def test_deletion_removes_the_document_for_everyone(client) -> None:
    headers = await auth(client, ZOE)
    await _authorise(client, headers, LEFEVRE[1:])
    doc_id = await file_document(client)
    assert (await client.delete(f"{DOCS}/{doc_id}", headers=headers)).status_code == 204
    for subject in (FONTAINE, LEFEVRE):
        assert doc_id not in await iti67_ids(client, subject, ZOE)
        assert doc_id not in await iti18_ids(client, subject, ZOE)
    assert doc_id not in {d["id"] for d in (await client.get(DOCS, headers=headers)).json()}
    assert (await client.get(f"{DOCS}/{doc_id}", headers=headers)).status_code == 404
    assert (await client.delete(f"{DOCS}/{doc_id}", headers=headers)).status_code == 404


async def test_an_uploaded_pdf_reaches_professionals_as_patient_authored(client) -> None:
    headers = await auth(client, ZOE)
    pdf = make_pdf("Mes directives anticipées", ("Je soussignée...",))
    response = await client.post(DOCS, params={"title": "Mes directives anticipées", "type_code": "11488-4"},
                                 content=pdf, headers={**headers, "Content-Type": "application/pdf"})
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["origin"] == "patient" and doc["class_code"] == "90" and doc["author_name"] == "Zoe ADRUN"
    searched = await iti67(client, FONTAINE, ZOE)
    resource = next(e["resource"] for e in searched.json()["entry"] if e["resource"]["id"] == doc["id"])
    assert resource["category"][0]["coding"][0]["code"] == "90"
    author = resource["contained"][0]
    assert author["resourceType"] == "Patient" and author["identifier"][0]["value"] == ZOE
    assert doc["id"] in await iti18_ids(client, FONTAINE, ZOE)
    read = await client.get(f"/dmp/fhir/Binary/{resource['content'][0]['attachment']['url'].rsplit('/', 1)[1]}",
                            headers={"Authorization": searched.request.headers["Authorization"],
                                     "Accept": "application/pdf"})
    assert read.status_code == 200 and read.content == pdf


async def upload(client, headers, content: bytes, *, content_type: str = "application/pdf", **params: str):
    return await client.post(DOCS, params=params, content=content, headers={**headers, "Content-Type": content_type})


async def _count(session) -> int:
    return (await session.execute(select(func.count()).select_from(DmpDocument))).scalar_one()


async def test_upload_bounds_are_clear_and_store_nothing(client, session, settings) -> None:
    headers = await auth(client, ZOE)
    before = await _count(session)
    too_big = b"%PDF-1.4\n" + b"0" * settings.mes_upload_max_bytes
    big = await upload(client, headers, too_big, title="gros")
    assert big.status_code == 413 and big.json()["rule"] == "MES:upload-size", big.text
    not_pdf = await upload(client, headers, b"\x89PNG\r\n\x1a\n...", title="photo")
    assert not_pdf.status_code == 415 and not_pdf.json()["rule"] == "MES:upload-type"
    wrong_type = await upload(client, headers, make_pdf("x", ()), title="x", content_type="text/plain")
    assert wrong_type.status_code == 415
    empty = await upload(client, headers, b"", title="vide")
    assert empty.status_code == 422
    bad_type = await upload(client, headers, make_pdf("x", ()), title="x", type_code="00000-0")
    assert bad_type.status_code == 422 and bad_type.json()["rule"] == "PDSm:type-J66"
    assert await _count(session) == before


async def test_another_patients_documents_are_404(client) -> None:
    headers = await auth(client, ZOE)
    other = "180098708555433"
    assert (await client.get(f"/mes/api/v1/patients/{other}/documents", headers=headers)).status_code == 404
    assert (await client.get(f"/mes/api/v1/patients/{other}", headers=headers)).status_code == 404
    theirs = await file_document(client, ins=other)
    for method, path in (("GET", f"{DOCS}/{theirs}"), ("GET", f"{DOCS}/{theirs}/content"),
                         ("DELETE", f"{DOCS}/{theirs}")):
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 404, (method, path, response.text)
    masked = await client.put(f"{DOCS}/{theirs}/masked", json={"masked": True}, headers=headers)
    assert masked.status_code == 404
    assert theirs in await iti67_ids(client, FONTAINE, other)  # untouched
