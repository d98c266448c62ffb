"""The HTTP faces' error mapper: the domain's errors (:mod:`app.mss.exceptions`) as RFC 9457 problem
documents, each naming its rule. Registered for :class:`MssError` through ``Domain.exception_handlers``; a
route that words a refusal its own way (the XDM helpers) calls :func:`problem` with its title."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import Response

from app.api.errors import ProblemError, problem_response
from app.api.journal import note_refusal
from app.mss import exceptions as errors

_SHAPES: tuple[tuple[type[errors.MssError], int, str, bool], ...] = (
    # (error, status, title, typed: the problem's ``type`` is the rule's URN rather than about:blank)
    (errors.UnknownMailbox, 404, "Unknown mailbox", True),
    (errors.NotMailboxOwner, 403, "Not your mailbox", True),
    (errors.UnknownMessage, 404, "Unknown message", True),
    (errors.UnknownPart, 404, "Unknown part", False),
    (errors.UnknownFolder, 404, "Unknown folder", True),
    (errors.InvalidFolderName, 422, "Invalid folder name", False),
    (errors.MailboxExists, 409, "Mailbox exists", False),
    (errors.InvalidMailbox, 422, "Invalid mailbox", False),
    (errors.NotApplicativeMailbox, 422, "Not an applicative mailbox", False),
    (errors.NotPharmacyMailbox, 422, "Not a pharmacy's organisational mailbox", True),
    (errors.InvalidHeader, 422, "Invalid header", False),
    (errors.InvalidAttachment, 422, "Invalid attachment", False),
    (errors.InvalidCda, 422, "Invalid CDA", False),
    (errors.SenderNotMailbox, 422, "From is not the mailbox", False),
    (errors.MessageTooLarge, 413, "Message refused", True),
    (errors.MessageRefused, 422, "Message refused", True),
    (errors.XdmError, 422, "Unreadable or unsafe XDM", False),
)


def problem_type(rule: str) -> str:
    return f"urn:segur-sandbox:mss:{rule.split(':', 1)[-1]}"


def problem(exc: errors.MssError, *, title: str | None = None) -> ProblemError:
    """The problem document of a domain error (status, title, rule, and the facts a client needs)."""
    status, default_title, typed = 422, "Refused", False
    for kind, status_, title_, typed_ in _SHAPES:
        if isinstance(exc, kind):
            status, default_title, typed = status_, title_, typed_
            break
    extra: dict[str, Any] = {}
    if isinstance(exc, errors.InvalidHeader):
        extra["field"] = exc.field
    elif isinstance(exc, errors.MessageRefused):
        extra["smtp_reply"] = exc.reply
    return ProblemError(status, title or default_title, exc.detail, rule=exc.rule,
                        type=problem_type(exc.rule) if typed else None, extra=extra)


async def handle(request: Request, exc: errors.MssError) -> Response:
    """``Domain.exception_handlers[MssError]``: the refusal noted for the journal, the problem rendered."""
    found = problem(exc)
    note_refusal(request, rule=found.rule, detail=found.detail, status=found.status)
    return problem_response(request, found.status, found.title, found.detail, type_=found.type, rule=found.rule,
                            extra=found.extra)


def journal_refusal(request: Request, exc: ProblemError, detail: str | None = None) -> None:
    """Note for the journal a refusal of a request *body*: its rule and a fixed text, never the problem's
    detail, which may quote the body (a file name, an XDM entry, a CDA fragment). The journal keeps the
    first detail noted, so the problem handler does not overwrite this one."""
    note_refusal(request, rule=exc.rule, detail=detail or f"{exc.title} (request body not journaled)",
                 status=exc.status)


def validation_detail(exc: ValidationError) -> str:
    """A pydantic error as ``field: rule (type)`` items, without the submitted values (``input_value``)."""
    items = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error.get("loc", ())) or "body"
        items.append(f"{where}: {error.get('msg', 'invalid')} ({error.get('type', 'invalid')})")
    return "; ".join(items)[:1000] or "invalid request body"
