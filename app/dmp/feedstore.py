"""Storing a checked submission (submission set, binaries and their chunks, documents, the trace) at once.

Fast path (``settings.fast_paths``, PostgreSQL, a submission of the usual size): one INSERT with
data-modifying CTEs, built once per number of documents — one round trip. Otherwise, Core inserts table by
table (SQLite has no data-modifying CTE); with fast paths off, ORM inserts through the session. A uniqueId
already registered is the same refusal every way (:data:`~app.dmp.exceptions.XDS_DUPLICATE`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.dmp.exceptions import XDS_DUPLICATE, XDS_METADATA, DmpError, Kind
from app.dmp.models import DmpAuditEvent, DmpBinary, DmpBinaryChunk, DmpDocument, DmpSubmissionSet
from app.tenancy import current_tenant

# One Core insert per table, built once: executing it with a list of rows is an executemany, and no value
# goes through statement construction (coercion) on the hot path.
_INSERT: dict[str, Any] = {
    model.__tablename__: insert(model.__table__)  # type: ignore[arg-type]
    for model in (DmpSubmissionSet, DmpBinary, DmpBinaryChunk, DmpDocument, DmpAuditEvent)
}
_FEED_STATEMENTS: dict[int, Any] = {}
# A submission goes in one statement when it is of the usual size: at most 8 documents of one chunk each
# (under dmp_chunk_size). Anything else goes table by table: the statement's shape is then the number of
# documents alone, so at most 8 statements are ever built, whatever clients send (a shape per chunk count
# would let a client build, compile and cache a new statement per request, evicting the engine's cache).
_FEED_STATEMENT_MAX_DOCUMENTS = 8


_TENANT = "tenant"
"""The one parameter every row of the one-statement feed shares: the current tenant (a CTE's INSERT gets
its values from the statement alone, Python column defaults are not applied)."""


def _slots(table: Table, prefix: str) -> dict[str, Any]:
    return {c.name: bindparam(_TENANT if c.name == _TENANT else f"{prefix}{c.name}", type_=c.type)
            for c in table.columns if not (table.name == DmpAuditEvent.__tablename__ and c.name == "id")}


def _feed_statement(documents: int) -> Any:
    """PostgreSQL: the whole submission (submission set, binaries, chunks, documents, trace) as one INSERT
    with data-modifying CTEs — one round trip. Foreign keys are checked at the end of the statement. Built
    once per number of documents (one chunk each) and cached, so later submissions only bind values."""
    statement = _FEED_STATEMENTS.get(documents)
    if statement is not None:
        return statement
    tables = {name: stmt.table for name, stmt in _INSERT.items()}
    ss, binary, chunk = tables["dmp_submission_set"], tables["dmp_binary"], tables["dmp_binary_chunk"]
    document, audit = tables["dmp_document"], tables["dmp_audit_event"]
    # one single-row INSERT per CTE: SQLAlchemy does not cache the compiled form of a multi-row VALUES
    ctes = [insert(ss).values(_slots(ss, "s_")).cte("dmp_feed_s")]
    for i in range(documents):
        ctes.append(insert(binary).values(_slots(binary, f"b{i}_")).cte(f"dmp_feed_b{i}"))
        ctes.append(insert(chunk).values(_slots(chunk, f"c{i}_")).cte(f"dmp_feed_c{i}"))
        ctes.append(insert(document).values(_slots(document, f"d{i}_")).cte(f"dmp_feed_d{i}"))
    statement = insert(audit).values(_slots(audit, "e_")).add_cte(*ctes)
    _FEED_STATEMENTS[documents] = statement
    return statement


def _duplicate_unique_id() -> DmpError:
    # uniqueId is unique registry-wide (the only unique column a client chooses): XDS says so with a code.
    return DmpError(Kind.DUPLICATE, "a masterIdentifier (uniqueId) of this submission is already registered; "
                    "a new version of a document needs a new uniqueId and relatesTo=replaces",
                    french="un masterIdentifier (uniqueId) de cette soumission est déjà enregistré ; une nouvelle "
                           "version d'un document exige un nouvel uniqueId et relatesTo=replaces",
                    rule="XDS:uniqueId-unique", element="DocumentReference.masterIdentifier",
                    xds_code=XDS_DUPLICATE)


def entry_uuid_taken(ids: list[str]) -> DmpError:
    """A client-given entryUUID already registered (ITI TF-3 Table 4.2.4.1-2 has no code for an entryUUID:
    ``XDSDuplicateUniqueIdInRegistry`` is the uniqueId attribute's; hence ``XDSRegistryMetadataError``)."""
    listed = ", ".join(f"urn:uuid:{i}" for i in ids) or "an entryUUID of this submission"
    return DmpError(Kind.DUPLICATE, f"{listed} is already registered: a new object needs a new entryUUID (or a "
                    "symbolic id, which the registry replaces by a UUID)",
                    french=f"{listed} est déjà enregistré : un nouvel objet exige un nouvel entryUUID (ou un "
                           "identifiant symbolique, que le registre remplace par un UUID)",
                    rule="XDS:entryUUID-unique", element="RegistryObject.id", xds_code=XDS_METADATA)


def _refusal(exc: IntegrityError) -> DmpError | None:
    """The refusal a unique index's violation stands for: a uniqueId (``unique_id``) or, a concurrent
    submission having taken it since :func:`app.dmp.feeding.check_entry_uuids`, an entryUUID (a primary key,
    (tenant, id): PostgreSQL names it ``pk_<table>``, SQLite ``<table>.id``); None for anything else (a bug: a
    500)."""
    text = str(exc.orig)
    if "unique_id" in text:
        return _duplicate_unique_id()
    if any(name in text for name in ("pk_dmp_document", "pk_dmp_submission_set", "_pkey", "dmp_document.id",
                                     "dmp_submission_set.id")):
        return entry_uuid_taken([])
    return None


async def insert_submission(session: AsyncSession, *, ss_row: dict[str, Any], binary_rows: list[dict[str, Any]],
                            chunk_rows: list[list[dict[str, Any]]], doc_rows: list[dict[str, Any]],
                            trace: dict[str, Any], fast: bool) -> None:
    """Store a checked submission (the rows of :mod:`app.dmp.rows`); ``fast``: ``settings.fast_paths``."""
    # In uniqueId order: two submissions sharing uniqueIds then take the unique index's locks in the same
    # order, so one waits for the other and gets its 409 (in any other order PostgreSQL may find a
    # deadlock and abort one of them: a 500).
    order = sorted(range(len(doc_rows)), key=lambda i: doc_rows[i]["unique_id"])
    binary_rows = [binary_rows[i] for i in order]
    chunk_rows = [chunk_rows[i] for i in order]
    doc_rows = [doc_rows[i] for i in order]
    if not fast:
        await _insert_with_the_orm(session, ss_row=ss_row, binary_rows=binary_rows, chunk_rows=chunk_rows,
                                   doc_rows=doc_rows, trace=trace)
        return
    assert session.bind is not None
    one_statement = len(doc_rows) <= _FEED_STATEMENT_MAX_DOCUMENTS and all(len(c) == 1 for c in chunk_rows)
    if session.bind.dialect.name == "postgresql" and one_statement:
        params: dict[str, Any] = {f"s_{k}": v for k, v in ss_row.items()}
        params[_TENANT] = current_tenant()
        for i, (brow, (crow,), drow) in enumerate(zip(binary_rows, chunk_rows, doc_rows, strict=True)):
            params.update({f"b{i}_{k}": v for k, v in brow.items()})
            params.update({f"c{i}_{k}": v for k, v in crow.items()})
            params.update({f"d{i}_{k}": v for k, v in drow.items()})
        params.update({f"e_{k}": v for k, v in trace.items()})
        try:
            await session.execute(_feed_statement(len(doc_rows)), params)
        except IntegrityError as exc:
            refusal = _refusal(exc)
            if refusal is None:
                raise
            raise refusal from None
        return
    try:
        await session.execute(_INSERT["dmp_submission_set"], ss_row)
        await session.execute(_INSERT["dmp_binary"], binary_rows)
        await session.execute(_INSERT["dmp_binary_chunk"], [r for c in chunk_rows for r in c])
        await session.execute(_INSERT["dmp_document"], doc_rows)
    except IntegrityError as exc:
        refusal = _refusal(exc)
        if refusal is None:
            raise
        raise refusal from None
    await session.execute(_INSERT["dmp_audit_event"], trace)


async def _insert_with_the_orm(session: AsyncSession, *, ss_row: dict[str, Any], binary_rows: list[dict[str, Any]],
                               chunk_rows: list[list[dict[str, Any]]], doc_rows: list[dict[str, Any]],
                               trace: dict[str, Any]) -> None:
    """The plain path: one ORM object per row, flushed table by table (parents first)."""
    try:
        session.add(DmpSubmissionSet(**ss_row))
        session.add_all([DmpBinary(**row) for row in binary_rows])
        await session.flush()
        session.add_all([DmpBinaryChunk(**row) for rows in chunk_rows for row in rows])
        await session.flush()
        session.add_all([DmpDocument(**row) for row in doc_rows])
        await session.flush()
    except IntegrityError as exc:
        refusal = _refusal(exc)
        if refusal is None:
            raise
        raise refusal from None
    session.add(DmpAuditEvent(**trace))
    await session.flush()
