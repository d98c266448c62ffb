"""Feeding a DMP (ITI-65 Provide Document Bundle, ITI-105 Simplified Publish; later XDS.b ITI-41): a checked
:class:`~app.dmp.submission.Submission` filed atomically — the standing checks, replacements (PDSm4DMP
TD2.1: the replaced document superseded, its metadata patched in the same submission), the rows, the trace.
Nothing is stored from a refused submission: the request's transaction is rolled back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.dmp import rules
from app.dmp.access import caller_on, state_of
from app.dmp.context import AccessContext, RecordLike
from app.dmp.exceptions import XDS_METADATA, XDS_UNRESOLVED_REFERENCE, DmpError, Kind
from app.dmp.feedstore import entry_uuid_taken, insert_submission
from app.dmp.models import DmpDocument, DmpSubmissionSet
from app.dmp.patch import MetadataState
from app.dmp.rows import binary_rows, document_row, label_flags
from app.dmp.standing import feed_standing
from app.dmp.submission import MHD_LIST_TYPES, DocumentIn, Submission
from app.dmp.traces import trace_row
from app.dmp.updates import bump_version, document_view, lock_documents
from app.tenancy import current_tenant


@dataclass
class EntryResult:
    status: str
    location: str
    etag: str | None = None


def not_current(target: str, english: str, french: str) -> DmpError:
    """A replacement whose target is no longer the chain's current version (PDSm4DMP TD2.1): a 409."""
    return DmpError(Kind.CONFLICT, f"DocumentReference/{target} {english}: replace the current version of the chain",
                    french=f"DocumentReference/{target} {french} : remplacer la version courante de la chaîne",
                    rule="PDSm4DMP:TD2.1-replace-current", element="DocumentReference.relatesTo.target",
                    xds_code=XDS_METADATA)


async def submit(session: AsyncSession, settings: Settings, *, submission: Submission, ctx: AccessContext,
                 transaction: str = "ITI-65") -> list[EntryResult]:
    """File a submission atomically; returns one result per request entry, in request order."""
    record = await feed_standing(session, patient=submission.patient, ctx=ctx, transaction=transaction,
                                 fast=settings.fast_paths)
    now = utcnow()
    patch_results: dict[int, EntryResult] = {}
    patches_by_target = {p.target_id: p for p in submission.patches}
    targets = sorted({d.replaces for d in submission.documents if d.replaces})
    if targets:
        # Locked in id order (PostgreSQL): two submissions replacing the same documents wait for each other
        # (the second then finds them superseded: a 409) instead of deadlocking (a 500).
        await lock_documents(session, targets)
    for doc in submission.documents:
        if not doc.replaces:
            continue
        old = await session.get(DmpDocument, (current_tenant(), doc.replaces))
        # A document the caller may not see (masked from professionals but its author, deleted: rules.is_visible)
        # is answered as an unknown one, word for word: any other answer would say it exists.
        if old is None or old.dmp_id != record.id or not rules.is_visible(document_view(old),
                                                                           rules.Caller(rpps=ctx.rpps)):
            raise DmpError(Kind.NOT_FOUND, f"relatesTo.target DocumentReference/{doc.replaces} is unknown in this "
                           "patient's DMP",
                           french=f"relatesTo.target DocumentReference/{doc.replaces} est inconnu dans le DMP de "
                                  f"ce patient",
                           rule="PDSm4DMP:TD2.1-replace-target", element="DocumentReference.relatesTo.target",
                           xds_code=XDS_UNRESOLVED_REFERENCE)
        if old.availability != "Approved":
            raise not_current(doc.replaces, f"is {old.availability} and cannot be replaced",
                              f"est {old.availability} et ne peut être remplacé")
        patch = patches_by_target.get(doc.replaces)
        if patch is not None:
            state = patch.apply(MetadataState("current", tuple(tuple(x) for x in old.labels), old.is_archived),  # type: ignore[misc]
                                lenient=settings.dmp_lenient)  # type: ignore[arg-type]
            if state.status != "superseded":
                raise DmpError(Kind.UNPROCESSABLE, f"Bundle.entry[{patch.entry_index}] must set the replaced "
                               "document's status to 'superseded'",
                               french=f"Bundle.entry[{patch.entry_index}] doit passer le statut du document "
                                      f"remplacé à 'superseded'",
                               rule="PDSm4DMP:TD2.1-patch", element=f"Bundle.entry[{patch.entry_index}]")
            # every column the labels drive, as a metadata PATCH sets them (masked_ps filters searches)
            changes = {**label_flags(state.labels), "is_archived": state.is_archived}
        else:
            changes = {}
        # Only if it is still the version read: SQLite takes no row lock (FOR UPDATE is ignored there), so a
        # concurrent replacement may have superseded it since; then this one is a 409, as for any document
        # no longer current. (The update also brings ``old`` up to date, for a second replacement of it.)
        version = old.version_id
        if not await bump_version(session, old, version, DmpDocument.availability == "Approved",
                                  availability="Deprecated", last_updated=now, **changes):
            raise not_current(doc.replaces, "was replaced meanwhile and cannot be replaced",
                              "a été remplacé entre-temps et ne peut plus l'être")
        if patch is not None:
            patch_results[patch.entry_index] = EntryResult(
                "200 OK", f"DocumentReference/{old.id}/_history/{version + 1}", f'W/"{version + 1}"')
    # The client's entryUUIDs where it gave some (XDS.b: ITI TF-3 §4.2.3.1.5, a non-symbolic id is kept by the
    # registry); FHIR's are server-assigned (a fullUrl urn:uuid is a temporary id). One already registered is
    # refused (checked here, and by the primary keys against a concurrent submission: feedstore).
    await check_entry_uuids(session, submission)
    ss_id = submission.entry_uuid or str(uuid.uuid4())
    doc_ids = {d.entry_index: d.entry_uuid or str(uuid.uuid4()) for d in submission.documents}
    bin_ids = {d.entry_index: str(uuid.uuid4()) for d in submission.documents}
    binary_values: list[dict[str, Any]] = []
    chunk_values: list[list[dict[str, Any]]] = []
    doc_values: list[dict[str, Any]] = []
    for doc in submission.documents:
        brow, chunks = binary_rows(bin_ids[doc.entry_index], doc.data, doc.content_type, doc.hash_b64,
                                   settings.dmp_chunk_size)
        binary_values.append(brow)
        chunk_values.append(chunks)
        doc_values.append(document_row(doc, doc_id=doc_ids[doc.entry_index], dmp_id=record.id, ss_id=ss_id,
                                       binary_id=bin_ids[doc.entry_index], now=now))
    ss_row = {
        "id": ss_id, "dmp_id": record.id, "unique_id": submission.unique_id or f"urn:uuid:{ss_id}",
        "source_id": submission.source_id, "designation_system": submission.designation_type.system,
        "designation_code": submission.designation_type.code,
        "designation_display": submission.designation_type.display,
        "submission_time": submission.submission_time, "title": submission.title, "author_rpps": ctx.rpps,
        "document_ids": list(doc_ids.values()),
        # serialised as it is bound: a shallow copy without the narrative is all the row needs
        "resource": {k: v for k, v in submission.submission_set.items() if k != "text"}, "created_at": now,
    }
    await insert_submission(
        session, fast=settings.fast_paths, ss_row=ss_row, binary_rows=binary_values, chunk_rows=chunk_values,
        doc_rows=doc_values,
        trace=trace_row(record=record, ctx=ctx, transaction=transaction, action="C", documents_ids=[
            *doc_ids.values(), *(d.replaces for d in submission.documents if d.replaces)]))
    for doc in submission.documents:
        if doc.replaces:
            await session.execute(update(DmpDocument).where(DmpDocument.id == doc.replaces)
                                  .values(replaced_by_id=doc_ids[doc.entry_index]))
    await session.flush()
    doc_by_index = {d.entry_index: d for d in submission.documents}
    binary_by_entry = {submission.binary_entries[d.resource["content"][0]["attachment"]["url"]]: bin_ids[d.entry_index]
                       for d in submission.documents if d.resource["content"][0]["attachment"].get("url")
                       in submission.binary_entries}
    results: list[EntryResult] = []
    for kind, index in submission.entry_kinds:
        if kind == "submissionset":
            results.append(EntryResult("201 Created", f"List/{ss_id}", 'W/"1"'))
        elif kind == "document":
            assert index in doc_by_index
            results.append(EntryResult("201 Created", f"DocumentReference/{doc_ids[index]}", 'W/"1"'))
        elif kind == "binary":
            results.append(EntryResult("201 Created", f"Binary/{binary_by_entry[index]}", 'W/"1"'))
        elif kind == "patient":  # MHD entry[Patient]: the INS identity, neither created nor changed
            results.append(EntryResult("200 OK", f"Patient/{submission.patient.ins}"))
        else:
            results.append(patch_results[index])
    return results


async def check_entry_uuids(session: AsyncSession, submission: Submission) -> None:
    """Refuse a client-given entryUUID already registered (a document's or a submission set's): nothing is
    stored. ITI TF-3 Table 4.2.4.1-2 has no code for an entryUUID (``XDSDuplicateUniqueIdInRegistry`` is the
    uniqueId attribute's): ``XDSRegistryMetadataError``."""
    wanted = {u for u in [submission.entry_uuid, *(d.entry_uuid for d in submission.documents)] if u}
    if not wanted:
        return
    taken = set((await session.execute(select(DmpDocument.id).where(DmpDocument.id.in_(sorted(wanted))))).scalars())
    taken |= set((await session.execute(select(DmpSubmissionSet.id).where(
        DmpSubmissionSet.id.in_(sorted(wanted))))).scalars())
    if taken:
        raise entry_uuid_taken(sorted(taken))


async def registered_hashes(session: AsyncSession, unique_ids: list[str], *, record: RecordLike,
                            ctx: AccessContext) -> dict[str, str | None]:
    """The documents already registered under these uniqueIds (the XDS uniqueId is unique in the registry:
    ITI TF-3 §4.2.3.2.26), for an XDS face to answer a resubmission with ``XDSDuplicateUniqueIdInRegistry``
    or, other bytes under the same uniqueId, ``XDSNonIdenticalHash``: uniqueId -> its SHA-1 (base64) when the
    caller may compare it (a document of ``record``'s DMP the caller sees, :func:`rules.is_visible`, and may
    read: its author, or a caller the access rules let consult), else None (registered, not to be compared:
    the hash would tell something of a document the caller may not read). Call it once the caller is
    authorised to feed ``record``."""
    if not unique_ids:
        return {}
    rows = (await session.execute(select(DmpDocument).where(DmpDocument.unique_id.in_(sorted(set(unique_ids))))
                                  )).scalars().all()
    caller: rules.Caller | None = None
    found: dict[str, str | None] = {}
    for doc in rows:
        comparable = False
        if doc.dmp_id == record.id:
            if caller is None:
                caller = await caller_on(session, record, ctx)
            comparable = rules.is_visible(document_view(doc), caller) and (
                caller.rpps == doc.author_rpps or bool(rules.check_access(
                    action=rules.Action.CONSULT, dmp=state_of(record), caller=caller, mode=ctx.mode,
                    reason=ctx.reason)))
        found[doc.unique_id] = doc.hash_b64 if comparable else None
    return found


async def publish_simplified(session: AsyncSession, settings: Settings, *, doc: DocumentIn,
                             ctx: AccessContext) -> str:
    """ITI-105: one document, the submission set made by the server."""
    doc.full_url = "urn:uuid:" + str(uuid.uuid4())
    submission = Submission(
        patient=doc.patient, unique_id=None, source_id="urn:oid:1.2.250.1.213.1.4.8.99999.105",
        designation_type=doc.category, submission_time=utcnow(), title=doc.title,
        submission_set={"resourceType": "List", "status": "current", "mode": "working",
                        "code": {"coding": [{"system": MHD_LIST_TYPES, "code": "submissionset"}]}},
        documents=[doc], patches=[], entry_kinds=[("document", 0)],
    )
    if doc.replaces:
        raise DmpError(Kind.UNPROCESSABLE, "a replacement goes through ITI-65 (relatesTo + PATCH entry)",
                       french="un remplacement passe par ITI-65 (relatesTo + entrée PATCH)",
                       rule="PDSm:ITI-105-replace", element="DocumentReference.relatesTo")
    results = await submit(session, settings, submission=submission, ctx=ctx, transaction="ITI-105")
    return results[0].location.split("/", 1)[1]
