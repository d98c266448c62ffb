"""Safe parsing of RFC 5322 / MIME messages with the stdlib ``email`` package.

The parser never raises on malformed input: header and body problems become *defects* (the stdlib's
own classes, e.g. ``InvalidBase64PaddingDefect``) recorded per part, so the checks can flag them. It
bounds what it walks (number of parts, nesting depth) so a hostile message cannot make it work forever.

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
from email.header import decode_header, make_header
from email.message import Message
from email.parser import Parser
from email.utils import getaddresses, parseaddr

MAX_PARTS = 256
MAX_DEPTH = 16
XDM_FILENAME = "IHE_XDM.ZIP"
ZIP_TYPES = {
    "application/zip",
    "application/x-zip-compressed",
    "application/x-zip",
    "application/octet-stream",
}


@dataclass
class Part:
    index: int
    content_type: str
    filename: str | None
    disposition: str | None
    charset: str | None
    transfer_encoding: str | None
    size: int
    defects: list[str] = field(default_factory=list)
    is_attachment: bool = False

    @property
    def is_xdm(self) -> bool:
        """MSSanté: the XDM travels as an attachment named ``IHE_XDM.ZIP`` (Ref #2 §3.1, mss.md §4)."""
        return bool(self.filename and self.filename.strip().upper() == XDM_FILENAME)

    @property
    def looks_like_zip(self) -> bool:
        name = (self.filename or "").lower()
        return name.endswith(".zip") or self.content_type in ZIP_TYPES - {"application/octet-stream"}

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "content_type": self.content_type,
            "filename": self.filename,
            "disposition": self.disposition,
            "charset": self.charset,
            "transfer_encoding": self.transfer_encoding,
            "size": self.size,
            "is_attachment": self.is_attachment,
            "is_xdm": self.is_xdm,
            "defects": self.defects,
        }


@dataclass
class ParsedMessage:
    message: Message
    headers: list[tuple[str, str]]
    parts: list[Part]
    payloads: list[bytes]
    defects: list[str]
    truncated: bool = False
    _by_name: dict[str, list[str]] | None = field(default=None, init=False, repr=False, compare=False)

    def _index(self) -> dict[str, list[str]]:
        """Header values by lower-cased name, in order (built once: the checks ask for ~16 headers)."""
        index = self._by_name
        if index is None:
            index = {}
            for key, value in self.headers:
                index.setdefault(key.lower(), []).append(value)
            self._by_name = index
        return index

    def header(self, name: str) -> str | None:
        values = self._index().get(name.lower())
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return list(self._index().get(name.lower(), ()))

    @property
    def subject(self) -> str:
        return self.header("Subject") or ""

    @property
    def message_id(self) -> str | None:
        return self.header("Message-ID")

    @property
    def from_address(self) -> tuple[str, str]:
        """(display name, address) of the first ``From``."""
        return parseaddr(self.header("From") or "")

    def addresses(self, *names: str) -> list[str]:
        values: list[str] = []
        for name in names:
            values.extend(self.header_all(name))
        return [addr.lower() for _, addr in getaddresses(values) if addr]

    @property
    def xdm_parts(self) -> list[Part]:
        return [p for p in self.parts if p.is_xdm]

    def payload(self, part: Part) -> bytes:
        return self.payloads[part.index]

    @property
    def text_body(self) -> str | None:
        for part in self.parts:
            if part.content_type == "text/plain" and not part.is_attachment:
                raw = self.payloads[part.index]
                try:
                    return raw.decode(part.charset or "utf-8", errors="replace")
                except LookupError:
                    return raw.decode("utf-8", errors="replace")
        return None


def _defect_names(obj: object) -> list[str]:
    return [type(d).__name__ for d in getattr(obj, "defects", [])]


_DECODED = {"subject", "from", "to", "cc", "bcc", "reply-to", "sender", "disposition-notification-to",
            "return-receipt-to", "comments", "keywords"}


def _header_text(key: str, raw_value: str) -> str:
    """Unfold a header (RFC 5322 §2.2.3) and decode RFC 2047 encoded words where they are displayed."""
    value = " ".join(str(raw_value).split())
    if key.lower() in _DECODED and "=?" in value:
        try:
            return str(make_header(decode_header(value)))
        except Exception:  # malformed encoded word: keep the raw text (flagged by the defects)
            return value
    return value


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
    """Parse ``raw`` (``plan``: its :func:`plan_structure`, if at hand) without raising; bounded in parts
    and depth.

    The structure is parsed with the ``compat32`` policy (half the cost of ``policy.default`` on a
    100 KB message, which matters at hundreds of messages per second); displayed headers are decoded
    explicitly (RFC 2047) and defects are recorded the same way."""
    try:
        msg = _structure(plan or plan_structure(raw), None)
    except Exception:  # pragma: no cover - the feed parser is designed not to raise
        msg = None
    return _view(msg if msg is not None else Parser(policy=policy.compat32).parsestr("\r\n"))


def parse_message_within(plan: Plan, max_chars: int) -> ParsedMessage | None:
    """:func:`parse_message`, or None when the stdlib parser would read more than ``max_chars`` of the
    message line by line (what a caller on the event loop must not do: a crafted 500 KB message costs
    up to a second: thousands of parts, or of RFC 2047 words in a header)."""
    try:
        msg = _structure(plan, max_chars)
    except Exception:  # pragma: no cover - the feed parser is designed not to raise
        return None
    return None if msg is None else _view(msg)


def _view(msg: Message) -> ParsedMessage:
    headers: list[tuple[str, str]] = [(key, _header_text(key, value)) for key, value in msg.items()]
    defects = _defect_names(msg)
    parts: list[Part] = []
    payloads: list[bytes] = []
    truncated = False

    def walk(node: Message, depth: int) -> None:
        nonlocal truncated
        if len(parts) >= MAX_PARTS or depth > MAX_DEPTH:
            truncated = True
            return
        if node.is_multipart():
            children = node.get_payload()
            for child in children if isinstance(children, list) else []:
                if isinstance(child, Message):
                    walk(child, depth + 1)
            return
        part_defects = _defect_names(node) if node is not msg else []
        try:
            content_type = node.get_content_type()
        except Exception:
            content_type = "application/octet-stream"
            part_defects.append("InvalidContentType")
        try:
            filename = node.get_filename()
        except Exception:
            filename = None
            part_defects.append("InvalidFilename")
        try:
            disposition = node.get_content_disposition()
        except Exception:
            disposition = None
        try:
            payload = node.get_payload(decode=True)
        except Exception:
            payload = None
            part_defects.append("UndecodablePayload")
        if not isinstance(payload, bytes):  # decode=True gives bytes (or None for a multipart)
            payload = payload.encode() if isinstance(payload, str) else b""
        # Payload decoding records its defects (e.g. InvalidBase64CharactersDefect) on the node.
        for name in _defect_names(node):
            if name not in part_defects:
                part_defects.append(name)
        cte = node.get("Content-Transfer-Encoding")
        parts.append(
            Part(
                index=len(parts),
                content_type=content_type,
                filename=filename,
                disposition=disposition,
                charset=node.get_content_charset(),
                transfer_encoding=str(cte).strip().lower() if cte else None,
                size=len(payload),
                defects=part_defects,
                is_attachment=disposition == "attachment" or bool(filename),
            )
        )
        payloads.append(payload)

    try:
        walk(msg, 0)
    except Exception as exc:  # defensive: never let a hostile structure crash the session
        defects.append(f"ParseError:{type(exc).__name__}")
    for part in parts:
        if part.index == 0 and not msg.is_multipart():
            part.defects = [d for d in part.defects if d not in defects] or part.defects
    return ParsedMessage(
        message=msg, headers=headers, parts=parts, payloads=payloads, defects=defects, truncated=truncated
    )


_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def valid_address(address: str) -> bool:
    """A plain ``local@domain`` (no source routes, no quoted local parts, no IP literals)."""
    return bool(_ADDRESS.match(address)) and len(address) <= 254 and ".." not in address
