"""MSSanté tables: the trust space (domains), mailboxes, messages and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Instant, utcnow
from app.tenancy import TenantOwned


class MssDomain(TenantOwned, Base):
    """A domain of the ANS list of authorised domains (the trust space). ``role``: ``local`` (run by the
    sandbox), ``patient`` (patient.mssante.fr), ``external`` (another operator: mail is relayed)."""

    __tablename__ = "mss_domain"
    __table_args__ = (PrimaryKeyConstraint("tenant", "name"),)  # each tenant has its own trust space

    name: Mapped[str] = mapped_column(String(253))
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(256))
    structures: Mapped[list[str]] = mapped_column(JSON, default=list)


class MssMailbox(TenantOwned, Base):
    """A mailbox. ``type``: PER, CAB, ORG, APP (TRE_R257) or PAT (patient mailbox of Mon espace santé)."""

    __tablename__ = "mss_mailbox"
    __table_args__ = (UniqueConstraint("tenant", "address"),
                      ForeignKeyConstraint(["tenant", "domain"], ["mss_domain.tenant", "mss_domain.name"],
                                           ondelete="CASCADE"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(320))
    domain: Mapped[str] = mapped_column(String(253), index=True)
    type: Mapped[str] = mapped_column(String(8))
    display_name: Mapped[str] = mapped_column(String(256))
    owner_subject: Mapped[str | None] = mapped_column(String(64), index=True)
    """PSC ``SubjectNameID`` of the PER mailbox holder."""
    owners: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Other professionals (SubjectNameID) allowed to use a CAB/ORG/APP mailbox."""
    patient_ins: Mapped[str | None] = mapped_column(String(15), index=True)
    patient_oid: Mapped[str | None] = mapped_column(String(64))
    structure_id: Mapped[str | None] = mapped_column(String(64))
    service: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(String(512))
    password_hash: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    """A closed mailbox (MES bounce "mailbox closed") accepts at RCPT, then bounces with a DSN."""
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class MssMessage(TenantOwned, Base):
    """One message as received (raw bytes kept verbatim), its parsed view and its check report.
    ``kind``: ``message``, ``dsn`` (RFC 3464) or ``mdn`` (RFC 8098); ``related_id`` links a DSN/MDN to
    the message it reports on."""

    __tablename__ = "mss_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(8), default="message")
    related_id: Mapped[int | None] = mapped_column(ForeignKey("mss_message.id", ondelete="SET NULL"), index=True)
    transport: Mapped[str] = mapped_column(String(8))
    envelope_from: Mapped[str] = mapped_column(String(320))
    auth_identity: Mapped[str | None] = mapped_column(String(320))
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    from_header: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    date_header: Mapped[str | None] = mapped_column(String(256))
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[list[Any]] = mapped_column(JSON)
    parts: Mapped[list[Any]] = mapped_column(JSON)
    xdm: Mapped[list[Any]] = mapped_column(JSON)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    has_xdm: Mapped[bool] = mapped_column(Boolean, default=False)
    conversation_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    """The message closes a Mon espace santé conversation: ``X-MSS-MES: FIN`` or ``[FIN]`` in its subject."""
    received_at: Mapped[datetime] = mapped_column(Instant, default=utcnow, index=True)


class MssFolder(TenantOwned, Base):
    """A folder of a mailbox (IMAP mailbox, RFC 3501 §5.1), INBOX included. Its ``id`` is the folder's
    UIDVALIDITY: never reused (``AUTOINCREMENT`` on SQLite), so a folder deleted and created again has a new
    one (RFC 3501 §2.3.1.1). ``highest_removed_uid``: the highest UID that ever left the folder (expunged,
    moved, deleted over HTTP), so UIDNEXT never goes down."""

    __tablename__ = "mss_folder"
    __table_args__ = (UniqueConstraint("mailbox_id", "name"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mss_mailbox.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    """Decoded (Unicode), hierarchy delimiter ``/``; the INBOX is spelled ``INBOX``."""
    special_use: Mapped[str | None] = mapped_column(String(16))
    """RFC 6154 attribute (``\\Sent``, ``\\Drafts``, ``\\Trash``) or None."""
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    highest_removed_uid: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class MssDelivery(TenantOwned, Base):
    """One recipient of one message: delivered into a mailbox, relayed to another operator, or failed.

    A row with ``status`` ``delivered`` (or ``stored``: an IMAP APPEND) is one message in one folder of its
    mailbox; its ``id`` is the message's IMAP UID (only grows: ``AUTOINCREMENT`` on SQLite, which otherwise
    reuses the highest deleted rowid)."""

    __tablename__ = "mss_delivery"
    __table_args__ = (Index("ix_mss_delivery_mailbox_folder", "mailbox_id", "folder_id", "id"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("mss_message.id", ondelete="CASCADE"), index=True)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mss_mailbox.id", ondelete="CASCADE"))
    """Indexed first in ``ix_mss_delivery_mailbox_folder`` (the folder listings' index)."""
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("mss_folder.id", ondelete="CASCADE"))
    """The folder; NULL is the mailbox's INBOX (so the SMTP paths that insert deliveries name no folder)."""
    flags: Mapped[list[str]] = mapped_column(JSON, server_default=text("'[]'"))
    """IMAP flags other than ``\\Seen`` (that one is ``seen``), sorted; set by the database on insert
    (the SMTP paths leave it out)."""
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))
    notify: Mapped[str | None] = mapped_column(String(64))
    """RFC 3461 NOTIFY parameter of the RCPT command (``SUCCESS,FAILURE``, ``NEVER``...)."""
    seen: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_at: Mapped[datetime | None] = mapped_column(Instant)
    mdn_id: Mapped[int | None] = mapped_column(ForeignKey("mss_message.id", ondelete="SET NULL"))
    delivered_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class MssTlsKey(Base):
    """The SMTP listener's generated test certificate, shared by every worker (kept on reset)."""

    __tablename__ = "mss_tls_key"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    cert_pem: Mapped[str] = mapped_column(Text)
    key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class MssFault(TenantOwned, Base):
    """A scripted SMTP failure (fault injection): the next ``remaining`` times ``address`` is the sender
    (stage MAIL) or a recipient (stages RCPT, DATA), the listener answers ``reply``."""

    __tablename__ = "mss_fault"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(320), index=True)
    stage: Mapped[str] = mapped_column(String(8))
    reply: Mapped[str] = mapped_column(String(512))
    remaining: Mapped[int] = mapped_column(Integer)
    disconnect: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class MssDispensation(TenantOwned, Base):
    """A pharmacy dispensed to a patient (declared through the control API or seeded): what lets the patient start
    a conversation with the pharmacy's organisational mailbox for ``SEGUR_MSS_PHARMACY_WINDOW_DAYS``
    (:mod:`app.mss.citizen`, the pharmacy exception of Mon espace santé)."""

    __tablename__ = "mss_dispensation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pharmacy_mailbox_id: Mapped[int] = mapped_column(ForeignKey("mss_mailbox.id", ondelete="CASCADE"), index=True)
    patient_ins: Mapped[str] = mapped_column(String(15), index=True)
    dispensed_at: Mapped[datetime] = mapped_column(Instant)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
