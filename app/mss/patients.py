"""The store side of Mon espace santé's messaging rules (:mod:`app.mss.citizen`): a patient mailbox's messages
as conversations, the pharmacies' dispensations, and whether a patient may send a message (asked by
:func:`app.mss.analysis.analyse` for every message a patient mailbox sends, over SMTP or HTTP)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import getaddresses, parseaddr
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import as_utc, utcnow
from app.events import publish
from app.mss import addresses, citizen
from app.mss.exceptions import NotPharmacyMailbox, UnknownMailbox
from app.mss.mailboxes import PATIENT, TOPIC_LOOKUPS, fixture, get_mailbox
from app.mss.mime import ParsedMessage
from app.mss.models import MssDelivery, MssDispensation, MssMailbox, MssMessage

if TYPE_CHECKING:
    from app.config import Settings


async def patient_mailbox_of(session: AsyncSession, *, ins: str) -> MssMailbox | None:
    """The patient mailbox ``<INS>@patient.mssante.fr`` of ``ins`` (None: no such mailbox)."""
    mailbox = await get_mailbox(session, addresses.patient_address(ins, fixture("domains.json")["patient_domain"]))
    return mailbox if mailbox is not None and mailbox.type == PATIENT else None


# --- dispensations (the pharmacy exception) --------------------------------------------------------------

async def declare_dispensation(session: AsyncSession, *, pharmacy: str, ins: str,
                               dispensed_at: datetime | None = None) -> tuple[MssDispensation, MssMailbox]:
    """Record that the pharmacy of the organisational mailbox ``pharmacy`` dispensed to the patient ``ins``
    (default: now). :class:`UnknownMailbox` for an unknown pharmacy mailbox or a patient without a mailbox;
    :class:`NotPharmacyMailbox` when ``pharmacy`` is not an ORG mailbox."""
    mailbox = await get_mailbox(session, pharmacy)
    if mailbox is None:
        raise UnknownMailbox(pharmacy)
    if mailbox.type != "ORG":
        raise NotPharmacyMailbox(mailbox.address, mailbox.type)
    patient = await patient_mailbox_of(session, ins=ins)
    if patient is None:
        raise UnknownMailbox(addresses.patient_address(ins))
    row = MssDispensation(pharmacy_mailbox_id=mailbox.id, patient_ins=(patient.patient_ins or ins).upper(),
                          dispensed_at=as_utc(dispensed_at) if dispensed_at else utcnow())
    session.add(row)
    await session.flush()
    return row, mailbox


async def list_dispensations(session: AsyncSession, *, ins: str | None = None
                             ) -> list[tuple[MssDispensation, MssMailbox]]:
    """Dispensations, newest first, of one patient or of all."""
    query = (select(MssDispensation, MssMailbox).join(MssMailbox, MssMailbox.id == MssDispensation.pharmacy_mailbox_id)
             .order_by(MssDispensation.dispensed_at.desc(), MssDispensation.id.desc()))
    if ins is not None:
        query = query.where(func.upper(MssDispensation.patient_ins) == ins.upper())
    return [(d, m) for d, m in (await session.execute(query)).all()]


async def recent_pharmacies(session: AsyncSession, settings: Settings, *, ins: str,
                            now: datetime | None = None) -> list[tuple[MssMailbox, datetime]]:
    """The open organisational mailboxes of the pharmacies that dispensed to ``ins`` within
    ``SEGUR_MSS_PHARMACY_WINDOW_DAYS``, each with its latest dispensation, most recent first."""
    now = now or utcnow()
    found: dict[int, tuple[MssMailbox, datetime]] = {}
    for dispensation, mailbox in await list_dispensations(session, ins=ins):
        at = as_utc(dispensation.dispensed_at)
        if mailbox.active and mailbox.type == "ORG" and mailbox.id not in found and citizen.is_recent(
                at, now=now, window_days=settings.mss_pharmacy_window_days):
            found[mailbox.id] = (mailbox, at)
    return list(found.values())


# --- conversations ----------------------------------------------------------------------------------------

def _header_all(headers: Sequence[Any], name: str) -> list[str]:
    return [str(v) for k, v in headers if str(k).lower() == name.lower()]


def thread_message(row: MssMessage, *, patient: str) -> citizen.ThreadMessage:
    """The facts of a stored message the conversation rules read; ``patient`` is the patient mailbox address."""
    headers = row.headers or []
    sender = parseaddr(row.from_header or "")[1].lower() or (row.envelope_from or "").lower()
    mes = _header_all(headers, "X-MSS-MES")
    from_patient = (row.envelope_from or "").lower() == patient.lower()
    auto = [v.strip().lower() for v in _header_all(headers, "Auto-Submitted")]
    return citizen.ThreadMessage(
        message_id=row.message_id.strip() if row.message_id else None,
        parents=tuple(citizen.message_ids(_header_all(headers, "In-Reply-To") + _header_all(headers, "References"))),
        subject=row.subject or "",
        mes=mes[0] if mes else None,
        sender=sender,
        reply_to=tuple(a.lower() for _, a in getaddresses(_header_all(headers, "Reply-To")) if a),
        from_patient=from_patient,
        at=as_utc(row.received_at) if row.received_at else None,
        recipients=tuple(a.lower() for _, a in getaddresses(_header_all(headers, "To") + _header_all(headers, "Cc"))
                         if a),
        automatic=any(v and v != "no" for v in auto) or (row.transport == "mes" and not from_patient),
    )


async def patient_messages(session: AsyncSession, *,
                           mailbox: MssMailbox) -> list[tuple[MssMessage, MssDelivery | None]]:
    """Every message of a patient mailbox, oldest first: those delivered into it (with their delivery) and those
    it sent (delivery None)."""
    received = (await session.execute(
        select(MssMessage, MssDelivery).join(MssDelivery, MssDelivery.message_id == MssMessage.id)
        .where(MssDelivery.mailbox_id == mailbox.id, MssDelivery.status == "delivered", MssMessage.kind == "message")
    )).all()
    seen = {m.id for m, _ in received}
    sent = (await session.scalars(
        select(MssMessage).where(func.lower(MssMessage.envelope_from) == mailbox.address.lower(),
                                 MssMessage.kind == "message")
    )).all()
    rows: list[tuple[MssMessage, MssDelivery | None]] = [(m, d) for m, d in received]
    rows += [(m, None) for m in sent if m.id not in seen]
    rows.sort(key=lambda r: (as_utc(r[0].received_at), r[0].id))
    return rows


async def conversations(session: AsyncSession, *, mailbox: MssMailbox) -> list[citizen.Conversation]:
    """The conversations of a patient mailbox (:func:`app.mss.citizen.threads`)."""
    rows = await patient_messages(session, mailbox=mailbox)
    return citizen.threads([thread_message(m, patient=mailbox.address) for m, _ in rows])


async def patient_send_verdict(session: AsyncSession, settings: Settings, *, mailbox: MssMailbox,
                               parsed: ParsedMessage, recipients: Sequence[str]) -> citizen.PatientSendVerdict:
    """May the patient of ``mailbox`` send ``parsed`` to ``recipients``: a reply within an open conversation
    (its In-Reply-To/References name a message of it), or a first message to a pharmacy that recently dispensed
    to them (:func:`app.mss.citizen.patient_may_send`)."""
    ids = citizen.message_ids(parsed.header_all("In-Reply-To") + parsed.header_all("References"))
    conversation = citizen.conversation_of(await conversations(session, mailbox=mailbox), ids) if ids else None
    pharmacies = [m.address for m, _ in await recent_pharmacies(session, settings, ins=mailbox.patient_ins or "")] \
        if mailbox.patient_ins else []
    return citizen.patient_may_send(conversation=conversation, recipients=[addresses.normalise(r) for r in recipients],
                                    pharmacies=pharmacies)


async def set_patient_mailbox_open(session: AsyncSession, *, ins: str, open_: bool) -> MssMailbox | None:
    """Open or close the patient mailbox of ``ins`` (the patient closed or reopened their Mon espace santé
    profile): a closed one bounces what professionals send ("Message non distribué", :data:`citizen.CLOSED`).
    None when the patient has no mailbox."""
    mailbox = await patient_mailbox_of(session, ins=ins)
    if mailbox is not None and mailbox.active != open_:
        mailbox.active = open_
        await session.flush()
        await publish(session, TOPIC_LOOKUPS, mailbox.address)  # the SMTP connections forget their cached lookups
    return mailbox
