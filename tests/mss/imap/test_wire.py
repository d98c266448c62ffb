"""IMAP command tokens and response formatting (pure): RFC 3501 §4, §5.1.3, §9; RFC 7888 LITERAL+."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.mss.imap.wire import (
    MAX_LINE,
    MAX_NESTING,
    Atom,
    Command,
    ImapSyntaxError,
    astring,
    decode_mailbox,
    decode_mutf7,
    encode_mailbox,
    encode_mutf7,
    imap_date,
    literal_announced,
    nstring,
    parse_command,
    parse_date,
    parse_datetime,
    parse_list,
    quoted_or_literal,
)


def split_literals(data: bytes) -> list[bytes]:
    """The parts the server would hand over for a command written in one piece (literals inline)."""
    parts: list[bytes] = []
    rest = data
    while True:
        newline = rest.find(b"\r\n")
        line = rest if newline < 0 else rest[:newline]
        announced = literal_announced(line) if newline >= 0 else None
        if announced is None:
            parts.append(line)
            return parts
        size = announced[0]
        parts.append(line)
        parts.append(rest[newline + 2 : newline + 2 + size])
        rest = rest[newline + 2 + size :]


def test_command_tokens():
    command = parse_command([b'a1 uid fetch 1:*,3 (FLAGS BODY.PEEK[HEADER.FIELDS (FROM "To")]<0.10> \\Seen) NIL ""'])
    assert command == Command("a1", "FETCH", True, [
        Atom("1:*,3"),
        [Atom("FLAGS"), Atom('BODY.PEEK[HEADER.FIELDS (FROM "To")]<0.10>'), Atom("\\Seen")],
        None,
        b"",
    ])
    assert parse_command([b"A.b]c NOOP"]) == Command("A.b]c", "NOOP", False, [])
    assert parse_command([b'x LOGIN "a\\\\b" "p\\"w"']).args == [b"a\\b", b'p"w']
    assert parse_command([b"x SELECT ((a (b)) ())"]).args == [[[Atom("a"), [Atom("b")]], []]]
    assert parse_command([b'x LIST "" %/*']).args == [b"", Atom("%/*")]


def test_literals_synchronizing_and_plus():
    parts = [b"t APPEND Sent (\\Seen) {5}", b"ab\r\nc", b""]
    assert parse_command(parts).args == [Atom("Sent"), [Atom("\\Seen")], b"ab\r\nc"]
    parts = [b"t LOGIN {3+}", b"a b", b" {0}", b"", b""]
    assert parse_command(parts).args == [b"a b", b""]
    assert parse_command([b"t X ({1}", b")", b" y)"]).args == [[b")", Atom("y")]]
    assert literal_announced(b"a APPEND x {123}") == (123, False)
    assert literal_announced(b"a APPEND x {123+}") == (123, True)
    assert literal_announced(b'a LOGIN "{3}"') is None
    assert literal_announced(b"a APPEND x {12}3") is None
    assert literal_announced(b"a X {" + b"9" * 200 + b"}")[0] > 2**32  # refused by size, not a crash


@pytest.mark.parametrize(("parts", "tag", "message"), [
    ([b""], None, "empty command line"),
    ([b" NOOP"], None, "must start with a tag"),
    ([b"a+b NOOP"], None, "invalid character '+' in the tag"),
    ([b"* NOOP"], None, "invalid character '*' in the tag"),
    ([b'a" NOOP'], None, "invalid character '\"' in the tag"),
    ([b"a1"], "a1", "expected a command name after the tag"),
    ([b"a1 "], "a1", "expected the command name at position 4"),
    ([b"a1  NOOP"], "a1", "exactly one space"),
    ([b"a1 NO(OP"], "a1", "invalid character '(' in the command name at position 6"),
    ([b"a1 UID"], "a1", "expected a space before the command after UID"),
    ([b'a1 LOGIN "abc'], "a1", "unterminated quoted string starting at position 10"),
    ([b'a1 LOGIN "a\\bc"'], "a1", "may only escape"),
    ([b"a1 LOGIN x "], "a1", "expected an argument, found end of line at position 12"),
    ([b"a1 LOGIN x  y"], "a1", "exactly one space"),
    ([b"a1 FETCH 1 (FLAGS"], "a1", "missing ')' closing the list opened at position 12"),
    ([b"a1 FETCH 1 (FLAGS  UID)"], "a1", "exactly one space"),
    ([b"a1 FETCH 1 FLAGS)"], "a1", "expected a space before the next argument, found ')'"),
    ([b"a1 FETCH 1 )"], "a1", "unexpected ')'"),
    ([b"a1 FETCH 1 BODY[TEXT"], "a1", "missing ']'"),
    ([b"a1 X {3} y", b"abc", b""], "a1", "must end the line"),
    ([b"a1 X {3}", b"ab", b""], "a1", "announced 3 octets but 2 were received"),
    ([b"a1 X ~{3}", b"abc", b""], "a1", "literal8"),
    ([b"a1 X caf\xc3\xa9"], "a1", "unexpected octet 0xc3 in an atom at position 9"),
    ([b"a1 X a\x00"], "a1", "unexpected octet 0x00"),
    ([b"a1 X " + b"x" * MAX_LINE], "a1", f"longer than {MAX_LINE} octets"),
    ([b"a1 X {1}", b"z", b" (a"], "a1", "of line 2"),
    # nesting is bounded: a 1.2 KB line of "(" is a BAD, not a RecursionError (a traceback and * BYE)
    ([b"a1 SEARCH " + b"(" * 600 + b"ALL" + b")" * 600], "a1", "nested deeper than 64 levels at position 75"),
    ([b"a1 X " + b"(" * 65 + b")" * 65], "a1", "nested deeper than 64"),
    ([b"a1 X (a {1}", b"(", b" " + b"(" * 64], "a1", "nested deeper than 64 levels at position 65 of line 2"),
])
def test_syntax_errors_name_the_fault_and_keep_the_tag(parts, tag, message):
    with pytest.raises(ImapSyntaxError) as caught:
        parse_command(parts)
    assert caught.value.tag == tag
    assert message in str(caught.value)


def test_nesting_up_to_the_bound():
    deepest = parse_command([b"a X " + b"(" * MAX_NESTING + b"y" + b")" * MAX_NESTING]).args[0]
    for _ in range(MAX_NESTING):
        assert isinstance(deepest, list) and len(deepest) == 1
        deepest = deepest[0]
    assert deepest == Atom("y")
    assert len(parse_command([b"a X (" + b"() " * 2000 + b"())"]).args[0]) == 2001  # breadth is not depth
    with pytest.raises(ImapSyntaxError, match="nested deeper than 64"):
        parse_list(b"(" * 1000)
    # the depth of one list does not carry over to the next
    assert parse_command([b"a X " + (b"(" * MAX_NESTING + b")" * MAX_NESTING + b" ") * 3 + b"z"]).args[-1] == Atom("z")


def test_quoted_or_literal_and_nstring():
    assert quoted_or_literal("INBOX") == b'"INBOX"'
    assert quoted_or_literal(b'a"b\\c') == b'"a\\"b\\\\c"'
    assert quoted_or_literal(b"a\r\nb") == b"{4}\r\na\r\nb"
    assert quoted_or_literal("é") == b"{2}\r\n\xc3\xa9"
    assert quoted_or_literal(b"x" * 5000).startswith(b"{5000}\r\n")
    assert nstring(None) == b"NIL"
    assert nstring("") == b'""'
    # RFC 3501 §9: neither a quoted string (QUOTED-CHAR) nor a literal (CHAR8) may hold NUL: it is left out
    assert quoted_or_literal(b"a\x00b") == b'"ab"'
    assert quoted_or_literal(b"\x00\r\n\x00") == b"{2}\r\n\r\n"


@given(st.binary(max_size=300))
def test_strings_never_carry_nul(value):
    encoded = quoted_or_literal(value)
    assert b"\x00" not in encoded
    assert parse_command(split_literals(b"t X " + encoded)).args == [value.replace(b"\x00", b"")]


@given(st.binary(max_size=300).filter(lambda b: b"\x00" not in b))
def test_strings_round_trip_through_the_tokenizer(value):
    parts = split_literals(b"t X " + quoted_or_literal(value))
    assert parse_command(parts).args == [value]


def test_astring():
    assert astring(Atom("INBOX")) == "INBOX"
    assert astring(None) == "NIL"
    assert astring("é".encode()) == "é"
    with pytest.raises(ImapSyntaxError, match="UTF-8"):
        astring(b"\xff")
    with pytest.raises(ImapSyntaxError, match="list"):
        astring([])


def test_dates():
    moment = datetime(1996, 7, 17, 2, 44, 25, tzinfo=timezone(-timedelta(hours=7)))
    assert imap_date(moment) == b'"17-Jul-1996 02:44:25 -0700"'
    assert imap_date(datetime(2024, 2, 5, 9, 0, 0, tzinfo=UTC)) == b'" 5-Feb-2024 09:00:00 +0000"'
    assert imap_date(datetime(2024, 2, 5, 9, 0, 0)) == b'" 5-Feb-2024 09:00:00 +0000"'
    assert parse_datetime("17-Jul-1996 02:44:25 -0700") == moment
    assert parse_datetime(" 5-feb-2024 09:00:00 +0530").utcoffset() == timedelta(hours=5, minutes=30)
    assert parse_date("1-Feb-1994") == date(1994, 2, 1)
    assert parse_date("01-feb-1994") == date(1994, 2, 1)
    for bad in ("1-Foo-1994", "31-Feb-1994", "1994-02-01", "1-Feb-94", ""):
        with pytest.raises(ImapSyntaxError, match="date"):
            parse_date(bad)
    for bad in ("17-Jul-1996 02:44:25", "17-Jul-1996 25:44:25 -0700", "17-Jul-1996 02:44:25 +0099"):
        with pytest.raises(ImapSyntaxError):
            parse_datetime(bad)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 1, 1),
                    timezones=st.just(timezone(timedelta(hours=-3, minutes=-30)))))
def test_date_time_round_trip(moment):
    moment = moment.replace(microsecond=0)
    assert parse_datetime(imap_date(moment).decode()[1:-1]) == moment


def test_modified_utf7_examples_of_rfc3501():
    # RFC 3501 §5.1.3's own examples
    assert encode_mutf7("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert decode_mutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-") == "~peter/mail/台北/日本語"
    assert encode_mutf7("☺!") == "&Jjo-!"
    assert encode_mutf7("Entwürfe & Brouillons") == "Entw&APw-rfe &- Brouillons"
    assert decode_mutf7("&-") == "&"
    assert encode_mailbox("Éléments envoyés") == b'"&AMk-l&AOk-ments envoy&AOk-s"'
    assert decode_mailbox(b"&AMk-l&AOk-ments") == "Éléments"
    assert decode_mailbox(Atom("INBOX")) == "INBOX"
    assert decode_mailbox(None) == "NIL"


@pytest.mark.parametrize("bad", [
    "&Jjo!",            # shift never closed
    "&U,BTFw-&ZeVnLIqe-",  # two adjacent shifts (RFC 3501 §5.1.3 forbids)
    "&AGE-",            # printable ASCII encoded
    "&Jj-",             # truncated UTF-16
    "&2D0-",            # a lone surrogate
    "&*Jo-",            # not modified BASE64
    "a\tb",             # a control character
    "café",             # 8-bit
])
def test_modified_utf7_refuses_what_is_not_canonical(bad):
    with pytest.raises(ImapSyntaxError):
        decode_mutf7(bad)


def test_decode_mailbox_refuses_8bit_strings_and_lists():
    with pytest.raises(ImapSyntaxError, match="7-bit"):
        decode_mailbox("café".encode())
    with pytest.raises(ImapSyntaxError, match="list"):
        decode_mailbox([Atom("x")])


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=40))
def test_modified_utf7_round_trip(name):
    encoded = encode_mutf7(name)
    assert encoded.isascii()
    assert decode_mutf7(encoded) == name
    assert decode_mailbox(parse_command(split_literals(b"t SELECT " + encode_mailbox(name))).args[0]) == name


LINE_PIECES = [b"a1", b" ", b"  ", b"UID", b"FETCH", b"SEARCH", b"(", b")", b'"', b"\\", b"{", b"}", b"{3}", b"{2+}",
               b"[", b"]", b"<0.5>", b"BODY[", b"BODY.PEEK[", b"HEADER.FIELDS", b"*", b"%", b"+", b"~", b":", b",",
               b"1", b"NIL", b"\xc3\xa9", b"\x00", b"\x7f", b"&", b"-", b"\r"]


@given(st.lists(st.sampled_from(LINE_PIECES), max_size=25).map(b"".join), st.binary(max_size=4))
def test_any_line_parses_or_is_a_syntax_error(line, literal):
    parts = [line]
    announced = literal_announced(line)
    if announced is not None and announced[0] == len(literal):
        parts += [literal, b""]
    try:
        command = parse_command(parts)
    except ImapSyntaxError as exc:
        assert exc.message and (exc.tag is None or line.startswith(exc.tag.encode()))
    else:
        assert line.startswith(command.tag.encode() + b" ")
        try:
            decode_mailbox(command.args[0] if command.args else None)
        except ImapSyntaxError:
            pass
