"""The MSSanté operator's service: the one interface the faces (SMTP, HTTP API, control API, and the IMAP and
patient faces to come) and the other domains call.

The functions live in modules named after their concept, the only code of the domain that touches the
database: :mod:`.mailboxes` (lookups, ownership, creation), :mod:`.recipients` (the trust space, what RCPT
answers), :mod:`.analysis` (parse, XDM, checks), :mod:`.deliveries` (store, deliver, DSNs),
:mod:`.submission` (the HTTP API's send), :mod:`.messages` (reading a mailbox), :mod:`.receipts` (read
flags, MDNs), :mod:`.folders` (folders, UIDs and flags: the IMAP view), :mod:`.changes` (announcements for
IDLE), :mod:`.faults` (scripted SMTP failures), :mod:`.patients` (Mon espace santé: a patient mailbox's
conversations, the pharmacies' dispensations; the rules are the pure :mod:`.citizen`), :mod:`.tlskeys`,
:mod:`.seed`. They take the session first
and keyword arguments; they ``flush()``, never commit (the caller owns the transaction: the HTTP request,
or one SMTP DATA transaction); they raise :mod:`app.mss.exceptions`, never a protocol's error.
"""

from __future__ import annotations

from app.mss import citizen
from app.mss.analysis import Envelope, analyse, known_ins
from app.mss.changes import MailboxChanges, announce_after_commit, announce_now, changes_of, wire_changes
from app.mss.deliveries import deliver_local, store, store_at_once
from app.mss.exceptions import MessageRefused, MssError
from app.mss.faults import add_fault, clear_faults, consume_fault, list_faults, pending_stages
from app.mss.folders import (
    DELIMITER,
    INBOX,
    STANDARD_FOLDERS,
    SYSTEM_FLAGS,
    TOPIC_MAILBOX,
    Entry,
    FolderInfo,
    append,
    copy_entries,
    create_folder,
    delete_folder,
    ensure_standard_folders,
    entries,
    expunge,
    folder_info,
    list_folders,
    load_entries,
    move_entries,
    normalise_flags,
    normalise_folder_name,
    rename_folder,
    set_subscribed,
    store_flags,
)
from app.mss.mailboxes import (
    PATIENT,
    TOPIC_LOOKUPS,
    check_password,
    check_sender,
    create_mailbox,
    ensure_per_mailboxes,
    get_mailbox,
    list_mailboxes,
    load_mailbox,
    load_owned_mailbox,
    mailboxes_of,
    may_use,
    require_applicative,
)
from app.mss.messages import (
    MessageFilter,
    delete_delivery,
    folder_name,
    list_deliveries,
    load_delivery,
    load_part,
    message_uid,
    parsed,
)
from app.mss.patients import (
    conversations,
    declare_dispensation,
    list_dispensations,
    patient_mailbox_of,
    patient_messages,
    patient_send_verdict,
    recent_pharmacies,
    set_patient_mailbox_open,
    thread_message,
)
from app.mss.receipts import mark_read
from app.mss.recipients import RecipientVerdict, check_recipient, lookup
from app.mss.seed import seed
from app.mss.store import StoredMessage, message_store
from app.mss.submission import Submission, send_as_patient, send_composed, send_raw, submit
from app.mss.tlskeys import sandbox_ca, shared_tls_key

__all__ = [
    "PATIENT", "TOPIC_LOOKUPS", "Envelope", "MessageFilter", "RecipientVerdict", "StoredMessage", "Submission",
    "add_fault", "analyse", "check_password", "check_recipient", "check_sender", "clear_faults", "consume_fault",
    "create_mailbox", "delete_delivery", "deliver_local", "ensure_per_mailboxes", "get_mailbox", "known_ins",
    "list_deliveries", "list_faults", "list_mailboxes", "load_delivery", "load_mailbox", "load_owned_mailbox",
    "load_part", "lookup", "mailboxes_of", "mark_read", "may_use", "message_store", "message_uid", "parsed",
    "pending_stages", "require_applicative", "seed", "send_composed", "send_raw", "shared_tls_key", "store",
    "store_at_once", "submit",
    "sandbox_ca",
    # folders, UIDs and flags (the IMAP view), change announcements
    "DELIMITER", "INBOX", "STANDARD_FOLDERS", "SYSTEM_FLAGS", "TOPIC_MAILBOX", "Entry", "FolderInfo",
    "MailboxChanges", "announce_after_commit", "announce_now", "append", "changes_of", "copy_entries",
    "create_folder", "delete_folder", "ensure_standard_folders", "entries", "expunge", "folder_info", "folder_name",
    "list_folders", "load_entries", "move_entries", "normalise_flags", "normalise_folder_name", "rename_folder",
    "set_subscribed", "store_flags", "wire_changes",
    # Mon espace santé's messaging (app/mss/citizen.py rules, app/mss/patients.py store side)
    "MessageRefused", "MssError", "citizen", "conversations", "declare_dispensation", "list_dispensations",
    "patient_mailbox_of", "patient_messages", "patient_send_verdict", "recent_pharmacies", "send_as_patient",
    "set_patient_mailbox_open", "thread_message",
]
