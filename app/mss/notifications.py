"""Delivery status notifications (RFC 3464) and message disposition notifications (RFC 8098). Pure.

Both are ``multipart/report`` messages (RFC 6522): a human-readable part (French, then English), the
machine-readable report, and the headers of the original message (``text/rfc822-headers``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime

from app.mss.mime import ParsedMessage


@dataclass(frozen=True)
class DsnRecipient:
    address: str
    action: str  # "failed" | "delivered" | "relayed" | "delayed"
    status: str  # RFC 3463 enhanced code, e.g. "5.1.1"
    diagnostic: str | None = None  # "550 5.1.1 ..."
    bounce: str | None = None
    """A bounce Mon espace santé sends rather than the operator: the code of its
    :class:`app.mss.citizen.BounceReason`."""


def _headers_block(parsed: ParsedMessage | None) -> str:
    if parsed is None:
        return ""
    lines = []
    for key, value in parsed.headers:
        value = " ".join(value.split())
        lines.append(f"{key}: {value}")
    return "\r\n".join(lines) + "\r\n"


def _encoded(value: str) -> str:
    """A header value as RFC 2047 encoded-words when it is not ASCII (RFC 5322 headers are ASCII)."""
    return value if value.isascii() else Header(value, "utf-8").encode(maxlinelen=998)


def _message_id(hostname: str) -> str:
    return f"<{uuid.uuid4().hex}@{hostname}>"


def build_dsn(
    *,
    hostname: str,
    original_sender: str,
    recipients: list[DsnRecipient],
    original: ParsedMessage | None,
    arrival: datetime | None = None,
    envelope_id: str | None = None,
    from_header: str | None = None,
    subject: str | None = None,
    human_lines: list[str] | None = None,
    reporting_mta: str | None = None,
) -> bytes:
    """A DSN to ``original_sender`` (sent with the null reverse-path, RFC 3461 §6.2). ``from_header``,
    ``subject``, ``human_lines`` and ``reporting_mta`` replace the operator's own wording: the bounces Mon espace
    santé sends (:func:`app.mss.citizen.bounce_text`) are DSNs in MES's words."""
    now = datetime.now(UTC)
    failed = any(r.action == "failed" for r in recipients)
    kind = "Échec de remise / Failure" if failed else "Remise effectuée / Success"
    boundary = f"dsn-{uuid.uuid4().hex}"
    human: list[str] = []
    for r in recipients:
        if r.action == "failed":
            human.append(f"Le message n'a pas pu être remis à <{r.address}> : {r.diagnostic or r.status}.")
            human.append(f"The message could not be delivered to <{r.address}>: {r.diagnostic or r.status}.")
        elif r.action == "relayed":
            human.append(f"Le message a été relayé vers l'opérateur de <{r.address}>.")
            human.append(f"The message was relayed to the operator of <{r.address}>.")
        else:
            human.append(f"Le message a été remis dans la boîte <{r.address}>.")
            human.append(f"The message was delivered to the mailbox <{r.address}>.")
    if human_lines is not None:
        human = list(human_lines)
    per_message = [f"Reporting-MTA: dns; {reporting_mta or hostname}"]
    if envelope_id:
        per_message.append(f"Original-Envelope-Id: {envelope_id}")
    per_message.append(f"Arrival-Date: {format_datetime(arrival or now)}")
    blocks = ["\r\n".join(per_message)]
    for r in recipients:
        fields = [f"Final-Recipient: rfc822; {r.address}", f"Action: {r.action}", f"Status: {r.status}"]
        if r.diagnostic:
            fields.append(f"Diagnostic-Code: smtp; {r.diagnostic}")
        fields.append(f"Last-Attempt-Date: {format_datetime(now)}")
        blocks.append("\r\n".join(fields))
    original_subject = (original.subject if original else "") or ""
    if subject is None:
        subject = f"Notification d'état de remise ({kind})" + (
            f": {' '.join(original_subject.split())}" if original_subject else "")
    sender = from_header or f"Mail Delivery System <MAILER-DAEMON@{hostname}>"
    if not sender.isascii():
        name, _, address = sender.rpartition(" <")
        sender = f"{_encoded(name)} <{address}"
    text = (
        f"From: {sender}\r\n"
        f"To: <{original_sender}>\r\n"
        f"Subject: {_encoded(subject)}\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: {_message_id(hostname)}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        + "\r\n".join(human)
        + "\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        + "\r\n\r\n".join(blocks)
        + "\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        + _headers_block(original)
        + f"\r\n--{boundary}--\r\n"
    )
    return text.encode("utf-8")


MDN_DISPOSITIONS = {"displayed", "processed", "deleted", "dispatched"}


def build_mdn(
    *,
    hostname: str,
    recipient: str,
    recipient_name: str,
    notify_to: str,
    original: ParsedMessage,
    disposition: str = "displayed",
    manual: bool = True,
) -> bytes:
    """An RFC 8098 MDN from ``recipient`` to the ``Disposition-Notification-To`` address."""
    if disposition not in MDN_DISPOSITIONS:
        raise ValueError(f"unknown disposition type {disposition!r}")
    now = datetime.now(UTC)
    boundary = f"mdn-{uuid.uuid4().hex}"
    mode = "manual-action/MDN-sent-manually" if manual else "automatic-action/MDN-sent-automatically"
    subject = " ".join(original.subject.split())
    fields = [
        f"Reporting-UA: {hostname}; Segur Sandbox",
        f"Original-Recipient: rfc822; {recipient}",
        f"Final-Recipient: rfc822; {recipient}",
    ]
    if original.message_id:
        fields.append(f"Original-Message-ID: {original.message_id}")
    fields.append(f"Disposition: {mode}; {disposition}")
    human = {
        "displayed": ("a été affiché", "was displayed"),
        "processed": ("a été traité", "was processed"),
        "deleted": ("a été supprimé", "was deleted"),
        "dispatched": ("a été transmis", "was dispatched"),
    }[disposition]
    text = (
        f"From: {recipient_name} <{recipient}>\r\n"
        f"To: <{notify_to}>\r\n"
        f"Subject: Accusé de lecture / Read receipt: {subject}\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: {_message_id(hostname)}\r\n"
        + (f"In-Reply-To: {original.message_id}\r\nReferences: {original.message_id}\r\n"
           if original.message_id else "")
        + "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=disposition-notification; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        f"Le message « {subject} » envoyé à <{recipient}> {human[0]}.\r\n"
        f"The message \"{subject}\" sent to <{recipient}> {human[1]}.\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/disposition-notification\r\n\r\n"
        + "\r\n".join(fields)
        + "\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        + _headers_block(original)
        + f"\r\n--{boundary}--\r\n"
    )
    return text.encode("utf-8")
