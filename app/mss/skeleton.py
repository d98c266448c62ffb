"""The skeleton MIME parser: the stdlib's tree of a message without feeding its large bodies through the
line-by-line parser (a fast path, :class:`app.mss.parser.SkeletonParser`; the plain path is
:func:`app.mss.mime.parse_message`).

The stdlib parser reads a message line by line, which makes a 100 KB base64 attachment (1,900 lines)
cost about 1.5 ms. :func:`parse_structure` therefore hands it a *skeleton*: the message with each large
leaf body of a multipart replaced by a one-line token, then puts the bodies back into the tree. The
tree (headers, structure, preambles, payloads, defects) is the one the stdlib builds from the real
message; the substitution is only kept when that is certain, otherwise the real message is parsed (see
:func:`_elide` and :func:`_restore` for the conditions).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import Parser

from app.mss.mime import MAX_DEPTH, MAX_PARTS, ParsedMessage, view

_CONTENT_TYPE = re.compile(r"^content-type:[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", re.IGNORECASE | re.MULTILINE)
"""A Content-Type field and its folded continuation lines, valued as the compat32 policy stores it."""

ELIDE_MIN_CHARS = 2048
"""Leaf bodies shorter than this are left in the skeleton (substituting them would not pay)."""


def _elide(text: str) -> tuple[str, dict[str, tuple[str, tuple[str, ...]]]] | None:
    """The skeleton of ``text`` (a message decoded as the stdlib does, ASCII + surrogateescape) and, per
    token, the body it replaces and the boundaries of the multiparts around it; None when nothing is
    worth replacing.

    A leaf body is replaced only when it is inside multiparts, at least ``ELIDE_MIN_CHARS`` long, follows
    the blank line after its headers, ends at the CRLF before a boundary line, and holds no
    ``--<boundary>`` of any enclosing multipart (so none of its lines is one where the stdlib would stop
    reading it, whichever line breaks it has). The structure found here is only a guess: :func:`_restore`
    checks it against the tree the stdlib builds from the skeleton."""
    nonce = uuid.uuid4().hex
    pieces: list[str] = []
    bodies: dict[str, tuple[str, tuple[str, ...]]] = {}
    copied = 0
    budget = [MAX_PARTS]

    def walk(start: int, end: int, stack: tuple[str, ...]) -> None:
        nonlocal copied
        budget[0] -= 1
        if budget[0] < 0 or len(stack) > MAX_DEPTH:
            return
        if text.startswith("\r\n", start):
            header_end = body_start = start + 2
        else:
            blank = text.find("\r\n\r\n", start, end)
            if blank < 0:
                return
            header_end, body_start = blank + 2, blank + 4
        headers = Message()  # only its Content-Type matters here (the first one, as Message.get reads it)
        content_type = _CONTENT_TYPE.search(text, start, header_end)
        if content_type is not None:
            headers["Content-Type"] = content_type.group(1)
        maintype = headers.get_content_maintype()
        if maintype == "multipart":
            boundary = headers.get_boundary()
            if not boundary or headers.get_content_type() == "multipart/digest":
                return
            separator = "\r\n--" + boundary
            lines: list[tuple[int, int]] = []  # (start of the CRLF before the boundary line, end of that line)
            at = text.find(separator, body_start - 2, end)
            while at >= 0:
                line_end = text.find("\r\n", at + 2, end)
                if line_end < 0:
                    return
                rest = text[at + len(separator):line_end].rstrip(" \t")
                if rest not in ("", "--"):
                    return  # a line the stdlib may read either way: let it parse the real message
                lines.append((at, line_end))
                if rest == "--":
                    break
                at = text.find(separator, line_end, end)
            inner = (*stack, boundary)
            for (_, opened), (closed, _) in zip(lines, lines[1:], strict=False):
                walk(opened + 2, closed, inner)
            return
        if maintype == "message" or not stack or end - body_start < ELIDE_MIN_CHARS:
            return
        # No "--<boundary>" anywhere in the body, so none of its lines (however the stdlib splits them: at
        # CRLF, bare CR or bare LF) can end the part: the stdlib reads all of it as the payload.
        if any(text.find("--" + b, body_start, end) >= 0 for b in stack):
            return
        token = f"MSS-ELIDED-{nonce}-{len(bodies)}"
        pieces.append(text[copied:body_start])
        pieces.append(token)
        copied = end
        bodies[token] = (text[body_start:end], stack)

    walk(0, len(text), ())
    if not bodies:
        return None
    pieces.append(text[copied:])
    return "".join(pieces), bodies


def _restore(msg: Message, bodies: dict[str, tuple[str, tuple[str, ...]]]) -> bool:
    """Put the bodies back where the stdlib parsed the skeleton's tokens. True only when every token is
    the whole payload of one leaf whose ancestors are all multiparts with the boundaries ``_elide``
    assumed: the stdlib then reads the real body as that same payload (no line of it can end the part,
    nothing else in the tree depends on its content)."""
    found: list[tuple[Message, str]] = []

    def visit(node: Message, stack: tuple[str, ...], depth: int) -> bool:
        payload = node.get_payload()
        if isinstance(payload, list):
            if depth > MAX_DEPTH + 1:
                return False
            boundary = node.get_boundary() if node.get_content_maintype() == "multipart" else None
            inner = (*stack, boundary if boundary is not None else "\x00")
            return all(not isinstance(child, Message) or visit(child, inner, depth + 1) for child in payload)
        if isinstance(payload, str) and payload in bodies:
            body, expected = bodies[payload]
            if expected != stack:
                return False
            found.append((node, body))
        return True

    if not visit(msg, (), 0) or len(found) != len(bodies) or len({id(n) for n, _ in found}) != len(found):
        return False
    for node, body in found:
        node.set_payload(body)
    return True


@dataclass
class Plan:
    """A message decoded as the stdlib does (ASCII + surrogateescape) and, when large leaf bodies can be
    left out, its skeleton and the bodies to put back (:func:`_elide`)."""

    text: str
    skeleton: str | None = None
    bodies: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def line_chars(self) -> int:
        """What the stdlib parser reads line by line when the skeleton is kept (the whole message
        otherwise): its cost, and that of decoding the headers, which are all in it."""
        return len(self.skeleton if self.skeleton is not None else self.text)


def plan_structure(raw: bytes) -> Plan:
    text = raw.decode("ascii", "surrogateescape")  # what BytesParser does
    try:
        elided = _elide(text)
    except Exception:  # defensive: the plan is an optimisation, the stdlib parse is the reference
        elided = None
    return Plan(text) if elided is None else Plan(text, *elided)


def _structure(plan: Plan, max_chars: int | None) -> Message | None:
    """The stdlib's tree of ``plan.text``; None (nothing parsed beyond the skeleton) when that means
    reading more than ``max_chars`` line by line."""
    if max_chars is not None and plan.line_chars > max_chars:
        return None
    if plan.skeleton is not None:
        msg = Parser(policy=policy.compat32).parsestr(plan.skeleton)
        if _restore(msg, plan.bodies):
            return msg
        if max_chars is not None and len(plan.text) > max_chars:
            return None  # the skeleton was not kept: the real parse reads every line
    return Parser(policy=policy.compat32).parsestr(plan.text)


def parse_structure(raw: bytes) -> Message:
    """``BytesParser(policy=compat32).parsebytes(raw)``, the same tree, without feeding large leaf bodies
    through the line-by-line parser (module docstring)."""
    msg = _structure(plan_structure(raw), None)
    assert msg is not None
    return msg


def parse_message(raw: bytes, plan: Plan | None = None) -> ParsedMessage:
    """:func:`app.mss.mime.parse_message` through the skeleton (``plan``: its :func:`plan_structure`, if at
    hand): the same answer without reading the large bodies line by line."""
    try:
        msg = _structure(plan or plan_structure(raw), None)
    except Exception:  # pragma: no cover - the feed parser is designed not to raise
        msg = None
    return view(msg if msg is not None else Parser(policy=policy.compat32).parsestr("\r\n"))


def parse_message_within(plan: Plan, max_chars: int) -> ParsedMessage | None:
    """:func:`parse_message`, or None when the stdlib parser would read more than ``max_chars`` of the
    message line by line (what a caller on the event loop must not do: a crafted 500 KB message costs
    up to a second: thousands of parts, or of RFC 2047 words in a header)."""
    try:
        msg = _structure(plan, max_chars)
    except Exception:  # pragma: no cover - the feed parser is designed not to raise
        return None
    return None if msg is None else view(msg)
