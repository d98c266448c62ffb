"""Tables of the INS domain (``ins_`` prefix): test identities, their matricules, Cartes Vitale, IDAMs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, PrimaryKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Instant, utcnow
from app.tenancy import TenantOwned


class InsPerson(TenantOwned, Base):
    """A person of the simulated national base: INSi traits (``TIQ``) + active INS, history as JSON.

    The active matricule is denormalised here so a search by traits is one indexed read.
    """

    __tablename__ = "ins_person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nom_naissance: Mapped[str] = mapped_column(String(100))
    liste_prenom: Mapped[str] = mapped_column(String(255))
    sexe: Mapped[str] = mapped_column(String(1))
    date_naissance: Mapped[str] = mapped_column(String(10))
    lieu_naissance: Mapped[str | None] = mapped_column(String(5))
    rang_naissance: Mapped[str | None] = mapped_column(String(2))
    ins_number: Mapped[str | None] = mapped_column(String(13))
    ins_key: Mapped[str | None] = mapped_column(String(2))
    ins_kind: Mapped[str | None] = mapped_column(String(3))
    ins_type: Mapped[str | None] = mapped_column(String(8))
    ins_date_deb: Mapped[str | None] = mapped_column(String(10))
    ins_date_fin: Mapped[str | None] = mapped_column(String(10))
    histo: Mapped[list] = mapped_column(JSON, default=list)
    fault: Mapped[str | None] = mapped_column(String(16))
    accept_invalid_key: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)

    __table_args__ = (
        Index("ix_ins_person_traits", "tenant", "nom_naissance", "date_naissance", "sexe"),
        Index("ix_ins_person_ins_number", "tenant", "ins_number"),
        # persons that simulate a fault answer it whatever the birth date: a small partial index
        # Partial (WHERE fault IS NOT NULL), created by the migration in plain SQL, the same on PostgreSQL
        # and SQLite: declaring ``postgresql_where`` here would load the PostgreSQL dialect (~0.1 s) on every
        # start of the embedded store.
        Index("ix_ins_person_fault", "nom_naissance"),
    )


class InsMatricule(TenantOwned, Base):
    """Every matricule (active and historical) of every person: the lookup of an INS, whatever its age."""

    __tablename__ = "ins_matricule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("ins_person.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(13), index=True)
    key: Mapped[str] = mapped_column(String(2))
    kind: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean)


class InsCard(TenantOwned, Base):
    """A simulated Carte Vitale: insured person (ouvrant droit) and beneficiaries (JSON, INSi names)."""

    __tablename__ = "ins_card"
    __table_args__ = (UniqueConstraint("tenant", "numero_serie"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    numero_serie: Mapped[str | None] = mapped_column(String(64))
    matricule_od: Mapped[str] = mapped_column(String(13), index=True)
    beneficiaires: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class InsIdam(TenantOwned, Base):
    """A software authorisation number (CNDA ``IDAM``) the simulated INSi accepts."""

    __tablename__ = "ins_idam"
    __table_args__ = (PrimaryKeyConstraint("tenant", "idam"),)

    idam: Mapped[str] = mapped_column(String(64))
    nom: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
