"""The MSSanté domain's errors: what went wrong, the rule id that names it, the English text, the facts.

The domain raises these and never chooses a protocol's answer: each face maps them, the HTTP API to RFC 9457
problem documents (:mod:`app.mss.http.problems`), the SMTP listener to reply codes with RFC 3463 enhanced
status codes (:mod:`app.mss.smtp.replies`). A refused message carries ``reply``, the SMTP reply MSSanté
states the refusal with (the operator's own language, also written in DSNs and shown by the HTTP API as
``smtp_reply``).
"""

from __future__ import annotations

from typing import Any


class MssError(Exception):
    """A refusal of the MSSanté domain. ``rule``: the stable rule id (``MSS:...``); ``detail``: the text."""

    rule: str = "MSS:error"

    def __init__(self, detail: str, *, rule: str | None = None, **facts: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if rule is not None:
            self.rule = rule
        self.facts = facts


# --- mailboxes ------------------------------------------------------------------------------------

class UnknownMailbox(MssError):
    rule = "MSS:mailbox.unknown"

    def __init__(self, address: str) -> None:
        super().__init__(f"no mailbox {address} at this operator", address=address)


class NotMailboxOwner(MssError):
    """The professional may not use this mailbox (neither its PER holder nor one of its ``owners``)."""

    rule = "MSS:mailbox.owner"

    def __init__(self, subject: str, address: str) -> None:
        super().__init__(f"{subject} does not own {address}", subject=subject, address=address)


class MailboxExists(MssError):
    rule = "MSS:mailbox.exists"

    def __init__(self, address: str) -> None:
        super().__init__(f"mailbox {address} already exists", address=address)


class InvalidMailbox(MssError):
    """A mailbox the control API cannot create (its address, or a domain the sandbox does not run)."""

    rule = "MSS:mailbox.invalid"


class NotApplicativeMailbox(MssError):
    """Client certificates are for APP mailboxes (SC.MSS/CONF.12)."""

    rule = "MSS:certificate.type"

    def __init__(self, address: str, kind: str) -> None:
        super().__init__(f"{address} is a {kind} mailbox; client certificates are for APP mailboxes "
                         "(SC.MSS/CONF.12)", address=address, kind=kind)


class NotPharmacyMailbox(MssError):
    """A dispensation is declared by the organisational (ORG) mailbox of a pharmacy (Mon espace santé's pharmacy
    exception, segur-requirements.md §4.5)."""

    rule = "MSS:dispensation.mailbox"

    def __init__(self, address: str, kind: str) -> None:
        super().__init__(f"{address} is a {kind} mailbox; a patient may write first only to the organisational (ORG) "
                         "mailbox of a pharmacy", address=address, kind=kind)


# --- senders and recipients (SMTP MAIL FROM, RCPT TO) -----------------------------------------------

class SenderRefused(MssError):
    """A reverse-path the operator refuses at MAIL FROM (worded by :mod:`app.mss.smtp.replies`)."""

    def __init__(self, address: str, **facts: Any) -> None:
        super().__init__(f"sender {address} refused", address=address, **facts)
        self.address = address


class SenderOutsideTrustSpace(SenderRefused):
    rule = "MSS:trust-space.sender"


class AuthenticationRequired(SenderRefused):
    """A mailbox of this operator sends only once authenticated."""

    rule = "MSS:auth.required"


class UnknownSender(SenderRefused):
    rule = "MSS:sender.unknown"


class SenderNotOwned(SenderRefused):
    """The authenticated identity may not send from this mailbox (``by``: ``password`` or ``psc``)."""

    rule = "MSS:sender.owner"

    def __init__(self, address: str, *, by: str) -> None:
        super().__init__(address, by=by)
        self.by = by


class RecipientRefused(MssError):
    """A recipient the operator refuses at RCPT TO. ``reply`` is how MSSanté states it (RFC 5321 §4.2 with
    the RFC 3463 enhanced code): the SMTP answer, the diagnostic of a DSN, the HTTP API's ``reply``."""

    code = "550 5.1.1"

    def __init__(self, address: str, detail: str) -> None:
        super().__init__(detail, address=address)
        self.address = address

    @property
    def reply(self) -> str:
        return f"{self.code} <{self.address}>: {self.detail}"


class BadRecipientAddress(RecipientRefused):
    rule, code = "MSS:address.syntax", "553 5.1.3"

    def __init__(self, address: str) -> None:
        super().__init__(address, "bad recipient address syntax")


class RecipientOutsideTrustSpace(RecipientRefused):
    rule, code = "MSS:trust-space", "550 5.7.1"

    def __init__(self, address: str, domain: str) -> None:
        super().__init__(address, f"domain {domain} is outside the MSSanté trust space (not on the ANS list of "
                         "authorised domains); relay refused")


class NotPatientAddress(RecipientRefused):
    """On the patient domain, an address is the INS matricule (SC.MSS/va1.19)."""

    rule = "MSS:patient.address"

    def __init__(self, address: str, domain: str) -> None:
        super().__init__(address, f"a patient address is <matricule INS>@{domain} (15 characters, SC.MSS/va1.19)")


class UnknownRecipient(RecipientRefused):
    rule = "MSS:mailbox.unknown"

    def __init__(self, address: str, *, patient: bool) -> None:
        super().__init__(address, "no patient mailbox for this INS" if patient else "no such mailbox")


# --- messages -------------------------------------------------------------------------------------

class UnknownMessage(MssError):
    rule = "MSS:message.unknown"

    def __init__(self, uid: str, address: str) -> None:
        super().__init__(f"no message {uid} in {address}", uid=uid, address=address)


class UnknownPart(MssError):
    rule = "MSS:part.unknown"

    def __init__(self, uid: str, count: int) -> None:
        super().__init__(f"message {uid} has {count} parts", uid=uid, count=count)


class InvalidHeader(MssError):
    """A header of a message to compose holds CR or LF (header injection, RFC 5322 §2.2)."""

    rule = "MSS:header.invalid"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field)
        self.field = field


class InvalidAttachment(MssError):
    rule = "MSS:attachment.base64"

    def __init__(self, index: int) -> None:
        super().__init__(f"attachments[{index}].content_base64 is not base64", index=index)


class InvalidCda(MssError):
    """The CDA to wrap in an XDM is not base64 or cannot be wrapped (``code``: the XDM error code, or
    ``base64``)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"xdm_from_cda_base64: {reason}", rule=f"MSS:xdm.{code}", code=code)


class SenderNotMailbox(MssError):
    """A raw message whose ``From`` is not the mailbox that sends it."""

    rule = "MSS:sender.owner"

    def __init__(self, from_address: str, address: str) -> None:
        super().__init__(f"From <{from_address}> differs from {address}", from_address=from_address,
                         address=address)


class MessageRefused(MssError):
    """A message refused as a whole; ``reply`` is what the SMTP listener answers for the same refusal."""

    def __init__(self, detail: str, *, rule: str, reply: str) -> None:
        super().__init__(detail, rule=rule, reply=reply)
        self.reply = reply


class MessageTooLarge(MessageRefused):
    """Larger than ``SEGUR_MSS_MAX_MESSAGE_BYTES`` (RFC 1870 SIZE, ``552 5.3.4``)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of {size} bytes exceeds SEGUR_MSS_MAX_MESSAGE_BYTES ({limit})",
                         rule="MSS:size", reply="552 5.3.4")


class NoRecipient(MessageRefused):
    def __init__(self) -> None:
        super().__init__("no recipient", rule="MSS:recipients", reply="554 5.5.1")


class RecipientsRefused(MessageRefused):
    """Every recipient was refused (the rule and reply of the first one; the detail lists them all)."""


class RefusedByCheck(MessageRefused):
    """An enforced MSSanté check refused the message: ``check`` the :class:`app.mss.rules.Rule`, ``finding``
    what it found (its message may quote the message: a header, an XDM entry)."""

    def __init__(self, check: Any, finding: Any) -> None:
        super().__init__(f"{check.title} ({check.source}): {finding.message}", rule=f"MSS:{check.id}",
                         reply=check.reply)
        self.check, self.finding = check, finding


# --- folders and flags (IMAP, RFC 3501) -------------------------------------------------------------

class UnknownFolder(MssError):
    rule = "MSS:folder.unknown"

    def __init__(self, name: str) -> None:
        super().__init__(f"no folder {name!r} in this mailbox", name=name)
        self.name = name


class FolderExists(MssError):
    rule = "MSS:folder.exists"

    def __init__(self, name: str) -> None:
        super().__init__(f"folder {name!r} already exists", name=name)
        self.name = name


class InvalidFolderName(MssError):
    rule = "MSS:folder.name"

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"invalid folder name {name!r}: {reason}", name=name, reason=reason)
        self.name, self.reason = name, reason


class FolderNotDeletable(MssError):
    """INBOX and the standard folders (RFC 6154 special-use) stay."""

    rule = "MSS:folder.not-deletable"

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"folder {name!r} cannot be deleted: {reason}", name=name, reason=reason)
        self.name, self.reason = name, reason


class InvalidFlag(MssError):
    """A flag a client may not set (RFC 3501 §2.3.2): an unknown system flag, ``\\Recent``, or a keyword
    that is not an atom."""

    rule = "MSS:flag.invalid"

    def __init__(self, flag: str, reason: str) -> None:
        super().__init__(f"invalid flag {flag!r}: {reason}", flag=flag, reason=reason)
        self.flag, self.reason = flag, reason


class KeywordLimit(MssError):
    """A keyword longer than the store keeps, or more keywords on one message than it keeps: a limit of
    this server, not a syntax error (IMAP answers ``NO [LIMIT]``, RFC 5530 §3)."""

    rule = "MSS:flag.limit"

    def __init__(self, detail: str, *, flag: str | None = None) -> None:
        super().__init__(detail, flag=flag)
        self.flag = flag


# --- IHE XDM --------------------------------------------------------------------------------------

class XdmError(MssError, ValueError):
    """The archive is unsafe or unreadable. ``code`` is a stable id (``xdm.zip.bomb``, …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, rule=f"MSS:{code}")
        self.code = code
        self.message = message

    @property
    def unsafe(self) -> bool:
        """An attack (bomb, traversal, entities) rather than a broken archive."""
        return self.code in UNSAFE_CODES


UNSAFE_CODES = {
    "xdm.zip.bomb",
    "xdm.zip.entries",
    "xdm.zip.path",
    "xdm.zip.symlink",
    "xdm.zip.encrypted",
    "xdm.zip.duplicate",
    "xdm.xml.unsafe",
}
