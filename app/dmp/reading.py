"""Reading a document (DocumentReference read) and retrieving its bytes (ITI-68; later XDS.b ITI-43): the
access rules, the visibility rules (a masked or deleted document is answered as an unknown one, MHD ITI-68
§3.68.4.2.3; a deleted one is gone for its author), the trace, the bytes in chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.dmp import rules
from app.dmp.access import authorise
from app.dmp.context import AccessContext
from app.dmp.exceptions import DmpError, Kind
from app.dmp.models import DmpBinary, DmpBinaryChunk, DmpDocument, DmpRecord
from app.dmp.traces import trace
from app.dmp.updates import document_view, unknown_document
from app.tenancy import current_tenant


async def get_document(session: AsyncSession, doc_id: str) -> DmpDocument | None:
    return await session.get(DmpDocument, (current_tenant(), doc_id))


async def visible_document(session: AsyncSession, *, doc: DmpDocument, ctx: AccessContext, transaction: str
                           ) -> DmpRecord:
    """The DMP of ``doc`` once the caller may consult it and sees the document, else the domain's refusal."""
    record = await session.get(DmpRecord, doc.dmp_id)
    assert record is not None
    _, caller, _ = await authorise(session, ins=record.ins, ctx=ctx, action=rules.Action.CONSULT,
                                   transaction=transaction)
    view = document_view(doc)
    if view.availability is rules.Availability.DELETED:
        if caller.rpps and caller.rpps == doc.author_rpps:
            raise DmpError(Kind.GONE, f"DocumentReference/{doc.id} was deleted by its author",
                           french=f"DocumentReference/{doc.id} a été supprimé par son auteur",
                           rule="PDSm4DMP:TD3.3c-deleted")
        raise unknown_document(doc.id)
    if not rules.is_visible(view, caller):
        # 404, not 403, and the very answer of an unknown document: a 403 or another rule would tell the
        # caller a masked document exists (MHD ITI-68 §3.68.4.2.3).
        raise unknown_document(doc.id)
    return record


async def read_document(session: AsyncSession, *, doc: DmpDocument, ctx: AccessContext) -> DmpRecord:
    """A DocumentReference read: checked, then traced (``READ``)."""
    record = await visible_document(session, doc=doc, ctx=ctx, transaction="READ")
    await trace(session, record=record, ctx=ctx, transaction="READ", action="R", documents_ids=[doc.id])
    return record


def unknown_binary(binary_id: str) -> DmpError:
    return DmpError(Kind.NOT_FOUND, f"no Binary/{binary_id}", french=f"aucun Binary/{binary_id}",
                    rule="MHD:ITI-68.unknown")


async def binary_document(session: AsyncSession, *, binary_id: str) -> DmpDocument:
    """The document whose bytes are ``binary_id``, or the refusal of an unknown Binary."""
    doc_id = (await session.execute(select(DmpDocument.id).where(DmpDocument.binary_id == binary_id))).scalar()
    doc = await get_document(session, doc_id) if doc_id is not None else None
    if doc is None:
        raise unknown_binary(binary_id)
    return doc


async def retrieve_document(session: AsyncSession, *, doc: DmpDocument, ctx: AccessContext) -> DmpBinary:
    """ITI-68: the bytes of ``doc`` (:func:`binary_document`) once the caller may read it (then traced), else
    the refusal: a masked or deleted document is an unknown Binary; a superseded one is gone (its
    replacement is to be read)."""
    binary_id = doc.binary_id
    try:
        record = await visible_document(session, doc=doc, ctx=ctx, transaction="ITI-68")
    except DmpError as exc:
        if exc.kind is Kind.NOT_FOUND:  # masked (or deleted): the answer of an unknown Binary
            raise unknown_binary(binary_id) from None
        raise
    if doc.availability == "Deprecated":
        raise DmpError(Kind.GONE, f"Binary/{binary_id} belongs to a superseded document: retrieve the version "
                       "that replaced it",
                       french=f"Binary/{binary_id} appartient à un document remplacé : récupérer la version qui "
                              f"l'a remplacé",
                       rule="MHD:ITI-68.deprecated")
    binary = await session.get(DmpBinary, binary_id)
    assert binary is not None
    await trace(session, record=record, ctx=ctx, transaction="ITI-68", action="R", documents_ids=[doc.id])
    return binary


async def get_binary(session: AsyncSession, binary_id: str) -> DmpBinary | None:
    """A document's stored bytes' description (type, size, chunks), for a face that streams them (ITI-43)."""
    return await session.get(DmpBinary, binary_id)


async def stream_binary(sessionmaker: async_sessionmaker[AsyncSession], binary_id: str, chunks: int
                        ) -> AsyncIterator[bytes]:
    """Yield a document chunk by chunk, one short read each: memory stays flat whatever the size."""
    for seq in range(chunks):
        async with sessionmaker() as session:
            data = (await session.execute(select(DmpBinaryChunk.data).where(
                DmpBinaryChunk.binary_id == binary_id, DmpBinaryChunk.seq == seq))).scalar_one()
        yield bytes(data)


async def read_binary(session: AsyncSession, binary_id: str) -> bytes:
    rows = (await session.execute(select(DmpBinaryChunk.data).where(DmpBinaryChunk.binary_id == binary_id)
                                  .order_by(DmpBinaryChunk.seq))).scalars().all()
    return b"".join(bytes(r) for r in rows)
