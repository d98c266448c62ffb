"""The MSSanté operator's store operations: trust space, mailboxes, delivery, receipts.

The only module of the domain that touches the database. Functions take the session first and keyword
arguments; they ``flush()``, never commit (the caller owns the transaction: the HTTP request, or one
SMTP DATA transaction opened by :mod:`app.mss.smtp`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import getaddresses
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.events import publish
from app.mss import addresses, checks, mime, notifications, xdm
from app.mss.models import MssDelivery, MssDomain, MssFault, MssMailbox, MssMessage, MssTlsKey

if TYPE_CHECKING:
    from app.config import Settings

logger = logging.getLogger("segur.mss")

TOPIC_LOOKUPS = "mss.lookups"
"""Store event: a mailbox was created, or the scripted faults of a mailbox changed (key: its address).
The SMTP connections then forget the lookups they cached (:meth:`app.mss.smtp.MssSMTP.cached`)."""
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PATIENT = "PAT"


@cache
def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# --- passwords (SMTP AUTH PLAIN/LOGIN for quick tests) --------------------------------------------

def hash_password(password: str, *, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256((salt + password).encode()).hexdigest()
    return f"sha256${salt}${digest}"


def check_password(stored: str | None, password: str) -> bool:
    if not stored or stored.count("$") != 2:
        return False
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(stored, hash_password(password, salt=salt))


# --- seed -----------------------------------------------------------------------------------------

async def seed(session: AsyncSession, settings: Settings) -> None:
    """Domains and mailboxes from ``fixtures/`` plus a PER mailbox per PSC professional and a patient
    mailbox per INS identity. Idempotent (existing addresses are kept)."""
    domains_fx = fixture("domains.json")
    boxes_fx = fixture("mailboxes.json")
    existing_domains = set((await session.scalars(select(MssDomain.name))).all())
    for item in domains_fx["domains"]:
        if item["name"] not in existing_domains:
            session.add(MssDomain(name=item["name"], role=item["role"], label=item.get("label"),
                                  structures=list(item.get("structures", []))))
    await session.flush()
    taken = {a.lower() for a in (await session.scalars(select(MssMailbox.address))).all()}
    password = hash_password(boxes_fx["default_password"])
    rows: list[MssMailbox] = []

    def add(row: MssMailbox) -> None:
        if row.address.lower() not in taken:
            taken.add(row.address.lower())
            rows.append(row)

    for item in boxes_fx["mailboxes"]:
        add(MssMailbox(
            address=item["address"], domain=item["address"].split("@", 1)[1], type=item["type"],
            display_name=item["display_name"], owners=list(item.get("owners", [])),
            structure_id=item.get("structure_id"), service=item.get("service"),
            description=item.get("description"), password_hash=password, active=item.get("active", True),
        ))
    with_per = set((await session.scalars(
        select(MssMailbox.owner_subject).where(MssMailbox.type == "PER"))).all())
    for professional in await _professionals(session):
        if professional.subject_name_id not in with_per:
            add(per_mailbox(professional, taken, password))
    for identity in await _identities(session):
        add(patient_mailbox(identity, password))
    session.add_all(rows)
    await session.flush()


async def ensure_per_mailboxes(session: AsyncSession) -> int:
    """Give a PER mailbox to every PSC professional created since the seed (``POST
    /sandbox/v1/professionals`` makes a professional; DESIGN: it also gets a mailbox and an Annuaire
    entry). Returns how many were created; the caller's transaction keeps them."""
    with_per = set((await session.scalars(select(MssMailbox.owner_subject).where(MssMailbox.type == "PER"))).all())
    missing = [p for p in await _professionals(session) if p.subject_name_id not in with_per]
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


async def _professionals(session: AsyncSession) -> list[Any]:
    from app.psc.service import list_professionals

    return list(await list_professionals(session))


async def _identities(session: AsyncSession) -> list[Any]:
    try:
        from app.ins.service import list_identities
    except ImportError:  # the INS domain not installed yet: no patient mailboxes
        logger.warning("app.ins.service.list_identities unavailable: no patient mailboxes seeded")
        return []
    return [i for i in await list_identities(session) if getattr(i, "ins", None) and getattr(i, "active", True)]


async def known_ins(session: AsyncSession, candidates: set[str]) -> set[str] | None:
    """Which of ``candidates`` the INS service knows (None when the INS service is unavailable)."""
    if not candidates:
        return None
    try:
        from app.ins.service import known_ins as ins_known_ins
    except ImportError:
        return None
    return await ins_known_ins(session, candidates)


# --- lookups --------------------------------------------------------------------------------------

async def get_mailbox(session: AsyncSession, address: str) -> MssMailbox | None:
    return await session.scalar(
        select(MssMailbox).where(func.lower(MssMailbox.address) == addresses.normalise(address))
    )


async def get_domain(session: AsyncSession, name: str) -> MssDomain | None:
    return await session.get(MssDomain, name.lower())


async def mailboxes_of(session: AsyncSession, subject_name_id: str) -> list[MssMailbox]:
    """Mailboxes a professional may use: their PER mailbox and the CAB/ORG/APP ones listing them."""
    rows = (await session.scalars(select(MssMailbox).where(MssMailbox.type != PATIENT))).all()
    if not any(r.owner_subject == subject_name_id and r.type == "PER" for r in rows) and \
            await ensure_per_mailboxes(session):
        rows = (await session.scalars(select(MssMailbox).where(MssMailbox.type != PATIENT))).all()
    return [r for r in rows if r.owner_subject == subject_name_id or subject_name_id in (r.owners or [])]


def may_use(mailbox: MssMailbox, subject_name_id: str) -> bool:
    return mailbox.owner_subject == subject_name_id or subject_name_id in (mailbox.owners or [])


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


# --- receiving a message --------------------------------------------------------------------------

@dataclass
class Envelope:
    mail_from: str  # "" for the null reverse-path
    recipients: list[tuple[str, str | None]]  # (address, NOTIFY parameter)
    transport: str = "smtp"
    auth_identity: str | None = None
    envelope_id: str | None = None


@dataclass
class Analysis:
    parsed: mime.ParsedMessage
    attachments: list[checks.XdmAttachment]
    report: checks.CheckReport
    verdicts: list[RecipientVerdict] = field(default_factory=list)


INLINE_MESSAGE_BYTES = 512 * 1024
INLINE_LINE_CHARS = 32 * 1024
INLINE_INFLATED_BYTES = 1024 * 1024
INLINE_METADATA_BYTES = 64 * 1024


async def parse_and_read_xdm(raw: bytes) -> tuple[mime.ParsedMessage, list[checks.XdmAttachment]]:
    """Parse ``raw`` and read its XDM on the event loop when that work is small and bounded (a 150 KB
    message with a 100 KB XDM: about 1 ms; at most a few tens of ms for a crafted one), each in a worker
    thread otherwise (:func:`parse_message`, :func:`read_xdm_bounded`). Handing the work to a thread
    costs ~0.4 ms of CPU per message under load (GIL hand-offs between the loop and the worker)."""
    parsed = await parse_message(raw)
    return parsed, await read_xdm_bounded(parsed)


async def parse_message(raw: bytes) -> mime.ParsedMessage:
    """:func:`mime.parse_message` on the event loop when ``raw`` is at most ``INLINE_MESSAGE_BYTES`` and
    the stdlib parser reads at most ``INLINE_LINE_CHARS`` of it line by line (headers and small parts:
    large bodies are not read that way, :func:`mime.parse_message_within`), in a worker thread otherwise:
    500 KB of tiny parts, or of RFC 2047 words in a header, cost up to a second."""
    if len(raw) > INLINE_MESSAGE_BYTES:
        return await asyncio.to_thread(mime.parse_message, raw)
    plan = mime.plan_structure(raw)
    parsed = mime.parse_message_within(plan, INLINE_LINE_CHARS)
    if parsed is None:
        return await asyncio.to_thread(mime.parse_message, raw, plan)
    return parsed


async def read_xdm_bounded(parsed: mime.ParsedMessage) -> list[checks.XdmAttachment]:
    """:func:`checks.read_xdm_attachments` on the event loop when the archives' central directories
    announce at most ``INLINE_INFLATED_BYTES`` in all and ``INLINE_METADATA_BYTES`` of METADATA.XML (what
    bounds the reader's work: :func:`xdm.declared_sizes`), in a worker thread otherwise."""
    inflated = metadata = 0
    for part in parsed.xdm_parts:
        total, meta = xdm.declared_sizes(parsed.payload(part)) or (0, 0)
        inflated, metadata = inflated + total, metadata + meta
    if inflated > INLINE_INFLATED_BYTES or metadata > INLINE_METADATA_BYTES:
        return await asyncio.to_thread(checks.read_xdm_attachments, parsed)
    return checks.read_xdm_attachments(parsed)


async def analyse(session: AsyncSession, settings: Settings, raw: bytes, envelope: Envelope, *,
                  verdicts: list[RecipientVerdict] | None = None, sender: MssMailbox | None = None,
                  sender_known: bool = False) -> Analysis:
    """Parse and check a message. The SMTP listener passes the verdicts of RCPT and the sender mailbox
    found at MAIL (``sender_known``), so DATA does not look them up again."""
    parsed, attachments = await parse_and_read_xdm(raw)
    if verdicts is None:
        verdicts = [await check_recipient(session, addr) for addr, _ in envelope.recipients]
    recipients = [
        checks.Recipient(v.address, ("PATIENT" if v.mailbox.type == PATIENT else v.mailbox.type) if v.mailbox
                         else None,
                         v.mailbox.patient_ins if v.mailbox else None)
        for v in verdicts
    ]
    ins_ids = {pid.id for a in attachments if a.package for pid in a.package.patient_ids if pid.is_ins}
    known = await known_ins(session, ins_ids)
    if not sender_known:
        sender = await get_mailbox(session, envelope.mail_from) if envelope.mail_from else None
    sender_is_patient = sender is not None and sender.type == PATIENT
    closed = False
    if sender is not None and sender_is_patient:
        refs = parsed.header_all("In-Reply-To") + parsed.header_all("References")
        ids = {token for value in refs for token in value.split() if token.startswith("<")}
        if ids:
            closed = bool(await session.scalar(
                select(func.count(MssMessage.id))  # type: ignore[arg-type]
                .join(MssDelivery, MssDelivery.message_id == MssMessage.id)
                .where(MssMessage.message_id.in_(ids), MssMessage.conversation_closed.is_(True),
                       MssDelivery.mailbox_id == sender.id)  # type: ignore[arg-type]
            ))
    report = checks.run_checks(
        parsed, recipients=recipients, xdm=attachments, known_ins=known,
        replies_to_closed_conversation=closed, sender_is_patient=sender_is_patient,
        extra_enforced=settings.mss_enforced_check_ids,
    )
    return Analysis(parsed, attachments, report, verdicts)


def _clip(value: str | None, size: int) -> str | None:
    return None if value is None else value[:size]


@dataclass
class _Delivery:
    """What storing one message does: its row, one delivery row per recipient (``message_id`` added once
    the message row exists), and the notifications due (RFC 3461 NOTIFY; Return-Receipt-To)."""

    message: dict[str, Any]
    deliveries: list[dict[str, Any]]
    dsn: list[notifications.DsnRecipient]
    receipt_to: str | None
    receipt: list[notifications.DsnRecipient]

    @property
    def notifies(self) -> bool:
        return bool(self.dsn or self.receipt)


def _plan(raw: bytes, envelope: Envelope, analysis: Analysis) -> _Delivery:
    parsed = analysis.parsed
    outcomes: list[tuple[notifications.DsnRecipient, str | None]] = []
    deliveries: list[dict[str, Any]] = []
    now = utcnow()
    for (address, notify), verdict in zip(envelope.recipients, analysis.verdicts, strict=True):
        if verdict.role == "external":
            status, dsn = "relayed", notifications.DsnRecipient(address, "relayed", "2.0.0")
        elif verdict.mailbox is not None and not verdict.mailbox.active:
            status = "failed"
            dsn = notifications.DsnRecipient(address, "failed", "5.2.1",
                                             f"550 5.2.1 <{address}>: mailbox disabled (closed)")
        elif verdict.mailbox is not None:
            status, dsn = "delivered", notifications.DsnRecipient(address, "delivered", "2.0.0")
        else:
            status = "failed"
            dsn = notifications.DsnRecipient(address, "failed", "5.1.1", verdict.reply or "550 5.1.1 unknown")
        deliveries.append(_delivery_row(
            message_id=None, mailbox_id=verdict.mailbox.id if verdict.mailbox and status == "delivered"
            else None, recipient=address, status=status, notify=notify, at=now,
        ))
        outcomes.append((dsn, notify))
    wanted = [
        dsn for dsn, notify in outcomes
        if (dsn.action == "failed" and "NEVER" not in (notify or "FAILURE").upper()
            and "FAILURE" in (notify or "FAILURE").upper())
        or (dsn.action in ("delivered", "relayed") and "SUCCESS" in (notify or "").upper())
    ]
    # SC.MSS/va1.15: the REM names the (non-standard) Return-Receipt-To header for asking a delivery
    # notification; when present and no SMTP-level NOTIFY=SUCCESS already reported success, the delivered
    # recipients are reported to that address.
    receipt_to = [a for _, a in getaddresses(parsed.header_all("Return-Receipt-To")) if a]
    delivered = [dsn for dsn, notify in outcomes
                 if dsn.action in ("delivered", "relayed") and "SUCCESS" not in (notify or "").upper()]
    receipt = receipt_to[0].lower() if receipt_to and delivered and mime.valid_address(receipt_to[0].lower()) \
        else None
    return _Delivery(
        message=_message_row(raw, parsed, envelope, kind="message", report=analysis.report.to_dict(),
                             attachments=analysis.attachments),
        deliveries=deliveries, dsn=wanted if envelope.mail_from else [], receipt_to=receipt,
        receipt=delivered if receipt else [],
    )


async def store(
    session: AsyncSession, settings: Settings, raw: bytes, envelope: Envelope, analysis: Analysis
) -> StoredMessage:
    """Store one accepted message and deliver it to every recipient, in the caller's transaction
    (never half-stored), then the DSN(s) the envelope asked for (RFC 3461 NOTIFY)."""
    plan = _plan(raw, envelope, analysis)
    message = await _insert_message(session, plan.message)
    for row in plan.deliveries:
        row["message_id"] = message.id
    # One row per recipient, each pointing at the one stored message (the raw bytes are stored once).
    await session.execute(_INSERT_DELIVERY, plan.deliveries if len(plan.deliveries) > 1 else plan.deliveries[0])
    if plan.dsn:
        await send_dsn(session, settings, original=message, parsed=analysis.parsed, sender=envelope.mail_from,
                       recipients=plan.dsn, envelope_id=envelope.envelope_id)
    if plan.receipt_to:
        await send_dsn(session, settings, original=message, parsed=analysis.parsed, sender=plan.receipt_to,
                       recipients=plan.receipt, envelope_id=envelope.envelope_id)
    return message


async def store_at_once(session: AsyncSession, settings: Settings, raw: bytes, envelope: Envelope,
                        analysis: Analysis) -> StoredMessage | None:
    """:func:`store` as one statement (the message row and its delivery rows in a data-modifying CTE,
    PostgreSQL only), so that a session in autocommit mode stores it atomically without the BEGIN and
    COMMIT round trips. None, and nothing written, when notifications are due: those need :func:`store`
    in a transaction."""
    plan = _plan(raw, envelope, analysis)
    if plan.notifies:
        return None
    params = {f"m_{name}": value for name, value in plan.message.items()}
    for number, row in enumerate(plan.deliveries):
        params.update({f"d{number}_{name}": value for name, value in row.items() if name != "message_id"})
    result = await session.execute(_store_statement(len(plan.deliveries)), params)
    message_id = result.scalars().all()[0]  # one row per delivery, all with the message's id
    return StoredMessage(id=message_id, uid=plan.message["uid"], message_id=plan.message["message_id"],
                         received_at=plan.message["received_at"])


_DELIVERY_COLUMNS = ("mailbox_id", "recipient", "status", "notify", "seen", "seen_at", "mdn_id", "delivered_at")


@cache
def _store_statement(recipients: int) -> Any:
    """``WITH m AS (INSERT INTO mss_message ... RETURNING id) INSERT INTO mss_delivery ... SELECT m.id, ...
    FROM m [UNION ALL SELECT m.id, ... FROM m]... RETURNING message_id`` for this many recipients (at most
    100 per transaction: a few statements, built once)."""
    from sqlalchemy import bindparam, union_all

    messages, deliveries = MssMessage.__table__, MssDelivery.__table__
    inserted = insert(messages).values(  # type: ignore[arg-type]
        {c.name: bindparam(f"m_{c.name}", type_=c.type) for c in messages.columns if c.name != "id"}
    ).returning(messages.c.id).cte("m")
    rows = [select(inserted.c.id, *[bindparam(f"d{n}_{name}", type_=deliveries.c[name].type)
                                    for name in _DELIVERY_COLUMNS]) for n in range(recipients)]
    source = rows[0] if recipients == 1 else union_all(*rows)
    return (insert(deliveries).from_select(["message_id", *_DELIVERY_COLUMNS], source)  # type: ignore[arg-type]
            .returning(deliveries.c.message_id).add_cte(inserted))


_INSERT_MESSAGE = insert(MssMessage.__table__)  # type: ignore[arg-type]  # a Table, typed as FromClause
_INSERT_DELIVERY = insert(MssDelivery.__table__)  # type: ignore[arg-type]


def _message_row(raw: bytes, parsed: mime.ParsedMessage, envelope: Envelope, *, kind: str,
                 report: dict[str, Any], attachments: list[checks.XdmAttachment],
                 related_id: int | None = None) -> dict[str, Any]:
    """The column values of one ``mss_message`` row."""
    xdm_view = [
        {"part": a.part.index, "filename": a.part.filename,
         "package": a.package.to_dict() if a.package else None,
         "error": {"code": a.error.code, "message": a.error.message} if a.error else None}
        for a in attachments
    ]
    return dict(
        uid=uuid.uuid4().hex, kind=kind, related_id=related_id, transport=envelope.transport,
        envelope_from=envelope.mail_from, auth_identity=envelope.auth_identity,
        message_id=_clip(parsed.message_id, 998), in_reply_to=_clip(parsed.header("In-Reply-To"), 998),
        from_header=parsed.header("From"), subject=parsed.subject, date_header=_clip(parsed.header("Date"), 256),
        size=len(raw), raw=raw, headers=[[k, v] for k, v in parsed.headers],
        parts=[p.to_dict() for p in parsed.parts], xdm=xdm_view, report=report,
        has_xdm=bool(attachments), conversation_closed=(parsed.header("X-MSS-MES") or "").strip() == "FIN",
        received_at=utcnow(),
    )


def _delivery_row(*, message_id: int | None, mailbox_id: int | None, recipient: str, status: str, notify: str | None,
                  at: Any) -> dict[str, Any]:
    return dict(message_id=message_id, mailbox_id=mailbox_id, recipient=recipient, status=status, notify=notify,
                seen=False, seen_at=None, mdn_id=None, delivered_at=at)


@dataclass(frozen=True)
class StoredMessage:
    """What the writer of an ``mss_message`` row keeps of it."""

    id: int
    uid: str
    message_id: str | None
    received_at: datetime


async def _insert_message(session: AsyncSession, values: dict[str, Any]) -> StoredMessage:
    """Insert one message row with a Core statement (the ORM's unit of work costs more than the insert for
    a row written once and never updated here)."""
    result = await session.execute(_INSERT_MESSAGE, values)
    return StoredMessage(id=result.inserted_primary_key[0],  # type: ignore[attr-defined]  # a CursorResult
                         uid=values["uid"], message_id=values["message_id"],
                         received_at=values["received_at"])


async def _deliver_local(session: AsyncSession, settings: Settings, *, raw: bytes, kind: str, to: str,
                         mail_from: str, related_id: int, transport: str) -> StoredMessage:
    parsed = mime.parse_message(raw)
    envelope = Envelope(mail_from=mail_from, recipients=[(to, "NEVER")], transport=transport)
    row = await _insert_message(session, _message_row(raw, parsed, envelope, kind=kind, report={}, attachments=[],
                                                      related_id=related_id))
    mailbox = await get_mailbox(session, to)
    await session.execute(_INSERT_DELIVERY, _delivery_row(
        message_id=row.id, mailbox_id=mailbox.id if mailbox and mailbox.active else None, recipient=to,
        status="delivered" if mailbox and mailbox.active else "relayed", notify="NEVER", at=utcnow()))
    return row


async def send_dsn(session: AsyncSession, settings: Settings, *, original: StoredMessage,
                   parsed: mime.ParsedMessage, sender: str,
                   recipients: list[notifications.DsnRecipient], envelope_id: str | None = None) -> StoredMessage:
    raw = notifications.build_dsn(hostname=settings.mss_smtp_hostname, original_sender=sender,
                                  recipients=recipients, original=parsed, arrival=original.received_at,
                                  envelope_id=envelope_id)
    return await _deliver_local(session, settings, raw=raw, kind="dsn", to=sender, mail_from="",
                                related_id=original.id, transport="dsn")


# --- reading a mailbox ----------------------------------------------------------------------------

@dataclass
class MessageFilter:
    sender: str | None = None
    subject: str | None = None
    since: Any = None
    before: Any = None
    has_xdm: bool | None = None
    unread: bool | None = None
    kind: str | None = None
    limit: int = 50
    offset: int = 0


async def list_deliveries(session: AsyncSession, *, mailbox: MssMailbox,
                          flt: MessageFilter) -> tuple[int, list[tuple[MssDelivery, MssMessage]]]:
    stmt = (select(MssDelivery, MssMessage).join(MssMessage, MssMessage.id == MssDelivery.message_id)
            .where(MssDelivery.mailbox_id == mailbox.id))
    if flt.sender:
        like = f"%{flt.sender.lower()}%"
        stmt = stmt.where(or_(func.lower(MssMessage.envelope_from).like(like),
                              func.lower(MssMessage.from_header).like(like)))
    if flt.subject:
        stmt = stmt.where(func.lower(MssMessage.subject).like(f"%{flt.subject.lower()}%"))
    if flt.since is not None:
        stmt = stmt.where(MssMessage.received_at >= flt.since)
    if flt.before is not None:
        stmt = stmt.where(MssMessage.received_at < flt.before)
    if flt.has_xdm is not None:
        stmt = stmt.where(MssMessage.has_xdm.is_(flt.has_xdm))
    if flt.unread is not None:
        stmt = stmt.where(MssDelivery.seen.is_(not flt.unread))
    if flt.kind:
        stmt = stmt.where(MssMessage.kind == flt.kind)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = (await session.execute(
        stmt.order_by(MssMessage.received_at.desc(), MssMessage.id.desc()).limit(flt.limit).offset(flt.offset)
    )).all()
    return total, [(d, m) for d, m in rows]


async def get_delivery(
    session: AsyncSession, *, mailbox: MssMailbox, uid: str
) -> tuple[MssDelivery, MssMessage] | None:
    if uid == "latest":
        _, rows = await list_deliveries(session, mailbox=mailbox, flt=MessageFilter(limit=1))
        return rows[0] if rows else None
    row = (await session.execute(
        select(MssDelivery, MssMessage).join(MssMessage, MssMessage.id == MssDelivery.message_id)
        .where(MssDelivery.mailbox_id == mailbox.id, MssMessage.uid == uid)
    )).first()
    return (row[0], row[1]) if row else None


async def mark_read(session: AsyncSession, settings: Settings, *, mailbox: MssMailbox, delivery: MssDelivery,
                    message: MssMessage, disposition: str = "displayed") -> StoredMessage | None:
    """Flag as read; when the message asked for one (``Disposition-Notification-To``, RFC 8098 §2.1) and
    none was sent yet, send the MDN to that address. Returns the MDN, if one was sent."""
    first_time = not delivery.seen
    delivery.seen = True
    delivery.seen_at = delivery.seen_at or utcnow()
    mdn = None
    parsed = await parse_message(message.raw)
    dnt = parsed.header("Disposition-Notification-To")
    if dnt and delivery.mdn_id is None and (first_time or disposition != "displayed") and message.kind == "message":
        targets = [a for _, a in getaddresses([dnt]) if a]
        if targets:
            raw = notifications.build_mdn(hostname=settings.mss_smtp_hostname, recipient=mailbox.address,
                                          recipient_name=mailbox.display_name, notify_to=targets[0],
                                          original=parsed, disposition=disposition)
            mdn = await _deliver_local(session, settings, raw=raw, kind="mdn", to=targets[0],
                                       mail_from=mailbox.address, related_id=message.id, transport="mdn")
            delivery.mdn_id = mdn.id
    await session.flush()
    return mdn


async def delete_delivery(session: AsyncSession, *, delivery: MssDelivery) -> None:
    await session.delete(delivery)
    await session.flush()


# --- submission (HTTP API) ------------------------------------------------------------------------

class MessageRefused(Exception):
    """A message refused as a whole; ``reply`` is what SMTP would have answered."""

    def __init__(self, status: int, rule: str, reply: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.rule, self.reply, self.detail = status, rule, reply, detail


@dataclass
class Submission:
    message: StoredMessage
    verdicts: list[RecipientVerdict]
    report: checks.CheckReport


async def submit(session: AsyncSession, settings: Settings, *, raw: bytes, mail_from: str,
                 recipients: list[str], notify: str | None, transport: str = "api",
                 auth_identity: str | None = None) -> Submission:
    """What the SMTP listener does for one transaction, for the HTTP API: recipients outside the trust
    space or unknown are not delivered (a failure DSN goes to the sender, as from a submission server);
    an enforced check refuses the whole message."""
    if len(raw) > settings.mss_max_message_bytes:
        raise MessageRefused(413, "MSS:size", "552 5.3.4",
                             f"message of {len(raw)} bytes exceeds SEGUR_MSS_MAX_MESSAGE_BYTES "
                             f"({settings.mss_max_message_bytes})")
    unique = list(dict.fromkeys(addresses.normalise(r) for r in recipients if r.strip()))
    if not unique:
        raise MessageRefused(422, "MSS:recipients", "554 5.5.1", "no recipient")
    verdicts = [await check_recipient(session, r) for r in unique]
    accepted = [v for v in verdicts if v.accepted]
    if not accepted:
        first = verdicts[0]
        raise MessageRefused(422, first.rule or "MSS:recipients", (first.reply or "550")[:9],
                             "; ".join(v.reply or "" for v in verdicts))
    envelope = Envelope(mail_from=mail_from, recipients=[(v.address, notify) for v in accepted],
                        transport=transport, auth_identity=auth_identity)
    analysis = await analyse(session, settings, raw, envelope)
    refusal = analysis.report.refusal
    if refusal is not None:
        rule, finding = refusal
        raise MessageRefused(422, f"MSS:{rule.id}", rule.reply, f"{rule.title} ({rule.source}): {finding.message}")
    message = await store(session, settings, raw, envelope, analysis)
    refused = [v for v in verdicts if not v.accepted]
    if refused and mail_from and "NEVER" not in (notify or "FAILURE").upper():
        await send_dsn(session, settings, original=message, parsed=analysis.parsed, sender=mail_from, recipients=[
            notifications.DsnRecipient(v.address, "failed", (v.reply or "550 5.1.1")[4:9], v.reply) for v in refused
        ])
    return Submission(message, verdicts, analysis.report)


async def create_mailbox(session: AsyncSession, *, data: Any) -> MssMailbox:
    address = addresses.normalise(data.address)
    if not mime.valid_address(address):
        raise ValueError("address: not a valid mailbox address (RFC 5322 addr-spec)")
    domain = await get_domain(session, address.rsplit("@", 1)[1])
    if domain is None or domain.role != "local":
        raise ValueError(f"{address.rsplit('@', 1)[1]} is not a local domain of the sandbox operator")
    if await get_mailbox(session, address) is not None:
        raise LookupError(f"mailbox {address} already exists")
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


async def message_uid(session: AsyncSession, message_id: int | None) -> str | None:
    if message_id is None:
        return None
    return await session.scalar(select(MssMessage.uid).where(MssMessage.id == message_id))


async def shared_tls_key(sessionmaker: Any, generate: Any, name: str = "smtp") -> tuple[bytes, bytes]:
    """The generated SMTP test certificate, created once and shared by every worker through the store
    (a second worker racing the first one reads the winner's row)."""
    async with sessionmaker() as session:
        row = await session.get(MssTlsKey, name)
        if row is not None:
            return row.cert_pem.encode(), row.key_pem.encode()
    cert, key = await generate()
    try:
        async with sessionmaker() as session, session.begin():
            session.add(MssTlsKey(name=name, cert_pem=cert.decode(), key_pem=key.decode(), created_at=utcnow()))
        return cert, key
    except Exception:  # another worker inserted it first
        async with sessionmaker() as session:
            row = await session.get(MssTlsKey, name)
            if row is None:
                raise
            return row.cert_pem.encode(), row.key_pem.encode()


# --- fault injection ------------------------------------------------------------------------------

FAULT_STAGES = ("MAIL", "RCPT", "DATA")


async def add_fault(session: AsyncSession, *, address: str, stage: str, reply: str, count: int,
                    disconnect: bool) -> MssFault:
    row = MssFault(address=addresses.normalise(address), stage=stage, reply=reply, remaining=count,
                   disconnect=disconnect, created_at=utcnow())
    session.add(row)
    await session.flush()
    await publish(session, TOPIC_LOOKUPS, row.address)
    return row


async def list_faults(session: AsyncSession, *, address: str) -> list[MssFault]:
    return list((await session.scalars(
        select(MssFault).where(MssFault.address == addresses.normalise(address), MssFault.remaining > 0)
        .order_by(MssFault.id))).all())


async def clear_faults(session: AsyncSession, *, address: str) -> None:
    for row in await list_faults(session, address=address):
        await session.delete(row)
    await session.flush()
    await publish(session, TOPIC_LOOKUPS, addresses.normalise(address))


async def pending_stages(session: AsyncSession, address: str) -> set[str]:
    """The stages with a pending fault for ``address`` (cheap check, cached per SMTP connection)."""
    rows = await session.scalars(select(MssFault.stage).where(
        MssFault.address == addresses.normalise(address), MssFault.remaining > 0))
    return set(rows.all())


async def consume_fault(session: AsyncSession, *, addresses_: list[str], stage: str) -> MssFault | None:
    """Use one pending fault of ``stage`` for any of ``addresses_`` (oldest first)."""
    wanted = [addresses.normalise(a) for a in addresses_]
    row = await session.scalar(
        select(MssFault).where(MssFault.address.in_(wanted), MssFault.stage == stage, MssFault.remaining > 0)
        .order_by(MssFault.id).limit(1))
    if row is None:
        return None
    row.remaining -= 1
    await session.flush()
    return row
