"""The DATA reader's helpers against the plain definitions they replace (pure)."""

from __future__ import annotations

import random

from app.mss.smtp.data import _has_long_line, _unstuffed


def longest_line_over(buffer: bytes, limit: int = 999) -> bool:
    content = buffer[2:]
    return len(content) > 998 and max(map(len, content.split(b"\n"))) > limit


def plain_unstuff(buffer: bytes) -> bytes:
    content = buffer[2:]
    if content.startswith(b"."):
        content = content[1:]
    return content.replace(b"\r\n.", b"\r\n")


def test_long_line_detection_matches_splitting() -> None:
    rng = random.Random(5)
    cases = [b"\r\n", b"\r\n" + b"x" * 997 + b"\r\n", b"\r\n" + b"x" * 998 + b"\r\n", b"\r\n" + b"x" * 999 + b"\r\n"]
    for length in (997, 998, 999, 1000, 1001, 1500, 2500):
        for where in ("start", "middle", "end"):
            short = b"".join(b"y" * rng.randint(0, 120) + b"\r\n" for _ in range(40))
            long_line = b"z" * (length - 1) + b"\r\n"  # length octets before the LF, CR included
            body = {"start": long_line + short, "middle": short + long_line + short, "end": short + long_line}[where]
            cases.append(b"\r\n" + body)
    for _ in range(300):
        lines = [bytes(rng.choice(b"ab.\r") for _ in range(rng.choice((0, 5, 80, 499, 500, 501, 998, 999, 1000))))
                 for _ in range(rng.randint(1, 30))]
        cases.append(b"\r\n" + b"\n".join(lines) + b"\r\n")
    for buffer in cases:
        assert _has_long_line(bytearray(buffer), 2) == (len(buffer) > 1000 and longest_line_over(buffer)), buffer[:80]


def test_dot_unstuffing_matches_the_plain_rule() -> None:
    rng = random.Random(9)
    cases = [b"\r\n", b"\r\n.\r\n", b"\r\n..\r\n", b"\r\n.x\r\n.\r\n..y\r\n", b"\r\nno dot\r\n"]
    for _ in range(500):
        cases.append(b"\r\n" + bytes(rng.choice(b".\r\nab") for _ in range(rng.randint(0, 60))) + b"\r\n")
    for buffer in cases:
        assert _unstuffed(bytearray(buffer)) == plain_unstuff(buffer), buffer


def test_address_fast_path_matches_aiosmtpd() -> None:
    from aiosmtpd.smtp import SMTP

    from app.mss.smtp import MssSMTP

    server = MssSMTP.__new__(MssSMTP)  # the parser only reads local_part_limit
    server.local_part_limit = 0
    reference = SMTP.__new__(SMTP)
    reference.local_part_limit = 0
    rng = random.Random(11)
    cases = ["", "<>", "<a@b.c>", "<a.b@c.d> SIZE=100", "<a@b.c>  X", "<a@b.c>X", "<a@b.c>(comment) X",
             "<a@b.c> (comment) X", "<A.B@C.D>", "<a@b.c>\t", "<a@b.c> \x0c X", "<a@[1.2.3.4]>", "<a..b@c.d>",
             "<.a@c.d>", "<a.@c.d>", "<a@c..d>", "<a@c.d.>", "<a@-c.d>", "<@x:a@b.c>", '<"a b"@c.d>', "<a@b.c",
             "a@b.c", " <a@b.c>", "<é@b.c>", "<a@b.c> NOTIFY=SUCCESS ORCPT=rfc822;a@b.c", "<a+tag@b-c.d>",
             # RFC 2047 encoded words, which the stdlib parser decodes in a local part
             "<=?utf-8?q?foo?=@b.c>", "<=?utf-8?q?a=40b?=@c.d>", "<=?utf-8?b?YSBi?=@c.d> SIZE=1",
             "<=?us-ascii?q?a.b?=@c.d>", "<=?x?q?y?=@b.c> (c)", "<a=?utf-8?q?x?=@b.c>", "<=?@b.c>",
             "<a@=?utf-8?q?x?=.c>"]
    alphabet = "ab.@<>()\" \t-+[]:\\,;é"
    cases += ["<" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(3000)]
    cases += ["<a" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) + "@b.c>" for _ in range(500)]
    def outcome(parser: SMTP, arg: str) -> object:
        try:
            return parser._getaddr(arg)
        except Exception as exc:  # aiosmtpd's parser raises on a few inputs (e.g. a lone "<")
            return type(exc)

    for arg in cases:
        assert outcome(server, arg) == outcome(reference, arg), arg
    server.local_part_limit = reference.local_part_limit = 3
    for arg in ["<abc@d.e>", "<abcd@d.e>", "<a.bc@d.e> X"]:
        assert server._getaddr(arg) == reference._getaddr(arg), arg


def test_scan_finds_the_terminator_and_stuffed_lines_whatever_the_chunks() -> None:
    from app.mss.smtp.data import _scan_data

    rng = random.Random(13)
    streams = [b"hello\r\n.\r\n", b".\r\n", b"..x\r\n.\r\n", b"a\r\n..\r\n.\r\nQUIT\r\n", b"a\r\n.b\r\n.c\r\n.\r\n",
               b"no end\r\n", b"a\r\n.\r", b"\r\n.\r\n\r\n.\r\n"]
    streams += [bytes(rng.choice(b".\r\nab") for _ in range(rng.randint(0, 80))) for _ in range(400)]
    for stream in streams:
        buffer = b"\r\n" + stream
        expected_end = buffer.find(b"\r\n.\r\n")
        expected_stuffed = buffer.find(b"\r\n.", 0, expected_end if expected_end >= 0 else len(buffer)) >= 0
        for _ in range(5):
            data, scan_from, stuffed, end = bytearray(b"\r\n"), 0, False, -1
            rest = stream
            while rest and end < 0:
                size = rng.randint(1, 7)
                data += rest[:size]
                rest = rest[size:]
                end, scan_from, stuffed = _scan_data(data, scan_from, stuffed)
            assert end == expected_end, stream
            if end >= 0:
                assert stuffed == expected_stuffed, stream


def test_scan_of_many_dot_stuffed_lines_is_not_a_python_loop() -> None:
    """Once a dot-stuffed line is seen, only the terminator is searched for: 50,000 stuffed lines in one
    read are not walked one by one."""
    from app.mss.smtp.data import _scan_data

    class Counting(bytearray):
        finds = 0

        def find(self, *args):  # type: ignore[no-untyped-def, override]
            Counting.finds += 1
            return super().find(*args)

    buffer = Counting(b"\r\n" + b".stuffed\r\n" * 50_000 + b".\r\n")
    end, _, stuffed = _scan_data(buffer, 0, False)
    assert end == len(buffer) - 5 and stuffed and Counting.finds <= 3
    more = Counting(b"\r\n" + b".a\r\n" * 1000)
    assert _scan_data(more, 0, False) == (-1, len(more) - 4, True)
