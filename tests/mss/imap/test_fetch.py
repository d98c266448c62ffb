"""FETCH items and responses (pure): RFC 3501 §6.4.5 (items, sections, partial), §7.4.2 (ENVELOPE,
BODYSTRUCTURE, BODY), §8 (the sample exchange), checked on MSSanté message shapes and a nested
message/rfc822; every response read back with a small s-expression reader."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.mss.imap.fetch import (
    FetchItem,
    MessageView,
    body_section,
    bodystructure,
    envelope,
    parse_fetch_items,
    parse_structure,
    render_fetch,
)
from app.mss.imap.wire import Atom, ImapSyntaxError, parse_command
from tests.mss.helpers import build_message, sample_xdm

# -- a reader for what the server writes ------------------------------------------------------------------


class Sexp:
    """Reads IMAP response data: atoms (str), strings and literals (bytes), NIL (None), lists."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self) -> object:
        data = self.data
        char = data[self.pos : self.pos + 1]
        if char == b"(":
            self.pos += 1
            items: list[object] = []
            while data[self.pos : self.pos + 1] != b")":
                if items:  # a space between items; none between two lists (address lists, multipart bodies, §9)
                    if not (data[self.pos - 1 : self.pos + 1] == b")(" and isinstance(items[-1], list)):
                        assert data[self.pos : self.pos + 1] == b" ", (self.pos, data[self.pos - 20 : self.pos + 20])
                        self.pos += 1
                items.append(self.read())
            self.pos += 1
            return items
        if char == b'"':
            out = bytearray()
            self.pos += 1
            while data[self.pos] != 0x22:
                if data[self.pos] == 0x5C:
                    self.pos += 1
                    assert data[self.pos] in b'"\\'
                out.append(data[self.pos])
                assert data[self.pos] not in b"\r\n"
                self.pos += 1
            self.pos += 1
            return bytes(out)
        if char == b"{":
            match = re.compile(rb"\{(\d+)\}\r\n").match(data, self.pos)
            assert match, data[self.pos : self.pos + 20]
            start = match.end()
            self.pos = start + int(match.group(1))
            assert self.pos <= len(data)
            return data[start : self.pos]
        match = re.compile(rb"[^ ()\[\]]+(\[[^\]]*\](<\d+>)?)?").match(data, self.pos)
        assert match and match.end() > self.pos, (self.pos, data[self.pos : self.pos + 20])
        self.pos = match.end()
        atom = match.group(0).decode()
        return None if atom == "NIL" else atom

    def read_all(self) -> object:
        value = self.read()
        assert self.pos == len(self.data), self.data[self.pos :]
        return value


def read_fetch(response: bytes) -> tuple[int, dict[str, object]]:
    match = re.match(rb"\* (\d+) FETCH ", response)
    assert match and response.endswith(b"\r\n")
    items = Sexp(response[match.end() : -2]).read_all()
    assert isinstance(items, list) and len(items) % 2 == 0
    return int(match.group(1)), dict(zip(items[::2], items[1::2], strict=True))


def sexp(data: bytes) -> object:
    return Sexp(data).read_all()


def view(raw: bytes, *, uid: int = 7, flags: tuple[str, ...] = ("\\Seen",)) -> MessageView:
    return MessageView(uid=uid, flags=flags, internal_date=datetime(2024, 3, 1, 8, 30, tzinfo=UTC), size=len(raw),
                       raw=raw)


def fetch(raw: bytes, spec: str, **kwargs) -> dict[str, object]:
    items = parse_fetch_items(parse_command([f"t FETCH 1 {spec}".encode()]).args[1:])
    return read_fetch(render_fetch(1, view(raw), items, include_uid=kwargs.pop("include_uid", False)))[1]


# -- item parsing ---------------------------------------------------------------------------------------


def items_of(spec: str) -> list[FetchItem]:
    return parse_fetch_items(parse_command([f"t FETCH 1 {spec}".encode()]).args[1:])


def test_macros_and_simple_items():
    assert [i.name for i in items_of("ALL")] == ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"]
    assert [i.name for i in items_of("fast")] == ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
    assert items_of("FULL")[-1] == FetchItem("BODY")
    assert items_of("(uid rfc822.size Body BODYSTRUCTURE)") == [
        FetchItem("UID"), FetchItem("RFC822.SIZE"), FetchItem("BODY"), FetchItem("BODYSTRUCTURE")]


def test_body_sections_are_normalised():
    [item] = items_of('body.peek[1.2.header.fields (From "x-mss-nil")]<0.100>')
    assert item == FetchItem("BODY", "1.2.HEADER.FIELDS (FROM X-MSS-NIL)", (0, 100), peek=True)
    assert item.label() == "BODY[1.2.HEADER.FIELDS (FROM X-MSS-NIL)]<0>"
    assert not item.sets_seen()
    assert items_of("BODY[]")[0] == FetchItem("BODY", "")
    assert items_of("BODY[3.mime]")[0].section == "3.MIME"
    assert items_of("BODY[TEXT]")[0].label() == "BODY[TEXT]"
    assert [i.sets_seen() for i in items_of("(BODY[] BODY.PEEK[] RFC822 RFC822.TEXT RFC822.HEADER BODY FLAGS)")] == [
        True, False, True, True, False, False, False]


@pytest.mark.parametrize(("spec", "message"), [
    ("", "needs the items"),
    ("FLAGS UID", "one item"),
    ("()", "at least one item"),
    ('"FLAGS"', "atoms"),
    ("(FLAGS ALL)", "macro ALL cannot be used inside a list"),
    ("(FLAGS (UID))", "atoms"),
    ("FOO", "unknown FETCH item 'FOO'"),
    ("BODY.PEEK", "unknown FETCH item"),
    ("BODY[MIME]", "MIME needs a part number"),
    ("BODY[0]", "invalid part number '0'"),
    ("BODY[1.0]", "invalid part number '0'"),
    ("BODY[HEADERS]", "invalid section"),
    ("BODY[HEADER.FIELDS]", "needs a list of header names"),
    ("BODY[HEADER.FIELDS ()]", "header list is empty"),
    ("BODY[HEADER.FIELDS (FROM:)]", "invalid header name"),
    ("BODY[TEXT (FROM)]", "unexpected"),
    ("BODY[HEADER.FIELDS (A) B]", "unexpected text after the list"),
    ("BODY[]<0>", "expected BODY[section]<origin.count>"),
    ("BODY[]<0.0>", "at least 1"),
    ("BODY[]<0.99999999999>", "32-bit"),
    ("BINARY[1]", "unknown FETCH item"),
])
def test_item_errors(spec, message):
    with pytest.raises(ImapSyntaxError, match=re.escape(message)):
        items_of(spec) if spec else parse_fetch_items([])


# -- RFC 3501's own examples --------------------------------------------------------------------------------

RFC3501_SAMPLE_HEADER = (
    b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
    b"From: Terry Gray <gray@cac.washington.edu>\r\n"
    b"Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
    b"To: imap@cac.washington.edu\r\n"
    b"cc: minutes@CNRI.Reston.VA.US,\r\n John Klensin <KLENSIN@MIT.EDU>\r\n"
    b"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n"
)


def lines_body(octets: int, lines: int) -> bytes:
    """A body of exactly ``octets`` octets in ``lines`` CRLF-terminated lines."""
    width = (octets - 2 * lines) // lines
    body = [b"x" * width for _ in range(lines)]
    body[0] += b"y" * (octets - 2 * lines - width * lines)
    return b"".join(line + b"\r\n" for line in body)


def test_rfc3501_section8_sample_fetch_is_reproduced_octet_for_octet():
    """The §8 sample, but for one octet: the sample puts a space between the two cc addresses, which the
    formal grammar (§9 ``env-cc = "(" 1*address ")"``, normative) does not have."""
    raw = RFC3501_SAMPLE_HEADER + lines_body(3028, 92)
    message = MessageView(uid=12, flags=("\\Seen",), size=4286, raw=raw,
                          internal_date=datetime(1996, 7, 17, 2, 44, 25, tzinfo=timezone(-timedelta(hours=7))))
    response = render_fetch(12, message, items_of("FULL"), include_uid=False)
    assert response == (
        b'* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ENVELOPE '
        b'("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) '
        b'((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL '
        b'"<B27397-0100000@cac.washington.edu>") '
        b'BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))\r\n'
    )
    assert read_fetch(response)[0] == 12
    # §8: "a004 fetch 12 body[header]" returns the header with its blank line
    assert fetch(raw, "body[header]")["BODY[HEADER]"] == RFC3501_SAMPLE_HEADER


def test_rfc3501_section7_4_2_body_example():
    """The multipart example of §7.4.2, rebuilt: two text parts, the second base64 with an id, a description
    and a NAME parameter."""
    part1 = lines_body(1152, 23)
    part2 = lines_body(4554, 73)
    raw = (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/plain; charset=US-ASCII\r\n\r\n" + part1 +
        b"\r\n--XX\r\nContent-Type: text/plain; charset=US-ASCII; name=cc.diff\r\n"
        b"Content-ID: <960723163407.20117h@cac.washington.edu>\r\nContent-Description: Compiler diff\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + part2 + b"\r\n--XX--\r\n"
    )
    assert bodystructure(raw, extensible=False) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)("TEXT" "PLAIN" ("CHARSET" "US-ASCII" '
        b'"NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED")'
    )
    assert body_section(raw, "1") == part1
    assert body_section(raw, "2") == part2
    extended = sexp(bodystructure(raw, extensible=True))
    assert extended[2:] == [b"MIXED", [b"BOUNDARY", b"XX"], None, None, None]


# -- MSSanté messages ---------------------------------------------------------------------------------------


def mss_message() -> tuple[bytes, bytes]:
    xdm = sample_xdm()
    raw = build_message(xdm_bytes=xdm, pdf=True, headers={
        "Date": "Mon, 04 Mar 2024 10:00:00 +0100", "Message-ID": "<abc@sandbox.test>",
        "Cc": '"Durand, Marie" <marie.durand@hopital-a.mssante.fr>, Secrétariat <sec@hopital-a.mssante.fr>',
        "Reply-To": "Équipe: a@x.mssante.fr, b@x.mssante.fr;"})
    return raw, xdm


def test_mss_message_bodystructure_by_hand():
    raw, xdm = mss_message()
    boundary = re.search(rb'boundary="([^"]+)"', raw).group(1)
    chunks = raw.split(b"--" + boundary)
    assert len(chunks) == 5 and chunks[4].startswith(b"--")

    def body_of(chunk: bytes) -> bytes:  # by hand: after the part's blank line, up to the CRLF of the delimiter
        return chunk[2:].split(b"\r\n\r\n", 1)[1][:-2]

    text, zip_b64, pdf_b64 = (body_of(chunks[i]) for i in (1, 2, 3))
    structure = sexp(bodystructure(raw, extensible=True))
    assert structure == [
        [b"TEXT", b"PLAIN", [b"CHARSET", b"utf-8"], None, None, b"7BIT", str(len(text)), str(text.count(b"\n")),
         None, None, None, None],
        [b"APPLICATION", b"ZIP", None, None, None, b"BASE64", str(len(zip_b64)), None,
         [b"ATTACHMENT", [b"FILENAME", b"IHE_XDM.ZIP"]], None, None],
        [b"APPLICATION", b"PDF", None, None, None, b"BASE64", str(len(pdf_b64)), None,
         [b"ATTACHMENT", [b"FILENAME", b"CR.pdf"]], None, None],
        b"MIXED", [b"BOUNDARY", boundary], None, None, None,
    ]
    assert sexp(bodystructure(raw, extensible=False))[1] == [
        b"APPLICATION", b"ZIP", None, None, None, b"BASE64", str(len(zip_b64))]
    # the XDM attachment, fetched and decoded, is the zip that was sent
    assert base64.b64decode(body_section(raw, "2")) == xdm
    assert body_section(raw, "2.MIME").startswith(b"Content-Type: application/zip\r\n")
    assert body_section(raw, "2.MIME").endswith(b"\r\n\r\n")


def test_mss_message_envelope_groups_and_quoted_names():
    raw, _ = mss_message()
    env = sexp(envelope(raw))
    assert env == [
        b"Mon, 04 Mar 2024 10:00:00 +0100",
        b"XDM/1.0/DDM+Compte rendu ADRUN ZOE 19751231",
        [[b"Dr Jean MARTIN", None, b"jean.martin", b"medecin.mssante.fr"]],
        [[b"Dr Jean MARTIN", None, b"jean.martin", b"medecin.mssante.fr"]],  # sender defaults to from
        [[None, None, b"=?utf-8?q?=C3=89quipe?=", None], [None, None, b"a", b"x.mssante.fr"],
         [None, None, b"b", b"x.mssante.fr"], [None, None, None, None]],
        [[None, None, b"marie.durand", b"hopital-a.mssante.fr"]],
        [[b"Durand, Marie", None, b"marie.durand", b"hopital-a.mssante.fr"],
         [b"=?utf-8?q?Secr=C3=A9tariat?=", None, b"sec", b"hopital-a.mssante.fr"]],
        None,
        None,
        b"<abc@sandbox.test>",
    ]


def test_envelope_keeps_encoded_words_and_odd_addresses():
    raw = (b"Subject: =?utf-8?q?Compte_rendu_=C3=A9?=\r\n"
           b"From: =?utf-8?b?w4lsb2RpZQ==?= <e@x.fr> (comment), \"a\\\"b\" <@r1,@r2:c@y.fr>\r\n"
           b"Sender: \r\nTo: undisclosed-recipients:;\r\nBcc: nodomain, <>\r\n"
           b"In-Reply-To: <p@x>\r\n\r\nbody")
    env = sexp(envelope(raw))
    assert env[1] == b"=?utf-8?q?Compte_rendu_=C3=A9?="  # RFC 2047 encoded words stay encoded (§7.4.2)
    assert env[2] == [[b"=?utf-8?b?w4lsb2RpZQ==?=", None, b"e", b"x.fr"], [b'a"b', b"@r1,@r2", b"c", b"y.fr"]]
    assert env[3] == env[2]  # an empty Sender is from's
    assert env[5] == [[None, None, b"undisclosed-recipients", None], [None, None, None, None]]
    assert env[7] == [[None, None, b"nodomain", b""], [None, None, b"", b""]]
    assert env[8] == b"<p@x>"
    assert sexp(envelope(b"")) == [None] * 10
    # RFC 6532 UTF-8 in a header: the octets as sent, in a literal (a quoted string is 7-bit)
    assert envelope("From: Élodie <e@x.fr>\r\n\r\n".encode()).startswith(b'(NIL NIL (({7}\r\n\xc3\x89lodie NIL "e"')


NESTED = (
    b"From: a@x.fr\r\nSubject: fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"
    b"preamble\r\n--outer\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
    b"--outer\r\nContent-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n"
    b"From: b@y.fr\r\nTo: c@z.fr\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=\"in\"\r\n\r\n"
    b"--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\nworld\r\n"
    b"--in\r\nContent-Type: text/html; charset=utf-8\r\nContent-Language: fr, en\r\n\r\n<p>hello</p>\r\n"
    b"--in--\r\n"
    b"\r\n--outer--\r\nepilogue\r\n"
)


def test_nested_message_rfc822_sections():
    inner = NESTED[NESTED.index(b"From: b@y.fr") : NESTED.index(b"\r\n--outer--")]
    inner_header = inner[: inner.index(b"\r\n\r\n") + 4]
    assert body_section(NESTED, "1") == b"see below"
    assert body_section(NESTED, "2") == inner
    assert body_section(NESTED, "2.HEADER") == inner_header
    assert body_section(NESTED, "2.TEXT") == inner[len(inner_header) :]
    assert body_section(NESTED, "2.1") == b"hello\r\nworld"
    assert body_section(NESTED, "2.2") == b"<p>hello</p>"
    assert body_section(NESTED, "2.2.MIME") == (
        b"Content-Type: text/html; charset=utf-8\r\nContent-Language: fr, en\r\n\r\n")
    assert body_section(NESTED, "2.HEADER.FIELDS (SUBJECT TO)") == b"To: c@z.fr\r\nSubject: inner\r\n\r\n"
    assert body_section(NESTED, "HEADER.FIELDS.NOT (SUBJECT MIME-VERSION CONTENT-TYPE)") == b"From: a@x.fr\r\n\r\n"
    assert body_section(NESTED, "2.MIME").startswith(b"Content-Type: message/rfc822\r\n")
    assert body_section(NESTED, "1.HEADER") == b""  # HEADER only of a message/rfc822 part (§6.4.5)
    assert body_section(NESTED, "3") == b""
    assert body_section(NESTED, "2.3") == b""
    assert body_section(NESTED, "1.1") == b""

    structure = sexp(bodystructure(NESTED, extensible=True))
    message_part = structure[1]
    assert message_part[:7] == [b"MESSAGE", b"RFC822", None, None, b"forwarded", b"7BIT", str(len(inner))]
    assert message_part[7][1] == b"inner" and message_part[7][5] == [[None, None, b"c", b"z.fr"]]
    alternative = message_part[8]
    assert alternative[0][:8] == [b"TEXT", b"PLAIN", [b"CHARSET", b"utf-8"], None, None, b"7BIT", "12", "2"]
    assert alternative[1][-2] == [b"fr", b"en"]  # Content-Language as a list
    assert alternative[2:4] == [b"ALTERNATIVE", [b"BOUNDARY", b"in"]]
    assert message_part[9] == str(inner.count(b"\n"))
    assert structure[0][:8] == [b"TEXT", b"PLAIN", None, None, None, b"7BIT", "9", "1"]


def test_single_part_message_sections():
    raw = b"Subject: x\nX-Other: y\n\nline one\nline two\n"  # bare LF line ends
    assert body_section(raw, "1") == b"line one\nline two\n"
    assert body_section(raw, "TEXT") == body_section(raw, "1")
    assert body_section(raw, "HEADER") == b"Subject: x\nX-Other: y\n\n"
    assert body_section(raw, "1.MIME") == b"Subject: x\nX-Other: y\n\n"
    assert body_section(raw, "2") == b""
    assert body_section(raw, "") is raw  # the whole message is not copied
    assert sexp(bodystructure(raw, extensible=False)) == [
        b"TEXT", b"PLAIN", [b"CHARSET", b"US-ASCII"], None, None, b"7BIT", "18", "2"]  # RFC 2045 §5.2 default


def test_malformed_structures_fall_back_to_defaults():
    # a multipart without boundary is not one (RFC 2045 §5.2: an invalid Content-Type is text/plain)
    raw = b"Content-Type: multipart/mixed\r\n\r\n--x\r\nhello\r\n"
    assert sexp(bodystructure(raw, extensible=False))[:2] == [b"TEXT", b"PLAIN"]
    # a multipart whose boundary never appears still has one (empty) part, as the grammar needs
    raw = b"Content-Type: multipart/mixed; boundary=nope\r\n\r\nno parts here\r\n"
    assert sexp(bodystructure(raw, extensible=False)) == [
        [b"TEXT", b"PLAIN", [b"CHARSET", b"US-ASCII"], None, None, b"7BIT", "0", "0"], b"MIXED"]
    # an unclosed multipart ends at the end of the message; a longer boundary is not ours
    raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--bb\r\n--b \t\r\n\r\ntwo"
    assert body_section(raw, "1") == b"one\r\n--bb"
    assert body_section(raw, "2") == b"two"
    # digest parts default to message/rfc822 (RFC 2046 §5.1.5)
    raw = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: s\r\n\r\nb\r\n--d--\r\n"
    assert sexp(bodystructure(raw, extensible=False))[0][:2] == [b"MESSAGE", b"RFC822"]
    assert body_section(raw, "1.HEADER") == b"Subject: s\r\n\r\n"
    # a message/rfc822 part that is not walked (transfer-encoded) keeps the envelope and body of the grammar
    raw = (b"Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: message/rfc822\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogcw0KDQpi\r\n--m--\r\n")
    part = sexp(bodystructure(raw, extensible=False))[0]
    assert part[:7] == [b"MESSAGE", b"RFC822", None, None, None, b"BASE64", "20"]
    assert part[7] == [None] * 10 and part[8][:2] == [b"TEXT", b"PLAIN"] and part[9] == "1"


def test_nesting_is_bounded():
    raw = b"Content-Type: text/plain\r\n\r\nhello\r\n"
    for depth in range(60):
        raw = (b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (depth, depth) + raw
               + b"\r\n--b%d--\r\n" % depth)
    root = parse_structure(raw)
    depth = 0
    while root.children:
        root, depth = root.children[0], depth + 1
    assert depth <= 16
    raw = b"Subject: s\r\n\r\nbody"
    for _ in range(40):
        raw = b"Content-Type: message/rfc822\r\n\r\n" + raw
    structure = sexp(bodystructure(raw, extensible=False))
    levels = 0
    while structure[:2] == [b"MESSAGE", b"RFC822"]:
        structure, levels = structure[8], levels + 1
    assert structure[:2] == [b"TEXT", b"PLAIN"] and levels == 17
    hostile = b"Content-Type: message/rfc822\r\n\r\n" * 100_000 + b"x"
    assert bodystructure(hostile, extensible=True).count(b'"MESSAGE" "RFC822"') == 17  # no RecursionError
    sexp(bodystructure(raw, extensible=True))


# -- whole responses ----------------------------------------------------------------------------------------


def test_render_fetch_with_literals_and_partials():
    raw, _ = mss_message()
    response = render_fetch(3, view(raw, uid=42, flags=("\\Seen", "\\Flagged", "$Label1")),
                            items_of("(FLAGS BODY.PEEK[HEADER.FIELDS (subject)] BODY[]<10.20> RFC822.SIZE "
                                     "INTERNALDATE BODY[1] BODYSTRUCTURE ENVELOPE RFC822.HEADER BODY[2]<0.5000000>)"),
                            include_uid=True)
    msn, items = read_fetch(response)
    assert msn == 3
    assert list(items)[0] == "UID" and items["UID"] == "42"
    assert items["FLAGS"] == ["\\Seen", "\\Flagged", "$Label1"]
    assert items["BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: XDM/1.0/DDM+Compte rendu ADRUN ZOE 19751231\r\n\r\n"
    assert items["BODY[]<10>"] == raw[10:30]
    assert items["RFC822.SIZE"] == str(len(raw))
    assert items["INTERNALDATE"] == b" 1-Mar-2024 08:30:00 +0000"
    assert items["BODY[1]"] == b"Veuillez trouver le compte rendu ci-joint.\r\n"
    assert items["BODY[2]<0>"] == body_section(raw, "2")
    assert items["RFC822.HEADER"] == body_section(raw, "HEADER")
    assert items["BODYSTRUCTURE"] == sexp(bodystructure(raw, extensible=True))
    assert items["ENVELOPE"] == sexp(envelope(raw))


def test_render_fetch_rfc822_forms_and_beyond_the_end():
    raw = b"Subject: s\r\n\r\nbody\r\n"
    items = fetch(raw, "(RFC822 RFC822.TEXT BODY[]<100.10> UID)")
    assert items == {"RFC822": raw, "RFC822.TEXT": b"body\r\n", "BODY[]<100>": b"", "UID": "7"}
    assert list(fetch(raw, "(FLAGS UID)", include_uid=True)) == ["UID", "FLAGS"]  # not twice, UID first


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    b"Content-Type: multipart/mixed; boundary=z\r\n", b"--z\r\n", b"--z--\r\n", b"\r\n", b"\n",
    b"Content-Type: message/rfc822\r\n", b"From: \"x\" <a@b>, (c) d:;\r\n", b"To: <\r\n", b" folded\r\n",
    b"Content-Disposition: attachment; filename=\"a\r\n", b"Content-Type: text/plain; charset=\"\r\n",
    b"text \xff\xfe\r\n", b"Subject: =?x?q?y?=\r\n"]), max_size=30).map(b"".join))
def test_any_bytes_render_a_well_formed_response(raw):
    items = items_of("(FLAGS ENVELOPE BODYSTRUCTURE BODY BODY[] BODY[1] BODY[1.1.MIME] BODY[2.HEADER] BODY[TEXT])")
    msn, parsed = read_fetch(render_fetch(1, view(raw), items, include_uid=True))
    assert parsed["BODY[]"] == raw


def test_parse_command_keeps_the_fetch_atom_whole():
    assert parse_command([b"t FETCH 1 BODY.PEEK[HEADER.FIELDS (A B)]<0.1>"]).args[1] == Atom(
        "BODY.PEEK[HEADER.FIELDS (A B)]<0.1>")


@given(st.lists(st.sampled_from(["(", ")", " ", "BODY[", "BODY.PEEK[", "]", "<1.2>", "<0>", "1.", "2", "HEADER",
                                 ".FIELDS", ".NOT", " (A B)", "TEXT", "MIME", "FLAGS", "ALL", "UID", '"x"', "NIL",
                                 "RFC822", ".SIZE", "0", "*"]), max_size=15).map("".join))
def test_any_item_list_parses_or_is_a_syntax_error(text):
    try:
        args = parse_command([f"t FETCH 1 {text}".encode()]).args[1:]
        items = parse_fetch_items(args)
    except ImapSyntaxError as exc:
        assert exc.message
    else:
        for item in items:
            item.label()
