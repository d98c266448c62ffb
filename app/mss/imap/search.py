"""SEARCH (RFC 3501 §6.4.4): the search keys as a tree, and whether one message matches them.

String keys match case-insensitively as substrings (§6.4.4: "case-insensitive substring") of the header
values decoded from RFC 2047 and of the body text decoded from its transfer encoding and charset. Only
the text parts (and the headers of encapsulated messages) are searched by BODY and TEXT: attachments such
as the ``IHE_XDM.ZIP`` are binary. Dates disregard time and timezone: the internal date's calendar day (in
UTC, as stored), the ``Date:`` header's day as written.
"""

from __future__ import annotations

import binascii
import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime

from app.mss.imap.fetch import Entity, MessageView, header_values, parse_structure
from app.mss.imap.sequence import MAX_NUMBER, Members, is_sequence_set, parse_sequence_set
from app.mss.imap.wire import MAX_NESTING, Atom, ImapSyntaxError, Token, parse_date

SUPPORTED_CHARSETS = ("US-ASCII", "UTF-8")


class UnsupportedCharset(ImapSyntaxError):
    """A CHARSET the server does not search in: the answer is ``NO [BADCHARSET (US-ASCII UTF-8)]``
    (RFC 3501 §6.4.4, §7.1), not BAD; catch it before :class:`ImapSyntaxError`."""

    def __init__(self, charset: str) -> None:
        super().__init__(f"charset {charset} is not supported: use {' or '.join(SUPPORTED_CHARSETS)}")
        self.charset = charset
        self.supported = SUPPORTED_CHARSETS


@dataclass(frozen=True)
class SearchKey:
    """A node of the search program. ``op`` is one of: ALL, NONE, AND, OR, NOT (``children``); FLAG
    (``text`` = the flag, present); HEADER (``field`` lower-cased, ``text``); BODY, TEXT (``text``); LARGER,
    SMALLER (``number``); BEFORE, ON, SINCE, SENTBEFORE, SENTON, SENTSINCE (``day``); UID, SEQ
    (``ranges`` as sent, ``members`` for the look-ups)."""

    op: str
    children: tuple[SearchKey, ...] = ()
    text: str | None = None
    field: str | None = None
    number: int | None = None
    day: date | None = None
    ranges: tuple[tuple[int, int | None], ...] = ()
    members: Members | None = None


def _set_key(op: str, text: str) -> SearchKey:
    ranges = parse_sequence_set(text)
    return SearchKey(op, ranges=tuple(ranges), members=Members.of(ranges))


ALL = SearchKey("ALL")
_FLAG_KEYS = {  # RFC 3501 §6.4.4; \Recent is never kept (IMAP4rev2 dropped it), so RECENT and NEW match nothing
    "ANSWERED": ("\\Answered", True), "UNANSWERED": ("\\Answered", False),
    "DELETED": ("\\Deleted", True), "UNDELETED": ("\\Deleted", False),
    "DRAFT": ("\\Draft", True), "UNDRAFT": ("\\Draft", False),
    "FLAGGED": ("\\Flagged", True), "UNFLAGGED": ("\\Flagged", False),
    "SEEN": ("\\Seen", True), "UNSEEN": ("\\Seen", False),
    "RECENT": ("\\Recent", True), "OLD": ("\\Recent", False),
}
_HEADER_KEYS = ("BCC", "CC", "FROM", "SUBJECT", "TO")
_DATE_KEYS = ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE")
_RAW_OPS = frozenset({"HEADER", "BODY", "TEXT", "SENTBEFORE", "SENTON", "SENTSINCE"})


def _flag(name: str, present: bool) -> SearchKey:
    key = SearchKey("FLAG", text=name)
    return key if present else SearchKey("NOT", (key,))


def _and(keys: list[SearchKey]) -> SearchKey:
    return keys[0] if len(keys) == 1 else SearchKey("AND", tuple(keys))


class _Parser:
    def __init__(self, tokens: list[Token], depth: int = 0) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = depth  # of NOT, OR and groups around the keys read here

    def next(self, needed: str) -> Token:
        if self.index >= len(self.tokens):
            raise ImapSyntaxError(f"{needed} is missing at the end of the search program")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def string(self, key: str) -> str:
        token = self.next(f"the string after {key}")
        if isinstance(token, list):
            raise ImapSyntaxError(f"{key} takes a string, not a parenthesised list")
        if token is None:
            return "NIL"
        if isinstance(token, Atom):
            return token.value
        try:
            return token.decode("utf-8")
        except UnicodeDecodeError:
            raise ImapSyntaxError(f"the string after {key} is not valid UTF-8") from None

    def atom(self, key: str, what: str) -> str:
        token = self.next(f"the {what} after {key}")
        if not isinstance(token, Atom):
            raise ImapSyntaxError(f"{key} takes {what}")
        return token.value

    def number(self, key: str) -> int:
        text = self.atom(key, "a number")
        if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) > MAX_NUMBER:
            raise ImapSyntaxError(f"{key} takes a number up to {MAX_NUMBER}, not {text!r}")
        return int(text)

    def keys_until_end(self) -> SearchKey:
        keys = [self.key()]
        while self.index < len(self.tokens):
            keys.append(self.key())
        return _and(keys)

    def nested(self, what: str) -> int:
        """The depth inside one more NOT, OR or group; bounded, since each level is a stack frame here and
        in :func:`matches`."""
        if self.depth >= MAX_NESTING:
            raise ImapSyntaxError(f"search keys nested deeper than {MAX_NESTING} levels (NOT, OR and "
                                  f"parenthesised groups), at {what}")
        return self.depth + 1

    def inner(self, what: str) -> SearchKey:
        """The key after NOT or OR, one level deeper."""
        parser = _Parser(self.tokens, self.nested(what))
        parser.index = self.index
        key = parser.key()
        self.index = parser.index
        return key

    def key(self) -> SearchKey:
        token = self.next("a search key")
        if isinstance(token, list):
            if not token:
                raise ImapSyntaxError("an empty parenthesised group is not a search key")
            return _Parser(token, self.nested("a parenthesised group")).keys_until_end()
        if not isinstance(token, Atom):
            raise ImapSyntaxError("expected a search key, found a string")
        value = token.value
        name = value.upper()
        if is_sequence_set(value):
            return _set_key("SEQ", value)
        if name == "ALL":
            return ALL
        if name in _FLAG_KEYS:
            return _flag(*_FLAG_KEYS[name])
        if name == "NEW":
            return SearchKey("AND", (_flag("\\Recent", True), _flag("\\Seen", False)))
        if name in ("KEYWORD", "UNKEYWORD"):
            keyword = self.atom(name, "a keyword")
            if keyword.startswith("\\") or any(c in keyword for c in "%*]"):
                raise ImapSyntaxError(f"{name} takes a keyword (an atom without '\\', '%', '*' or ']')")
            return _flag(keyword, name == "KEYWORD")
        if name in _HEADER_KEYS:
            return SearchKey("HEADER", field=name.lower(), text=self.string(name))
        if name == "HEADER":
            field = self.string(name)
            if not field or any(ord(c) <= 32 or ord(c) > 126 or c == ":" for c in field):
                raise ImapSyntaxError(f"HEADER takes a header field name, not {field!r}")
            return SearchKey("HEADER", field=field.lower(), text=self.string("HEADER " + field))
        if name in ("BODY", "TEXT"):
            return SearchKey(name, text=self.string(name))
        if name in ("LARGER", "SMALLER"):
            return SearchKey(name, number=self.number(name))
        if name in _DATE_KEYS:
            return SearchKey(name, day=parse_date(self.string(name)))
        if name == "UID":
            return _set_key("UID", self.atom(name, "a sequence set"))
        if name == "NOT":
            return SearchKey("NOT", (self.inner("NOT"),))
        if name == "OR":
            return SearchKey("OR", (self.inner("OR"), self.inner("OR")))
        raise ImapSyntaxError(f"unknown search key {value!r}")


def parse_search(args: list[Token]) -> tuple[str | None, SearchKey]:
    """The arguments of SEARCH: ``[CHARSET astring] 1*search-key`` (RFC 3501 §6.4.4, §9); several keys
    are all required (AND). A charset other than US-ASCII or UTF-8 is :class:`UnsupportedCharset`."""
    parser = _Parser(args)
    charset = None
    if args and isinstance(args[0], Atom) and args[0].value.upper() == "CHARSET":
        parser.index = 1
        charset = parser.string("CHARSET").upper()
        if charset not in SUPPORTED_CHARSETS:
            raise UnsupportedCharset(charset)
    if parser.index >= len(args):
        raise ImapSyntaxError("SEARCH needs at least one search key")
    return charset, parser.keys_until_end()


def needs_raw(key: SearchKey) -> bool:
    """Whether matching needs the message's octets (headers or body), rather than flags, UID, size and
    internal date only."""
    return key.op in _RAW_OPS or any(needs_raw(child) for child in key.children)


# -- matching --------------------------------------------------------------------------------------------


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def decode_header_value(value: bytes) -> str:
    """A header value as a reader sees it: RFC 2047 encoded words decoded (UTF-8 or Latin-1 octets as
    sent otherwise)."""
    text = _text(value)
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, UnicodeError, ValueError, binascii.Error):
        return text


def _decoded_body(raw: bytes, entity: Entity) -> str | None:
    """The text of a text/* leaf: transfer encoding undone (RFC 2045 §6), charset applied."""
    body = raw[entity.body_start : entity.end]
    encoding = next((_text(v).strip().lower() for v in header_values(raw, entity, "content-transfer-encoding")), "")
    try:
        if encoding == "base64":
            body = binascii.a2b_base64(body)
        elif encoding == "quoted-printable":
            body = binascii.a2b_qp(body)
    except (binascii.Error, ValueError):
        pass
    charset = _text_codec(next((value for name, value in entity.params if name.lower() == "charset"), ""))
    try:
        return body.decode(charset, errors="replace")
    except (LookupError, UnicodeError, ValueError):  # codecs without "replace" (idna, punycode, undefined)
        return body.decode("utf-8", errors="replace")


def _text_codec(charset: str) -> str:
    """The codec for a ``charset`` parameter: UTF-8 when Python has none by that name (or the name is not
    one: ``a\0b``), and when the codec is not a text encoding (``base64``, ``hex``, ``rot13``, ``zlib``:
    ``bytes.decode`` refuses them, RFC 2046 §4.1.2 charsets are all text encodings)."""
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError):
        return "utf-8"
    return info.name if getattr(info, "_is_text_encoding", True) else "utf-8"


class _Message:
    """One message being matched: its structure and texts parsed once, on first need."""

    def __init__(self, view: MessageView) -> None:
        self.view = view
        self._root: Entity | None = None
        self._body: str | None = None
        self._header: str | None = None

    @property
    def root(self) -> Entity:
        if self._root is None:
            self._root = parse_structure(self.view.raw)
        return self._root

    def headers(self, field: str) -> list[str]:
        return [decode_header_value(v) for v in header_values(self.view.raw, self.root, field)]

    def header_text(self) -> str:
        if self._header is None:
            raw = self.view.raw
            self._header = "\n".join(
                f"{name}: {decode_header_value(raw[value_start:end].strip())}"
                for name, _, value_start, end in self.root.fields)
        return self._header

    def _texts(self, entity: Entity) -> Iterator[str]:
        raw = self.view.raw
        if entity.children:
            for child in entity.children:
                yield from self._texts(child)
        elif entity.message is not None:
            message = entity.message
            yield "\n".join(f"{name}: {decode_header_value(raw[v:e].strip())}" for name, _, v, e in message.fields)
            yield from self._texts(message)
        elif entity.maintype == "TEXT":
            text = _decoded_body(raw, entity)
            if text:
                yield text

    def body_text(self) -> str:
        if self._body is None:
            self._body = "\n".join(self._texts(self.root)).casefold()
        return self._body

    def sent_day(self) -> date:
        """The ``Date:`` header's day as written; the internal date's when absent or unreadable."""
        for value in header_values(self.view.raw, self.root, "date"):
            try:
                return parsedate_to_datetime(_text(value)).date()
            except (TypeError, ValueError, IndexError):
                break
        return self.view.internal_date.date()


def _has_flag(flags: tuple[str, ...], flag: str) -> bool:
    wanted = flag.casefold()
    return any(f.casefold() == wanted for f in flags)


def _compare(op: str, day: date, wanted: date) -> bool:
    if op.endswith("BEFORE"):
        return day < wanted
    if op.endswith("ON"):
        return day == wanted
    return day >= wanted  # SINCE: "within or later than"


def _match(key: SearchKey, message: _Message, msn: int, max_msn: int, max_uid: int) -> bool:
    op, view = key.op, message.view
    if op == "ALL":
        return True
    if op == "AND":
        return all(_match(child, message, msn, max_msn, max_uid) for child in key.children)
    if op == "OR":
        return any(_match(child, message, msn, max_msn, max_uid) for child in key.children)
    if op == "NOT":
        return not _match(key.children[0], message, msn, max_msn, max_uid)
    if op == "FLAG":
        return _has_flag(view.flags, key.text or "")
    if op == "SEQ":
        assert key.members is not None
        return key.members.contains(msn, max_msn)
    if op == "UID":
        assert key.members is not None
        return key.members.contains(view.uid, max_uid)
    if op == "LARGER":
        return view.size > (key.number or 0)
    if op == "SMALLER":
        return view.size < (key.number or 0)
    if op in ("BEFORE", "ON", "SINCE"):
        assert key.day is not None
        return _compare(op, view.internal_date.date(), key.day)
    if op in ("SENTBEFORE", "SENTON", "SENTSINCE"):
        assert key.day is not None
        return _compare(op, message.sent_day(), key.day)
    needle = (key.text or "").casefold()
    if op == "HEADER":
        return any(needle in value.casefold() for value in message.headers(key.field or ""))
    if op == "BODY":
        return needle in message.body_text()
    if op == "TEXT":
        return needle in message.header_text().casefold() or needle in message.body_text()
    raise ValueError(f"unknown search operation {op}")


def matches(key: SearchKey, message: MessageView, *, msn: int, max_msn: int, max_uid: int) -> bool:
    """Whether ``message`` (number ``msn`` of ``max_msn``; ``max_uid`` the folder's highest UID, what ``*``
    is in a UID set) satisfies the search program."""
    return _match(key, _Message(message), msn, max_msn, max_uid)

