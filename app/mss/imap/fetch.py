"""FETCH (RFC 3501 §6.4.5, §7.4.2): the items a client asks for, and the response it gets: ENVELOPE,
BODYSTRUCTURE/BODY, ``BODY[section]<partial>`` and the simple attributes.

The MIME structure is found on the raw bytes themselves (:func:`parse_structure`): header blocks and
multipart boundaries (RFC 2045 §3, RFC 2046 §5.1.1) located by offset, so every section, size and line
count is computed from the octets as stored, never from a re-serialised message, and a 25 MB message is
not copied to be walked. Header fields are split the way the standard ``email`` parser's ``compat32``
policy does (unfolded, kept as sent); RFC 2047 encoded words stay encoded, as §7.4.2 says.

Why not the ``email`` package's tree: its messages keep no offsets into the source (a part's payload is a
re-joined copy, headers are re-folded on output), so ``BODY[1.MIME]``, sizes and line counts could not be
the octets as stored, and parsing a 25 MB message copies it several times over.

Bounds (a message is up to 25 MB and anyone may send one): of the headers of a message and of all its
parts together, at most :data:`MAX_HEADER_FIELDS` fields and :data:`MAX_HEADER_BYTES` octets are read, in
the order of the message (the fields past that are ignored by ENVELOPE, BODYSTRUCTURE, ``HEADER.FIELDS``
and SEARCH; ``BODY[HEADER]`` and ``BODY[n.MIME]`` still return the exact octets); blank lines and boundary
delimiters are found by searches that run in C (one compiled pattern per multipart), so no Python code runs
per line of the message; at most :data:`MAX_PARTS` entities, :data:`MAX_DEPTH` deep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from app.mss.imap.wire import Atom, ImapSyntaxError, Token, imap_date, nstring, parse_list, quoted_or_literal

MAX_DEPTH = 16
MAX_PARTS = 256
"""A hostile message cannot make the walk unbounded (as :mod:`app.mss.mime`): an entity nested deeper than
:data:`MAX_DEPTH` is shown as a leaf, and past :data:`MAX_PARTS` entities the remaining parts of a multipart
are left out, so its BODYSTRUCTURE lists fewer parts than the message has and ``BODY[n]`` of a part left
out is empty (RFC 3501 §6.4.5 gives no way to say more; the octets stay reachable through ``BODY[]`` and
``BODY[TEXT]``)."""
MAX_FALSE_DELIMITERS = 1000
"""Per multipart, the lines that start like its delimiter without being one looked at (see
:func:`_multipart_bodies`)."""
MAX_HEADER_FIELDS = 5000
MAX_HEADER_BYTES = 128 * 1024
"""For the whole message (its header and those of its parts, in order), only the first header lines and
octets are read: real headers, trace fields and signatures included, are a few kilobytes (Postfix's
``header_size_limit`` discards what a field has beyond 100 KB), while a crafted message may be 25 MB of
header lines, or 256 parts with large headers, whose address lists, parameters and RFC 2047 words are then
parsed in Python for ENVELOPE, BODYSTRUCTURE and SEARCH. A field that runs past the bound is ignored with
the ones after it."""

_SIMPLE = ("UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822",
           "RFC822.HEADER", "RFC822.TEXT")
_MACROS = {  # RFC 3501 §6.4.5
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_BODY_ITEM = re.compile(r"(BODY(?:\.PEEK)?)\[([^\]]*)\](?:<([0-9]+)\.([0-9]+)>)?\Z", re.IGNORECASE)
_FIELD_NAME = re.compile(r"[!#$&'+,\-./0-9;-\[^-z|}~]+\Z")
"""A header name in ``HEADER.FIELDS``: RFC 5322 §3.6.8 ftext that is also an IMAP atom without ``]`` (RFC 3501
§9 ATOM-CHAR: no ``(){%*"\\``), since the response repeats the names unquoted in the section label."""
_MAX_NUMBER = 4294967295


# -- FETCH items ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchItem:
    name: str
    section: str | None = None
    partial: tuple[int, int] | None = None
    peek: bool = False

    def sets_seen(self) -> bool:
        """Whether fetching it sets ``\\Seen`` (RFC 3501 §6.4.5: BODY[...] without .PEEK, RFC822,
        RFC822.TEXT)."""
        if self.name == "BODY":
            return self.section is not None and not self.peek
        return self.name in ("RFC822", "RFC822.TEXT")

    def label(self) -> str:
        """The item's name in the response: ``BODY[HEADER.FIELDS (FROM)]<0>`` for ``BODY.PEEK[...]<0.10>``."""
        if self.name != "BODY" or self.section is None:
            return self.name
        label = f"BODY[{self.section}]"
        return label if self.partial is None else f"{label}<{self.partial[0]}>"

    @property
    def needs_structure(self) -> bool:
        return self.name in ("ENVELOPE", "BODYSTRUCTURE", "RFC822.HEADER", "RFC822.TEXT") or (
            self.name == "BODY" and self.section != "")


@dataclass(frozen=True)
class Section:
    """A parsed section spec (RFC 3501 §9 ``section-spec``)."""

    parts: tuple[int, ...]
    text: str  # "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        spec = ".".join([*map(str, self.parts), *([self.text] if self.text else [])])
        return f"{spec} ({' '.join(self.fields)})" if self.fields else spec


def parse_section(text: str) -> Section:
    """``1.2.HEADER.FIELDS (From "To")`` -> Section((1, 2), "HEADER.FIELDS", ("FROM", "TO"))."""
    head, _, rest = text.partition(" ")
    components = head.split(".") if head else []
    parts: list[int] = []
    while components and components[0].isdigit():
        number = components.pop(0)
        if number.startswith("0") or len(number) > 10 or int(number) > _MAX_NUMBER:
            raise ImapSyntaxError(f"invalid part number {number!r} in section [{text}]")
        parts.append(int(number))
    spec = ".".join(components).upper()
    if spec not in ("", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"):
        raise ImapSyntaxError(f"invalid section [{text}]: expected part numbers, HEADER, HEADER.FIELDS, "
                              "HEADER.FIELDS.NOT, TEXT or MIME")
    if spec == "MIME" and not parts:
        raise ImapSyntaxError(f"invalid section [{text}]: MIME needs a part number (e.g. 1.MIME)")
    fields: list[str] = []
    if spec.startswith("HEADER.FIELDS"):
        if not rest.startswith("("):
            raise ImapSyntaxError(f"invalid section [{text}]: {spec} needs a list of header names, e.g. (FROM TO)")
        try:
            names = parse_list(rest.encode("ascii", "replace"))
        except ImapSyntaxError as exc:
            raise ImapSyntaxError(f"invalid header list in section [{text}]: {exc.message}") from None
        if not names:
            raise ImapSyntaxError(f"invalid section [{text}]: the header list is empty")
        for name in names:
            value = name.value if isinstance(name, Atom) else "NIL" if name is None else name
            if isinstance(value, bytes):
                value = value.decode("ascii", "replace")
            if not isinstance(value, str) or not _FIELD_NAME.match(value):
                raise ImapSyntaxError(f"invalid header name in section [{text}]")
            fields.append(value.upper())
    elif rest:
        raise ImapSyntaxError(f"invalid section [{text}]: unexpected {rest!r}")
    return Section(tuple(parts), spec, tuple(fields))


def _parse_item(text: str) -> FetchItem:
    upper = text.upper()
    if upper in _SIMPLE:
        return FetchItem(upper)
    match = _BODY_ITEM.match(text)
    if match is None:
        if upper.startswith(("BODY[", "BODY.PEEK[")):
            raise ImapSyntaxError(f"invalid FETCH item {text!r}: expected BODY[section]<origin.count>")
        raise ImapSyntaxError(f"unknown FETCH item {text!r}")
    kind, section_text, origin, count = match.groups()
    section = str(parse_section(section_text))
    partial = None
    if origin is not None:
        if len(origin) > 10 or len(count) > 10 or int(origin) > _MAX_NUMBER or int(count) > _MAX_NUMBER:
            raise ImapSyntaxError(f"invalid partial range in {text!r}: numbers are 32-bit")
        if int(count) == 0:
            raise ImapSyntaxError(f"invalid partial range in {text!r}: the octet count must be at least 1")
        partial = (int(origin), int(count))
    return FetchItem("BODY", section, partial, peek=kind.upper() == "BODY.PEEK")


def parse_fetch_items(args: list[Token]) -> list[FetchItem]:
    """The items of a FETCH after its sequence set (RFC 3501 §6.4.5): a macro, one item, or a list."""
    if len(args) != 1:
        raise ImapSyntaxError("FETCH expects one item, a macro or a parenthesised list of items"
                              if args else "FETCH needs the items to fetch")
    arg = args[0]
    if isinstance(arg, Atom):
        macro = _MACROS.get(arg.value.upper())
        if macro is not None:
            return [FetchItem(name) for name in macro]
        return [_parse_item(arg.value)]
    if not isinstance(arg, list):
        raise ImapSyntaxError("FETCH items are atoms, not strings")
    if not arg:
        raise ImapSyntaxError("FETCH needs at least one item in its list")
    items: list[FetchItem] = []
    for element in arg:
        if not isinstance(element, Atom):
            raise ImapSyntaxError("FETCH items are atoms, not strings or nested lists")
        if element.value.upper() in _MACROS:
            raise ImapSyntaxError(f"the macro {element.value.upper()} cannot be used inside a list")
        items.append(_parse_item(element.value))
    return items


# -- the MIME structure on the raw bytes ----------------------------------------------------------------


@dataclass
class Entity:
    """One MIME entity located in the raw message: header ``[start, body_start)``, body
    ``[body_start, end)``."""

    start: int
    header_end: int  # after the last field, before the blank line
    body_start: int
    end: int
    fields: list[tuple[str, int, int, int]]  # (lower-cased name, field start, value start, field end)
    maintype: str
    subtype: str
    params: list[tuple[str, str]]
    default_type: bool
    children: list[Entity] = field(default_factory=list)
    message: Entity | None = None  # the encapsulated message of a message/rfc822 part
    index: dict[str, list[int]] = field(default_factory=dict)  # lower-cased name -> positions in ``fields``
    shallow: Entity | None = None  # the header of a message/rfc822 part not walked (encoded, or past the bounds)

    @property
    def is_multipart(self) -> bool:
        return self.maintype == "MULTIPART"

    @property
    def is_message(self) -> bool:
        return self.message is not None


def _header_split(raw: bytes, start: int, end: int) -> tuple[int, int]:
    """(end of the header fields, start of the body) of the entity at ``[start, end)``."""
    if raw.startswith(b"\r\n", start, end):
        return start, start + 2
    if raw.startswith(b"\n", start, end):
        return start, start + 1
    # the first blank line, CRLF or LF, searched in growing windows: neither search runs far past it (a
    # search for the style the message does not use would otherwise read the whole entity, at every level)
    low, high, window = start, start, 64 * 1024
    while high < end:
        high = min(end, high + window)
        window *= 2
        crlf = raw.find(b"\r\n\r\n", low, high)
        lf = raw.find(b"\n\n", low, high if crlf < 0 else crlf + 2)
        if crlf >= 0 and (lf < 0 or crlf < lf):
            return crlf + 2, crlf + 4
        if lf >= 0:
            return lf + 1, lf + 2
        low = max(start, high - 3)  # a blank line across the window's edge
    return end, end


_LOGICAL_LINE_END = re.compile(rb"\n(?![ \t])")
"""The line break ending a field: one not followed by a folded continuation line (RFC 5322 §2.2.3)."""


@dataclass
class _Budget:
    """What is left to read of one message (:data:`MAX_PARTS`, :data:`MAX_HEADER_FIELDS`,
    :data:`MAX_HEADER_BYTES`)."""

    parts: int = MAX_PARTS
    lines: int = MAX_HEADER_FIELDS
    octets: int = MAX_HEADER_BYTES


def _fields(raw: bytes, start: int, header_end: int, budget: _Budget) -> list[tuple[str, int, int, int]]:
    """The fields of the header at ``[start, header_end)`` as (lower-cased name, field start, value start,
    field end), as far as the budget goes: each step finds the end of one field (with its continuation
    lines) in C."""
    fields: list[tuple[str, int, int, int]] = []
    limit = min(header_end, start + budget.octets)
    pos = start
    while pos < limit and budget.lines > 0:
        budget.lines -= 1
        match = _LOGICAL_LINE_END.search(raw, pos, limit)
        if match is None:
            if limit < header_end:
                break  # runs past the bound
            line_end = limit
        else:
            line_end = match.end()
            if line_end == limit < header_end and raw[limit] in (0x20, 0x09):
                break  # continued past the bound
        if raw[pos] not in (0x20, 0x09):  # else continuation lines without a field before them: ignored
            newline = raw.find(b"\n", pos, line_end)
            colon = raw.find(b":", pos, line_end if newline < 0 else newline)
            if colon > pos:
                name = raw[pos:colon].rstrip(b" \t").decode("latin-1").lower()
                fields.append((name, pos, colon + 1, line_end))
        pos = line_end
    budget.octets -= pos - start
    return fields


def _index(fields: list[tuple[str, int, int, int]]) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for position, (name, _, _, _) in enumerate(fields):
        index.setdefault(name, []).append(position)
    return index


_FOLD = re.compile(rb"\r?\n(?=[ \t])")


def _unfold(value: bytes) -> bytes:
    return _FOLD.sub(b"", value).strip(b" \t\r\n")


def header_value(raw: bytes, entity: Entity, name: str) -> bytes | None:
    """The first ``name`` field's value (``name`` lower-cased), unfolded (RFC 5322 §2.2.3), as sent; None
    when absent."""
    positions = entity.index.get(name)
    if not positions:
        return None
    _, _, value_start, field_end = entity.fields[positions[0]]
    return _unfold(raw[value_start:field_end])


def header_values(raw: bytes, entity: Entity, name: str) -> list[bytes]:
    """Every ``name`` field's value, in order."""
    fields = entity.fields
    return [_unfold(raw[fields[i][2] : fields[i][3]]) for i in entity.index.get(name, ())]


_TOKEN = re.compile(r"[!#-'*+.0-9A-Z^-~-]+")  # RFC 2045 §5.1 token (no tspecials)


def _quoted_at(text: str, pos: int) -> tuple[str, int]:
    """The RFC 5322 quoted-string opening at ``text[pos]`` (a backslash quotes the next character),
    unquoted, and the position after its closing quote (the end of ``text`` when it is unterminated)."""
    chars: list[str] = []
    pos += 1
    while pos < len(text) and text[pos] != '"':
        if text[pos] == "\\" and pos + 1 < len(text):
            pos += 1
        chars.append(text[pos])
        pos += 1
    return "".join(chars), pos + 1


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def parse_params(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``text/plain; charset="utf-8"`` -> ("text/plain", [("charset", "utf-8")]): parameters in order,
    quoted values unquoted (RFC 2045 §5.1); RFC 2231 forms (``name*``) passed through as sent."""
    head, _, rest = text.partition(";")
    params: list[tuple[str, str]] = []
    pos = 0
    while pos < len(rest):
        pos = _skip_space(rest, pos)
        match = _TOKEN.match(rest, pos)
        if match is None:
            following = rest.find(";", pos)
            if following < 0:
                break
            pos = following + 1
            continue
        name = match.group(0)
        pos = _skip_space(rest, match.end())
        if not rest.startswith("=", pos):
            following = rest.find(";", pos)
            pos = len(rest) if following < 0 else following + 1
            continue
        pos = _skip_space(rest, pos + 1)
        if rest.startswith('"', pos):
            value, pos = _quoted_at(rest, pos)
        else:
            following = rest.find(";", pos)
            stop = len(rest) if following < 0 else following
            value = rest[pos:stop].strip()
            pos = stop
        params.append((name, value))
        following = rest.find(";", pos)
        if following < 0:
            break
        pos = following + 1
    return head.strip(), params


def _content_type(value: bytes | None, default: tuple[str, str]) -> tuple[str, str, list[tuple[str, str]], bool]:
    """(TYPE, SUBTYPE, params, defaulted): an absent or invalid Content-Type is the default type, for
    text/plain with charset us-ascii (RFC 2045 §5.2)."""
    if value is not None:
        head, params = parse_params(value.decode("latin-1"))
        maintype, slash, subtype = head.partition("/")
        maintype, subtype = maintype.strip(), subtype.strip()
        if slash and _TOKEN.fullmatch(maintype) and _TOKEN.fullmatch(subtype):
            if maintype.upper() != "MULTIPART" or any(n.lower() == "boundary" and v for n, v in params):
                return maintype.upper(), subtype.upper(), params, False
    if default == ("message", "rfc822"):
        return "MESSAGE", "RFC822", [], True
    return "TEXT", "PLAIN", [("CHARSET", "US-ASCII")], True


def _delimiters(boundary: bytes) -> re.Pattern[bytes]:
    """A line that starts like a delimiter (``--boundary`` after a line break, the break included), then
    group 1 for the close delimiter (``--``) or group 2 for transport padding up to the end of the line
    (RFC 2046 §5.1.1); neither group when the line only starts like one. One pattern per multipart: the
    message's octets are scanned in C, Python only sees the lines that start with ``--boundary``."""
    return re.compile(rb"\n--" + re.escape(boundary) + rb"(?:(--)|([ \t]*)(?=\r?\n|\r?\Z))?")


def _multipart_bodies(raw: bytes, start: int, end: int, boundary: bytes) -> Iterator[tuple[int, int]]:
    """The ``[start, end)`` of each body part between the boundary delimiters (RFC 2046 §5.1.1): a delimiter
    line is ``--boundary`` at a line start, then transport padding; the line break before it belongs to
    it; ``--boundary--`` closes; an unclosed multipart ends at the end of its body. The boundary "MUST NOT
    appear ... as the prefix of any line" of a part (§5.1.1): past :data:`MAX_FALSE_DELIMITERS` lines that
    do, the multipart is taken as ending there (its last part runs to its end)."""
    part_start: int | None = None
    false_delimiters = 0
    # a body starts after a line break (that of the blank line ending its header): a delimiter may open it
    scan = start - 1 if start > 0 and raw[start - 1] == 0x0A else start
    for match in _delimiters(boundary).finditer(raw, scan, end):
        closing, padding = match.group(1, 2)
        if closing is None and padding is None:
            false_delimiters += 1
            if false_delimiters > MAX_FALSE_DELIMITERS:
                break
            continue
        if part_start is not None:
            content_end = match.start()
            if content_end > part_start and raw[content_end - 1] == 0x0D:
                content_end -= 1
            yield part_start, max(content_end, part_start)
        if closing is not None:
            return
        line_end = match.end()
        if raw.startswith(b"\r", line_end, end):
            line_end += 1
        if raw.startswith(b"\n", line_end, end):
            line_end += 1
        part_start = line_end
    if part_start is not None:
        yield part_start, end


def _entity(raw: bytes, start: int, end: int, budget: _Budget, default: tuple[str, str]) -> Entity:
    """The entity at ``[start, end)`` with its header read, its body not walked."""
    header_end, body_start = _header_split(raw, start, end)
    fields = _fields(raw, start, header_end, budget)
    entity = Entity(start, header_end, body_start, end, fields, "", "", [], True, index=_index(fields))
    entity.maintype, entity.subtype, entity.params, entity.default_type = _content_type(
        header_value(raw, entity, "content-type"), default)
    return entity


def _parse(raw: bytes, start: int, end: int, depth: int, budget: _Budget,
           default: tuple[str, str] = ("text", "plain")) -> Entity:
    entity = _entity(raw, start, end, budget, default)
    budget.parts -= 1
    if depth < MAX_DEPTH and budget.parts > 0:
        if entity.is_multipart:
            boundary = next(v for n, v in entity.params if n.lower() == "boundary").encode("latin-1")
            child_default = ("message", "rfc822") if entity.subtype == "DIGEST" else ("text", "plain")
            for part_start, part_end in _multipart_bodies(raw, entity.body_start, end, boundary):
                if budget.parts <= 0:
                    break
                entity.children.append(_parse(raw, part_start, part_end, depth + 1, budget, child_default))
        elif entity.maintype == "MESSAGE" and entity.subtype in ("RFC822", "GLOBAL"):
            encoding = (header_value(raw, entity, "content-transfer-encoding") or b"7bit").strip().lower()
            if encoding in (b"7bit", b"8bit", b"binary"):  # an encoded message/rfc822 is not one (RFC 2046 §5.2.1)
                entity.message = _parse(raw, entity.body_start, end, depth + 1, budget)
    if entity.message is None and entity.maintype == "MESSAGE" and entity.subtype in ("RFC822", "GLOBAL"):
        # not walked: its header only, so BODYSTRUCTURE keeps the envelope and body the grammar requires of
        # a message/rfc822 part (RFC 3501 §9 body-type-msg)
        shallow = _entity(raw, entity.body_start, end, budget, ("text", "plain"))
        if shallow.is_multipart or shallow.maintype == "MESSAGE":  # shown as a leaf: the walk stops here
            shallow.maintype, shallow.subtype, shallow.params = "TEXT", "PLAIN", [("CHARSET", "US-ASCII")]
        entity.shallow = shallow
    return entity


def parse_structure(raw: bytes) -> Entity:
    """The MIME tree of a message, located by offsets in ``raw``."""
    return _parse(raw, 0, len(raw), 0, _Budget())


# -- ENVELOPE ------------------------------------------------------------------------------------------


@dataclass
class _Tok:
    kind: str  # "atom", "quoted", "special", "literal"
    text: str
    space_before: bool


def _address_tokens(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos, space = 0, False
    while pos < len(text):
        char = text[pos]
        if char in " \t\r\n":
            pos, space = pos + 1, True
        elif char == "(":  # a comment (nested), dropped: it separates like a space (RFC 5322 §3.2.2)
            depth = 0
            while pos < len(text):
                if text[pos] == "\\":
                    pos += 1
                elif text[pos] == "(":
                    depth += 1
                elif text[pos] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                pos += 1
            pos, space = pos + 1, True
        elif char == '"':
            quoted, pos = _quoted_at(text, pos)
            tokens.append(_Tok("quoted", quoted, space))
            space = False
        elif char == "[":
            close = text.find("]", pos)
            close = len(text) - 1 if close < 0 else close
            tokens.append(_Tok("literal", text[pos : close + 1], space))
            pos, space = close + 1, False
        elif char in "<>@,;:.":
            tokens.append(_Tok("special", char, space))
            pos, space = pos + 1, False
        else:
            stop = pos
            while stop < len(text) and text[stop] not in ' \t\r\n()"[<>@,;:.':
                stop += 1
            tokens.append(_Tok("atom", text[pos:stop], space))
            pos, space = stop, False
    return tokens


def _phrase(tokens: list[_Tok]) -> str | None:
    out: list[str] = []
    for index, token in enumerate(tokens):
        if index and token.space_before:
            out.append(" ")
        out.append(token.text)
    return "".join(out).strip() or None


def _joined(tokens: list[_Tok]) -> str:
    return "".join(token.text for token in tokens)


Address = tuple[str | None, str | None, str | None, str | None]  # name, adl (route), mailbox, host


def _addr_spec(tokens: list[_Tok], name: str | None, route: str | None = None) -> Address:
    at = max((i for i, t in enumerate(tokens) if t.kind == "special" and t.text == "@"), default=-1)
    if at < 0:  # no domain: the host is empty (NIL would read as group syntax, RFC 3501 §7.4.2)
        return name, route, _joined(tokens), ""
    return name, route, _joined(tokens[:at]), _joined(tokens[at + 1 :])


def parse_addresses(value: bytes | None) -> list[Address]:
    """An address-list header (RFC 5322 §3.4) as ENVELOPE addresses, groups as the start
    ``(NIL NIL name NIL)`` and end ``(NIL NIL NIL NIL)`` markers (RFC 3501 §7.4.2)."""
    if not value:
        return []
    tokens = _address_tokens(value.decode("latin-1"))
    out: list[Address] = []
    phrase: list[_Tok] = []
    in_group = False
    index = 0
    while index < len(tokens):
        token = tokens[index]
        special = token.text if token.kind == "special" else None
        if special == ":" and not in_group:
            out.append((None, None, _phrase(phrase) or "", None))
            in_group, phrase = True, []
        elif special == "<":
            close = next((j for j in range(index + 1, len(tokens)) if tokens[j].text == ">"
                          and tokens[j].kind == "special"), len(tokens))
            inner = tokens[index + 1 : close]
            route = None
            colon = next((j for j, t in enumerate(inner) if t.kind == "special" and t.text == ":"), -1)
            if colon >= 0 and inner and inner[0].text == "@":
                route, inner = _joined(inner[:colon]), inner[colon + 1 :]
            if inner:
                out.append(_addr_spec(inner, _phrase(phrase), route))
            else:
                out.append((_phrase(phrase), route, "", ""))  # the null path <>
            phrase = []
            index = close
            while index + 1 < len(tokens) and tokens[index + 1].text not in (",", ";"):
                index += 1  # junk after the angle address
        elif special == ",":
            if phrase:
                out.append(_addr_spec(phrase, None))
            phrase = []
        elif special == ";" and in_group:
            if phrase:
                out.append(_addr_spec(phrase, None))
            out.append((None, None, None, None))
            in_group, phrase = False, []
        else:
            phrase.append(token)
        index += 1
    if phrase:
        out.append(_addr_spec(phrase, None))
    if in_group:
        out.append((None, None, None, None))
    return out


def _latin(value: str | None) -> bytes | None:
    return None if value is None else value.encode("latin-1", "replace")


def _address_list(addresses: list[Address]) -> bytes:
    if not addresses:
        return b"NIL"
    return b"(" + b"".join(
        b"(" + b" ".join(nstring(_latin(part)) for part in address) + b")" for address in addresses) + b")"


def _envelope(raw: bytes, entity: Entity) -> bytes:
    """RFC 3501 §7.4.2 ENVELOPE: date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to,
    message-id; sender and reply-to are from's when absent or empty."""

    def value(name: str) -> bytes | None:
        return header_value(raw, entity, name)

    sender_from = parse_addresses(value("from"))
    sender = parse_addresses(value("sender")) or sender_from
    reply_to = parse_addresses(value("reply-to")) or sender_from
    items = [
        nstring(value("date")),
        nstring(value("subject")),
        _address_list(sender_from),
        _address_list(sender),
        _address_list(reply_to),
        _address_list(parse_addresses(value("to"))),
        _address_list(parse_addresses(value("cc"))),
        _address_list(parse_addresses(value("bcc"))),
        nstring(value("in-reply-to")),
        nstring(value("message-id")),
    ]
    return b"(" + b" ".join(items) + b")"


def envelope(raw: bytes) -> bytes:
    return _envelope(raw, parse_structure(raw))


# -- BODYSTRUCTURE / BODY --------------------------------------------------------------------------------


def _q(text: str) -> bytes:
    return quoted_or_literal(text.encode("latin-1", "replace"))


def _param_list(params: list[tuple[str, str]]) -> bytes:
    if not params:
        return b"NIL"
    return b"(" + b" ".join(_q(name.upper()) + b" " + _q(value) for name, value in params) + b")"


def _lines(raw: bytes, start: int, end: int) -> int:
    """Text lines of a body: its line breaks, plus one for a last line without one."""
    if end <= start:
        return 0
    return raw.count(b"\n", start, end) + (0 if raw[end - 1] == 0x0A else 1)


def _extension(raw: bytes, entity: Entity) -> list[bytes]:
    """body-fld-dsp, body-fld-lang, body-fld-loc (RFC 3501 §7.4.2; RFC 2183, RFC 3066, RFC 2557)."""
    disposition = header_value(raw, entity, "content-disposition")
    dsp = b"NIL"
    if disposition:
        kind, params = parse_params(disposition.decode("latin-1"))
        if kind:
            dsp = b"(" + _q(kind.upper()) + b" " + _param_list(params) + b")"
    language = header_value(raw, entity, "content-language")
    lang = b"NIL"
    if language:
        tags = [t.strip() for t in language.decode("latin-1").split(",") if t.strip()]
        if len(tags) == 1:
            lang = _q(tags[0])
        elif tags:
            lang = b"(" + b" ".join(_q(t) for t in tags) + b")"
    location = header_value(raw, entity, "content-location")
    return [dsp, lang, nstring(location)]


def _empty_part(extensible: bool) -> bytes:
    return b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0' + (b" NIL NIL NIL NIL)" if extensible
                                                                          else b")")


def _structure(raw: bytes, entity: Entity, extensible: bool) -> bytes:
    if entity.is_multipart:
        children = b"".join(_structure(raw, child, extensible) for child in entity.children)
        items = [children or _empty_part(extensible), _q(entity.subtype)]
        if extensible:
            items.append(b" ".join([_param_list(entity.params), *_extension(raw, entity)]))
        return b"(" + items[0] + b" " + b" ".join(items[1:]) + b")"
    encoding = header_value(raw, entity, "content-transfer-encoding")
    items = [
        _q(entity.maintype),
        _q(entity.subtype),
        _param_list(entity.params),
        nstring(header_value(raw, entity, "content-id")),
        nstring(header_value(raw, entity, "content-description")),
        _q(encoding.decode("latin-1").upper() if encoding else "7BIT"),
        b"%d" % (entity.end - entity.body_start),
    ]
    message = entity.message or entity.shallow
    if message is not None:
        items += [_envelope(raw, message), _structure(raw, message, extensible),
                  b"%d" % _lines(raw, entity.body_start, entity.end)]
    elif entity.maintype == "TEXT":
        items.append(b"%d" % _lines(raw, entity.body_start, entity.end))
    if extensible:
        items += [nstring(header_value(raw, entity, "content-md5")), *_extension(raw, entity)]
    return b"(" + b" ".join(items) + b")"


def bodystructure(raw: bytes, *, extensible: bool) -> bytes:
    """BODYSTRUCTURE (``extensible``) or BODY (RFC 3501 §7.4.2)."""
    return _structure(raw, parse_structure(raw), extensible)


# -- BODY[section] -------------------------------------------------------------------------------------


def _locate(raw: bytes, root: Entity, section: Section) -> tuple[int, int] | bytes:
    """The span of ``raw`` a section names (RFC 3501 §6.4.5), or the bytes when they are not one span
    (HEADER.FIELDS); an empty span when the message has no such part."""
    nothing = (0, 0)
    entity, whole_entity = root, True
    for depth, number in enumerate(section.parts):
        if entity.is_multipart:
            if number > len(entity.children):
                return nothing
            entity, whole_entity = entity.children[number - 1], False
        elif whole_entity and number == 1:
            whole_entity = False  # part 1 of a non-multipart message is its body
        else:
            return nothing
        if depth + 1 < len(section.parts) and entity.message is not None:
            entity, whole_entity = entity.message, True
    if section.text == "":
        if not section.parts:
            return 0, len(raw)
        return entity.body_start, entity.end
    if section.text == "MIME":
        return entity.start, entity.body_start
    target: Entity | None = root if not section.parts else entity.message
    if target is None:
        return nothing
    if section.text == "HEADER":
        return target.start, target.body_start
    if section.text == "TEXT":
        return target.body_start, target.end
    wanted = {name.lower() for name in section.fields}
    keep = section.text == "HEADER.FIELDS"
    picked = [raw[start:end] for name, start, _, end in target.fields if (name in wanted) == keep]
    return b"".join(picked) + b"\r\n"


def _slice(raw: bytes, span: tuple[int, int] | bytes, partial: tuple[int, int] | None) -> bytes | memoryview:
    """The octets of a located section, after the partial range: a view of ``raw``, not a copy."""
    if isinstance(span, bytes):
        return span if partial is None else span[partial[0] : partial[0] + partial[1]]
    start, end = span
    if partial is not None:
        start, end = min(start + partial[0], end), min(start + partial[0] + partial[1], end)
    if start == 0 and end == len(raw):
        return raw
    return memoryview(raw)[start:end]


def body_section(raw: bytes, section: str) -> bytes:
    """The octets of ``BODY[section]`` (before any partial range); b"" when the message has no such part."""
    return bytes(_slice(raw, _locate(raw, parse_structure(raw), parse_section(section)), None))


# -- the FETCH response ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageView:
    uid: int
    flags: tuple[str, ...]
    internal_date: datetime
    size: int
    raw: bytes


def fetch_response_parts(msn: int, message: MessageView, items: list[FetchItem], *,
                         include_uid: bool) -> list[bytes | memoryview]:
    """The FETCH response as pieces to write in order (``transport.writelines``): bodies are views of the
    raw message, so a 25 MB message is not copied to be sent. :func:`render_fetch` joins them."""
    ordered: list[FetchItem] = []
    if include_uid:
        ordered.append(FetchItem("UID"))
    for item in items:
        if item not in ordered:
            ordered.append(item)
    raw = message.raw
    root = parse_structure(raw) if any(item.needs_structure for item in ordered) else None
    out: list[bytes | memoryview] = [b"* %d FETCH (" % msn]
    for index, item in enumerate(ordered):
        name = item.name
        out.append((b" " if index else b"") + item.label().encode("ascii") + b" ")
        body: bytes | memoryview | None = None
        if name == "UID":
            out.append(b"%d" % message.uid)
        elif name == "FLAGS":
            out.append(b"(" + " ".join(message.flags).encode("utf-8") + b")")
        elif name == "INTERNALDATE":
            out.append(imap_date(message.internal_date))
        elif name == "RFC822.SIZE":
            out.append(b"%d" % message.size)
        elif name == "ENVELOPE":
            assert root is not None
            out.append(_envelope(raw, root))
        elif name in ("BODYSTRUCTURE", "BODY") and item.section is None:
            assert root is not None
            out.append(_structure(raw, root, name == "BODYSTRUCTURE"))
        elif name == "RFC822":
            body = raw
        elif name == "RFC822.HEADER":
            assert root is not None
            body = memoryview(raw)[: root.body_start]
        elif name == "RFC822.TEXT":
            assert root is not None
            body = memoryview(raw)[root.body_start :]
        else:
            span = (0, len(raw)) if root is None else _locate(raw, root, parse_section(item.section or ""))
            body = _slice(raw, span, item.partial)
        if body is not None:  # bodies always as literals (RFC 3501 §4.3): any octet may be in them
            out.append(b"{%d}\r\n" % len(body))
            out.append(body)
    out.append(b")\r\n")
    return out


def render_fetch(msn: int, message: MessageView, items: list[FetchItem], *, include_uid: bool) -> bytes:
    """``* msn FETCH (...)\\r\\n`` (RFC 3501 §7.4.2), bodies as literals; UID first when ``include_uid``
    (a UID FETCH always returns it, §6.4.8)."""
    return b"".join(fetch_response_parts(msn, message, items, include_uid=include_uid))
