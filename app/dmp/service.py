"""The DMP's service: what its faces (FHIR today, XDS.b SOAP next, the patient's later) and the other
domains call. A thin public interface over the concept modules, which alone touch the database.

Services take the session and keyword arguments, ``flush()`` but never commit (the request owns the
transaction: a refused submission leaves nothing behind), and raise :class:`~app.dmp.exceptions.DmpError`,
never an HTTP-shaped error: each face maps it to its protocol.
"""

from __future__ import annotations

from app.dmp.access import authorise, caller_on, state_of
from app.dmp.context import AccessContext, RecordLike, RecordRow
from app.dmp.exceptions import DmpError, DmpErrors, Kind
from app.dmp.feeding import EntryResult, publish_simplified, submit
from app.dmp.models import DmpBinary, DmpDocument, DmpRecord, DmpSubmissionSet
from app.dmp.queries import (
    DocumentSearch,
    SubmissionSetSearch,
    find_by_identifier,
    get_submission_set,
    search_documents,
    search_submission_sets,
)
from app.dmp.reading import (
    binary_document,
    get_document,
    read_binary,
    read_document,
    retrieve_document,
    stream_binary,
    visible_document,
)
from app.dmp.records import (
    close_record,
    count_documents,
    create_record,
    documents_for,
    get_record,
    list_authorisations,
    list_blocked,
    list_records,
    patient_identity,
    record_by_id,
    reopen_record,
    require_record,
    set_authorisation,
    set_blocked,
    set_opt_outs,
)
from app.dmp.rows import binary_rows, document_row, label_flags
from app.dmp.seed import seed, seed_plan
from app.dmp.standing import feed_standing
from app.dmp.traces import AuditSearch, search_audit, trace, trace_refusal, trace_row
from app.dmp.updates import bump_version, document_view, lock_documents, patch_document

__all__ = [
    "AccessContext", "AuditSearch", "DmpBinary", "DmpDocument", "DmpError", "DmpErrors", "DmpRecord",
    "DmpSubmissionSet", "DocumentSearch", "EntryResult", "Kind", "RecordLike", "RecordRow", "SubmissionSetSearch",
    "authorise", "binary_document", "binary_rows", "bump_version", "caller_on", "close_record", "count_documents",
    "create_record", "document_row", "document_view", "documents_for", "feed_standing", "find_by_identifier",
    "get_document", "get_record", "get_submission_set", "label_flags", "list_authorisations", "list_blocked",
    "list_records", "lock_documents", "patch_document", "patient_identity", "publish_simplified", "read_binary",
    "read_document", "record_by_id", "reopen_record", "require_record", "retrieve_document", "search_audit",
    "search_documents", "search_submission_sets", "seed", "seed_plan", "set_authorisation", "set_blocked",
    "set_opt_outs", "state_of", "stream_binary", "submit", "trace", "trace_refusal", "trace_row",
    "visible_document",
]
