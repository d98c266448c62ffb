"""Storing a submission (app/dmp/feedstore.py): one statement on PostgreSQL (data-modifying CTEs, cached per
shape), table by table otherwise, the ORM with fast paths off; the same rows and the same refusals each way,
whatever the number of documents and chunks, one shape after another."""

from __future__ import annotations

import base64
import hashlib
import json

from sqlalchemy import select

from app.dmp import feedstore, service
from app.dmp.models import DmpAuditEvent, DmpBinary, DmpDocument, DmpSubmissionSet
from tests.dmp.builders import docref, filed_ids, pdf_bytes, provide_bundle
from tests.dmp.conftest import ZOE


async def test_every_shape_is_stored_whole(client, auth, session):  # type: ignore[no-untyped-def]
    """1 document, then 2 (one of three chunks: table by table), then 1 again, then 3 (one statement), then
    more documents than one statement takes (table by table): the cached statements bind the right rows,
    the table-by-table path stores the same."""
    big = pdf_bytes() + bytes(range(256)) * 9_000  # > 2 MiB: three chunks of 1 MiB
    assert feedstore._FEED_STATEMENT_MAX_DOCUMENTS < 10
    shapes = [provide_bundle(ZOE), provide_bundle(ZOE, documents=2), provide_bundle(ZOE),
              provide_bundle(ZOE, documents=3), provide_bundle(ZOE, documents=10)]
    shapes[1]["entry"][2]["resource"]["content"][0]["attachment"].update(
        size=len(big), hash=base64.b64encode(hashlib.sha1(big).digest()).decode())  # noqa: S324
    shapes[1]["entry"][4]["resource"]["data"] = base64.b64encode(big).decode()
    for bundle in shapes:
        ids = await filed_ids(client, auth, bundle)
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        ss_id = ids[kinds.index("List")]
        doc_ids = [i for i, k in zip(ids, kinds, strict=True) if k == "DocumentReference"]
        bin_ids = [i for i, k in zip(ids, kinds, strict=True) if k == "Binary"]
        ss = await session.get(DmpSubmissionSet, ("default", ss_id))
        assert ss is not None and ss.document_ids == doc_ids and ss.author_rpps == "10001000016"
        assert ss.resource["title"] == "Lot de soumission" and "text" not in ss.resource
        for n, (doc_id, bin_id) in enumerate(zip(doc_ids, bin_ids, strict=True)):
            doc = await session.get(DmpDocument, ("default", doc_id))
            sent = docref(bundle, n)
            assert doc is not None and doc.binary_id == bin_id and doc.submission_set_id == ss_id
            assert doc.unique_id == sent["masterIdentifier"]["value"] and doc.version_id == 1
            assert doc.labels == [["http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N", "normal"]]
            stored = json.loads(doc.resource)
            assert "data" not in stored["content"][0]["attachment"] and stored["contained"] == sent["contained"]
            data = base64.b64decode(bundle["entry"][kinds.index("Binary") + n]["resource"]["data"])
            binary = await session.get(DmpBinary, bin_id)
            assert binary is not None and binary.size == len(data) == doc.size
            assert binary.chunks == (3 if len(data) > 2 * 1024 * 1024 else 1)
            assert await service.read_binary(session, bin_id) == data
        event = (await session.execute(select(DmpAuditEvent).where(DmpAuditEvent.ins == ZOE)
                                       .order_by(DmpAuditEvent.id.desc()))).scalars().first()
        assert event is not None and event.transaction == "ITI-65" and event.document_ids == doc_ids
        assert (event.action, event.outcome, event.agent_rpps) == ("C", "0", "10001000016")
        session.expunge_all()


async def test_duplicate_unique_id_is_409_on_both_insert_paths(client, auth, session):  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    first = provide_bundle(ZOE)
    await filed_ids(client, auth, first)
    taken = docref(first)["masterIdentifier"]["value"]

    async def count() -> int:
        return (await session.execute(select(func.count()).select_from(DmpDocument))).scalar_one()

    before = await count()
    for documents in (1, 10):  # one statement / table by table on PostgreSQL
        bundle = provide_bundle(ZOE, documents=documents)
        docref(bundle, documents - 1)["masterIdentifier"]["value"] = taken
        response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                     headers={**await auth(), "Content-Type": "application/fhir+json"})
        assert response.status_code == 409, response.text
        outcome = response.json()["issue"][0]
        assert outcome["expression"] == ["DocumentReference.masterIdentifier"]
        assert "XDSDuplicateUniqueIdInRegistry" in {c["code"] for c in outcome["details"]["coding"]}
        assert await count() == before


async def test_chunk_layouts_never_add_statements(client, auth, settings, session):  # type: ignore[no-untyped-def]
    """The one statement is cached per number of documents (one chunk each): a document of two chunks goes
    table by table instead of building, compiling and caching a statement for its chunk layout."""
    big = pdf_bytes() + bytes(settings.dmp_chunk_size)
    for documents in (1, 2, 1):
        bundle = provide_bundle(ZOE, documents=documents)
        bundle["entry"][1]["resource"]["content"][0]["attachment"].update(
            size=len(big), hash=base64.b64encode(hashlib.sha1(big).digest()).decode())  # noqa: S324
        bundle["entry"][1 + documents]["resource"]["data"] = base64.b64encode(big).decode()
        ids = await filed_ids(client, auth, bundle)
        assert await service.read_binary(session, ids[1 + documents]) == big
        assert set(feedstore._FEED_STATEMENTS) <= set(range(1, feedstore._FEED_STATEMENT_MAX_DOCUMENTS + 1))


async def test_concurrent_submissions_sharing_unique_ids_are_one_201_and_one_409(client, auth, session):  # type: ignore[no-untyped-def]
    """Same uniqueIds, in reverse order, at once: one is stored whole, the other is a 409 and stores nothing.
    In request order PostgreSQL could find a deadlock (each waiting for the other's index entry): a 500."""
    import asyncio

    from sqlalchemy import func

    headers = {**await auth(), "Content-Type": "application/fhir+json"}
    for documents in (2, 10) * 8:  # one statement / table by table on PostgreSQL
        first, second = provide_bundle(ZOE, documents=documents), provide_bundle(ZOE, documents=documents)
        unique_ids = [docref(first, n)["masterIdentifier"]["value"] for n in range(documents)]
        for n, unique_id in enumerate(reversed(unique_ids)):
            docref(second, n)["masterIdentifier"]["value"] = unique_id
        responses = await asyncio.gather(*(client.post("/dmp/fhir", content=json.dumps(b), headers=headers)
                                           for b in (first, second)))
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text[:300] for r in responses]
        stored = (await session.execute(select(func.count()).select_from(DmpDocument)
                                        .where(DmpDocument.unique_id.in_(unique_ids)))).scalar_one()
        assert stored == documents


def _replacing(bundle_targets: tuple[str, str]) -> dict:  # type: ignore[type-arg]
    """An ITI-65 of two new documents replacing two documents (relatesTo only, MHD style)."""
    bundle = provide_bundle(ZOE, documents=2, replaces=bundle_targets[0], patch=None)
    docref(bundle, 1)["relatesTo"][0]["target"]["reference"] = f"DocumentReference/{bundle_targets[1]}"
    return bundle


async def test_concurrent_replacements_of_the_same_documents_are_one_200_and_one_409(client, auth, session):  # type: ignore[no-untyped-def]
    """Two submissions replacing the same two documents, named in opposite orders, at once: PostgreSQL
    deadlocked one of them (a 500: the rows were locked in document order); SQLite, which takes no row
    lock, let both replace them (two current successors). Now one wins, the other is a 409."""
    import asyncio

    headers = {**await auth(), "Content-Type": "application/fhir+json"}
    for _ in range(6):
        ids = await filed_ids(client, auth, provide_bundle(ZOE, documents=2))
        first, second = ids[1], ids[2]
        responses = await asyncio.gather(*(client.post("/dmp/fhir", content=json.dumps(_replacing(t)),
                                                       headers=headers)
                                           for t in ((first, second), (second, first))))
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text[:300] for r in responses]
        session.expire_all()
        for old_id in (first, second):
            old = await session.get(DmpDocument, ("default", old_id))
            assert old is not None and (old.availability, old.version_id) == ("Deprecated", 2)
            successors = (await session.execute(select(DmpDocument.id).where(DmpDocument.replaces_id == old_id))
                          ).scalars().all()
            assert successors == [old.replaced_by_id]
    current = (await filed_ids(client, auth, provide_bundle(ZOE)))[1]
    twice = provide_bundle(ZOE, documents=2, replaces=current, patch=None)  # one document replaced twice at once
    response = await client.post("/dmp/fhir", content=json.dumps(twice), headers=headers)
    assert response.status_code == 409 and "is Deprecated" in response.text, response.text


async def test_fast_and_plain_stores_keep_the_same_rows(app, client, auth, settings, session):  # type: ignore[no-untyped-def]
    """settings.fast_paths off: the ORM stores the submission; the rows are those of the fast path."""
    def rows_of(model, ids):  # type: ignore[no-untyped-def]
        return select(model).where(model.id.in_(ids))

    stored = []
    for fast in (True, False):
        settings.fast_paths = fast
        try:
            ids = await filed_ids(client, auth, provide_bundle(ZOE, documents=2))
        finally:
            settings.fast_paths = True
        ss_id, doc_ids = ids[0], ids[1:3]
        docs = (await session.execute(rows_of(DmpDocument, doc_ids))).scalars().all()
        ss = await session.get(DmpSubmissionSet, ("default", ss_id))
        stored.append((sorted((d.title, d.content_type, d.size, d.hash_b64, d.type_code, d.labels, d.availability)
                              for d in docs), ss.document_ids.__len__(), ss.source_id))
    assert stored[0] == stored[1]
    # the second submission reuses the uniqueIds of the builder: each way refuses a duplicate alike
