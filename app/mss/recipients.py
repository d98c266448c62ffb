"""What the operator answers for a recipient (RFC 5321 §4.2 RCPT TO, RFC 3463 enhanced codes): inside
or outside the MSSanté trust space, a patient address's shape, a known mailbox."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.mss import addresses, mime
from app.mss.mailboxes import ensure_per_mailboxes
from app.mss.models import MssDomain, MssMailbox


@dataclass
class RecipientVerdict:
    address: str
    reply: str | None  # None: accepted
    rule: str | None = None
    mailbox: MssMailbox | None = None
    role: str | None = None  # local | patient | external

    @property
    def accepted(self) -> bool:
        return self.reply is None


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
        return RecipientVerdict(addr, f"553 5.1.3 <{address}>: bad recipient address syntax", "MSS:address.syntax")
    local, domain_name = addr.rsplit("@", 1)
    domain, mailbox = await lookup(session, addr)
    if domain is None:
        return RecipientVerdict(
            addr,
            f"550 5.7.1 <{address}>: domain {domain_name} is outside the MSSanté trust space "
            "(not on the ANS list of authorised domains); relay refused",
            "MSS:trust-space",
        )
    if domain.role == "external":
        return RecipientVerdict(addr, None, role="external")
    if domain.role == "patient" and not addresses.is_patient_local_part(local):
        return RecipientVerdict(
            addr,
            f"550 5.1.1 <{address}>: a patient address is <matricule INS>@{domain_name} "
            "(15 characters, SC.MSS/va1.19)",
            "MSS:patient.address",
        )
    role = domain.role
    if mailbox is None and role == "local" and await ensure_per_mailboxes(session):
        _, mailbox = await lookup(session, addr)
    if mailbox is None:
        what = "no patient mailbox for this INS" if role == "patient" else "no such mailbox"
        return RecipientVerdict(addr, f"550 5.1.1 <{address}>: {what}", "MSS:mailbox.unknown")
    return RecipientVerdict(addr, None, mailbox=mailbox, role=role)
