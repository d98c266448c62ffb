"""MIME parsing (pure): malformed and deeply nested messages parsed without raising, within bounds;
what a plain address is."""

from __future__ import annotations

from app.mss import mime
from tests.mss.test_checks import report_for


def test_malformed_mime_never_raises():
    for raw in [
        b"",
        b"garbage without headers",
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno end',
        b"From: =?utf-8?b?@@@?= <a@b>\r\nSubject: =?bad?q?x?=\r\n\r\nbody",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary",
        b"\x00\xff\xfe" * 100,
    ]:
        parsed = mime.parse_message(raw)
        report = report_for(raw)
        assert report.findings
        assert parsed is not None


def test_deeply_nested_mime_is_bounded():
    inner = b"Content-Type: text/plain\r\n\r\nhello\r\n"
    for depth in range(40):
        boundary = f"b{depth}".encode()
        inner = (
            b'Content-Type: multipart/mixed; boundary="'
            + boundary
            + b'"\r\n\r\n--'
            + boundary
            + b"\r\n"
            + inner
            + b"\r\n--"
            + boundary
            + b"--\r\n"
        )
    parsed = mime.parse_message(b"From: a@b.c\r\n" + inner)
    assert parsed.truncated


def test_valid_address():
    assert mime.valid_address("275126322074974@patient.mssante.fr")
    assert not mime.valid_address("a..b@x.fr")
    assert not mime.valid_address("@x.fr")
    assert not mime.valid_address("a@[127.0.0.1]")
