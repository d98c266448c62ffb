"""The DMP's service: what its faces (FHIR today, XDS.b SOAP next, the patient's later) and the other
domains call. A thin public interface over the concept modules, which alone touch the database.

Services take the session and keyword arguments, ``flush()`` but never commit (the request owns the
transaction: a refused submission leaves nothing behind), and raise :class:`~app.dmp.exceptions.DmpError`,
never an HTTP-shaped error: each face maps it to its protocol.
"""

from __future__ import annotations

from app.dmp.access import authorise, caller_on
from app.dmp.cda_html import cda_to_html
from app.dmp.cda_html import embedded_file as cda_embedded_file
from app.dmp.exceptions import DmpError, Kind
from app.dmp.feeding import publish_simplified, registered_hashes, submit
from app.dmp.patient import (
    audit_events,
    delete_by_patient,
    fed_by_others,
    file_patient_document,
    origin_of,
    patient_document,
    patient_document_titles,
    patient_documents,
    set_label,
)
from app.dmp.queries import find_by_identifier, get_submission_set, search_documents, search_submission_sets
from app.dmp.reading import (
    binary_document,
    get_binary,
    get_document,
    read_binary,
    read_document,
    retrieve_document,
    stream_binary,
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
from app.dmp.rows import binary_rows
from app.dmp.seed import seed
from app.dmp.standing import feed_standing
from app.dmp.traces import AuditSearch, search_audit, trace
from app.dmp.updates import document_view, patch_document

__all__ = [
    "AuditSearch", "DmpError", "authorise", "binary_document", "binary_rows", "caller_on", "cda_embedded_file",
    "cda_to_html", "close_record",
    "count_documents",
    "create_record", "document_view", "documents_for", "feed_standing", "find_by_identifier", "get_document",
    "get_binary",
    "get_record", "get_submission_set", "list_authorisations", "list_blocked", "list_records", "patch_document",
    "patient_identity", "publish_simplified", "read_binary", "read_document", "record_by_id", "reopen_record",
    "require_record", "retrieve_document", "search_audit", "search_documents", "search_submission_sets", "seed",
    "set_authorisation", "set_blocked", "set_opt_outs", "stream_binary", "submit", "trace",
    "registered_hashes",
    # the patient's own actions (app/dmp/patient.py), for Mon espace santé, and the errors they raise
    "Kind", "audit_events", "delete_by_patient", "fed_by_others", "file_patient_document",
    "origin_of", "patient_document", "patient_document_titles", "patient_documents", "set_label",
]
