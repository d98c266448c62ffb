"""What the operator answers for a recipient (RFC 5321 §4.2 RCPT TO, RFC 3463 enhanced codes): inside
or outside the MSSanté trust space, a known mailbox; every patient address is taken (Mon espace santé bounces
afterwards, see :mod:`app.mss.citizen`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.mss import addresses, mime
from app.mss.exceptions import (
    BadRecipientAddress,
    RecipientOutsideTrustSpace,
    RecipientRefused,
    UnknownRecipient,
)
from app.mss.mailboxes import PATIENT, ensure_per_mailboxes
from app.mss.models import MssDomain, MssMailbox


@dataclass
class RecipientVerdict:
    """What the operator answers for one recipient: accepted (its mailbox and domain role), or ``refusal``."""

    address: str
    refusal: RecipientRefused | None = None
    mailbox: MssMailbox | None = None
    role: str | None = None  # local | patient | external
    patient_address_valid: bool = True
    """For the patient domain: the local part is shaped like a matricule INS."""

    @property
    def accepted(self) -> bool:
        return self.refusal is None

    @property
    def reply(self) -> str | None:
        """The refusal as MSSanté states it (None: accepted)."""
        return None if self.refusal is None else self.refusal.reply

    @property
    def rule(self) -> str | None:
        return None if self.refusal is None else self.refusal.rule


async def lookup(session: AsyncSession, address: str) -> tuple[MssDomain | None, MssMailbox | None]:
    """The domain of ``address`` (None: outside the trust space) and its mailbox, in one query."""
    addr = addresses.normalise(address)
    domain_name = addr.rsplit("@", 1)[-1]
    row = (await session.execute(
        select(MssDomain, MssMailbox)
        .outerjoin(MssMailbox, and_(MssMailbox.domain == MssDomain.name, func.lower(MssMailbox.address) == addr))
        .where(MssDomain.name == domain_name)
    )).first()
    return (row[0], row[1]) if row else (None, None)


async def check_recipient(session: AsyncSession, address: str) -> RecipientVerdict:
    """What the operator answers at RCPT TO (RFC 5321 §4.2, RFC 3463 enhanced codes)."""
    addr = addresses.normalise(address)
    if not mime.valid_address(addr):
        return RecipientVerdict(addr, BadRecipientAddress(address))
    local, domain_name = addr.rsplit("@", 1)
    domain, mailbox = await lookup(session, addr)
    if domain is None:
        return RecipientVerdict(addr, RecipientOutsideTrustSpace(address, domain_name))
    if domain.role == "external":
        return RecipientVerdict(addr, role="external")
    if domain.role == "patient":
        # Mon espace santé is another operator: it takes every address of its domain and then bounces ("Message
        # non distribué") an invalid address, an unknown patient, a closed mailbox or a message over 25 MB
        # (ENS MES v1.3; app/mss/citizen.py, app.mss.deliveries.plan_delivery).
        return RecipientVerdict(addr, mailbox=mailbox if mailbox is not None and mailbox.type == PATIENT else None,
                                role="patient", patient_address_valid=addresses.is_patient_local_part(local))
    role = domain.role
    if mailbox is None and role == "local" and await ensure_per_mailboxes(session):
        _, mailbox = await lookup(session, addr)
    if mailbox is None:
        return RecipientVerdict(addr, UnknownRecipient(address, patient=False))
    return RecipientVerdict(addr, mailbox=mailbox, role=role)
