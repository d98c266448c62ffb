"""IMAP4rev1 on the wire (RFC 3501 §4, §9): the tokens of a command line, and the formatting of the
strings, dates and mailbox names a response carries. Pure: the server reads the lines and literals and
hands them here.

A command arrives as ``parts = [line0, literal0, line1, literal1, ..., lineN]``: each line without its
CRLF, still ending with the ``{n}`` / ``{n+}`` that announced the literal after it (RFC 3501 §4.3,
RFC 7888 LITERAL+). :func:`parse_command` turns that into a :class:`Command`; any departure from the
grammar is an :class:`ImapSyntaxError`, whose message is what the server puts after ``BAD``.
"""

from __future__ import annotations

import base64
import binascii
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

MAX_LINE = 8192
"""A command line (without its literals) longer than this is refused (RFC 3501 §6 leaves the limit to the
server; RFC 7162 §4 recommends accepting at least 8192 octets)."""

MAX_QUOTED = 1024
"""Longer strings are sent as literals rather than quoted (both are valid, RFC 3501 §4.3)."""

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name.upper(): number for number, name in enumerate(MONTHS, start=1)}

# RFC 3501 §9: atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials.
# The tokenizer reads an atom up to SP, "(", ")", "{" or a quote; "%", "*", "\" and "]" stay in it, since the
# same token is a list-mailbox (LIST patterns), a sequence-set ("1:*"), a flag ("\Seen") or an astring ("]").
_ATOM_STOP = frozenset(b' ()"{')
_TAG_FORBIDDEN = frozenset(b'(){%*"\\+')  # tag = 1*<any ASTRING-CHAR except "+"> (RFC 3501 §9)
_BRACKETED = frozenset({"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"})
"""Fetch attributes whose ``[...]`` may hold spaces and parentheses (``BODY[HEADER.FIELDS (FROM TO)]``)."""
_LITERAL = re.compile(rb"\{(\d+)(\+?)\}\Z")


class ImapSyntaxError(ValueError):
    """A command that does not follow the grammar. ``str(error)`` is the text for the tagged (or untagged,
    when ``tag`` is None: the tag itself was unreadable) ``BAD`` response."""

    def __init__(self, message: str, *, tag: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tag = tag


@dataclass(frozen=True)
class Atom:
    """An atom as sent (case kept): a keyword, a number, a flag, a sequence set, an unquoted astring."""

    value: str

    def upper(self) -> str:
        return self.value.upper()


Token = Atom | bytes | list["Token"] | None
"""An argument: an :class:`Atom`, ``bytes`` (a quoted string or a literal: the client chose), a
parenthesised list, or ``None`` for the atom ``NIL``."""


@dataclass(frozen=True)
class Command:
    tag: str
    name: str
    uid: bool
    args: list[Token] = field(default_factory=list)


def literal_announced(line: bytes) -> tuple[int, bool] | None:
    """The literal a line (without CRLF) announces at its end: ``(octets, non_synchronizing)``, ``{n+}``
    being RFC 7888's LITERAL+ form; None when it announces none. An absurdly long count comes back as a
    number beyond any limit (the server refuses it) rather than as an error."""
    match = _LITERAL.search(line)
    if match is None:
        return None
    digits = match.group(1)
    count = int(digits) if len(digits) <= 18 else sys.maxsize
    return count, match.group(2) == b"+"


class _Reader:
    """A cursor over ``parts`` (lines with literals between them)."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts
        self.index = 0  # of the current line in parts (even)
        self.pos = 0
        self.tag: str | None = None

    @property
    def line(self) -> bytes:
        return self.parts[self.index]

    def error(self, message: str, pos: int | None = None) -> ImapSyntaxError:
        where = self.pos if pos is None else pos
        line_no = self.index // 2
        suffix = f" at position {where + 1}" + (f" of line {line_no + 1}" if line_no else "")
        return ImapSyntaxError(message + suffix, tag=self.tag)

    def at_end(self) -> bool:
        return self.pos >= len(self.line)

    def peek(self) -> int | None:
        return self.line[self.pos] if self.pos < len(self.line) else None

    def expect_space(self, what: str) -> None:
        if self.peek() != 0x20:
            found = "end of line" if self.at_end() else repr(chr(self.line[self.pos]))
            raise self.error(f"expected a space before {what}, found {found}")
        self.pos += 1
        if self.peek() == 0x20:
            raise self.error("expected exactly one space between arguments")

    def read_atom_text(self) -> str:
        line, start = self.line, self.pos
        pos = start
        while pos < len(line):
            byte = line[pos]
            if byte in _ATOM_STOP:
                break
            if byte == 0x5B and line[start:pos].decode("ascii").upper() in _BRACKETED:  # "["
                pos = self._bracket_end(pos)
                continue
            if byte < 0x21 or byte > 0x7E:
                self.pos = pos
                raise self.error(f"unexpected octet 0x{byte:02x} in an atom")
            pos += 1
        if pos == start:
            self.pos = pos
            raise self.error("expected an argument")
        self.pos = pos
        return line[start:pos].decode("ascii")

    def _bracket_end(self, open_pos: int) -> int:
        """The position after the ``]`` closing the ``[`` at ``open_pos`` (quoted strings inside skipped)."""
        line = self.line
        pos = open_pos + 1
        while pos < len(line):
            byte = line[pos]
            if byte == 0x5D:  # "]"
                return pos + 1
            if byte == 0x22:  # a quoted header name inside HEADER.FIELDS (...)
                pos += 1
                while pos < len(line) and line[pos] != 0x22:
                    pos += 2 if line[pos] == 0x5C else 1
            elif byte < 0x20 or byte > 0x7E:
                raise self.error(f"unexpected octet 0x{byte:02x} in a section", pos)
            pos += 1
        raise self.error("missing ']' closing the section opened", open_pos)

    def read_quoted(self) -> bytes:
        line = self.line
        start = self.pos
        pos = start + 1
        out = bytearray()
        while pos < len(line):
            byte = line[pos]
            if byte == 0x22:
                self.pos = pos + 1
                return bytes(out)
            if byte == 0x5C:  # quoted-specials escaped: \" and \\ only (RFC 3501 §9)
                if pos + 1 < len(line) and line[pos + 1] in (0x22, 0x5C):
                    out.append(line[pos + 1])
                    pos += 2
                    continue
                raise self.error('a backslash in a quoted string may only escape \\" or \\\\', pos)
            if byte == 0:
                raise self.error("NUL octet in a quoted string", pos)
            out.append(byte)
            pos += 1
        raise self.error("unterminated quoted string starting", start)

    def read_literal(self) -> bytes:
        start = self.pos
        match = _LITERAL.match(self.line, start)
        if match is None or match.end() != len(self.line):
            raise self.error("a literal announcement {n} or {n+} must end the line", start)
        count = int(match.group(1)) if len(match.group(1)) <= 18 else sys.maxsize
        if self.index + 2 >= len(self.parts):
            raise self.error("a literal was announced but not received", start)
        literal = self.parts[self.index + 1]
        if len(literal) != count:
            raise self.error(f"literal announced {count} octets but {len(literal)} were received", start)
        self.index += 2
        self.pos = 0
        self._check_line()
        return literal

    def _check_line(self) -> None:
        line = self.line
        if len(line) > MAX_LINE:
            raise ImapSyntaxError(f"command line longer than {MAX_LINE} octets", tag=self.tag)
        for bad in (b"\r", b"\n", b"\x00"):
            pos = line.find(bad)
            if pos >= 0:
                raise self.error(f"unexpected octet 0x{bad[0]:02x} in a command line", pos)

    def read_token(self) -> Token:
        byte = self.peek()
        if byte is None:
            raise self.error("expected an argument, found end of line")
        if byte == 0x22:
            return self.read_quoted()
        if byte == 0x7B:  # "{"
            return self.read_literal()
        if byte == 0x28:  # "("
            return self.read_list()
        if byte == 0x29:
            raise self.error("unexpected ')'")
        if byte == 0x7E and self.line[self.pos + 1 : self.pos + 2] == b"{":
            raise self.error("literal8 (RFC 3516 BINARY) is not supported")
        text = self.read_atom_text()
        return None if text.upper() == "NIL" else Atom(text)

    def read_list(self) -> list[Token]:
        open_pos, open_index = self.pos, self.index
        self.pos += 1
        items: list[Token] = []
        if self.peek() == 0x29:
            self.pos += 1
            return items
        while True:
            items.append(self.read_token())
            byte = self.peek()
            if byte == 0x29:
                self.pos += 1
                return items
            if byte == 0x20:
                self.expect_space("the next list element")
                continue
            if byte is None:
                self.index = open_index
                raise self.error("missing ')' closing the list opened", open_pos)
            raise self.error(f"expected a space or ')' in a list, found {chr(byte)!r}")


def _command_name(reader: _Reader, what: str) -> str:
    start = reader.pos
    line = reader.line
    pos = start
    while pos < len(line) and line[pos] != 0x20:
        byte = line[pos]
        if not (0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A or 0x30 <= byte <= 0x39 or byte in b"-_."):
            raise reader.error(f"invalid character {chr(byte)!r} in the {what}", pos)
        pos += 1
    if pos == start:
        raise reader.error(f"expected the {what}")
    reader.pos = pos
    return line[start:pos].decode("ascii").upper()


def parse_command(parts: list[bytes]) -> Command:
    """A command from its lines and literals (RFC 3501 §9 ``command``): tag, name (upper-cased; a ``UID``
    prefix folded into ``uid=True``), arguments."""
    if not parts or len(parts) % 2 == 0:
        raise ImapSyntaxError("a command is lines with literals between them")
    reader = _Reader(parts)
    line = reader.line
    space = line.find(b" ")
    raw_tag = line if space < 0 else line[:space]
    if not raw_tag:
        raise ImapSyntaxError("empty command line" if not line else "a command line must start with a tag")
    for offset, byte in enumerate(raw_tag):
        if byte <= 0x20 or byte >= 0x7F or byte in _TAG_FORBIDDEN:
            raise ImapSyntaxError(f"invalid character {chr(byte)!r} in the tag at position {offset + 1}")
    reader.tag = raw_tag.decode("ascii")
    reader._check_line()
    reader.pos = len(raw_tag)
    if reader.at_end():
        raise reader.error("expected a command name after the tag")
    reader.expect_space("the command name")
    name = _command_name(reader, "command name")
    uid = False
    if name == "UID":
        uid = True
        reader.expect_space("the command after UID")
        name = _command_name(reader, "command after UID")
    args: list[Token] = []
    while not (reader.at_end() and reader.index == len(parts) - 1):
        reader.expect_space("the next argument")
        args.append(reader.read_token())
    return Command(tag=reader.tag, name=name, uid=uid, args=args)


def parse_list(text: bytes) -> list[Token]:
    """A whole parenthesised list (``(FROM "To")``, as in a ``HEADER.FIELDS`` section); ImapSyntaxError when
    ``text`` is not exactly one list."""
    reader = _Reader([text])
    if reader.peek() != 0x28:
        raise reader.error("expected '('")
    items = reader.read_list()
    if not reader.at_end():
        raise reader.error("unexpected text after the list")
    return items


def astring(token: Token) -> str:
    """An ``astring`` argument as text (RFC 3501 §9): an atom, or a string decoded as UTF-8; ``NIL`` there
    is the atom ``NIL``."""
    if token is None:
        return "NIL"
    if isinstance(token, Atom):
        return token.value
    if isinstance(token, bytes):
        try:
            return token.decode("utf-8")
        except UnicodeDecodeError:
            raise ImapSyntaxError("a string argument is not valid UTF-8") from None
    raise ImapSyntaxError("expected a string, found a parenthesised list")


# -- formatting ----------------------------------------------------------------------------------------


def _quotable(value: bytes) -> bool:
    if len(value) > MAX_QUOTED:
        return False
    return not any(byte in (0, 0x0A, 0x0D) or byte > 0x7F for byte in value)


def quoted_or_literal(value: bytes | str) -> bytes:
    """A ``string`` (RFC 3501 §4.3): quoted when every octet may be (7-bit, no CR, LF or NUL, short), with
    ``"`` and ``\\`` escaped; else a synchronizing literal ``{n}\\r\\n`` followed by the octets."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    if _quotable(data):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(data) + data


def nstring(value: bytes | str | None) -> bytes:
    """``NIL`` or a string (RFC 3501 §9 ``nstring``)."""
    return b"NIL" if value is None else quoted_or_literal(value)


def imap_date(moment: datetime) -> bytes:
    """A quoted ``date-time`` (RFC 3501 §9): ``"17-Jul-1996 02:44:25 -0700"``, day padded with a space;
    a naive moment is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    text = (
        f'"{moment.day:2d}-{MONTHS[moment.month - 1]}-{moment.year:04d} '
        f'{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {sign}{minutes // 60:02d}{minutes % 60:02d}"'
    )
    return text.encode("ascii")


_DATE = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})\Z")
_DATE_TIME = re.compile(r" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\Z")


def _day(day: str, month: str, year: str, text: str) -> date:
    number = _MONTH_NUMBER.get(month.upper())
    if number is None:
        raise ImapSyntaxError(f"unknown month {month!r} in date {text!r} (expected Jan ... Dec)")
    try:
        return date(int(year), number, int(day))
    except ValueError:
        raise ImapSyntaxError(f"no such date: {text!r}") from None


def parse_date(value: str) -> date:
    """A SEARCH ``date`` (RFC 3501 §9): ``1-Feb-1994`` (the quotes already removed by the tokenizer)."""
    match = _DATE.match(value)
    if match is None:
        raise ImapSyntaxError(f"invalid date {value!r} (expected d-Mon-yyyy, e.g. 1-Feb-1994)")
    day, month, year = match.groups()
    return _day(day, month, year, text=value)


def parse_datetime(value: str) -> datetime:
    """An APPEND ``date-time`` (RFC 3501 §9): ``17-Jul-1996 02:44:25 -0700`` (aware)."""
    match = _DATE_TIME.match(value)
    if match is None:
        raise ImapSyntaxError(f"invalid date-time {value!r} (expected dd-Mon-yyyy hh:mm:ss +zzzz)")
    day, month, year, hour, minute, second, sign, zone_h, zone_m = match.groups()
    calendar_day = _day(day, month, year, text=value)
    if int(hour) > 23 or int(minute) > 59 or int(second) > 60 or int(zone_m) > 59:
        raise ImapSyntaxError(f"invalid time in date-time {value!r}")
    offset = timedelta(hours=int(zone_h), minutes=int(zone_m))
    return datetime(
        calendar_day.year, calendar_day.month, calendar_day.day, int(hour), int(minute), min(int(second), 59),
        tzinfo=timezone(-offset if sign == "-" else offset),
    )


# -- mailbox names: modified UTF-7 (RFC 3501 §5.1.3) ---------------------------------------------------------


def _b64_segment(run: list[str]) -> str:
    data = "".join(run).encode("utf-16-be")
    return "&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",") + "-"


def encode_mutf7(name: str) -> str:
    """``name`` in modified UTF-7: printable US-ASCII as itself (``&`` as ``&-``), runs of other characters
    as ``&`` + modified BASE64 of their UTF-16BE (``,`` for ``/``, no padding) + ``-``."""
    out: list[str] = []
    run: list[str] = []
    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            if run:
                out.append(_b64_segment(run))
                run = []
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    if run:
        out.append(_b64_segment(run))
    return "".join(out)


_MB64 = re.compile(r"[A-Za-z0-9+,]*\Z")


def decode_mutf7(text: str) -> str:
    """The name a modified UTF-7 string spells; ImapSyntaxError when it is not canonical modified UTF-7
    (8-bit or control characters, an unterminated or malformed shift, printable ASCII encoded)."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char != "&":
            if not 0x20 <= ord(char) <= 0x7E:
                raise ImapSyntaxError(
                    f"mailbox name must be 7-bit modified UTF-7 (RFC 3501 §5.1.3): {char!r} at position {pos + 1}")
            out.append(char)
            pos += 1
            continue
        end = text.find("-", pos + 1)
        if end < 0:
            raise ImapSyntaxError(f"modified UTF-7 shift '&' at position {pos + 1} is not closed by '-'")
        segment = text[pos + 1 : end]
        if not segment:
            out.append("&")
        else:
            if not _MB64.match(segment) or len(segment) % 4 == 1:
                raise ImapSyntaxError(f"invalid modified BASE64 {segment!r} in mailbox name at position {pos + 1}")
            try:
                data = base64.b64decode(segment.replace(",", "/") + "=" * (-len(segment) % 4), validate=True)
                if len(data) % 2:
                    raise ValueError
                decoded = data.decode("utf-16-be")
            except (binascii.Error, ValueError):
                raise ImapSyntaxError(
                    f"invalid modified UTF-7 {segment!r} in mailbox name at position {pos + 1}") from None
            if any(0x20 <= ord(c) <= 0x7E for c in decoded) or _b64_segment(list(decoded))[1:-1] != segment:
                raise ImapSyntaxError(
                    f"non-canonical modified UTF-7 {segment!r} in mailbox name at position {pos + 1}")
            if text.startswith("&", end + 1) and not text.startswith("&-", end + 1):
                raise ImapSyntaxError(f"non-canonical modified UTF-7: two adjacent shifts at position {end + 2}")
            out.append(decoded)
        pos = end + 1
    return "".join(out)


def encode_mailbox(name: str) -> bytes:
    """A mailbox name for a response: modified UTF-7, quoted (or a literal if it must be)."""
    return quoted_or_literal(encode_mutf7(name))


def decode_mailbox(token: Token) -> str:
    """The (Unicode) mailbox name a ``mailbox`` argument spells; ImapSyntaxError on bad modified UTF-7."""
    if isinstance(token, list):
        raise ImapSyntaxError("expected a mailbox name, found a parenthesised list")
    if isinstance(token, bytes):
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            raise ImapSyntaxError("mailbox name must be 7-bit modified UTF-7 (RFC 3501 §5.1.3)") from None
    else:
        text = astring(token)
    return decode_mutf7(text)
