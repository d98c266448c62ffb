"""The patient side's service (Mon espace santé): what its two faces — the JSON API (:mod:`app.mes.api`) and the
pages (:mod:`app.mes.pages`) — and the other domains call. A thin public interface over the concept modules,
which alone touch the database.

Every function takes the session first, then keyword arguments; those that need the settings take them as the
keyword ``settings``. ``actor`` is the signed-in :class:`Person`, ``ins`` the patient acted on: the actor, or a
minor they legally represent (:func:`persons_for`); any other INS is :class:`~app.mes.exceptions.MesNotFound`.
Services ``flush()`` and never commit; they raise :mod:`app.mes.exceptions` errors, never an HTTP-shaped one.

Sign-in, in a page's request: call :func:`finish_sign_in` before anything else writes in that request (it counts
the attempt in a transaction of its own).
"""

from __future__ import annotations

from app.mes.documents import (
    delete_document,
    document_content,
    get_document,
    list_documents,
    set_hidden_from_representatives,
    set_masked,
    upload_document,
)
from app.mes.dossier import (
    access_settings,
    authorise_professional,
    block_professional,
    close_profile,
    object_to_creation,
    profile,
    reopen_profile,
    set_emergency_access,
    unblock_professional,
)
from app.mes.history import (
    activity,
    mark_notifications_read,
    notification_settings,
    notifications,
    set_notification_email,
)

# Messaging (MSSanté "citoyenne", helper M): app/mes/messaging.py, re-exported here.
from app.mes.messaging import (
    Attachment,
    MessageDetail,
    MessageSummary,
    Pharmacy,
    inbox,
    message_attachment,
    pharmacies,
    read_message,
    reply,
    write_to_pharmacy,
)
from app.mes.persons import Actor, Person, add_representation, find_person, patient_for, persons_for
from app.mes.seed import seed
from app.mes.signin import (
    GRANT_TYPE,
    Challenge,
    IssuedToken,
    WebSession,
    actor_from_token,
    close_web_session,
    finish_sign_in,
    issue_token,
    latest_codes,
    open_web_session,
    revoke_token,
    start_sign_in,
    web_session,
)
from app.mes.views import (
    AccessSettings,
    Activity,
    DocumentDetail,
    DocumentSummary,
    Notification,
    NotificationSettings,
    ProfessionalEntry,
    Profile,
)

__all__ = [
    "GRANT_TYPE", "AccessSettings", "Activity", "Actor", "Challenge", "DocumentDetail", "DocumentSummary",
    "IssuedToken", "Notification", "NotificationSettings", "Person", "ProfessionalEntry", "Profile", "WebSession",
    "access_settings", "activity", "actor_from_token", "add_representation", "authorise_professional",
    "block_professional", "close_profile", "close_web_session", "delete_document", "document_content",
    "find_person", "finish_sign_in", "get_document", "issue_token", "latest_codes", "list_documents",
    "mark_notifications_read", "notification_settings", "notifications", "object_to_creation", "open_web_session",
    "patient_for", "persons_for", "profile", "reopen_profile", "revoke_token", "seed", "set_emergency_access",
    "set_hidden_from_representatives", "set_masked", "set_notification_email", "start_sign_in",
    "unblock_professional", "upload_document", "web_session",
    # messaging
    "Attachment", "MessageDetail", "MessageSummary", "Pharmacy", "inbox", "message_attachment", "pharmacies",
    "read_message", "reply", "write_to_pharmacy",
]
