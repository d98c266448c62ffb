"""SEARCH (pure): every RFC 3501 §6.4.4 key parsed and matched, CHARSET (BADCHARSET), RFC 2047 headers and
transfer-encoded bodies decoded before the case-insensitive substring match."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.mss.imap.fetch import MessageView
from app.mss.imap.search import ALL, SearchKey, UnsupportedCharset, matches, needs_raw, parse_search
from app.mss.imap.sequence import contains, parse_sequence_set, resolve
from app.mss.imap.wire import MAX_NESTING, ImapSyntaxError, parse_command
from tests.mss.helpers import build_message, sample_xdm
from tests.mss.imap.test_fetch import NESTED, at_most_calls


def program(text: str) -> tuple[str | None, SearchKey]:
    return parse_search(parse_command([b"t SEARCH " + text.encode()]).args)


def split(text: str) -> list[bytes]:
    """A command with a literal: "a {3}\\r\\nxyz b" -> parts."""
    head, _, rest = text.partition("\r\n")
    size = int(head[head.rindex("{") + 1 : -1])
    return [head.encode(), rest.encode()[:size], rest.encode()[size:]]


MSS = build_message(
    xdm_bytes=sample_xdm(), pdf=True,
    headers={"Date": "Mon, 04 Mar 2024 23:30:00 -0500", "Cc": "=?utf-8?q?Secr=C3=A9tariat?= <sec@hopital-a.mssante.fr>",
             "X-MSS-NIL": "NIL-XYZ"},
    body="Veuillez trouver le compte rendu de l'échographie ci-joint.",
)
QP = (b"From: =?iso-8859-1?q?H=E9l=E8ne?= <helene@x.fr>\r\nSubject: =?utf-8?b?UsOpc3VsdGF0cw==?=\r\n"
      b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      b"R=E9sultats d'analyse: h=E9moglobine normale=\r\n.\r\n")


def view(raw: bytes, *, uid: int = 10, flags: tuple[str, ...] = (), day: datetime | None = None) -> MessageView:
    return MessageView(uid=uid, flags=flags, internal_date=day or datetime(2024, 3, 5, 1, 0, tzinfo=UTC),
                       size=len(raw), raw=raw)


def hit(text: str, message: MessageView, *, msn: int = 2, max_msn: int = 3, max_uid: int = 12) -> bool:
    return matches(program(text)[1], message, msn=msn, max_msn=max_msn, max_uid=max_uid)


def test_flag_keys():
    seen = view(MSS, flags=("\\Seen", "\\Flagged", "$Urgent"))
    bare = view(MSS)
    for key, on_seen, on_bare in [
        ("SEEN", True, False), ("UNSEEN", False, True), ("FLAGGED", True, False), ("UNFLAGGED", False, True),
        ("ANSWERED", False, False), ("UNANSWERED", True, True), ("DELETED", False, False),
        ("UNDELETED", True, True), ("DRAFT", False, False), ("UNDRAFT", True, True),
        ("KEYWORD $urgent", True, False), ("UNKEYWORD $Urgent", False, True),
        ("RECENT", False, False), ("NEW", False, False), ("OLD", True, True), ("ALL", True, True),
    ]:
        assert (hit(key, seen), hit(key, bare)) == (on_seen, on_bare), key


def test_size_uid_sequence_and_logic():
    message = view(MSS, uid=10)
    size = len(MSS)
    assert hit(f"LARGER {size - 1}", message) and not hit(f"LARGER {size}", message)
    assert hit(f"SMALLER {size + 1}", message) and not hit(f"SMALLER {size}", message)
    assert hit("UID 5:10", message) and not hit("UID 11:*", message, max_uid=12)
    assert hit("UID 11:*", message, max_uid=10)  # n:* beyond the last UID names the last (§6.4.8)
    assert hit("2", message) and hit("1:*", message) and not hit("*", message) and hit("*", message, max_msn=2)
    assert hit("OR SEEN 2", message) and not hit("OR SEEN 3", message)
    assert hit("NOT SEEN", message) and not hit("NOT NOT SEEN", message)
    assert hit("(UNSEEN 2) UID 10", message) and not hit("(UNSEEN 3) UID 10", message)
    assert hit("OR (SEEN) (NOT (FLAGGED UID 1))", message)


def test_dates_disregard_time_and_timezone():
    message = view(MSS, day=datetime(2024, 3, 5, 1, 0, tzinfo=UTC))
    assert hit("ON 5-Mar-2024", message) and not hit("ON 4-Mar-2024", message)
    assert hit("BEFORE 6-Mar-2024", message) and not hit("BEFORE 5-Mar-2024", message)
    assert hit("SINCE 5-Mar-2024", message) and not hit("SINCE 6-Mar-2024", message)
    # Date: Mon, 04 Mar 2024 23:30:00 -0500 is the 4th as written (the 5th in UTC)
    assert hit('SENTON "4-Mar-2024"', message) and not hit("SENTON 5-Mar-2024", message)
    assert hit("SENTBEFORE 5-Mar-2024", message) and not hit("SENTBEFORE 4-Mar-2024", message)
    assert hit("SENTSINCE 4-Mar-2024", message) and not hit("SENTSINCE 5-Mar-2024", message)
    undated = view(b"Subject: x\r\n\r\nbody", day=datetime(2024, 1, 2, tzinfo=UTC))
    assert hit("SENTON 2-Jan-2024", undated)  # no Date: the internal date


def test_header_keys_decode_rfc2047_and_ignore_case():
    mss = view(MSS)
    assert hit("SUBJECT xdm/1.0/ddm", mss)
    assert hit('FROM "jean MARTIN"', mss) and hit("FROM medecin.mssante.fr", mss)
    assert hit("TO marie.durand", mss) and not hit("TO jean", mss)
    assert hit('CC "secrétariat"', mss) and hit('CC "SECRÉTARIAT"', mss)  # the encoded word decoded
    assert not hit("BCC a", mss)
    assert hit("HEADER X-MSS-NIL nil-xyz", mss) and hit('HEADER x-mss-nil ""', mss)  # "" = the field exists
    assert not hit('HEADER X-MSS-MES ""', mss)
    qp = view(QP)
    assert hit('FROM "hélène"', qp) and hit('SUBJECT "résultats"', qp)
    charset, key = parse_search(parse_command(split("t SEARCH CHARSET UTF-8 SUBJECT {10}\r\nrésultats")).args)
    assert charset == "UTF-8"
    assert matches(key, qp, msn=1, max_msn=1, max_uid=10)


def test_body_and_text_search_decoded_text_only():
    mss = view(MSS)
    assert hit('BODY "l\'échographie"', mss) and hit('BODY "ÉCHOGRAPHIE"', mss)
    assert not hit("BODY XDM/1.0", mss)  # the subject is a header, not the body
    assert hit("TEXT XDM/1.0", mss) and hit('TEXT "échographie"', mss)
    assert not hit("BODY METADATA.XML", mss)  # the zip attachment is binary, not searched
    qp = view(QP)
    assert hit('BODY "hémoglobine"', qp) and hit("BODY normale.", qp)  # QP soft line break undone
    nested = view(NESTED)
    assert hit("BODY world", nested) and hit("BODY <p>hello", nested)
    assert hit("BODY inner", nested)  # the encapsulated message's header is part of the outer body
    assert not hit("BODY preamble", nested) and not hit("BODY epilogue", nested)
    base64_text = view(b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                       b"w6ljaG9ncmFwaGll\r\n")
    assert hit('BODY "ÉCHO"', base64_text)


def test_parse_shapes_and_needs_raw():
    assert program("ALL") == (None, ALL)
    charset, key = program("charset us-ascii UNSEEN 1:3")
    assert charset == "US-ASCII" and key.op == "AND" and len(key.children) == 2
    assert not needs_raw(program("OR (UNSEEN LARGER 10) (UID 1:* SINCE 1-Jan-2024) NOT DELETED")[1])
    for raw_key in ("SUBJECT a", "NOT BODY a", "OR SEEN TEXT a", "SENTON 1-Jan-2024", "HEADER X a", "(FROM a)"):
        assert needs_raw(program(raw_key)[1]), raw_key
    assert program("SUBJECT NIL")[1].text == "NIL"  # NIL as an astring is the word NIL


def test_unsupported_charset_is_badcharset():
    with pytest.raises(UnsupportedCharset) as caught:
        program("CHARSET ISO-8859-1 SUBJECT a")
    assert caught.value.charset == "ISO-8859-1" and caught.value.supported == ("US-ASCII", "UTF-8")
    assert isinstance(caught.value, ImapSyntaxError)


@pytest.mark.parametrize(("text", "message"), [
    ("", "at least one search key"),
    ("CHARSET", "string after CHARSET is missing"),
    ("CHARSET UTF-8", "at least one search key"),
    ("FOO", "unknown search key 'FOO'"),
    ("SUBJECT", "string after SUBJECT is missing"),
    ("SUBJECT (a)", "takes a string"),
    ("OR SEEN", "search key is missing"),
    ("NOT", "search key is missing"),
    ("LARGER x", "LARGER takes a number"),
    ("LARGER 99999999999", "number up to 4294967295"),
    ("SMALLER \"5\"", "SMALLER takes a number"),
    ("SINCE 1-Foo-2024", "unknown month"),
    ("BEFORE 2024-01-01", "invalid date"),
    ("UID", "sequence set after UID is missing"),
    ("UID a", "not a number"),
    ("1:0", "numbers start at 1"),
    ("KEYWORD \\Seen", "KEYWORD takes a keyword"),
    ('KEYWORD "x"', "KEYWORD takes a keyword"),
    ("HEADER", "string after HEADER is missing"),
    ('HEADER "a b" c', "header field name"),
    ("HEADER X-A", "string after HEADER X-A is missing"),
    ("()", "empty parenthesised group"),
    ('"SEEN"', "found a string"),
    # nesting is bounded (a stack frame per level here and in matches): BAD, not a RecursionError
    ("NOT " * 1500 + "ALL", "search keys nested deeper than 64 levels"),
    ("OR " * 100 + "SEEN " * 100 + "SEEN", "search keys nested deeper than 64 levels"),
    ("(NOT " * 40 + "ALL" + ")" * 40, "search keys nested deeper than 64 levels"),
])
def test_parse_errors(text, message):
    with pytest.raises(ImapSyntaxError, match=message.replace("(", r"\(").replace("\\S", r"\\S")):
        if text:
            program(text)
        else:
            parse_search([])


def test_nesting_up_to_the_bound():
    with pytest.raises(ImapSyntaxError, match=r"\(NOT, OR and parenthesised groups\), at OR"):
        program("OR " * 100 + "SEEN " * 100 + "SEEN")
    message = view(QP)
    assert hit("NOT " * MAX_NESTING + "SEEN", message) is (MAX_NESTING % 2 == 1)
    assert hit("OR " * MAX_NESTING + "SEEN " * MAX_NESTING + "UNSEEN", message)
    assert hit("(" * 32 + "NOT " * 32 + "UNSEEN" + ")" * 32, message)
    _, key = program("NOT " * MAX_NESTING + "SUBJECT a")
    assert needs_raw(key)


def test_sequence_keys_are_looked_up_not_scanned():
    """SEARCH tests its set once per message: with the ranges an 8 KB line holds, over a large folder, each
    test is a bisection, not a walk of the ranges."""
    numbers = random.Random(12).sample(range(1, 40_000), 650)
    text = ",".join(f"{n}:{n + 3}" if n % 3 else str(n) for n in numbers) + ",39990:*"
    _, key = program(f"UID {text}")
    ranges = parse_sequence_set(text)
    uids = range(1, 40_001, 7)
    with at_most_calls(60 * len(uids)):
        found = [uid for uid in uids if matches(key, view(b"", uid=uid), msn=1, max_msn=1, max_uid=40_000)]
    assert found == resolve(ranges, uids)
    _, key = program(text)
    assert [msn for msn in range(1, 50) if matches(key, view(b""), msn=msn, max_msn=49, max_uid=1)] == [
        msn for msn in range(1, 50) if contains(ranges, msn, 49)]


def test_invalid_utf8_search_string():
    parts = [b"t SEARCH SUBJECT {1}", b"\xff", b""]
    with pytest.raises(ImapSyntaxError, match="not valid UTF-8"):
        parse_search(parse_command(parts).args)


@pytest.mark.parametrize("charset", ["base64", "hex", "rot13", "zlib", "bz2", "uu", "quopri", "idna", "punycode",
                                     "undefined", "a\x00b", "nonexistent", "utf-8"])
def test_charsets_that_are_no_text_encoding_never_break_search(charset):
    """Any sender chooses the charset parameter: one Python knows but cannot decode text with (a bytes codec,
    or one without the "replace" handler) is read as UTF-8, so SEARCH BODY/TEXT still answers."""
    raw = (f"Subject: =?{charset}?q?r=C3=A9sultats?=\r\n"
           f'Content-Type: text/plain; charset="{charset}"\r\n\r\n').encode("latin-1") + "Résultats \xff".encode()
    message = view(raw)
    assert hit('BODY "résultats"', message) and hit('TEXT "résultats"', message)
    hit("SUBJECT r", message)  # the encoded word left undecoded, or decoded: no error either way


def test_malformed_messages_never_raise():
    for raw in (b"", b"\xff\xfe", b"Date: yesterday\r\nSubject: =?x?q?broken\r\n\r\n",
                b"Content-Type: text/plain; charset=nonexistent\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@"):
        message = view(raw)
        for text in ("TEXT a", "SENTON 1-Jan-2024", "BODY a", "SUBJECT a"):
            hit(text, message)
    assert hit("SENTON 5-Mar-2024", view(b"Date: yesterday\r\n\r\n"))  # unreadable Date: the internal date
    assert date(2024, 3, 5) == view(b"").internal_date.date()


@given(st.lists(st.sampled_from(["(", ")", " ", "NOT", "OR", "SEEN", "1:*", "*", "UID", "5", "x", '"a"', "NIL",
                                 "SUBJECT", "HEADER", "CHARSET", "UTF-8", "KOI8-R", "SINCE", "1-Jan-2024", "LARGER",
                                 "KEYWORD", "\\\\Seen", "TEXT", "0", ","]), max_size=15).map("".join))
def test_any_program_parses_or_is_a_syntax_error(text):
    try:
        charset, key = program(text)
    except ImapSyntaxError as exc:
        assert exc.message
    else:
        assert charset in (None, "UTF-8")
        matches(key, view(QP), msn=1, max_msn=1, max_uid=10)
