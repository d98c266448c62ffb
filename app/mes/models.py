"""Tables of the patient side (prefix ``mes_``): sign-in challenges, page sessions, revoked tokens, the signing
key, legal representations, notifications and their settings. The DMP's own state (masking, blocks, opt-outs)
stays in the DMP's tables: the patient acts on it through :mod:`app.dmp.service`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, PrimaryKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Instant, utcnow
from app.tenancy import TenantOwned


class MesChallenge(TenantOwned, Base):
    """A sign-in in progress: the one-time code sent (simulated SMS) to the person of ``ins``."""

    __tablename__ = "mes_challenge"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ins: Mapped[str] = mapped_column(String(15), index=True)
    code: Mapped[str] = mapped_column(String(6))  # shown by the page and the control API: a simulated SMS
    tries: Mapped[int] = mapped_column(Integer, default=0)
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime] = mapped_column(Instant)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class MesWebSession(TenantOwned, Base):
    """A page session: ``id`` is the SHA-256 of the cookie's value (the cookie alone holds the secret)."""

    __tablename__ = "mes_web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ins: Mapped[str] = mapped_column(String(15), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Instant)


class MesTokenRevocation(TenantOwned, Base):
    """An API access token revoked by sign-out (its ``jti``), kept until it would have expired anyway."""

    __tablename__ = "mes_token_revocation"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(Instant)


class MesSigningKey(Base):
    """The private JWK that signs patient API tokens (ES256); kept on reset, like PSC's keys."""

    __tablename__ = "mes_signing_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class MesRepresentation(TenantOwned, Base):
    """``representative_ins`` is a legal representative of ``minor_ins`` (effective while the latter is a minor)."""

    __tablename__ = "mes_representation"
    __table_args__ = (UniqueConstraint("tenant", "representative_ins", "minor_ins"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    representative_ins: Mapped[str] = mapped_column(String(15), index=True)
    minor_ins: Mapped[str] = mapped_column(String(15), index=True)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class MesNotification(TenantOwned, Base):
    """A notification of a patient's inbox: a new document, a break-glass or centre 15 access, a message."""

    __tablename__ = "mes_notification"
    __table_args__ = (Index("ix_mes_notification_ins_id", "tenant", "ins", "id"),
                      UniqueConstraint("tenant", "ins", "source"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ins: Mapped[str] = mapped_column(String(15))
    kind: Mapped[str] = mapped_column(String(32))  # new_document / bris_de_glace / centre_15 / message
    source: Mapped[str] = mapped_column(String(128))  # what it was made from (audit:<id>, message:<id>): once
    title: Mapped[str] = mapped_column(String(512))
    body: Mapped[str] = mapped_column(String(2048))
    document_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    occurred_at: Mapped[datetime] = mapped_column(Instant)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(Instant)
    mailed_to: Mapped[str | None] = mapped_column(String(320))


class MesNotificationSetting(TenantOwned, Base):
    """A patient's notification settings, and how far the DMP's traces were read for notifications."""

    __tablename__ = "mes_notification_setting"
    __table_args__ = (PrimaryKeyConstraint("tenant", "ins"),)

    ins: Mapped[str] = mapped_column(String(15))
    email: Mapped[str | None] = mapped_column(String(320))
    audit_cursor: Mapped[int] = mapped_column(Integer, default=0)  # the last dmp_audit_event.id looked at
    updated_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
