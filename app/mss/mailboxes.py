"""Mailboxes: who may use which, their lookups, the PER mailbox every PSC professional gets, the patient
mailbox of an INS identity, passwords for AUTH PLAIN/LOGIN, and mailboxes made through the control API."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.events import publish
from app.mss import addresses, mime
from app.mss.exceptions import (
    AuthenticationRequired,
    InvalidMailbox,
    MailboxExists,
    NotApplicativeMailbox,
    NotMailboxOwner,
    SenderNotOwned,
    SenderOutsideTrustSpace,
    UnknownMailbox,
    UnknownSender,
)
from app.mss.models import MssDomain, MssMailbox
from app.psc import service as psc_service
from app.tenancy import current_tenant

TOPIC_LOOKUPS = "mss.lookups"
"""Store event: a mailbox was created, or the scripted faults of a mailbox changed (key: its address).
The SMTP connections then forget the lookups they cached (:meth:`app.mss.smtp.MssSMTP.cached`)."""
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PATIENT = "PAT"


@cache
def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# Passwords, for SMTP AUTH PLAIN/LOGIN in quick tests.

def hash_password(password: str, *, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256((salt + password).encode()).hexdigest()
    return f"sha256${salt}${digest}"


def check_password(stored: str | None, password: str) -> bool:
    if not stored or stored.count("$") != 2:
        return False
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(stored, hash_password(password, salt=salt))


async def ensure_per_mailboxes(session: AsyncSession) -> int:
    """Give a PER mailbox to every PSC professional created since the seed (``POST
    /sandbox/v1/professionals`` makes a professional; DESIGN: it also gets a mailbox and an Annuaire
    entry). Returns how many were created; the caller's transaction keeps them."""
    with_per = set((await session.scalars(select(MssMailbox.owner_subject).where(MssMailbox.type == "PER"))).all())
    missing = [p for p in await professionals(session) if p.subject_name_id not in with_per]
    if not missing:
        return 0
    taken = {a.lower() for a in (await session.scalars(select(MssMailbox.address))).all()}
    password = hash_password(fixture("mailboxes.json")["default_password"])
    for professional in missing:
        row = per_mailbox(professional, taken, password)
        taken.add(row.address.lower())
        session.add(row)
    await session.flush()
    return len(missing)


def structure_domains() -> dict[str, str]:
    return {s: d["name"] for d in fixture("domains.json")["domains"] for s in d.get("structures", [])}


def per_mailbox(professional: Any, taken: set[str], password_hash: str | None) -> MssMailbox:
    """The PER mailbox of a professional (rules in :mod:`app.mss.addresses`)."""
    activities = list(getattr(professional, "activities", []) or [])
    domain = addresses.per_domain(activities, structure_domains(), fixture("domains.json")["default_per_domain"])
    local = addresses.personal_local_part(professional.given_name, professional.family_name)
    address = addresses.unique_address(local, domain, taken)
    structure = activities[0].get("identifiantTechniqueDeLaStructure") if activities else None
    return MssMailbox(
        address=address, domain=domain, type="PER",
        display_name=f"{professional.given_name} {professional.family_name.upper()}",
        owner_subject=professional.subject_name_id, owners=[], structure_id=structure or None,
        password_hash=password_hash, active=True,
    )


def patient_mailbox(identity: Any, password_hash: str | None) -> MssMailbox:
    domain = fixture("domains.json")["patient_domain"]
    given = (identity.first_given_name or "").title()
    return MssMailbox(
        address=addresses.patient_address(identity.ins, domain), domain=domain, type=PATIENT,
        display_name=f"{given} {identity.birth_name}".strip(), patient_ins=identity.ins.upper(),
        patient_oid=identity.oid, owners=[], password_hash=password_hash, active=True,
    )


async def professionals(session: AsyncSession) -> list[Any]:
    return list(await psc_service.list_professionals(session))


async def get_mailbox(session: AsyncSession, address: str) -> MssMailbox | None:
    return await session.scalar(
        select(MssMailbox).where(func.lower(MssMailbox.address) == addresses.normalise(address))
    )


async def get_domain(session: AsyncSession, name: str) -> MssDomain | None:
    return await session.get(MssDomain, (current_tenant(), name.lower()))


async def mailboxes_of(session: AsyncSession, subject_name_id: str) -> list[MssMailbox]:
    """Mailboxes a professional may use: their PER mailbox and the CAB/ORG/APP ones listing them."""
    rows = (await session.scalars(select(MssMailbox).where(MssMailbox.type != PATIENT))).all()
    if not any(r.owner_subject == subject_name_id and r.type == "PER" for r in rows) and \
            await ensure_per_mailboxes(session):
        rows = (await session.scalars(select(MssMailbox).where(MssMailbox.type != PATIENT))).all()
    return [r for r in rows if r.owner_subject == subject_name_id or subject_name_id in (r.owners or [])]


def may_use(mailbox: MssMailbox, subject_name_id: str) -> bool:
    return mailbox.owner_subject == subject_name_id or subject_name_id in (mailbox.owners or [])


def check_sender(address: str, domain: MssDomain | None, mailbox: MssMailbox | None, *, authenticated: bool,
                 login: str | None = None, professional: str | None = None) -> None:
    """Who may send from ``address`` (SMTP MAIL FROM): an address of another operator's authorised domain (the
    inter-operator link hands over mail for our mailboxes); a mailbox of this operator once authenticated, as
    that mailbox (``login``: password or client certificate) or as a professional who may use it
    (``professional``: a PSC token's SubjectNameID). Raises the kinds of
    :class:`app.mss.exceptions.SenderRefused` otherwise."""
    if domain is None:
        raise SenderOutsideTrustSpace(address)
    if domain.role == "external":
        return
    if not authenticated:
        raise AuthenticationRequired(address)
    if mailbox is None:
        raise UnknownSender(address)
    if login is not None and login != mailbox.address.lower():
        raise SenderNotOwned(address, by="password")
    if professional is not None and not may_use(mailbox, professional):
        raise SenderNotOwned(address, by="psc")


async def load_mailbox(session: AsyncSession, address: str) -> MssMailbox:
    """The mailbox of ``address``, or :class:`UnknownMailbox`."""
    mailbox = await get_mailbox(session, address)
    if mailbox is None:
        raise UnknownMailbox(address)
    return mailbox


async def load_owned_mailbox(session: AsyncSession, address: str, subject_name_id: str) -> MssMailbox:
    """The mailbox of ``address`` when the professional may use it: :class:`UnknownMailbox`, or
    :class:`NotMailboxOwner`."""
    mailbox = await load_mailbox(session, address)
    if not may_use(mailbox, subject_name_id):
        raise NotMailboxOwner(subject_name_id, mailbox.address)
    return mailbox


def require_applicative(mailbox: MssMailbox) -> None:
    """Client certificates are for APP mailboxes (SC.MSS/CONF.12): :class:`NotApplicativeMailbox` otherwise."""
    if mailbox.type != "APP":
        raise NotApplicativeMailbox(mailbox.address, mailbox.type)


async def create_mailbox(session: AsyncSession, *, data: Any) -> MssMailbox:
    address = addresses.normalise(data.address)
    if not mime.valid_address(address):
        raise InvalidMailbox("address: not a valid mailbox address (RFC 5322 addr-spec)")
    domain = await get_domain(session, address.rsplit("@", 1)[1])
    if domain is None or domain.role != "local":
        raise InvalidMailbox(f"{address.rsplit('@', 1)[1]} is not a local domain of the sandbox operator")
    if await get_mailbox(session, address) is not None:
        raise MailboxExists(address)
    row = MssMailbox(
        address=address, domain=domain.name, type=data.type, display_name=data.display_name,
        owner_subject=data.owner_subject, owners=list(data.owners), structure_id=data.structure_id,
        service=data.service, description=data.description,
        password_hash=hash_password(data.password or fixture("mailboxes.json")["default_password"]),
        active=data.active,
    )
    session.add(row)
    await session.flush()
    await publish(session, TOPIC_LOOKUPS, address)
    return row


async def list_mailboxes(session: AsyncSession) -> list[MssMailbox]:
    return list((await session.scalars(select(MssMailbox).order_by(MssMailbox.type, MssMailbox.address))).all())
