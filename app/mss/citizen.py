"""Mon espace santé's messaging rules (MSSanté « citoyenne »), pure: conversations of a patient mailbox, who may
start one, the 25 MB limit and the bounces Mon espace santé sends. The store side (gathering a patient's messages
and the pharmacies' dispensations) is :mod:`app.mss.patients`.

Sources (shared/reference/segur-requirements.md §4.5, rows 35 and 46, and the ENS row of §3):
- ENS Mon espace santé Messagerie v1.3 (CNAM, 28/06/2023; third-party summary id 59266919951): a conversation
  is closed by ``X-MSS-MES: FIN`` (preferred) or ``[FIN]`` in the subject; the patient replies to ``Reply-To``
  when it is set; messages to Mon espace santé are limited to 25 MB in total; Mon espace santé bounces
  ("Message non distribué") a message to a closed mailbox, an unknown patient, an invalid address, or one too
  large.
- esante.gouv.fr FAQ "Mon espace santé": only a professional may start a conversation; "un patient ne peut pas
  contacter un professionnel de santé s'il n'a pas déjà été contacté par celui-ci"; the professional ends it
  with a message whose subject is "[FIN]".
- Pharmacy exception (since May 2023; lepharmaciendefrance.fr, revuepharma.fr, smart-rx.com, ameli.fr): the
  patient may start a conversation with the **organisational** mailbox of a pharmacy where they had a
  prescription dispensed "au cours de l'année écoulée" (hence the 365-day default of
  ``SEGUR_MSS_PHARMACY_WINDOW_DAYS``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

MES_MAX_MESSAGE_BYTES = 25 * 1024 * 1024
"""ENS MES v1.3: 25 Mo per message, in total (headers, text and attachments as sent). Counted in MiB, as mail
servers count sizes (the ENS does not say which); requirement row 46."""
MES_FIN = "FIN"
"""The only value of ``X-MSS-MES`` (SC.MSS/CONF.21: exactly three capital letters; requirement row 35)."""
SUBJECT_FIN = "[FIN]"
PHARMACY_WINDOW_DAYS = 365
"""Default of ``SEGUR_MSS_PHARMACY_WINDOW_DAYS``: "au cours de l'année écoulée" (lepharmaciendefrance.fr)."""

_MSGID = re.compile(r"<[^<>\s]+>")


def message_ids(values: Iterable[str | None]) -> list[str]:
    """The ``<id>`` tokens of Message-ID, In-Reply-To and References values (RFC 5322 §3.6.4), in order."""
    found: list[str] = []
    for value in values:
        for token in _MSGID.findall(value or ""):
            if token not in found:
                found.append(token)
    return found


@dataclass(frozen=True)
class ThreadMessage:
    """What the conversation rules need of one message of a patient mailbox (received or sent)."""

    message_id: str | None
    parents: tuple[str, ...]
    """Its In-Reply-To and References ids."""
    subject: str
    mes: str | None
    """The ``X-MSS-MES`` value as written (None: absent)."""
    sender: str
    """The From address (lower case)."""
    reply_to: tuple[str, ...] = ()
    from_patient: bool = False
    at: datetime | None = None
    recipients: tuple[str, ...] = ()
    """Its To and Cc addresses (lower case)."""
    automatic: bool = False
    """Sent by a machine, not a person: ``Auto-Submitted`` other than ``no`` (RFC 3834), or written by Mon espace
    santé itself (its notifications). Nobody to reply to."""


def closing(message: ThreadMessage) -> str | None:
    """Why ``message`` closes its conversation, or None. Only the exact value ``FIN`` counts: ``X-MSS-MES: fin`` or
    ``: FIN.`` is not understood by Mon espace santé (row 35), so the conversation stays open."""
    if message.mes is not None and message.mes.strip() == MES_FIN:
        return "X-MSS-MES: FIN"
    if SUBJECT_FIN in (message.subject or ""):
        return f"{SUBJECT_FIN} dans l'objet"
    return None


def reply_addresses(message: ThreadMessage) -> list[str]:
    """Where the patient's reply goes: ``Reply-To`` when set (ENS MES v1.3), else the From address."""
    return list(message.reply_to) or [message.sender]


@dataclass
class Conversation:
    """One thread of a patient mailbox, oldest first."""

    messages: list[ThreadMessage]

    @property
    def opener(self) -> ThreadMessage:
        return self.messages[0]

    @property
    def opened_by_professional(self) -> bool:
        return not self.opener.from_patient

    @property
    def closed_by(self) -> tuple[ThreadMessage, str] | None:
        for message in self.messages:
            reason = closing(message)
            if reason is not None:
                return message, reason
        return None

    @property
    def participants(self) -> set[str]:
        """The addresses the patient may write to in it: every From and Reply-To of the other side, and whom the
        patient already wrote to in it (the pharmacy of a conversation the patient opened)."""
        found: set[str] = set()
        for message in self.messages:
            if message.from_patient:
                found.update(message.recipients)
            elif not message.automatic:
                found.add(message.sender)
                found.update(message.reply_to)
        return found

    def reply_to(self, message: ThreadMessage | None = None) -> list[str]:
        """Where a reply to ``message`` (default: the latest message of the other side, automatic ones apart)
        goes; none when nobody on the other side wrote (an automatic message)."""
        if message is None or message.from_patient or message.automatic:
            others = [m for m in self.messages if not m.from_patient and not m.automatic]
            if not others:
                return []
            message = others[-1]
        return reply_addresses(message)


def threads(messages: Sequence[ThreadMessage]) -> list[Conversation]:
    """Group messages into conversations: two messages are in one when one names the other in In-Reply-To or
    References (RFC 5322 §3.6.4), transitively; a message naming no known message starts its own. Each
    conversation is sorted by time (the order given when times are equal or missing)."""
    order = {id(m): i for i, m in enumerate(messages)}
    parent: dict[int, int] = {i: i for i in range(len(messages))}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_id: dict[str, int] = {}
    for i, message in enumerate(messages):
        if message.message_id:
            by_id.setdefault(message.message_id, i)
    for i, message in enumerate(messages):
        for ref in message.parents:
            j = by_id.get(ref)
            if j is not None:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[ThreadMessage]] = {}
    for i, message in enumerate(messages):
        groups.setdefault(find(i), []).append(message)
    conversations = []
    for root in sorted(groups):
        members = sorted(groups[root], key=lambda m: (m.at is None, m.at or datetime.min, order[id(m)]))
        conversations.append(Conversation(members))
    return conversations


def conversation_of(conversations: Sequence[Conversation], ids: Iterable[str]) -> Conversation | None:
    """The conversation holding one of the message ids ``ids`` (a reply's In-Reply-To/References)."""
    wanted = set(ids)
    for conversation in conversations:
        if any(m.message_id in wanted for m in conversation.messages if m.message_id):
            return conversation
    return None


# --- what a patient may send ------------------------------------------------------------------------------

class PatientRefusal(Enum):
    """Why Mon espace santé does not let a patient send a message (the check ids of :mod:`app.mss.rules`)."""

    CLOSED = "MSS.MES.REPLY"
    START = "MSS.MES.START"


@dataclass(frozen=True)
class PatientSendVerdict:
    refusal: PatientRefusal | None
    message: str
    """French then English, as the check report and the patient API show it."""

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def patient_may_send(*, conversation: Conversation | None, recipients: Sequence[str],
                     pharmacies: Iterable[str]) -> PatientSendVerdict:
    """May the patient send to ``recipients``: within ``conversation`` (the one the message replies to, if any),
    or starting one (only with the organisational mailbox of a pharmacy that recently dispensed to them,
    ``pharmacies``)?"""
    rcpts = [r.lower() for r in recipients]
    allowed_pharmacies = {p.lower() for p in pharmacies}
    if conversation is not None:
        closed = conversation.closed_by
        if closed is not None:
            return PatientSendVerdict(
                PatientRefusal.CLOSED,
                f"conversation close ({closed[1]}, message du {_when(closed[0])}) : la réponse n'est plus "
                f"possible — the conversation was closed ({_english(closed[1])}); the patient cannot reply",
            )
        participants = conversation.participants
        outside = [r for r in rcpts if r not in participants]
        if not outside:
            return PatientSendVerdict(None, "réponse dans une conversation ouverte — reply within an open "
                                            "conversation")
        if all(r in allowed_pharmacies for r in outside):
            return PatientSendVerdict(None, "message à une pharmacie qui a récemment délivré au patient — to a "
                                            "pharmacy that recently dispensed to the patient")
        return PatientSendVerdict(
            PatientRefusal.START,
            f"{', '.join(outside)} ne participe pas à cette conversation : un patient répond seulement aux "
            f"professionnels qui lui ont écrit — not a participant of this conversation",
        )
    outside = [r for r in rcpts if r not in allowed_pharmacies]
    if not outside:
        return PatientSendVerdict(None, "message à une pharmacie qui a récemment délivré au patient — to a "
                                        "pharmacy that recently dispensed to the patient")
    return PatientSendVerdict(
        PatientRefusal.START,
        f"un patient ne peut pas initier de conversation avec {', '.join(outside)} (seuls les professionnels le "
        f"peuvent, sauf vers la boîte organisationnelle d'une pharmacie qui lui a récemment délivré un "
        f"médicament) — a patient cannot start a conversation, except with the organisational mailbox of a "
        f"pharmacy that recently dispensed to them",
    )


def _when(message: ThreadMessage) -> str:
    return message.at.strftime("%d/%m/%Y %H:%M UTC") if message.at else "date inconnue"


def _english(reason: str) -> str:
    return reason.replace("dans l'objet", "in the subject")


def is_recent(dispensed_at: datetime, *, now: datetime, window_days: int) -> bool:
    """A dispensation counts when it happened within the last ``window_days`` days (not in the future)."""
    return now - timedelta(days=window_days) <= dispensed_at <= now


# --- the bounces Mon espace santé sends ("Message non distribué") -----------------------------------------

@dataclass(frozen=True)
class BounceReason:
    code: str
    status: str
    """RFC 3463 enhanced status code of the DSN."""
    french: str
    english: str


CLOSED = BounceReason("closed", "5.2.1", "la boîte aux lettres de ce patient est fermée (profil Mon espace santé "
                                         "clôturé)", "the patient's mailbox is closed (profile closed)")
UNKNOWN = BounceReason("unknown", "5.1.1", "ce patient est inconnu de Mon espace santé",
                       "no patient of Mon espace santé has this address")
INVALID = BounceReason("invalid", "5.1.3", "l'adresse est invalide : une adresse patient est <matricule INS>"
                                           "@patient.mssante.fr", "invalid address: a patient address is "
                                                                  "<matricule INS>@patient.mssante.fr")
SIZE = BounceReason("size", "5.3.4", "le message dépasse la taille maximale de 25 Mo acceptée par Mon espace "
                                     "santé", "the message is larger than the 25 MB Mon espace santé accepts")
BOUNCES = {b.code: b for b in (CLOSED, UNKNOWN, INVALID, SIZE)}


def bounce_reason(*, address_valid: bool, mailbox_exists: bool, mailbox_open: bool, size: int,
                  limit: int = MES_MAX_MESSAGE_BYTES) -> BounceReason | None:
    """Why Mon espace santé bounces a message to one patient address (None: delivered). The address is judged
    first, then the mailbox, then the size."""
    if not address_valid:
        return INVALID
    if not mailbox_exists:
        return UNKNOWN
    if not mailbox_open:
        return CLOSED
    if size > limit:
        return SIZE
    return None


def bounce_diagnostic(reason: BounceReason, address: str, *, size: int | None = None,
                      limit: int = MES_MAX_MESSAGE_BYTES) -> str:
    """The SMTP-style diagnostic of the DSN (``Diagnostic-Code``), French first like the rest of MES."""
    extra = f" ({size} octets, maximum {limit})" if reason is SIZE and size is not None else ""
    return f"550 {reason.status} <{address}>: Message non distribué : {reason.french}{extra} — {reason.english}"


BOUNCE_SUBJECT = "Message non distribué"
BOUNCE_FROM = "Mon espace santé <ne-pas-repondre@patient.mssante.fr>"
BOUNCE_REPORTING_MTA = "patient.mssante.fr"
"""Sandbox choices: the ENS summary gives the subject, not the sender address nor the reporting MTA of MES
bounces."""


@dataclass(frozen=True)
class BounceText:
    subject: str
    sender: str
    lines: list[str] = field(default_factory=list)


def bounce_text(failures: Sequence[tuple[str, BounceReason]], *, original_subject: str) -> BounceText:
    """The human-readable part of the "Message non distribué" mail Mon espace santé sends back."""
    lines = ["Votre message n'a pas pu être distribué dans Mon espace santé."]
    if original_subject:
        lines.append(f"Objet : {' '.join(original_subject.split())}")
    lines.append("")
    for address, reason in failures:
        lines.append(f"<{address}> : {reason.french}.")
    lines += ["", "Your message could not be delivered to Mon espace santé."]
    for address, reason in failures:
        lines.append(f"<{address}>: {reason.english}.")
    return BounceText(BOUNCE_SUBJECT + (f" : {' '.join(original_subject.split())}" if original_subject else ""),
                      BOUNCE_FROM, lines)
