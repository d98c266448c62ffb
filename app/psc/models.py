"""PSC tables (prefix ``psc_``). Types work on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKeyConstraint, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Instant, utcnow
from app.tenancy import TenantOwned


class SigningKey(Base):
    """Realm signing keys; kept on reset. ``active`` signs new tokens; the others stay published in
    the JWKS until ``publish_until`` (when every token they signed has expired)."""

    __tablename__ = "psc_signing_key"

    kid: Mapped[str] = mapped_column(String(128), primary_key=True)
    alg: Mapped[str] = mapped_column(String(8))
    private_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    publish_until: Mapped[datetime | None] = mapped_column(Instant)


class Client(TenantOwned, Base):
    """An OAuth client; ``client_metadata`` holds the RFC 7591 document (without the secret)."""

    __tablename__ = "psc_client"
    __table_args__ = (PrimaryKeyConstraint("tenant", "client_id"),)  # a client id is unique in its tenant

    client_id: Mapped[str] = mapped_column(String(255))
    secret_sha256: Mapped[str | None] = mapped_column(String(64))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    access_token_alg: Mapped[str] = mapped_column(String(8), default="RS256")
    client_metadata: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class Professional(TenantOwned, Base):
    """A health professional; ``userinfo`` is the whole PSC userinfo document."""

    __tablename__ = "psc_professional"
    __table_args__ = (PrimaryKeyConstraint("tenant", "subject_name_id"),)

    subject_name_id: Mapped[str] = mapped_column(String(64))
    rpps: Mapped[str | None] = mapped_column(String(11))
    given_name: Mapped[str] = mapped_column(String(255))
    family_name: Mapped[str] = mapped_column(String(255))
    profession_code: Mapped[str] = mapped_column(String(8))
    userinfo: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class LoginSession(TenantOwned, Base):
    """A browser SSO session (Keycloak user session: ``sid`` / ``session_state``)."""

    __tablename__ = "psc_session"
    __table_args__ = (ForeignKeyConstraint(["tenant", "subject_name_id"],
                                           ["psc_professional.tenant", "psc_professional.subject_name_id"],
                                           ondelete="CASCADE"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_name_id: Mapped[str] = mapped_column(String(64), index=True)
    auth_time: Mapped[datetime] = mapped_column(Instant)
    expires_at: Mapped[datetime] = mapped_column(Instant)
    ended_at: Mapped[datetime | None] = mapped_column(Instant)


class AuthorizationCode(TenantOwned, Base):
    """A single-use code, stored by its SHA-256; bound to client, redirect URI and PKCE challenge."""

    __tablename__ = "psc_authorization_code"

    code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    redirect_uri: Mapped[str] = mapped_column(Text)
    subject_name_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    auth_time: Mapped[datetime] = mapped_column(Instant)
    expires_at: Mapped[datetime] = mapped_column(Instant)
    used_at: Mapped[datetime | None] = mapped_column(Instant)


class IssuedToken(TenantOwned, Base):
    """Tokens of user grants (code, refresh, CIBA): ``grant_id`` links every token descended from one
    authorization code, so a code replay can revoke them all; refresh tokens are rotated (``used_at``)."""

    __tablename__ = "psc_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    grant_id: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(255))
    subject_name_id: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime] = mapped_column(Instant)
    used_at: Mapped[datetime | None] = mapped_column(Instant)


class RevokedToken(TenantOwned, Base):
    """Revoked ``jti`` values (RFC 7009, logout, code replay); what every bearer check looks up."""

    __tablename__ = "psc_revoked_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(Instant)


class CibaRequest(TenantOwned, Base):
    """A CIBA backchannel authentication request (poll mode)."""

    __tablename__ = "psc_ciba_request"

    auth_req_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    subject_name_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    binding_message: Mapped[str | None] = mapped_column(Text)
    acr_values: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    interval: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Instant)
    last_polled_at: Mapped[datetime | None] = mapped_column(Instant)
