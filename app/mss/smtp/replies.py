"""The SMTP face's error mapper: the domain's refusals (:mod:`app.mss.exceptions`) as SMTP replies with
their RFC 3463 enhanced status codes, and what the journal may say of each (never the message's content).
"""

from __future__ import annotations

import re

from app.mss.exceptions import (
    AuthenticationRequired,
    RecipientRefused,
    RefusedByCheck,
    SenderNotOwned,
    SenderOutsideTrustSpace,
    SenderRefused,
    UnknownSender,
)

PSC_SESSION_ENDED = "421 4.7.0 PSC access token no longer valid (expired or revoked): session ended, reconnect"
"""SC.MSS/CONF.10/.11: the PSC token behind the session is no longer valid; the operator ends the session."""
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
NOTHING_STORED = "451 4.3.0 Temporary failure while storing the message; nothing was stored, try again"

_REPLY_CODE = re.compile(r"[2-5][0-9]{2}")


def reply_code(reply: str | None) -> int | None:
    """The SMTP reply code at the start of ``reply`` (ASCII digits only), else None."""
    if not reply:
        return None
    head = reply[:3]
    return int(head) if _REPLY_CODE.fullmatch(head) else None


def sender_reply(exc: SenderRefused) -> str:
    """MAIL FROM refused (RFC 5321 §4.2; 530 RFC 4954 §6)."""
    address = exc.address
    if isinstance(exc, SenderOutsideTrustSpace):
        return (f"550 5.7.1 <{address}>: sender domain is outside the MSSanté trust space "
                "(not on the ANS list of authorised domains)")
    if isinstance(exc, AuthenticationRequired):
        return "530 5.7.0 Authentication required to send from a mailbox of this operator"
    if isinstance(exc, UnknownSender):
        return f"553 5.1.8 <{address}>: unknown sender mailbox"
    if isinstance(exc, SenderNotOwned) and exc.by == "psc":
        return f"553 5.7.1 <{address}>: the PSC professional does not own this mailbox"
    return f"553 5.7.1 <{address}>: sender address not owned by the authenticated user"


def recipient_reply(exc: RecipientRefused) -> str:
    """RCPT TO refused: the reply MSSanté states the refusal with (also a DSN's diagnostic)."""
    return exc.reply


def check_reply(exc: RefusedByCheck) -> tuple[str, str]:
    """DATA refused by an enforced check: the reply (one line, at most 500 characters) and the journal's
    detail, which names the rule only (the finding may quote the message: a header, an XDM entry name)."""
    check = exc.check
    reply = f"{check.reply} Message refused by rule {check.id} ({check.source}): {exc.finding.message}"
    return (reply.replace("\r", " ").replace("\n", " ")[:500],
            f"{check.reply[4:]} Message refused by rule {check.id} ({check.source})")


def auth_failure(error: str) -> str:
    """AUTH refused (RFC 4954 §6)."""
    return f"535 5.7.8 Authentication credentials invalid: {error}"


INJECTED = {
    # fault injection (/sandbox/v1/faults): an unavailable operator, per stage. RFC 5321 §3.8 / §4.2.3: 421 at
    # the greeting, the connection then closed; 451 "local error in processing" (RFC 3463 4.3.0) at MAIL and
    # DATA; 452 "insufficient system storage" (RFC 3463 4.3.1, mail system full) at RCPT
    "CONNECT": "421 4.3.2 Service not available, closing transmission channel (injected fault)",
    "MAIL": "451 4.3.0 Requested action aborted: local error in processing, try again later (injected fault)",
    "RCPT": "452 4.3.1 Requested action not taken: insufficient system storage, try again later (injected fault)",
    "DATA": "451 4.3.0 Requested action aborted: local error in processing, try again later (injected fault)",
}
