"""Metadata updates of a stored document (PDSm metadata update; PDSm4DMP TD3.3a-d: masking, visibility,
archiving, deletion by its author), atomic with their version check (``If-Match``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.dmp import rules
from app.dmp.access import authorise
from app.dmp.context import AccessContext
from app.dmp.exceptions import DmpError, Kind
from app.dmp.models import DmpDocument, DmpRecord
from app.dmp.patch import MetadataState, apply_patch
from app.dmp.rows import label_flags
from app.dmp.traces import trace
from app.shared import valuesets


def document_view(doc: DmpDocument) -> rules.DocumentView:
    availability = {"Approved": rules.Availability.APPROVED, "Deprecated": rules.Availability.DEPRECATED}.get(
        doc.availability, rules.Availability.DELETED)
    return rules.DocumentView(author_rpps=doc.author_rpps, labels=frozenset(lab[1] for lab in doc.labels),
                              availability=availability)


def known_to(doc: DmpDocument, caller: rules.Caller) -> bool:
    """May ``caller`` know this document exists? It sees it (:func:`rules.is_visible`: not deleted, not masked
    from it), or wrote it: an author knows its own documents, masked or deleted (reference/dmp.md §2.4)."""
    return rules.is_visible(document_view(doc), caller) or (caller.rpps is not None
                                                             and caller.rpps == doc.author_rpps)


def unknown_document(doc_id: str) -> DmpError:
    """The answer for a document that does not exist, and word for word for one the caller may not know exists."""
    return DmpError(Kind.NOT_FOUND, f"no DocumentReference/{doc_id}", french=f"aucun DocumentReference/{doc_id}",
                    rule="MHD:unknown")


async def lock_documents(session: AsyncSession, ids: Sequence[str]) -> list[DmpDocument]:
    """Read documents afresh (``populate_existing``: objects already in the session are refreshed), locked
    in id order on PostgreSQL so that two writers of the same documents wait for each other instead of
    deadlocking. SQLite ignores ``FOR UPDATE``: its writers go through :func:`bump_version`."""
    return list((await session.execute(
        select(DmpDocument).where(DmpDocument.id.in_(sorted(ids))).order_by(DmpDocument.id).with_for_update()
        .execution_options(populate_existing=True))).scalars().all())


async def bump_version(session: AsyncSession, doc: DmpDocument, version: int, *conditions: ColumnElement[bool],
                       **values: Any) -> bool:
    """Write ``values`` and ``version + 1`` only if the row is still at ``version`` (and ``conditions``);
    False when a concurrent writer changed it since it was read (on SQLite, which takes no row lock). The
    ORM update also brings ``doc`` up to date."""
    result = await session.execute(
        update(DmpDocument).where(DmpDocument.id == doc.id, DmpDocument.version_id == version, *conditions)
        .values(version_id=version + 1, **values))
    return result.rowcount == 1  # type: ignore[attr-defined]

async def patch_document(session: AsyncSession, settings: Settings, *, doc: DmpDocument, ctx: AccessContext,
                         kind: str, body: Any, if_match: str | None, transaction: str = "PATCH") -> DmpDocument:
    """A metadata update by a patch document (``kind``: json-patch / fhirpath), traced as ``transaction``
    (``PATCH`` over FHIR, ``ITI-57`` over XDS.b). The version check (``If-Match``) and the write are atomic:
    the row is read locked (PostgreSQL) and written only if still at the version read (:func:`bump_version`).
    On SQLite, which locks nothing, a concurrent PATCH may win in between: with ``If-Match`` this one is then
    a 412; without, it is applied again to the row as that PATCH left it (read under the write lock the
    failed update took)."""
    record = await session.get(DmpRecord, doc.dmp_id)
    assert record is not None
    _, caller, _ = await authorise(session, ins=record.ins, ctx=ctx, action=rules.Action.UPDATE,
                                   transaction=transaction)
    updated = None
    for _attempt in range(3):  # one retry suffices: the failed update took SQLite's write lock
        updated = await _patch_once(session, settings, doc_id=doc.id, caller=caller, kind=kind, body=body,
                                    if_match=if_match)
        if updated is not None:
            break
    if updated is None:
        raise DmpError(Kind.CONFLICT, f"DocumentReference/{doc.id} kept changing during the update: retry",
                       french=f"DocumentReference/{doc.id} n'a cessé de changer pendant la mise à jour : réessayer",
                       rule="FHIR:concurrent-update")
    action = "D" if updated.availability == "Deleted" else "U"
    await trace(session, record=record, ctx=ctx, transaction=transaction, action=action,
                documents_ids=[updated.id])
    await session.flush()
    return updated


async def _patch_once(session: AsyncSession, settings: Settings, *, doc_id: str, caller: rules.Caller,
                      kind: str, body: Any, if_match: str | None) -> DmpDocument | None:
    """One attempt on the row read afresh: the updated document, or None when a concurrent writer changed
    the row since (the next attempt then sees that writer's version: a 412 with ``If-Match``)."""
    found = await lock_documents(session, [doc_id])
    if not found:
        raise unknown_document(doc_id)
    doc = found[0]
    if doc.masked_ps and caller.rpps != doc.author_rpps:
        # the answer of an unknown document, word for word: anything else would say a masked one exists
        raise unknown_document(doc_id)
    if doc.availability == "Deleted":
        raise DmpError(Kind.GONE, f"DocumentReference/{doc.id} was deleted",
                       french=f"DocumentReference/{doc.id} a été supprimé", rule="DMP:deleted")
    decision = rules.may_update(document_view(doc), caller)
    if not decision:
        raise decision.refusal()
    version = doc.version_id
    if if_match is not None:
        wanted = if_match.strip().removeprefix("W/").strip('"')
        if wanted != str(version):
            raise DmpError(Kind.PRECONDITION_FAILED, f"If-Match {if_match} does not match the current version "
                           f'W/"{version}"',
                           french=f"If-Match {if_match} ne correspond pas à la version courante W/\"{version}\"",
                           rule="FHIR:If-Match")
    if doc.availability == "Deprecated":
        raise DmpError(Kind.UNPROCESSABLE, f"DocumentReference/{doc.id} is superseded: update the document that "
                       "replaced it",
                       french=f"DocumentReference/{doc.id} est remplacé : mettre à jour le document qui l'a remplacé",
                       rule="PDSm4DMP:update-current-only")
    before = MetadataState("current", tuple(tuple(x) for x in doc.labels), bool(doc.is_archived))  # type: ignore[arg-type,misc]
    after = apply_patch(before, kind, body, lenient=settings.dmp_lenient)
    j58 = valuesets.load("J58")
    for system, code, _ in after.labels:
        if not j58.contains(system, code) and not settings.dmp_lenient:
            raise DmpError(Kind.UNKNOWN_CODE, f"securityLabel {system}#{code} is not in JDV_J58",
                           french=f"securityLabel {system}#{code} n'est pas dans JDV_J58",
                           rule="PDSm:securityLabel-J58", element="DocumentReference.securityLabel")
    if after.status == "superseded":
        raise DmpError(Kind.UNPROCESSABLE, "status 'superseded' is set by a replacement (ITI-65 with relatesTo); "
                       "to delete a document, set 'entered-in-error'",
                       french="le statut 'superseded' est posé par un remplacement (ITI-65 avec relatesTo) ; pour "
                              "supprimer un document, poser 'entered-in-error'",
                       rule="PDSm4DMP:status-transition", element="DocumentReference.status")
    changes: dict[str, Any] = {**label_flags(after.labels), "is_archived": after.is_archived,
                               "last_updated": utcnow()}
    if after.status == "entered-in-error":
        changes["availability"] = "Deleted"
    if not await bump_version(session, doc, version, **changes):
        return None
    return doc
