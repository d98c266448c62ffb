"""Safe parsing of RFC 5322 / MIME messages with the stdlib ``email`` package.

The parser never raises on malformed input: header and body problems become *defects* (the stdlib's
own classes, e.g. ``InvalidBase64PaddingDefect``) recorded per part, so the checks can flag them. It
bounds what it walks (number of parts, nesting depth) so a hostile message cannot make it work forever.

The structure is parsed with the ``compat32`` policy: header values are kept as received (unfolded), and
the displayed ones decoded explicitly (RFC 2047); ``policy.default`` would rewrite them (quote a
``boundary``, drop what an address header cannot parse, decode 8-bit headers), changing what is stored
and shown. :func:`parse_message` parses the whole message; :mod:`app.mss.skeleton` gives the same tree
faster (its fast path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
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


def view(msg: Message) -> ParsedMessage:
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


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse ``raw`` with the stdlib (``BytesParser(policy=compat32)``) without raising; bounded in parts and
    depth (the plain path of :func:`app.mss.skeleton.parse_message`)."""
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception:  # pragma: no cover - the feed parser is designed not to raise
        msg = BytesParser(policy=policy.compat32).parsebytes(b"\r\n")
    return view(msg)


_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def valid_address(address: str) -> bool:
    """A plain ``local@domain`` (no source routes, no quoted local parts, no IP literals)."""
    return bool(_ADDRESS.match(address)) and len(address) <= 254 and ".." not in address
