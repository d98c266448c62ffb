"""The feeding path's store access (app/dmp/standing.py, app/dmp/feedstore.py): one query for the INS
identity, the DMP and the caller's standing, one statement for the inserts on PostgreSQL (data-modifying
CTEs, cached per shape).

The one query (fast path) and the plain path (``find_identity``, then the DMP and the caller's standing)
must both answer what the INS service's ``find_identity`` followed by ``authorise`` answer, in the same
order, for every patient / OID / professional / DMP state; the one insert must store what the per-table
inserts stored, whatever the number of documents and chunks, one shape after another."""

from __future__ import annotations

import base64
import hashlib
import json

from sqlalchemy import delete, select

from app.api.errors import FhirError
from app.dmp import exceptions, feedstore, rules, service, submission
from app.dmp.fhir.errors import to_fhir
from app.dmp.models import DmpAuditEvent, DmpBinary, DmpDocument, DmpRecord, DmpSubmissionSet
from app.shared.professional import Professional
from tests.dmp.builders import docref, pdf_bytes, provide_bundle
from tests.dmp.conftest import ZOE

INS_OIDS = ("1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11")


def _ctx(subject: str, rpps: str | None) -> service.AccessContext:
    return service.AccessContext(professional=Professional(
        subject_name_id=subject, rpps=rpps, given_name="Test", family_name="Pro", profession_code="10", userinfo={}))


async def _reference(session, patient: submission.PatientId, ctx: service.AccessContext) -> int:  # type: ignore[no-untyped-def]
    """The sequence the feeding path used before: INS service look-up, then authorise, then INS check."""
    from app.ins import service as ins_service

    known = await ins_service.find_identity(session, ins=patient.ins, oid=f"urn:oid:{patient.oid}") is not None
    record, _, _ = await service.authorise(session, ins=patient.ins, ctx=ctx, action=rules.Action.FEED,
                                           transaction="ITI-65", known_to_ins=known)
    if not known:
        raise FhirError(404, "not-found", f"INS {patient.ins} is unknown to the INS service: only an INS returned "
                        "by INSi may be used for the DMP (EX_GEN-1530)",
                        french=f"L'INS {patient.ins} est inconnu du service INS : seul un INS renvoyé par l'INSi peut "
                               "servir pour le DMP (EX_GEN-1530)",
                        rule="INS:unknown", details_code=exceptions.XDS_UNKNOWN_PATIENT)
    return record.id


async def _answer(coro):  # type: ignore[no-untyped-def]
    try:
        return ("ok", await coro)
    except (FhirError, exceptions.DmpError) as error:
        exc = to_fhir(error) if isinstance(error, exceptions.DmpError) else error
        return (exc.status, exc.code, exc.rule, exc.diagnostics, exc.french, exc.details_code)


async def test_one_query_answers_as_find_identity_then_authorise(app, client, session):  # type: ignore[no-untyped-def]
    from app.ins import service as ins_service

    identities = await ins_service.list_identities(session)
    assert any(i.kind == "NIA" for i in identities) and any(i.kind == "NIR" for i in identities)
    victims = [i.ins for i in identities[:3]]
    await client.post(f"/sandbox/v1/dmps/{victims[0]}/close", json={"motifFermeture": "patient-demande"})
    await client.put(f"/sandbox/v1/dmps/{victims[1]}/blocked-professionals/10001000024")
    await client.put(f"/sandbox/v1/dmps/{victims[1]}/authorisations/10001000032", json={"status": "INTERDIT"})
    # a known INS without a DMP (the store is reset before each test)
    async with app.state.sessionmaker() as own, own.begin():
        await own.execute(delete(DmpRecord).where(DmpRecord.ins == victims[2]))
    contexts = [_ctx("810001000016", "10001000016"), _ctx("810001000024", "10001000024"),
                _ctx("810001000032", "10001000032"), _ctx("899999999999", None)]
    inses = [i.ins for i in identities] + ["199999999999999", "1999999999999AB"]
    seen = set()
    for ins in inses:
        for oid in INS_OIDS:
            for ctx in contexts:
                patient = submission.PatientId(oid=oid, ins=ins)
                expected = await _answer(_reference(session, patient, ctx))
                for fast in (True, False):
                    got = await _answer(service.feed_standing(session, patient=patient, ctx=ctx,
                                                              transaction="ITI-65", fast=fast))
                    if got[0] == "ok":
                        got = ("ok", got[1].id)
                    assert got == expected, (ins, oid, ctx.rpps, fast)
                seen.add(got[0] if got[0] == "ok" else got[2])
    assert seen == {"ok", "INS:unknown", "DMP:exists", "DMP:closed", "DMP:blocked"}


async def _post(client, auth, bundle):  # type: ignore[no-untyped-def]
    response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                 headers={**await auth(), "Content-Type": "application/fhir+json"})
    assert response.status_code == 200, response.text
    return [e["response"]["location"].rsplit("/", 1)[1] for e in response.json()["entry"]]


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
        ids = await _post(client, auth, bundle)
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        ss_id = ids[kinds.index("List")]
        doc_ids = [i for i, k in zip(ids, kinds, strict=True) if k == "DocumentReference"]
        bin_ids = [i for i, k in zip(ids, kinds, strict=True) if k == "Binary"]
        ss = await session.get(DmpSubmissionSet, ss_id)
        assert ss is not None and ss.document_ids == doc_ids and ss.author_rpps == "10001000016"
        assert ss.resource["title"] == "Lot de soumission" and "text" not in ss.resource
        for n, (doc_id, bin_id) in enumerate(zip(doc_ids, bin_ids, strict=True)):
            doc = await session.get(DmpDocument, doc_id)
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
    await _post(client, auth, first)
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


LONG = [
    # masterIdentifier: an XDS uniqueId is at most 89 characters, refused before its column's 256
    # (XDS:DocumentEntry.uniqueId, tests/dmp/test_unique_id.py)
    (lambda b: docref(b)["content"][0]["attachment"].update(title="t" * 600),
     "Bundle.entry[1].resource.content[0].attachment.title"),
    (lambda b: b["entry"][0]["resource"]["extension"][1]["valueIdentifier"].update(value="x" * 300),
     "Bundle.entry[0].resource.extension[sourceId]"),
    (lambda b: docref(b)["contained"][1]["identifier"][0].update(value="8" + "1" * 40),
     "Bundle.entry[1].resource.author"),
    (lambda b: b["entry"][0]["resource"].update(title="t" * 513), "Bundle.entry[0].resource.title"),
]


async def test_values_longer_than_the_store_are_400_on_every_engine(client, auth):  # type: ignore[no-untyped-def]
    """PostgreSQL refused such an INSERT (a 500) where SQLite kept the value: now a 400 naming the element."""
    for mutate, expression in LONG:
        bundle = provide_bundle(ZOE)
        mutate(bundle)
        response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                     headers={**await auth(), "Content-Type": "application/fhir+json"})
        assert response.status_code == 400, response.text
        outcome = response.json()["issue"][0]
        assert outcome["expression"] == [expression]
        assert "DMP:element-length" in {c["code"] for c in outcome["details"]["coding"]}


async def test_long_reason_and_query_are_traced_clipped(client, auth):  # type: ignore[no-untyped-def]
    reason = "r" * 1500
    response = await client.get("/dmp/fhir/DocumentReference", params={
        "patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}", "status": "current", "unknown": "u" * 2500},
        headers={**await auth("810001000024"), "X-DMP-Access-Mode": "bris_de_glace", "X-DMP-Access-Reason": reason})
    assert response.status_code == 200, response.text
    traces = await client.get("/dmp/fhir/AuditEvent", headers=await auth(),
                              params={"patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"})
    event = traces.json()["entry"][0]["resource"]
    assert event["agent"][0]["purposeOfUse"][0]["text"] == reason[:1024]


async def test_dates_outside_the_utc_range_are_400(client, auth):  # type: ignore[no-untyped-def]
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-10:00"):
        bundle = provide_bundle(ZOE)
        docref(bundle)["date"] = value
        response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                     headers={**await auth(), "Content-Type": "application/fhir+json"})
        assert response.status_code == 400, response.text
        assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.date"]


async def test_search_dates_and_offsets_out_of_range_are_400(client, auth):  # type: ignore[no-untyped-def]
    patient = f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"
    for value in ("ge9999", "le9999-12-31", "eq9999-12", "ge0001-01-01T00:00:00+14:00", "eq2026-13",
                  "eq2026-02-30", "eq2026-01-01T25:00:00Z"):
        response = await client.get("/dmp/fhir/DocumentReference", headers=await auth(),
                                    params={"patient.identifier": patient, "status": "current", "creation": value})
        assert response.status_code == 400, (value, response.text)
        assert "FHIR:date" in {c["code"] for c in response.json()["issue"][0]["details"]["coding"]}
    ok = await client.get("/dmp/fhir/DocumentReference", headers=await auth(),
                          params={"patient.identifier": patient, "status": "current", "creation": "le9998"})
    assert ok.status_code == 200
    for path in ("/dmp/fhir/DocumentReference", "/dmp/fhir/List", "/dmp/fhir/AuditEvent"):
        response = await client.get(path, headers=await auth(), params={
            "patient.identifier": patient, "status": "current", "_offset": "99999999999999999999999"})
        assert response.status_code == 400, (path, response.text)


CONTROL = [
    (lambda b: docref(b)["content"][0]["attachment"].update(title="CR\x00"),
     "Bundle.entry[1].resource.content[0].attachment.title"),
    # masterIdentifier: not an OID, refused as such (XDS:DocumentEntry.uniqueId, tests/dmp/test_unique_id.py)
    (lambda b: docref(b)["contained"][1]["name"][0].update(family="Fontaine\x01"),
     "Bundle.entry[1].resource.author.name.family"),
    (lambda b: docref(b)["context"].update(event=[{"coding": [{"system": "http://x", "code": "a\x00"}]}]),
     "Bundle.entry[1].resource.context.event.coding.code"),
    (lambda b: b["entry"][0]["resource"].update(title="Lot\x00"), "Bundle.entry[0].resource.title"),
]


async def test_control_characters_in_stored_values_are_400_on_every_engine(client, auth):  # type: ignore[no-untyped-def]
    """PostgreSQL cannot store U+0000 in a text column (the INSERT failed: a 500) where SQLite kept it; FHIR
    strings may not hold control characters but tab, CR and LF anyway."""
    for mutate, expression in CONTROL:
        bundle = provide_bundle(ZOE)
        mutate(bundle)
        response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                     headers={**await auth(), "Content-Type": "application/fhir+json"})
        assert response.status_code == 400, (expression, response.text)
        outcome = response.json()["issue"][0]
        assert outcome["expression"] == [expression]
        assert "FHIR:string" in {c["code"] for c in outcome["details"]["coding"]}
    bundle = provide_bundle(ZOE, title="CR\tde consultation")  # tab, CR and LF are fine
    await _post(client, auth, bundle)


async def test_chunk_layouts_never_add_statements(client, auth, settings, session):  # type: ignore[no-untyped-def]
    """The one statement is cached per number of documents (one chunk each): a document of two chunks goes
    table by table instead of building, compiling and caching a statement for its chunk layout."""
    big = pdf_bytes() + bytes(settings.dmp_chunk_size)
    for documents in (1, 2, 1):
        bundle = provide_bundle(ZOE, documents=documents)
        bundle["entry"][1]["resource"]["content"][0]["attachment"].update(
            size=len(big), hash=base64.b64encode(hashlib.sha1(big).digest()).decode())  # noqa: S324
        bundle["entry"][1 + documents]["resource"]["data"] = base64.b64encode(big).decode()
        ids = await _post(client, auth, bundle)
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
        ids = await _post(client, auth, provide_bundle(ZOE, documents=2))
        first, second = ids[1], ids[2]
        responses = await asyncio.gather(*(client.post("/dmp/fhir", content=json.dumps(_replacing(t)),
                                                       headers=headers)
                                           for t in ((first, second), (second, first))))
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text[:300] for r in responses]
        session.expire_all()
        for old_id in (first, second):
            old = await session.get(DmpDocument, old_id)
            assert old is not None and (old.availability, old.version_id) == ("Deprecated", 2)
            successors = (await session.execute(select(DmpDocument.id).where(DmpDocument.replaces_id == old_id))
                          ).scalars().all()
            assert successors == [old.replaced_by_id]
    current = (await _post(client, auth, provide_bundle(ZOE)))[1]
    twice = provide_bundle(ZOE, documents=2, replaces=current, patch=None)  # one document replaced twice at once
    response = await client.post("/dmp/fhir", content=json.dumps(twice), headers=headers)
    assert response.status_code == 409 and "is Deprecated" in response.text, response.text


async def test_paging_numbers_are_ascii_digits_only(client, auth):  # type: ignore[no-untyped-def]
    """``_count``/``_offset`` went through ``int()``, which takes ``"1_0"`` (10), ``" 5"`` or ``"١٢"`` (12):
    they are 400s now, with the OperationOutcome of any other invalid paging value."""
    patient = f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"
    for path in ("/dmp/fhir/DocumentReference", "/dmp/fhir/List", "/dmp/fhir/AuditEvent"):
        for name in ("_count", "_offset"):
            for value in ("1_0", " 5", "١٢", "5 ", "+5", "", "0x5"):
                response = await client.get(path, headers=await auth(), params={
                    "patient.identifier": patient, "status": "current", name: value})
                assert response.status_code == 400, (path, name, value, response.text)
                body = response.json()
                assert body["resourceType"] == "OperationOutcome"
                issue = body["issue"][0]
                assert issue["code"] == "invalid"
                assert issue["diagnostics"] == ("_count et _offset prennent des entiers — "
                                                "_count and _offset take integers")
                assert "FHIR:paging" in {c["code"] for c in issue["details"]["coding"]}
            negative = await client.get(path, headers=await auth(), params={
                "patient.identifier": patient, "status": "current", name: "-1"})
            assert negative.status_code == 400
            assert negative.json()["issue"][0]["diagnostics"] == ("_count et _offset doivent être positifs — "
                                                                   "_count and _offset must be positive")
            ok = await client.get(path, headers=await auth(), params={
                "patient.identifier": patient, "status": "current", name: "02"})
            assert ok.status_code == 200, (path, name, ok.text)
        huge = await client.get(path, headers=await auth(), params={
            "patient.identifier": patient, "status": "current", "_count": "9" * 30})
        assert huge.status_code == 200, huge.text  # capped at SEGUR_DMP_MAX_PAGE_SIZE, as before
    page = await client.get("/dmp/fhir/DocumentReference", headers=await auth(), params={
        "patient.identifier": patient, "status": "current", "_count": "02"})
    assert len(page.json()["entry"]) == 2


async def test_fast_and_plain_stores_keep_the_same_rows(app, client, auth, settings, session):  # type: ignore[no-untyped-def]
    """settings.fast_paths off: the ORM stores the submission; the rows are those of the fast path."""
    def rows_of(model, ids):  # type: ignore[no-untyped-def]
        return select(model).where(model.id.in_(ids))

    stored = []
    for fast in (True, False):
        settings.fast_paths = fast
        try:
            ids = await _post(client, auth, provide_bundle(ZOE, documents=2))
        finally:
            settings.fast_paths = True
        ss_id, doc_ids = ids[0], ids[1:3]
        docs = (await session.execute(rows_of(DmpDocument, doc_ids))).scalars().all()
        ss = await session.get(DmpSubmissionSet, ss_id)
        stored.append((sorted((d.title, d.content_type, d.size, d.hash_b64, d.type_code, d.labels, d.availability)
                              for d in docs), ss.document_ids.__len__(), ss.source_id))
    assert stored[0] == stored[1]
    # the second submission reuses the uniqueIds of the builder: each way refuses a duplicate alike
