"""ITI-43 Retrieve Document Set over HTTP (MTOM answer), against the real store: a document filed over FHIR ITI-65
retrieved with the bytes its ITI-18 hash names, several documents with one missing (PartialSuccess), none
(Failure), another repository, masked documents, access refusals, traces, and a 20 MB document streamed with
flat memory.

Request shape: ehealthsuisse ``EPR-by-example`` ``samples/ITI-43_request.xml`` (commit e4fd5cf6:
``xdsb:RetrieveDocumentSetRequest`` / ``DocumentRequest`` with ``HomeCommunityId``, ``RepositoryUniqueId``,
``DocumentUniqueId``), and without the optional HomeCommunityId.
"""

from __future__ import annotations

import hashlib
import re
import tracemalloc
from pathlib import Path

from lxml import etree
from sqlalchemy import select, update

from app.dmp import service
from app.dmp.models import DmpAuditEvent, DmpBinary, DmpBinaryChunk, DmpDocument, DmpRecord
from app.dmp.rows import binary_rows
from app.dmp.soap import iti43, vihf
from app.dmp.soap import namespaces as ns
from app.dmp.soap.call import SoapCall, SoapRequest
from app.dmp.submission import sha1_b64
from tests.conftest import BASE_URL
from tests.dmp.conftest import BERNARD, FONTAINE, LEFEVRE, ZOE
from tests.dmp.soap.client import post_soap
from tests.dmp.soap.test_iti18 import TRE_A07, file_fhir, find_documents, objects, query, slot, unique_id, vihf_for

XDSB = f"{{{ns.NS_XDSB}}}"
RS = f"{{{ns.NS_RS}}}"
REPOSITORY = ns.DEFAULT_REPOSITORY_UNIQUE_ID


def retrieve_request(*documents: tuple[str, str], home: str | None = None) -> etree._Element:
    root = etree.Element(XDSB + "RetrieveDocumentSetRequest", nsmap={"xdsb": ns.NS_XDSB})
    for repository, document in documents:
        request = etree.SubElement(root, XDSB + "DocumentRequest")
        if home:
            etree.SubElement(request, XDSB + "HomeCommunityId").text = home
        etree.SubElement(request, XDSB + "RepositoryUniqueId").text = repository
        etree.SubElement(request, XDSB + "DocumentUniqueId").text = document
    return root


async def retrieve(client, payload: etree._Element, *, subject: str = FONTAINE, **attributes):  # type: ignore[no-untyped-def]
    assertion, headers = await vihf_for(client, subject, ZOE, **attributes)
    answer = await post_soap(client, "repository", ns.ACTION_ITI43, payload, vihf=assertion, headers=headers)
    assert answer.status == 200 and not answer.is_fault, (answer.fault_subcode, answer.fault_reason)
    assert answer.action == ns.response_action(ns.ACTION_ITI43)
    assert answer.content_type.startswith("multipart/related")  # ITI-43 always answers MTOM (TF-2b §3.43.5)
    assert answer.payload is not None and answer.payload.tag == XDSB + "RetrieveDocumentSetResponse"
    return answer


def status(answer) -> str:  # type: ignore[no-untyped-def]
    return answer.payload.find(RS + "RegistryResponse").get("status")


def error_list(answer) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(e.get("errorCode"), e.get("location")) for e in answer.payload.iter(RS + "RegistryError")]


def documents(answer) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """DocumentUniqueId -> the bytes its xop:Include names."""
    found = {}
    for response in answer.payload.findall(XDSB + "DocumentResponse"):
        assert response.findtext(XDSB + "RepositoryUniqueId") == REPOSITORY
        include = response.find(f"{XDSB}Document/{{{ns.NS_XOP}}}Include")
        cid = include.get("href").removeprefix("cid:")
        content_type, data = answer.parts[cid]
        assert response.findtext(XDSB + "mimeType") == content_type
        found[response.findtext(XDSB + "DocumentUniqueId")] = data
    return found


async def test_fhir_filed_then_retrieved_with_the_hash_iti18_names(client, auth):  # type: ignore[no-untyped-def]
    _, uid, data = await file_fhir(client, auth)
    (entry,) = [e for e in objects(await query(client, find_documents())) if unique_id(e) == uid]
    answer = await retrieve(client, retrieve_request((slot(entry, "repositoryUniqueId")[0], uid)))
    assert status(answer) == ns.STATUS_SUCCESS and not error_list(answer)
    assert documents(answer) == {uid: data}
    assert hashlib.sha1(data).hexdigest() == slot(entry, "hash")[0]  # noqa: S324


async def test_the_ehealthsuisse_shape_with_a_home_community(client, auth):  # type: ignore[no-untyped-def]
    _, uid, data = await file_fhir(client, auth)
    home = "urn:oid:1.3.6.1.4.1.21367.2017.2.6.19"
    answer = await retrieve(client, retrieve_request((REPOSITORY, uid), home=home))
    assert status(answer) == ns.STATUS_SUCCESS and documents(answer) == {uid: data}
    assert answer.payload.findtext(f"{XDSB}DocumentResponse/{XDSB}HomeCommunityId") == home


async def test_several_documents_one_missing_is_a_partial_success(client, auth):  # type: ignore[no-untyped-def]
    _, first, data_one = await file_fhir(client, auth)
    _, second, data_two = await file_fhir(client, auth, data=b"%PDF-1.4 second")
    answer = await retrieve(client, retrieve_request((REPOSITORY, first), (REPOSITORY, "1.2.3.404"),
                                                     (REPOSITORY, f"urn:oid:{second}"), ("9.9.9", first)))
    assert status(answer) == ns.STATUS_PARTIAL
    assert error_list(answer) == [("XDSDocumentUniqueIdError", "1.2.3.404"),
                                  ("XDSUnknownRepositoryId", "DocumentRequest[3]")]
    assert documents(answer) == {first: data_one, second: data_two}


async def test_none_found_is_a_failure(client):  # type: ignore[no-untyped-def]
    answer = await retrieve(client, retrieve_request((REPOSITORY, "1.2.3.404"), (REPOSITORY, "1.2.3.405")))
    assert status(answer) == ns.STATUS_FAILURE
    assert [code for code, _ in error_list(answer)] == ["XDSDocumentUniqueIdError"] * 2
    assert not answer.payload.findall(XDSB + "DocumentResponse")


async def test_a_masked_document_is_unknown_to_others(client, auth):  # type: ignore[no-untyped-def]
    _, uid, data = await file_fhir(client, auth, labels=[{"system": TRE_A07, "code": "MASQUE_PS"}])
    assert documents(await retrieve(client, retrieve_request((REPOSITORY, uid)))) == {uid: data}
    other = await retrieve(client, retrieve_request((REPOSITORY, uid), (REPOSITORY, "1.2.3.404")), subject=BERNARD,
                           access_mode="bris_de_glace", access_reason="urgence vitale")
    assert status(other) == ns.STATUS_FAILURE
    assert error_list(other) == [("XDSDocumentUniqueIdError", uid), ("XDSDocumentUniqueIdError", "1.2.3.404")]
    codes = [e.get("codeContext").replace(uid, "X").replace("1.2.3.404", "X")
             for e in other.payload.iter(RS + "RegistryError")]
    assert codes[0] == codes[1]  # word for word the answer of an unknown document


async def test_access_refused_is_a_failure_and_traced(client, session):  # type: ignore[no-untyped-def]
    seeded = unique_id(objects(await query(client, find_documents()))[0])
    answer = await retrieve(client, retrieve_request((REPOSITORY, seeded)), subject=LEFEVRE)
    assert status(answer) == ns.STATUS_FAILURE and not answer.parts
    refusals = (await session.execute(select(DmpAuditEvent).where(DmpAuditEvent.transaction == "ITI-43"))).scalars()
    assert [(t.outcome, t.agent_rpps) for t in refusals] == [("4", LEFEVRE[1:])]


async def test_each_document_read_is_traced(client, session):  # type: ignore[no-untyped-def]
    entries = objects(await query(client, find_documents()))[:2]
    answer = await retrieve(client, retrieve_request(*((REPOSITORY, unique_id(e)) for e in entries)))
    assert len(documents(answer)) == 2
    traces = (await session.execute(select(DmpAuditEvent).where(DmpAuditEvent.transaction == "ITI-43")
                                    .order_by(DmpAuditEvent.id))).scalars().all()
    assert [(t.action, t.outcome, [f"urn:uuid:{i}" for i in t.document_ids]) for t in traces] == [
        ("R", "0", [e.get("id")]) for e in entries]


async def test_malformed_requests(client):  # type: ignore[no-untyped-def]
    empty = await retrieve(client, etree.Element(XDSB + "RetrieveDocumentSetRequest"))
    assert status(empty) == ns.STATUS_FAILURE and error_list(empty)[0][0] == "XDSRegistryError"
    no_id = retrieve_request((REPOSITORY, ""))
    assert error_list(await retrieve(client, no_id))[0][0] == "XDSRegistryError"


async def _big_document(session, settings, size: int) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    """A seeded document given ``size`` bytes, stored in chunks as the feeding path stores them."""
    data = (bytes(range(256)) * (size // 256 + 1))[:size]
    target = (await session.execute(select(DmpDocument).join(DmpRecord, DmpRecord.id == DmpDocument.dmp_id).where(
        DmpRecord.ins == ZOE, DmpDocument.author_rpps == FONTAINE[1:]))).scalars().first()
    assert target is not None
    binary_id = "big-" + target.id
    row, chunks = binary_rows(binary_id, data, "application/pdf", sha1_b64(data), settings.dmp_chunk_size)
    session.add(DmpBinary(**row))
    await session.flush()
    for chunk in chunks:
        session.add(DmpBinaryChunk(**chunk))
    await session.execute(update(DmpDocument).where(DmpDocument.id == target.id).values(
        binary_id=binary_id, size=len(data), hash_b64=sha1_b64(data), content_type="application/pdf"))
    await session.commit()
    return target.unique_id.removeprefix("urn:oid:"), data


async def test_a_20_mb_document_streams_with_flat_memory(app, client, session, settings):  # type: ignore[no-untyped-def]
    uid, data = await _big_document(session, settings, 20 * 1024 * 1024)
    answer = await retrieve(client, retrieve_request((REPOSITORY, uid)))
    assert hashlib.sha1(documents(answer)[uid]).digest() == hashlib.sha1(data).digest()  # noqa: S324
    # the handler's part streams the stored chunks: measured while the bytes flow, the memory it holds stays
    # about one chunk (1 MiB), not the document (20 MiB)
    assertion, headers = await vihf_for(client)
    security = etree.Element(f"{{{ns.NS_WSSE}}}Security")
    security.append(etree.fromstring(assertion))
    soap = SoapRequest(action=ns.ACTION_ITI43, message_id="urn:uuid:1", to=None, reply_to=None,
                       header=etree.Element("h"), payload=retrieve_request((REPOSITORY, uid)), security=security,
                       client_certificate_subject=headers.get("X-Segur-Client-Certificate"))
    checked = await vihf.authenticate(soap, session=session, sessionmaker=app.state.sessionmaker, settings=settings)
    call = SoapCall(request=soap, ctx=vihf.access_context(checked), vihf=checked, session=session,
                    sessionmaker=app.state.sessionmaker, settings=settings, base_url=BASE_URL)
    reply = await iti43.retrieve_document_set(call)
    assert reply.mtom and len(reply.parts) == 1 and callable(reply.parts[0].data)
    digest, total = hashlib.sha1(), 0  # noqa: S324
    tracemalloc.start()
    try:
        async for chunk in reply.parts[0].data():
            digest.update(chunk)
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == len(data) and digest.digest() == hashlib.sha1(data).digest()  # noqa: S324
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while streaming a {len(data)}-byte document"
    await session.rollback()
    assert await service.get_binary(session, "none") is None


def test_the_documented_error_is_the_one_answered() -> None:
    """docs/dmp.md says what an unknown document gets: the code ITI-43 answers (ITI TF-3 Table 4.2.4.1-2:
    XDSDocumentUniqueIdError, "the document associated with the uniqueId is not available"; XDSMissingDocument is
    ITI-41's, a DocumentEntry without its document)."""
    docs = (Path(__file__).parents[3] / "docs" / "dmp.md").read_text(encoding="utf-8")
    (row,) = [line for line in docs.splitlines() if line.startswith("| TD3.2 | ITI-43")]
    answered = iti43.unknown_document("1.2.3").xds_code
    assert answered == "XDSDocumentUniqueIdError"
    assert set(re.findall(r"`(XDS\w+)`", row)) == {answered}
    errors = docs[docs.index("- **XDS transactions**"):docs.index("- **TD0.2 / TD1.1**")]
    iti43_codes = re.search(r"\(ITI-18\); (.*?) \(ITI-43", errors, re.S)
    assert iti43_codes and set(re.findall(r"`(XDS\w+)`", iti43_codes.group(1))) == {answered, "XDSUnknownRepositoryId"}
