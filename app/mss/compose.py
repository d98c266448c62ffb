"""Composing the RFC 5322 message a JSON send request describes (HTTP API): headers, body, attachments, and
the ``IHE_XDM.ZIP`` built around a CDA with its ``X-MSS-CODECDA`` and ``X-MSS-INS`` headers (SC.MSS/CONF.14,
.15). Pure; refusals are :class:`InvalidHeader`, :class:`InvalidAttachment` and :class:`InvalidCda`."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from app.mss import xdm
from app.mss.exceptions import InvalidAttachment, InvalidCda, InvalidHeader
from app.mss.models import MssMailbox
from app.mss.schemas import MessageCreate


def _set_header(msg: EmailMessage, name: str, value: str, field: str) -> None:
    """A header from the request; CR or LF in it (header injection, RFC 5322 §2.2) is the caller's error."""
    try:
        msg[name] = value
    except ValueError as exc:
        raise InvalidHeader(field, str(exc)) from None


def compose(mailbox: MssMailbox, body: MessageCreate) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((mailbox.display_name, mailbox.address))
    _set_header(msg, "To", ", ".join(body.to), "to")
    if body.cc:
        _set_header(msg, "Cc", ", ".join(body.cc), "cc")
    _set_header(msg, "Subject", body.subject, "subject")
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=mailbox.domain)
    if body.disposition_notification:
        msg["Disposition-Notification-To"] = mailbox.address
    attachments: list[tuple[str, str, bytes]] = []
    for att in body.attachments:
        try:
            content = base64.b64decode(att.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidAttachment(len(attachments)) from None
        attachments.append((att.filename, att.content_type, content))
    extra = dict(body.headers)
    if body.xdm_from_cda_base64:
        try:
            cda = base64.b64decode(body.xdm_from_cda_base64, validate=True)
            archive = xdm.build_xdm(cda)
        except (binascii.Error, ValueError) as exc:
            code = exc.code if isinstance(exc, xdm.XdmError) else "base64"
            raise InvalidCda(code, str(exc)) from None
        package = xdm.read_xdm(archive)
        extra.setdefault("X-MSS-CODECDA", ",".join(package.cda_codes))
        extra.setdefault("X-MSS-INS", "O" if package.has_qualified_ins else "N")
        attachments.append(("IHE_XDM.ZIP", "application/zip", archive))
    for key, value in extra.items():
        if key.lower() in ("from", "to", "cc", "bcc", "message-id", "date"):
            continue
        _set_header(msg, key, value, f"headers.{key}")
    msg.set_content(body.body or "")
    for filename, content_type, content in attachments:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(content, maintype=maintype or "application", subtype=subtype or "octet-stream",
                           filename=filename)
    return msg.as_bytes(policy=policy.SMTP)
