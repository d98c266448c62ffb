"""DMP tables (prefix ``dmp_``): records, access control, submission sets, documents, binaries, traces."""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Instant, utcnow
from app.tenancy import TenantOwned


class DmpRecord(TenantOwned, Base):
    """One patient's DMP: open or closed (PDSm4DMP TD02 ``dmp-fermeture``), and what the patient objected to."""

    __tablename__ = "dmp_record"
    __table_args__ = (UniqueConstraint("tenant", "ins"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ins: Mapped[str] = mapped_column(String(15))
    ins_oid: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    closure_date: Mapped[datetime | None] = mapped_column(Instant)
    closure_reason: Mapped[str | None] = mapped_column(String(64))  # dmp-motif-fermeture code
    closure_text: Mapped[str | None] = mapped_column(String(1024))  # raisonFermeture
    linked_to_mes: Mapped[bool] = mapped_column(Boolean, default=True)  # dmp-rattachement-mes
    opt_out_bris_de_glace: Mapped[bool] = mapped_column(Boolean, default=False)
    opt_out_centre_15: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class DmpAuthorisation(TenantOwned, Base):
    """A professional's access authorisation on one DMP (VALIDE / EXPIRE / INTERDIT; absent = NON_EXISTE)."""

    __tablename__ = "dmp_authorisation"
    __table_args__ = (UniqueConstraint("dmp_id", "rpps"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dmp_id: Mapped[int] = mapped_column(ForeignKey("dmp_record.id", ondelete="CASCADE"), index=True)
    rpps: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    medecin_traitant: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class DmpBlockedProfessional(TenantOwned, Base):
    """A professional the patient blocked: always refused (PDSm4DMP TD02)."""

    __tablename__ = "dmp_blocked_professional"
    __table_args__ = (UniqueConstraint("dmp_id", "rpps"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dmp_id: Mapped[int] = mapped_column(ForeignKey("dmp_record.id", ondelete="CASCADE"), index=True)
    rpps: Mapped[str] = mapped_column(String(32))
    blocked_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class DmpSubmissionSet(TenantOwned, Base):
    __tablename__ = "dmp_submission_set"
    __table_args__ = (PrimaryKeyConstraint("tenant", "id"),)  # an entryUUID a vendor chose: unique in its tenant

    id: Mapped[str] = mapped_column(String(64))
    dmp_id: Mapped[int] = mapped_column(ForeignKey("dmp_record.id", ondelete="CASCADE"), index=True)
    unique_id: Mapped[str] = mapped_column(String(256))
    source_id: Mapped[str] = mapped_column(String(256), index=True)
    designation_system: Mapped[str] = mapped_column(String(256))
    designation_code: Mapped[str] = mapped_column(String(64))
    designation_display: Mapped[str | None] = mapped_column(String(256))
    submission_time: Mapped[datetime] = mapped_column(Instant)
    title: Mapped[str | None] = mapped_column(String(512))
    author_rpps: Mapped[str | None] = mapped_column(String(32))
    document_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    resource: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class DmpBinary(TenantOwned, Base):
    """A document's bytes, kept in chunks so ITI-68 streams them without loading them whole."""

    __tablename__ = "dmp_binary"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    hash_b64: Mapped[str] = mapped_column(String(64))
    chunk_size: Mapped[int] = mapped_column(Integer)
    chunks: Mapped[int] = mapped_column(Integer)


class DmpBinaryChunk(TenantOwned, Base):
    __tablename__ = "dmp_binary_chunk"

    binary_id: Mapped[str] = mapped_column(ForeignKey("dmp_binary.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DmpDocument(TenantOwned, Base):
    """A DocumentEntry. ``id`` is the FHIR logical id; a metadata change bumps ``version_id`` (docs/dmp.md)."""

    __tablename__ = "dmp_document"
    __table_args__ = (
        PrimaryKeyConstraint("tenant", "id"),  # an entryUUID a vendor chose: unique in its tenant
        UniqueConstraint("tenant", "unique_id"),
        # no ON DELETE SET NULL: it would null the tenant too; a submission set goes with its DMP's documents
        ForeignKeyConstraint(["tenant", "submission_set_id"], ["dmp_submission_set.tenant", "dmp_submission_set.id"]),
        Index("ix_dmp_document_dmp_id_availability_date", "dmp_id", "availability", "date"),
    )

    id: Mapped[str] = mapped_column(String(64))
    dmp_id: Mapped[int] = mapped_column(ForeignKey("dmp_record.id", ondelete="CASCADE"))
    submission_set_id: Mapped[str | None] = mapped_column(String(64), index=True)
    binary_id: Mapped[str] = mapped_column(ForeignKey("dmp_binary.id"), index=True)
    unique_id: Mapped[str] = mapped_column(String(256))
    version_id: Mapped[int] = mapped_column(Integer, default=1)
    availability: Mapped[str] = mapped_column(String(16))  # Approved / Deprecated / Deleted (XDS, JDV_J52)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[list[list[str]]] = mapped_column(JSON)  # [[system, code, display], ...]
    label_codes: Mapped[str] = mapped_column(String(256))  # " N MASQUE_PS " for filtering
    masked_ps: Mapped[bool] = mapped_column(Boolean, default=False)
    invisible_patient: Mapped[bool] = mapped_column(Boolean, default=False)
    invisible_rl: Mapped[bool] = mapped_column(Boolean, default=False)
    author_rpps: Mapped[str | None] = mapped_column(String(32))
    author_given: Mapped[str] = mapped_column(String(512), default="")
    author_family: Mapped[str] = mapped_column(String(512), default="")
    type_system: Mapped[str] = mapped_column(String(256))
    type_code: Mapped[str] = mapped_column(String(64))
    class_system: Mapped[str] = mapped_column(String(256))
    class_code: Mapped[str] = mapped_column(String(64))
    format_system: Mapped[str] = mapped_column(String(256))
    format_code: Mapped[str] = mapped_column(String(256))
    facility_code: Mapped[str] = mapped_column(String(64))
    practice_code: Mapped[str] = mapped_column(String(64))
    event_codes: Mapped[str] = mapped_column(Text, default="")  # " system|code ... "
    related_ids: Mapped[str] = mapped_column(Text, default="")  # " system|value ... "
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    hash_b64: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(512))
    date: Mapped[datetime] = mapped_column(Instant)
    period_start: Mapped[datetime] = mapped_column(Instant)
    period_end: Mapped[datetime | None] = mapped_column(Instant)
    replaces_id: Mapped[str | None] = mapped_column(String(64), index=True)
    replaced_by_id: Mapped[str | None] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(Text)  # the DocumentReference as submitted, JSON text (jsonio)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    last_updated: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class DmpAuditEvent(TenantOwned, Base):
    """An access trace (ATNA-style AuditEvent): what the patient sees in the activity history."""

    __tablename__ = "dmp_audit_event"
    __table_args__ = (Index("ix_dmp_audit_event_ins_recorded", "tenant", "ins", "recorded"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recorded: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    ins: Mapped[str] = mapped_column(String(15))
    ins_oid: Mapped[str] = mapped_column(String(64))
    transaction: Mapped[str] = mapped_column(String(32))  # ITI-65, ITI-67, ITI-68, PATCH, ...
    action: Mapped[str] = mapped_column(String(1))  # C R U D E
    outcome: Mapped[str] = mapped_column(String(2))  # 0 success, 4 minor failure, 8 serious failure
    outcome_text: Mapped[str | None] = mapped_column(String(1024))
    agent_rpps: Mapped[str | None] = mapped_column(String(32))
    agent_name: Mapped[str | None] = mapped_column(String(256))
    client_id: Mapped[str | None] = mapped_column(String(256))
    access_mode: Mapped[str] = mapped_column(String(16), default="normal")
    access_reason: Mapped[str | None] = mapped_column(String(1024))
    document_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    query: Mapped[str | None] = mapped_column(String(2048))
