"""Reading DATA in bulk (pure): the end of data, dot-unstuffing, the line length limit."""

from __future__ import annotations

import random

from app.mss.smtp.data import _has_long_line, _unstuffed, line_too_long


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
        assert line_too_long(buffer[2:]) == longest_line_over(buffer), buffer[:80]


def test_dot_unstuffing_matches_the_plain_rule() -> None:
    rng = random.Random(9)
    cases = [b"\r\n", b"\r\n.\r\n", b"\r\n..\r\n", b"\r\n.x\r\n.\r\n..y\r\n", b"\r\nno dot\r\n"]
    for _ in range(500):
        cases.append(b"\r\n" + bytes(rng.choice(b".\r\nab") for _ in range(rng.randint(0, 60))) + b"\r\n")
    for buffer in cases:
        assert _unstuffed(bytearray(buffer)) == plain_unstuff(buffer), buffer


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
