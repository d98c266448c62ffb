"""Receiving a message: its envelope, and its analysis (parsed, XDM read, MSSanté checks run) before it is
stored or refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.ins import service as ins_service
from app.mss import checks, citizen, mime, patients
from app.mss.exceptions import RefusedByCheck
from app.mss.mailboxes import PATIENT, get_mailbox
from app.mss.models import MssMailbox
from app.mss.parser import message_parser, parse_and_read_xdm
from app.mss.recipients import RecipientVerdict, check_recipient

if TYPE_CHECKING:
    from app.config import Settings


async def known_ins(session: AsyncSession, candidates: set[str]) -> set[str] | None:
    """Which of ``candidates`` the INS service knows (None when there are none to ask about)."""
    if not candidates:
        return None
    return await ins_service.known_ins(session, candidates)


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

    def facts(self, recipients: list[str], *, size: int | None = None) -> dict[str, Any]:
        """What the conformance report needs of a submitted message (the journal's facts; never its body):
        the recipients (SC.MSS/va1.19), the ``X-MSS-*`` headers (SC.MSS/CONF.14-.16, .21), the XDM patient ids
        (SC.INS/va1.53) and each applicable check's status, by its id in :mod:`app.mss.rules`; with ``size``
        (the message as stored, in bytes), the size and, when the message is accepted, the patient recipients
        Mon espace santé bounces with their reason (ENS MES v1.3: 25 MB to patients)."""
        parsed = self.parsed
        extra: dict[str, Any] = {}
        if size is not None:
            extra["size"] = size
            bounces = {v.address.lower(): reason.code for v in self.verdicts
                       if self.refused is None and (reason := mes_bounce(v, size)) is not None}
            if bounces:
                extra["mes_bounces"] = dict(list(bounces.items())[:20])
        return {
            **extra,
            "recipients": [r.lower() for r in recipients[:20]],
            "x_mss": {name: parsed.header(f"X-MSS-{name}") for name in ("INS", "CODECDA", "NIL", "MES")},
            "xdm": len(self.attachments),
            "xdm_patients": sorted({pid.raw for a in self.attachments if a.package is not None
                                    for pid in a.package.patient_ids})[:10],
            "checks": {f.rule: f.status for f in self.report.findings if f.status != "not_applicable"},
        }

    @cached_property
    def refused(self) -> RefusedByCheck | None:
        """The refusal of the first enforced check that failed, if any."""
        refusal = self.report.refusal
        return None if refusal is None else RefusedByCheck(*refusal)


def mes_bounce(verdict: RecipientVerdict, size: int) -> citizen.BounceReason | None:
    """Why Mon espace santé bounces a message of ``size`` bytes to this recipient (None: delivered, or not a
    patient address). What delivery does (:func:`app.mss.deliveries.plan_delivery`) and the journal records."""
    if verdict.role != "patient":
        return None
    return citizen.bounce_reason(address_valid=verdict.patient_address_valid,
                                 mailbox_exists=verdict.mailbox is not None,
                                 mailbox_open=bool(verdict.mailbox and verdict.mailbox.active), size=size)


async def analyse(session: AsyncSession, settings: Settings, raw: bytes, envelope: Envelope, *,
                  verdicts: list[RecipientVerdict] | None = None, sender: MssMailbox | None = None,
                  sender_known: bool = False,
                  ins_lookup: Callable[[set[str]], Awaitable[set[str] | None]] | None = None) -> Analysis:
    """Parse and check a message. The SMTP listener passes the verdicts of RCPT and the sender mailbox
    found at MAIL (``sender_known``), so DATA does not look them up again, and ``ins_lookup``: which of
    the XDM's INS the INS service knows, remembered within its connection like its other lookups (default:
    :func:`known_ins` on ``session``)."""
    parsed, attachments = await parse_and_read_xdm(raw, message_parser(settings))
    if verdicts is None:
        verdicts = [await check_recipient(session, addr) for addr, _ in envelope.recipients]
    recipients = [
        checks.Recipient(v.address, "PATIENT" if v.role == "patient" or (v.mailbox and v.mailbox.type == PATIENT)
                         else v.mailbox.type if v.mailbox else None,
                         v.mailbox.patient_ins if v.mailbox else None)
        for v in verdicts
    ]
    ins_ids = {pid.id for a in attachments if a.package for pid in a.package.patient_ids if pid.is_ins}
    known = await known_ins(session, ins_ids) if ins_lookup is None else await ins_lookup(ins_ids)
    if not sender_known:
        sender = await get_mailbox(session, envelope.mail_from) if envelope.mail_from else None
    sender_is_patient = sender is not None and sender.type == PATIENT
    verdict = None
    if sender is not None and sender_is_patient:
        # Mon espace santé's rules for what a patient sends (app/mss/citizen.py): within an open conversation,
        # or first to a pharmacy that recently dispensed to them.
        verdict = await patients.patient_send_verdict(session, settings, mailbox=sender, parsed=parsed,
                                                      recipients=[a for a, _ in envelope.recipients])
    report = checks.run_checks(
        parsed, recipients=recipients, xdm=attachments, known_ins=known, sender_is_patient=sender_is_patient,
        patient_verdict=verdict, extra_enforced=settings.mss_enforced_check_ids,
    )
    return Analysis(parsed, attachments, report, verdicts)
