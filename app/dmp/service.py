"""The DMP's store: the only module of the domain that touches the database.

Services take the session and keyword arguments, ``flush()`` but never commit (the request owns the
transaction: a rejected Bundle leaves nothing behind), and raise :class:`FhirError` (FHIR routes) or
:class:`ProblemError` (control API). Rules come from :mod:`app.dmp.rules`, parsing from :mod:`app.dmp.mhd`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api.errors import FhirError, ProblemError
from app.config import Settings
from app.db import utcnow
from app.dmp import documents, jsonio, mhd, rules
from app.dmp.models import (
    DmpAuditEvent,
    DmpAuthorisation,
    DmpBinary,
    DmpBinaryChunk,
    DmpBlockedProfessional,
    DmpDocument,
    DmpRecord,
    DmpSubmissionSet,
)
from app.dmp.patch import MetadataState, PatchRefused, apply_patch
from app.shared.professional import Professional

FIXTURES = Path(__file__).resolve().parent / "fixtures"


# --- access context -------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccessContext:
    """Who calls and how: the PSC professional, the access mode and reason (request headers)."""

    professional: Professional
    mode: rules.AccessMode = rules.AccessMode.NORMAL
    reason: str | None = None

    @property
    def rpps(self) -> str | None:
        return self.professional.rpps or (self.professional.subject_name_id[1:]
                                          if self.professional.subject_name_id.startswith("8") else None)

    @property
    def name(self) -> str:
        return f"{self.professional.given_name} {self.professional.family_name}".strip()


def fhir_refusal(decision: rules.Decision) -> FhirError:
    code = {400: "required", 403: "forbidden", 404: "not-found", 422: "business-rule"}.get(decision.status, "forbidden")
    return FhirError(decision.status, code, decision.message, rule=decision.rule, details_code=decision.details_code,
                     french=decision.french)


async def get_record(session: AsyncSession, *, ins: str) -> DmpRecord | None:
    return (await session.execute(select(DmpRecord).where(DmpRecord.ins == ins))).scalar_one_or_none()


async def patient_identity(session: AsyncSession, record: DmpRecord) -> Any:
    """The INS identity of the DMP's patient (traits for TD02), or None when the INS service no longer knows
    it — read through :func:`app.ins.service.find_identity`, never from ``ins_person`` directly."""
    from app.ins import service as ins_service

    return await ins_service.find_identity(session, ins=record.ins, oid=f"urn:oid:{record.ins_oid}")


async def caller_on(session: AsyncSession, record: DmpRecord | None, ctx: AccessContext) -> rules.Caller:
    if record is None or ctx.rpps is None:
        return rules.Caller(rpps=ctx.rpps)
    status = (await session.execute(select(DmpAuthorisation.status).where(
        DmpAuthorisation.dmp_id == record.id, DmpAuthorisation.rpps == ctx.rpps))).scalar_one_or_none()
    blocked = (await session.execute(select(DmpBlockedProfessional.id).where(
        DmpBlockedProfessional.dmp_id == record.id, DmpBlockedProfessional.rpps == ctx.rpps))).first() is not None
    return rules.Caller(rpps=ctx.rpps, authorisation=rules.Authorisation(status or "NON_EXISTE"), blocked=blocked)


class RecordLike(Protocol):
    """What the access rules and the traces read of a DMP: an ORM :class:`DmpRecord` or a :class:`RecordRow`."""

    @property
    def id(self) -> int: ...
    @property
    def ins(self) -> str: ...
    @property
    def ins_oid(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def opt_out_bris_de_glace(self) -> bool: ...
    @property
    def opt_out_centre_15(self) -> bool: ...


@dataclass(frozen=True)
class RecordRow:
    """The columns of a DMP the feeding path needs, read without building the ORM entity."""

    id: int
    ins: str
    ins_oid: str
    active: bool
    opt_out_bris_de_glace: bool
    opt_out_centre_15: bool


def state_of(record: RecordLike | None) -> rules.DmpState:
    if record is None:
        return rules.DmpState(exists=False)
    opt_outs = set()
    if record.opt_out_bris_de_glace:
        opt_outs.add(rules.OptOut.BRIS_DE_GLACE)
    if record.opt_out_centre_15:
        opt_outs.add(rules.OptOut.CENTRE_15)
    return rules.DmpState(exists=True, open=bool(record.active), opt_outs=frozenset(opt_outs))


def _standing_subqueries() -> tuple[Any, Any]:
    """The caller's authorisation status and block on the DMP of the enclosing query (``:rpps``)."""
    status = (select(DmpAuthorisation.status).where(DmpAuthorisation.dmp_id == DmpRecord.id,
                                                    DmpAuthorisation.rpps == bindparam("rpps")).scalar_subquery())
    blocked = (select(DmpBlockedProfessional.id).where(DmpBlockedProfessional.dmp_id == DmpRecord.id,
                                                       DmpBlockedProfessional.rpps == bindparam("rpps")).exists())
    return status, blocked


@cache
def _standing_query() -> Any:
    """The DMP of ``:ins`` and the caller's standing on it: built once, values bound at execution."""
    return select(DmpRecord, *_standing_subqueries()).where(DmpRecord.ins == bindparam("ins"))


async def authorise(session: AsyncSession, *, ins: str, ctx: AccessContext, action: rules.Action,
                    known_to_ins: bool | None = None, transaction: str | None = None,
                    ) -> tuple[DmpRecord, rules.Caller, rules.Decision]:
    """Load the DMP and the caller's standing on it in one query, then apply :func:`rules.check_access`."""
    row = (await session.execute(_standing_query(), {"ins": ins, "rpps": ctx.rpps or ""})).first()
    record = row[0] if row else None
    caller, decision = await _decide(session, ins=ins, record=record, status=row[1] if row else None,
                                     blocked=bool(row[2]) if row else False, ctx=ctx, action=action,
                                     known_to_ins=known_to_ins, transaction=transaction)
    assert record is not None
    return record, caller, decision


async def _decide(session: AsyncSession, *, ins: str, record: RecordLike | None, status: str | None, blocked: bool,
                  ctx: AccessContext, action: rules.Action, known_to_ins: bool | None, transaction: str | None,
                  ) -> tuple[rules.Caller, rules.Decision]:
    """:func:`rules.check_access` on what :func:`authorise` (or the feeding path's one query) read."""
    if record is None and known_to_ins is False:
        raise FhirError(404, "not-found", f"INS {ins} is unknown to the INS service: only an INS returned by INSi "
                        "may be used for the DMP (EX_GEN-1530)",
                        french=f"L'INS {ins} est inconnu du service INS : seul un INS renvoyé par l'INSi peut servir "
                               "pour le DMP (EX_GEN-1530)",
                        rule="INS:unknown", details_code=mhd.XDS_UNKNOWN_PATIENT)
    if record is None or not ctx.rpps:
        caller = rules.Caller(rpps=ctx.rpps)
    else:
        caller = rules.Caller(rpps=ctx.rpps, authorisation=rules.Authorisation(status or "NON_EXISTE"),
                              blocked=blocked)
    decision = rules.check_access(action=action, dmp=state_of(record), caller=caller, mode=ctx.mode,
                                  reason=ctx.reason)
    if not decision:
        if record is not None:
            await trace_refusal(session, record=record, ctx=ctx, decision=decision,
                                transaction=transaction or _TRANSACTIONS[action], action=_ACTIONS[action])
        raise fhir_refusal(decision)
    return caller, decision


_TRANSACTIONS = {rules.Action.CONSULT: "ITI-67", rules.Action.FEED: "ITI-65", rules.Action.UPDATE: "PATCH"}
_ACTIONS = {rules.Action.CONSULT: "E", rules.Action.FEED: "C", rules.Action.UPDATE: "U"}


async def trace_refusal(session: AsyncSession, *, record: RecordLike, ctx: AccessContext, decision: rules.Decision,
                        transaction: str, action: str) -> None:
    """A refused access is traced too (the patient sees attempts, e.g. a refused break-glass), in its own
    transaction since the request's is rolled back. Outcome 4 (minor failure) with the reason."""
    bind = session.bind
    async with AsyncSession(bind=bind, expire_on_commit=False) as own, own.begin():
        own.add(DmpAuditEvent(
            recorded=utcnow(), ins=record.ins, ins_oid=record.ins_oid, transaction=transaction, action=action,
            outcome="4", outcome_text=f"{decision.rule}: {decision.message}"[:1024], agent_rpps=ctx.rpps,
            agent_name=_clip(ctx.name, 256), client_id=_clip(ctx.professional.client_id, 256),
            access_mode=ctx.mode.value, access_reason=_clip(ctx.reason, 1024), document_ids=[], query=None,
        ))


def trace_row(*, record: RecordLike, ctx: AccessContext, transaction: str, action: str,
              documents_ids: Sequence[str] = (), query: str | None = None, outcome_text: str | None = None,
              ) -> dict[str, Any]:
    return {
        "recorded": utcnow(), "ins": record.ins, "ins_oid": record.ins_oid, "transaction": transaction,
        "action": action, "outcome": "0", "outcome_text": _clip(outcome_text, 1024), "agent_rpps": ctx.rpps,
        "agent_name": _clip(ctx.name, 256), "client_id": _clip(ctx.professional.client_id, 256),
        "access_mode": ctx.mode.value, "access_reason": _clip(ctx.reason, 1024), "document_ids": list(documents_ids),
        "query": _clip(query, 2048),
    }


def _clip(value: str | None, limit: int) -> str | None:
    """A trace keeps what its column holds (a long reason header or query string is not a server error)."""
    return value[:limit] if value is not None and len(value) > limit else value


async def trace(
    session: AsyncSession, *, record: RecordLike, ctx: AccessContext, transaction: str, action: str,
    documents_ids: Sequence[str] = (), query: str | None = None, outcome_text: str | None = None,
) -> None:
    """An access trace, shown to the patient (reference/dmp.md §2.6). A Core insert: one per request, one
    statement object for all (its compiled form is cached; the values travel as parameters)."""
    await session.execute(_INSERT[DmpAuditEvent.__tablename__], trace_row(
        record=record, ctx=ctx, transaction=transaction, action=action, documents_ids=documents_ids, query=query,
        outcome_text=outcome_text))


# --- binaries -------------------------------------------------------------------------------------

def binary_rows(binary_id: str, data: bytes, content_type: str, hash_b64: str, chunk_size: int
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    chunks = [{"binary_id": binary_id, "seq": i, "data": data[off:off + chunk_size]}
              for i, off in enumerate(range(0, max(len(data), 1), chunk_size))]
    row = {"id": binary_id, "content_type": content_type, "size": len(data), "hash_b64": hash_b64,
           "chunk_size": chunk_size, "chunks": len(chunks)}
    return row, chunks


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


# --- feeding (ITI-65, ITI-105) --------------------------------------------------------------------

def _label_flags(labels: Sequence[Sequence[str]]) -> dict[str, Any]:
    codes = {lab[1] for lab in labels}
    return {
        "labels": [list(lab) for lab in labels],
        "label_codes": " " + " ".join(lab[1] for lab in labels) + " ",
        "masked_ps": rules.MASQUE_PS in codes,
        "invisible_patient": rules.INVISIBLE_PATIENT in codes,
        "invisible_rl": rules.INVISIBLE_REPRESENTANTS_LEGAUX in codes,
    }


def document_row(doc: mhd.DocumentIn, *, doc_id: str, dmp_id: int, ss_id: str | None, binary_id: str,
                 now: datetime) -> dict[str, Any]:
    resource = dict(doc.resource)
    resource["content"] = [{**c, "attachment": {k: v for k, v in (c.get("attachment") or {}).items() if k != "data"}}
                           for c in resource.get("content") or []]
    return {
        "id": doc_id, "dmp_id": dmp_id, "submission_set_id": ss_id, "binary_id": binary_id,
        "unique_id": doc.unique_id, "version_id": 1, "availability": "Approved", "is_archived": doc.is_archived,
        **_label_flags(doc.labels),
        "author_rpps": doc.author_rpps,
        "author_given": " " + " ".join(g.lower() for g in doc.author_given) + " ",
        "author_family": " " + " ".join(f.lower() for f in doc.author_family) + " ",
        "type_system": doc.type.system, "type_code": doc.type.code,
        "class_system": doc.category.system, "class_code": doc.category.code,
        "format_system": doc.format.system, "format_code": doc.format.code,
        "facility_code": doc.facility_type.code, "practice_code": doc.practice_setting.code,
        "event_codes": " " + " ".join(f"{e.system}|{e.code}" for e in doc.events) + " ",
        "related_ids": " " + " ".join(f"{s or ''}|{v}" for s, v in doc.related) + " ",
        "content_type": doc.content_type, "size": doc.size, "hash_b64": doc.hash_b64, "title": doc.title,
        "date": doc.date, "period_start": doc.period_start, "period_end": doc.period_end,
        "replaces_id": doc.replaces, "replaced_by_id": None, "resource": jsonio.dumps_text(resource),
        "created_at": now, "last_updated": now,
    }


async def _check_patient(session: AsyncSession, patient: mhd.PatientId) -> bool:
    from app.ins import service as ins_service

    return await ins_service.find_identity(session, ins=patient.ins, oid=f"urn:oid:{patient.oid}") is not None


def _ins_lookup(patient: mhd.PatientId) -> tuple[str, str, str | None] | None:
    """(number, key, kind) that :func:`app.ins.service.find_identity` looks up for this patient."""
    from app.ins.service import lookup_key

    return lookup_key(patient.ins, f"urn:oid:{patient.oid}")


@cache
def _feed_standing_query() -> Any:
    """The DMP, the caller's authorisation and block, and the INS identity's kind: one statement, built once
    (values travel as parameters). The identity is read as find_identity reads it (first row of the INS)."""
    from app.ins import service as ins_service

    status, blocked = _standing_subqueries()
    kind = ins_service.identity_kind_subquery()
    return select(DmpRecord.id, DmpRecord.ins, DmpRecord.ins_oid, DmpRecord.active, DmpRecord.opt_out_bris_de_glace,
                  DmpRecord.opt_out_centre_15, status, blocked, kind).where(DmpRecord.ins == bindparam("ins"))


async def feed_standing(session: AsyncSession, *, patient: mhd.PatientId, ctx: AccessContext, transaction: str
                        ) -> RecordRow:
    """The checks of a feeding (ITI-65 / ITI-105), in the order and with the answers of
    ``find_identity`` + :func:`authorise`: INS unknown and no DMP, then the access rules (a refusal on an
    existing DMP is traced), then INS unknown. The common case is one query."""
    lookup = _ins_lookup(patient)
    row = (await session.execute(_feed_standing_query(), {
        "ins": patient.ins, "rpps": ctx.rpps or "", "ins_number": lookup[0] if lookup else "",
        "ins_key": lookup[1] if lookup else ""})).first()
    if row is None:
        record = None
        known = await _check_patient(session, patient)  # no DMP: what the INS service says decides the answer
        status, blocked = None, False
    else:
        record = RecordRow(row[0], row[1], row[2], bool(row[3]), bool(row[4]), bool(row[5]))
        known = lookup is not None and row[8] is not None and row[8] == lookup[2]
        status, blocked = row[6], bool(row[7])
    await _decide(session, ins=patient.ins, record=record, status=status, blocked=blocked, ctx=ctx,
                  action=rules.Action.FEED, known_to_ins=known, transaction=transaction)
    if not known:
        raise FhirError(404, "not-found", f"INS {patient.ins} is unknown to the INS service: only an INS returned "
                        "by INSi may be used for the DMP (EX_GEN-1530)",
                        french=f"L'INS {patient.ins} est inconnu du service INS : seul un INS renvoyé par l'INSi peut "
                               "servir pour le DMP (EX_GEN-1530)",
                        rule="INS:unknown", details_code=mhd.XDS_UNKNOWN_PATIENT)
    assert record is not None
    return record


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


def _slots(table: Table, prefix: str) -> dict[str, Any]:
    return {c.name: bindparam(f"{prefix}{c.name}", type_=c.type) for c in table.columns
            if not (table.name == DmpAuditEvent.__tablename__ and c.name == "id")}


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


def _duplicate_unique_id() -> FhirError:
    # uniqueId is unique registry-wide (the only unique column a client chooses): XDS says so with a code.
    return FhirError(409, "duplicate", "a masterIdentifier (uniqueId) of this submission is already registered; "
                     "a new version of a document needs a new uniqueId and relatesTo=replaces",
                     french="un masterIdentifier (uniqueId) de cette soumission est déjà enregistré ; une nouvelle "
                            "version d'un document exige un nouvel uniqueId et relatesTo=replaces",
                     rule="XDS:uniqueId-unique", expression="DocumentReference.masterIdentifier",
                     details_code=mhd.XDS_DUPLICATE)


async def _insert_submission(session: AsyncSession, *, ss_row: dict[str, Any], binary_rows: list[dict[str, Any]],
                             chunk_rows: list[list[dict[str, Any]]], doc_rows: list[dict[str, Any]],
                             trace: dict[str, Any]) -> None:
    """Store a checked submission: one statement on PostgreSQL, one per table elsewhere (SQLite has no
    data-modifying CTE). A uniqueId already registered is a 409 either way."""
    assert session.bind is not None
    # In uniqueId order: two submissions sharing uniqueIds then take the unique index's locks in the same
    # order, so one waits for the other and gets its 409 (in any other order PostgreSQL may find a
    # deadlock and abort one of them: a 500).
    order = sorted(range(len(doc_rows)), key=lambda i: doc_rows[i]["unique_id"])
    binary_rows = [binary_rows[i] for i in order]
    chunk_rows = [chunk_rows[i] for i in order]
    doc_rows = [doc_rows[i] for i in order]
    one_statement = len(doc_rows) <= _FEED_STATEMENT_MAX_DOCUMENTS and all(len(c) == 1 for c in chunk_rows)
    if session.bind.dialect.name == "postgresql" and one_statement:
        params: dict[str, Any] = {f"s_{k}": v for k, v in ss_row.items()}
        for i, (brow, (crow,), drow) in enumerate(zip(binary_rows, chunk_rows, doc_rows, strict=True)):
            params.update({f"b{i}_{k}": v for k, v in brow.items()})
            params.update({f"c{i}_{k}": v for k, v in crow.items()})
            params.update({f"d{i}_{k}": v for k, v in drow.items()})
        params.update({f"e_{k}": v for k, v in trace.items()})
        try:
            await session.execute(_feed_statement(len(doc_rows)), params)
        except IntegrityError as exc:
            if "unique_id" in str(exc.orig):
                raise _duplicate_unique_id() from None
            raise
        return
    await session.execute(_INSERT["dmp_submission_set"], ss_row)
    await session.execute(_INSERT["dmp_binary"], binary_rows)
    await session.execute(_INSERT["dmp_binary_chunk"], [r for c in chunk_rows for r in c])
    try:
        await session.execute(_INSERT["dmp_document"], doc_rows)
    except IntegrityError:
        raise _duplicate_unique_id() from None
    await session.execute(_INSERT["dmp_audit_event"], trace)


@dataclass
class EntryResult:
    status: str
    location: str
    etag: str | None = None


async def submit(session: AsyncSession, settings: Settings, *, submission: mhd.Submission, ctx: AccessContext,
                 transaction: str = "ITI-65") -> list[EntryResult]:
    """File a submission atomically; returns one result per request entry, in request order."""
    record = await feed_standing(session, patient=submission.patient, ctx=ctx, transaction=transaction)
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
        old = await session.get(DmpDocument, doc.replaces)
        if old is None or old.dmp_id != record.id:
            raise FhirError(404, "not-found", f"relatesTo.target DocumentReference/{doc.replaces} is unknown in this "
                            "patient's DMP",
                            french=f"relatesTo.target DocumentReference/{doc.replaces} est inconnu dans le DMP de "
                                   f"ce patient",
                            rule="PDSm4DMP:TD2.1-replace-target",
                            expression="DocumentReference.relatesTo.target",
                            details_code="UnresolvedReferenceException")
        if old.availability != "Approved":
            raise FhirError(409, "conflict", f"DocumentReference/{doc.replaces} is {old.availability} and cannot be "
                            "replaced: replace the current version of the chain",
                            french=f"DocumentReference/{doc.replaces} est {old.availability} et ne peut être "
                                   f"remplacé : remplacer la version courante de la chaîne",
                            rule="PDSm4DMP:TD2.1-replace-current",
                            expression="DocumentReference.relatesTo.target", details_code=mhd.XDS_METADATA)
        patch = patches_by_target.get(doc.replaces)
        if patch is not None:
            state = patch.apply(MetadataState("current", tuple(tuple(x) for x in old.labels), old.is_archived),  # type: ignore[misc]
                                lenient=settings.dmp_lenient)  # type: ignore[arg-type]
            if state.status != "superseded":
                raise FhirError(422, "business-rule", f"Bundle.entry[{patch.entry_index}] must set the replaced "
                                "document's status to 'superseded'",
                                french=f"Bundle.entry[{patch.entry_index}] doit passer le statut du document "
                                       f"remplacé à 'superseded'",
                                rule="PDSm4DMP:TD2.1-patch",
                                expression=f"Bundle.entry[{patch.entry_index}]")
            # every column the labels drive, as a metadata PATCH sets them (masked_ps filters searches)
            changes = {**_label_flags(state.labels), "is_archived": state.is_archived}
        else:
            changes = {}
        # Only if it is still the version read: SQLite takes no row lock (FOR UPDATE is ignored there), so a
        # concurrent replacement may have superseded it since; then this one is a 409, as for any document
        # no longer current. (The update also brings ``old`` up to date, for a second replacement of it.)
        version = old.version_id
        if not await bump_version(session, old, version, DmpDocument.availability == "Approved",
                                  availability="Deprecated", last_updated=now, **changes):
            raise FhirError(409, "conflict", f"DocumentReference/{doc.replaces} was replaced meanwhile and cannot "
                            "be replaced: replace the current version of the chain",
                            french=f"DocumentReference/{doc.replaces} a été remplacé entre-temps et ne peut plus "
                                   f"l'être : remplacer la version courante de la chaîne",
                            rule="PDSm4DMP:TD2.1-replace-current", expression="DocumentReference.relatesTo.target",
                            details_code=mhd.XDS_METADATA)
        if patch is not None:
            patch_results[patch.entry_index] = EntryResult(
                "200 OK", f"DocumentReference/{old.id}/_history/{version + 1}", f'W/"{version + 1}"')
    ss_id = str(uuid.uuid4())
    doc_ids = {d.entry_index: str(uuid.uuid4()) for d in submission.documents}
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
    await _insert_submission(
        session, ss_row=ss_row, binary_rows=binary_values, chunk_rows=chunk_values, doc_rows=doc_values,
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


async def publish_simplified(session: AsyncSession, settings: Settings, *, doc: mhd.DocumentIn,
                             ctx: AccessContext) -> str:
    """ITI-105: one document, the submission set made by the server."""
    doc.full_url = "urn:uuid:" + str(uuid.uuid4())
    submission = mhd.Submission(
        patient=doc.patient, unique_id=None, source_id="urn:oid:1.2.250.1.213.1.4.8.99999.105",
        designation_type=doc.category, submission_time=utcnow(), title=doc.title,
        submission_set={"resourceType": "List", "status": "current", "mode": "working",
                        "code": {"coding": [{"system": mhd.MHD_LIST_TYPES, "code": "submissionset"}]}},
        documents=[doc], patches=[], entry_kinds=[("document", 0)],
    )
    if doc.replaces:
        raise FhirError(422, "business-rule", "a replacement goes through ITI-65 (relatesTo + PATCH entry)",
                        french="un remplacement passe par ITI-65 (relatesTo + entrée PATCH)",
                        rule="PDSm:ITI-105-replace", expression="DocumentReference.relatesTo")
    results = await submit(session, settings, submission=submission, ctx=ctx, transaction="ITI-105")
    return results[0].location.split("/", 1)[1]


# --- consultation ---------------------------------------------------------------------------------

@dataclass
class DocumentQuery:
    patient_ins: str
    statuses: set[str]
    filters: list[Any]
    count: int
    offset: int


def _visible_clause(caller: rules.Caller, statuses: set[str]) -> Any:
    availability = []
    if "current" in statuses:
        availability.append("Approved")
    if "superseded" in statuses:
        availability.append("Deprecated")
    clauses: list[ColumnElement[bool]] = [DmpDocument.availability.in_(availability)] if availability else []
    if "entered-in-error" in statuses and caller.rpps:
        # Deleted documents are only ever shown to their author, and only when asked for (§2.1).
        clauses.append(and_(DmpDocument.availability == "Deleted", DmpDocument.author_rpps == caller.rpps))
    status_clause = or_(*clauses) if clauses else false()
    masked = or_(DmpDocument.masked_ps.is_(False), DmpDocument.author_rpps == (caller.rpps or ""))
    return and_(status_clause, masked)


async def search_documents(session: AsyncSession, *, record: DmpRecord, caller: rules.Caller, statuses: set[str],
                           filters: list[Any], count: int, offset: int) -> tuple[list[DmpDocument], int]:
    where = and_(DmpDocument.dmp_id == record.id, _visible_clause(caller, statuses), *filters)
    rows = (await session.execute(select(DmpDocument).where(where).order_by(DmpDocument.date.desc(),
                                                                            DmpDocument.id)
                                  .limit(count).offset(offset))).scalars().all()
    if offset == 0 and len(rows) < count:
        return list(rows), len(rows)  # the page holds everything: no count query
    total = (await session.execute(select(func.count()).select_from(DmpDocument).where(where))).scalar_one()
    return list(rows), total


async def get_document(session: AsyncSession, doc_id: str) -> DmpDocument | None:
    return await session.get(DmpDocument, doc_id)


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


async def find_by_identifier(session: AsyncSession, value: str) -> list[DmpDocument]:
    """``masterIdentifier`` (uniqueId) or ``identifier`` (``urn:uuid:<id>``) of a DocumentReference."""
    clauses = [DmpDocument.unique_id == value]
    if value.startswith("urn:uuid:"):
        clauses.append(DmpDocument.id == value.removeprefix("urn:uuid:"))
    return list((await session.execute(select(DmpDocument).where(or_(*clauses)))).scalars().all())


def document_view(doc: DmpDocument) -> rules.DocumentView:
    availability = {"Approved": rules.Availability.APPROVED, "Deprecated": rules.Availability.DEPRECATED}.get(
        doc.availability, rules.Availability.DELETED)
    return rules.DocumentView(author_rpps=doc.author_rpps, labels=frozenset(lab[1] for lab in doc.labels),
                              availability=availability)


# --- metadata update (PATCH) ----------------------------------------------------------------------

async def patch_document(session: AsyncSession, settings: Settings, *, doc: DmpDocument, ctx: AccessContext,
                         kind: str, body: Any, if_match: str | None) -> DmpDocument:
    """The version check (``If-Match``) and the write are atomic: the row is read locked (PostgreSQL) and
    written only if still at the version read (:func:`bump_version`). On SQLite, which locks nothing, a
    concurrent PATCH may win in between: with ``If-Match`` this one is then a 412; without, it is applied
    again to the row as that PATCH left it (read under the write lock the failed update took)."""
    record = await session.get(DmpRecord, doc.dmp_id)
    assert record is not None
    _, caller, _ = await authorise(session, ins=record.ins, ctx=ctx, action=rules.Action.UPDATE)
    updated = None
    for _attempt in range(3):  # one retry suffices: the failed update took SQLite's write lock
        updated = await _patch_once(session, settings, doc_id=doc.id, caller=caller, kind=kind, body=body,
                                    if_match=if_match)
        if updated is not None:
            break
    if updated is None:
        raise FhirError(409, "conflict", f"DocumentReference/{doc.id} kept changing during the update: retry",
                        french=f"DocumentReference/{doc.id} n'a cessé de changer pendant la mise à jour : réessayer",
                        rule="FHIR:concurrent-update")
    action = "D" if updated.availability == "Deleted" else "U"
    await trace(session, record=record, ctx=ctx, transaction="PATCH", action=action, documents_ids=[updated.id])
    await session.flush()
    return updated


async def _patch_once(session: AsyncSession, settings: Settings, *, doc_id: str, caller: rules.Caller,
                      kind: str, body: Any, if_match: str | None) -> DmpDocument | None:
    """One attempt on the row read afresh: the updated document, or None when a concurrent writer changed
    the row since (the next attempt then sees that writer's version: a 412 with ``If-Match``)."""
    found = await lock_documents(session, [doc_id])
    if not found:
        raise FhirError(404, "not-found", f"no DocumentReference/{doc_id}",
                        french=f"aucun DocumentReference/{doc_id}", rule="MHD:unknown")
    doc = found[0]
    if doc.masked_ps and caller.rpps != doc.author_rpps:
        # the answer of an unknown document, word for word: anything else would say a masked one exists
        raise FhirError(404, "not-found", f"no DocumentReference/{doc_id}",
                        french=f"aucun DocumentReference/{doc_id}", rule="MHD:unknown")
    if doc.availability == "Deleted":
        raise FhirError(410, "deleted", f"DocumentReference/{doc.id} was deleted",
                        french=f"DocumentReference/{doc.id} a été supprimé", rule="DMP:deleted")
    decision = rules.may_update(document_view(doc), caller)
    if not decision:
        raise fhir_refusal(decision)
    version = doc.version_id
    if if_match is not None:
        wanted = if_match.strip().removeprefix("W/").strip('"')
        if wanted != str(version):
            raise FhirError(412, "conflict", f"If-Match {if_match} does not match the current version "
                            f'W/"{version}"',
                            french=f"If-Match {if_match} ne correspond pas à la version courante W/\"{version}\"",
                            rule="FHIR:If-Match")
    if doc.availability == "Deprecated":
        raise FhirError(422, "business-rule", f"DocumentReference/{doc.id} is superseded: update the document that "
                        "replaced it",
                        french=f"DocumentReference/{doc.id} est remplacé : mettre à jour le document qui l'a remplacé",
                        rule="PDSm4DMP:update-current-only")
    before = MetadataState("current", tuple(tuple(x) for x in doc.labels), bool(doc.is_archived))  # type: ignore[arg-type,misc]
    try:
        after = apply_patch(before, kind, body, lenient=settings.dmp_lenient)
    except PatchRefused as exc:
        code = {405: "not-supported", 409: "conflict", 415: "not-supported"}.get(exc.status, "invalid")
        raise FhirError(exc.status, code, exc.message, rule=exc.rule, expression=exc.expression) from None
    from app.shared import valuesets

    j58 = valuesets.load("J58")
    for system, code, _ in after.labels:
        if not j58.contains(system, code) and not settings.dmp_lenient:
            raise FhirError(422, "code-invalid", f"securityLabel {system}#{code} is not in JDV_J58",
                            french=f"securityLabel {system}#{code} n'est pas dans JDV_J58",
                            rule="PDSm:securityLabel-J58", expression="DocumentReference.securityLabel")
    if after.status == "superseded":
        raise FhirError(422, "business-rule", "status 'superseded' is set by a replacement (ITI-65 with relatesTo); "
                        "to delete a document, set 'entered-in-error'",
                        french="le statut 'superseded' est posé par un remplacement (ITI-65 avec relatesTo) ; pour "
                               "supprimer un document, poser 'entered-in-error'",
                        rule="PDSm4DMP:status-transition",
                        expression="DocumentReference.status")
    changes: dict[str, Any] = {**_label_flags(after.labels), "is_archived": after.is_archived,
                               "last_updated": utcnow()}
    if after.status == "entered-in-error":
        changes["availability"] = "Deleted"
    if not await bump_version(session, doc, version, **changes):
        return None
    return doc


# --- submission sets (ITI-66) ---------------------------------------------------------------------

async def search_submission_sets(session: AsyncSession, *, record: DmpRecord, filters: list[Any], count: int,
                                 offset: int) -> tuple[list[DmpSubmissionSet], int]:
    where = and_(DmpSubmissionSet.dmp_id == record.id, *filters)
    total = (await session.execute(select(func.count()).select_from(DmpSubmissionSet).where(where))).scalar_one()
    rows = (await session.execute(select(DmpSubmissionSet).where(where)
                                  .order_by(DmpSubmissionSet.submission_time.desc(), DmpSubmissionSet.id)
                                  .limit(count).offset(offset))).scalars().all()
    return list(rows), total


# --- traces ---------------------------------------------------------------------------------------

async def search_audit(session: AsyncSession, *, ins: str, filters: list[Any], count: int, offset: int
                       ) -> tuple[list[DmpAuditEvent], int]:
    where = and_(DmpAuditEvent.ins == ins, *filters)
    total = (await session.execute(select(func.count()).select_from(DmpAuditEvent).where(where))).scalar_one()
    rows = (await session.execute(select(DmpAuditEvent).where(where)
                                  .order_by(DmpAuditEvent.recorded.desc(), DmpAuditEvent.id.desc())
                                  .limit(count).offset(offset))).scalars().all()
    return list(rows), total


# --- control API ----------------------------------------------------------------------------------

def _problem(status: int, detail: str, rule: str) -> ProblemError:
    return ProblemError(status, {404: "Not Found", 409: "Conflict", 422: "Unprocessable Content"}.get(
        status, "Bad Request"), detail, rule=rule)


async def require_record(session: AsyncSession, ins: str) -> DmpRecord:
    record = await get_record(session, ins=ins)
    if record is None:
        raise _problem(404, f"no DMP for INS {ins}", "DMP:exists")
    return record


async def create_record(session: AsyncSession, *, ins: str, oid: str | None) -> DmpRecord:
    from app.ins import service as ins_service

    identity = await ins_service.find_identity(session, ins=ins, oid=oid)
    if identity is None:
        raise _problem(404, f"INS {ins} is unknown to the INS service: create the person first "
                       "(/sandbox/v1/persons)", "INS:unknown")
    if await get_record(session, ins=identity.ins) is not None:
        raise _problem(409, f"a DMP already exists for INS {identity.ins}", "DMP:exists")
    record = DmpRecord(ins=identity.ins, ins_oid=identity.oid.removeprefix("urn:oid:"), active=True,
                       created_at=utcnow(), updated_at=utcnow())
    session.add(record)
    await session.flush()
    return record


async def close_record(session: AsyncSession, *, record: DmpRecord, reason: str, text: str | None) -> DmpRecord:
    if not record.active:
        raise _problem(409, "the DMP is already closed", "DMP:closed")
    record.active = False
    record.closure_date = utcnow()
    record.closure_reason = reason
    record.closure_text = text
    record.updated_at = utcnow()
    await session.flush()
    return record


async def reopen_record(session: AsyncSession, *, record: DmpRecord) -> DmpRecord:
    if record.active:
        raise _problem(409, "the DMP is open", "DMP:open")
    record.active = True
    record.closure_date = record.closure_reason = record.closure_text = None
    record.updated_at = utcnow()
    await session.flush()
    return record


async def set_authorisation(session: AsyncSession, *, record: DmpRecord, rpps: str, status: str,
                            medecin_traitant: bool = False) -> None:
    row = (await session.execute(select(DmpAuthorisation).where(
        DmpAuthorisation.dmp_id == record.id, DmpAuthorisation.rpps == rpps))).scalar_one_or_none()
    if status == "NON_EXISTE":
        if row is not None:
            await session.delete(row)
    elif row is None:
        session.add(DmpAuthorisation(dmp_id=record.id, rpps=rpps, status=status, medecin_traitant=medecin_traitant,
                                     updated_at=utcnow()))
    else:
        row.status, row.medecin_traitant, row.updated_at = status, medecin_traitant, utcnow()
    await session.flush()


async def list_authorisations(session: AsyncSession, *, record: DmpRecord) -> list[DmpAuthorisation]:
    return list((await session.execute(select(DmpAuthorisation).where(DmpAuthorisation.dmp_id == record.id)
                                       .order_by(DmpAuthorisation.rpps))).scalars().all())


async def set_blocked(session: AsyncSession, *, record: DmpRecord, rpps: str, blocked: bool) -> None:
    if blocked:
        exists = (await session.execute(select(DmpBlockedProfessional.id).where(
            DmpBlockedProfessional.dmp_id == record.id, DmpBlockedProfessional.rpps == rpps))).first()
        if exists is None:
            session.add(DmpBlockedProfessional(dmp_id=record.id, rpps=rpps, blocked_at=utcnow()))
    else:
        await session.execute(delete(DmpBlockedProfessional).where(
            DmpBlockedProfessional.dmp_id == record.id, DmpBlockedProfessional.rpps == rpps))
    await session.flush()


async def list_blocked(session: AsyncSession, *, record: DmpRecord) -> list[str]:
    return list((await session.execute(select(DmpBlockedProfessional.rpps).where(
        DmpBlockedProfessional.dmp_id == record.id).order_by(DmpBlockedProfessional.rpps))).scalars().all())


async def list_records(session: AsyncSession) -> list[DmpRecord]:
    return list((await session.execute(select(DmpRecord).order_by(DmpRecord.id))).scalars().all())


async def documents_for(session: AsyncSession, *, record: DmpRecord) -> list[DmpDocument]:
    return list((await session.execute(select(DmpDocument).where(DmpDocument.dmp_id == record.id)
                                       .order_by(DmpDocument.date.desc()))).scalars().all())


# --- seed -----------------------------------------------------------------------------------------

@cache
def seed_plan() -> dict[str, Any]:
    return json.loads((FIXTURES / "dmps.json").read_text(encoding="utf-8"))


def _parse_dt(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


@lru_cache(maxsize=4096)
def _seed_document(identity: Any, n: int) -> tuple[mhd.DocumentIn, documents.GeneratedDocument]:
    """The n-th seed document of this identity (cached: every test resets the store)."""
    from app.dmp.documents import A01, A03, A11, LOINC, R02, make_cda

    spec = seed_plan()["documents"][n]
    from app.psc import service as psc_service

    author = psc_service.fixture_professional(spec["author"]) or {"given_name": "", "family_name": ""}
    effective = _parse_dt(spec["effective"])
    oid = identity.oid.removeprefix("urn:oid:")
    generated = make_cda(kind=spec["kind"], ins=identity.ins, ins_oid=oid, given=identity.first_given_name,
                         family=identity.birth_name, birth_date=identity.birth_date, sex=identity.sex,
                         author_rpps=spec["author"][1:], author_given=author["given_name"],
                         author_family=author["family_name"], effective=effective.strftime("%Y%m%d%H%M%S"), n=n)
    kind = generated.kind
    resource = {
        "resourceType": "DocumentReference",
        "contained": [{"resourceType": "Practitioner", "id": "author",
                       "identifier": [{"system": mhd.RPPS_SYSTEM, "value": spec["author"]}],
                       "name": [{"family": author["family_name"], "given": [author["given_name"]]}]}],
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{generated.unique_id}"},
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": kind.loinc, "display": kind.title}]},
        "category": [{"coding": [{"system": A03, "code": kind.class_code, "display": kind.class_display}]}],
        "date": effective.isoformat(),
        "author": [{"reference": "#author"}],
        "custodian": {"identifier": {"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1SANDBOX0001"}},
        "content": [{"attachment": {"contentType": "application/xml", "language": "fr-FR", "title": kind.title,
                                    "creation": effective.isoformat()},
                     "format": {"system": A11, "code": spec["format"]}}],
        "context": {"period": {"start": effective.isoformat()},
                    "facilityType": {"coding": [{"system": R02, "code": spec["facility"]}]},
                    "practiceSetting": {"coding": [{"system": A01, "code": spec["practice"]}]}},
    }
    v3 = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
    doc = mhd.DocumentIn(
        entry_index=n, full_url="", unique_id=f"urn:oid:{generated.unique_id}",
        patient=mhd.PatientId(oid, identity.ins),
        type=mhd.Code(LOINC, kind.loinc, kind.title), category=mhd.Code(A03, kind.class_code, kind.class_display),
        format=mhd.Code(A11, spec["format"]), facility_type=mhd.Code(R02, spec["facility"]),
        practice_setting=mhd.Code(A01, spec["practice"]), labels=[(v3, "N", "normal")], title=kind.title,
        content_type="application/xml", language="fr-FR", size=generated.size, hash_b64=generated.hash_b64,
        creation=effective, date=effective, period_start=effective, period_end=None,
        author_rpps=spec["author"][1:], author_given=[author["given_name"]], author_family=[author["family_name"]],
        events=[], related=[], replaces=None, is_archived=False, data=generated.cda, resource=resource,
    )
    return doc, generated


async def seed(session: AsyncSession, settings: Settings) -> None:
    """A DMP for every seeded INS identity, with the documents and authorisations of ``fixtures/dmps.json``.
    Idempotent: identities that already have a DMP are skipped. Bulk inserts keep a reset fast."""
    from app.ins import service as ins_service

    plan = seed_plan()
    identities = await ins_service.list_identities(session)
    existing = set((await session.execute(select(DmpRecord.ins))).scalars().all())
    overrides = {d["ins"]: d for d in plan.get("dmps", [])}
    now = utcnow()
    new = [i for i in identities if i.ins not in existing]
    if not new:
        return
    await session.execute(insert(DmpRecord), [
        {"ins": i.ins, "ins_oid": i.oid.removeprefix("urn:oid:"), "active": not overrides.get(i.ins, {}).get("closed"),
         "closure_date": now if overrides.get(i.ins, {}).get("closed") else None,
         "closure_reason": overrides.get(i.ins, {}).get("closed"), "closure_text": None, "linked_to_mes": True,
         "opt_out_bris_de_glace": bool(overrides.get(i.ins, {}).get("opt_out_bris_de_glace")),
         "opt_out_centre_15": bool(overrides.get(i.ins, {}).get("opt_out_centre_15")),
         "created_at": now, "updated_at": now}
        for i in new
    ])
    ids = dict((await session.execute(select(DmpRecord.ins, DmpRecord.id).where(
        DmpRecord.ins.in_([i.ins for i in new])))).all())
    auth_rows = [{"dmp_id": ids[i.ins], "rpps": a["rpps"], "status": a["status"],
                  "medecin_traitant": bool(a.get("medecin_traitant")), "updated_at": now}
                 for i in new for a in plan.get("authorisations", [])]
    if auth_rows:
        await session.execute(insert(DmpAuthorisation), auth_rows)
    if not settings.dmp_seed_documents:
        return
    ss_rows, bin_rows, chunk_rows, doc_rows = [], [], [], []
    for identity in new:
        dmp_id = ids[identity.ins]
        ss_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"segur-sandbox:dmp:seed:{identity.ins}"))
        doc_ids = []
        for n in range(len(plan["documents"])):
            doc, generated = _seed_document(identity, n)
            doc_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"segur-sandbox:dmp:doc:{generated.unique_id}"))
            bin_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"segur-sandbox:dmp:bin:{generated.unique_id}"))
            brow, chunks = binary_rows(bin_id, generated.cda, "application/xml", generated.hash_b64,
                                       settings.dmp_chunk_size)
            bin_rows.append(brow)
            chunk_rows.extend(chunks)
            doc_rows.append(document_row(doc, doc_id=doc_id, dmp_id=dmp_id, ss_id=ss_id, binary_id=bin_id, now=now))
            doc_ids.append(doc_id)
        ss_rows.append({
            "id": ss_id, "dmp_id": dmp_id, "unique_id": f"urn:oid:1.2.250.1.213.1.4.8.99999.1.{dmp_id}",
            "source_id": "urn:oid:1.2.250.1.213.1.4.8.99999", "designation_system": documents.A03,
            "designation_code": "10", "designation_display": "Compte rendu", "submission_time": now,
            "title": "Documents de démonstration", "author_rpps": None, "document_ids": doc_ids,
            "resource": {"resourceType": "List", "status": "current", "mode": "working",
                         "code": {"coding": [{"system": mhd.MHD_LIST_TYPES, "code": "submissionset"}]},
                         "extension": [
                             {"url": mhd.EXT_DESIGNATION_TYPE, "valueCodeableConcept": {"coding": [
                                 {"system": documents.A03, "code": "10", "display": "Compte rendu"}]}},
                             {"url": mhd.EXT_SOURCE_ID, "valueIdentifier": {
                                 "system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.250.1.213.1.4.8.99999"}}]},
            "created_at": now,
        })
    await session.execute(insert(DmpSubmissionSet), ss_rows)
    await session.execute(insert(DmpBinary), bin_rows)
    await session.execute(insert(DmpBinaryChunk), chunk_rows)
    await session.execute(insert(DmpDocument), doc_rows)

