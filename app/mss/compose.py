"""Composing the RFC 5322 message a JSON send request describes (HTTP API): headers, body, attachments, and
the ``IHE_XDM.ZIP`` built around a CDA with its ``X-MSS-CODECDA`` and ``X-MSS-INS`` headers (SC.MSS/CONF.14,
.15). Pure; refusals are :class:`InvalidHeader`, :class:`InvalidAttachment` and :class:`InvalidCda`."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from email import errors, policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from app.mss import xdm
from app.mss.exceptions import InvalidAttachment, InvalidCda, InvalidHeader
from app.mss.models import MssMailbox
from app.mss.schemas import MessageCreate


def _set_header(msg: EmailMessage, name: str, value: str, field: str) -> None:
    """A header from the request; CR or LF in it (header injection, RFC 5322 §2.2), or an address list the
    parser cannot read (``"a, b:"`` opens a group it never closes), is the caller's error."""
    try:
        msg[name] = value
    except (ValueError, errors.HeaderParseError) as exc:
        raise InvalidHeader(field, str(exc)) from None


# One address of ``to``/``cc``: an addr-spec (RFC 5322 §3.4.1) with no display name, group or comment; anything
# else reaches the stdlib's header parser, which crashes on some inputs instead of refusing them.
_ADDR_SPEC = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")


def _address_list(msg: EmailMessage, name: str, addresses: list[str], field: str) -> None:
    for address in addresses:
        if not _ADDR_SPEC.fullmatch(address):
            raise InvalidHeader(field, f"{address!r} is not an e-mail address (local-part@domain)")
    _set_header(msg, name, ", ".join(addresses), field)


def compose(mailbox: MssMailbox, body: MessageCreate) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((mailbox.display_name, mailbox.address))
    _address_list(msg, "To", body.to, "to")
    if body.cc:
        _address_list(msg, "Cc", body.cc, "cc")
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
