"""The DATA reader's helpers against the plain definitions they replace (pure)."""

from __future__ import annotations

import random

from app.mss.smtp import _has_long_line, _unstuffed


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
