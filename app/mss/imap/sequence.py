"""Sequence sets (RFC 3501 §9 ``sequence-set``, §6.4.8): parsing, resolution against the message sequence
numbers or UIDs of a folder, and the compact form used by COPYUID/APPENDUID (RFC 4315 ``uid-set``)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from app.mss.imap.wire import ImapSyntaxError

MAX_NUMBER = 4294967295
"""RFC 3501 §9 ``number``: an unsigned 32-bit integer."""

STAR = MAX_NUMBER + 1
"""A bare ``*`` is the range (STAR, None), i.e. ``*:*``: between "beyond any number" and the largest value
in use, which names that largest value, exactly as ``n:*`` with n above it does (RFC 3501 §6.4.8)."""

Ranges = list[tuple[int, int | None]]


def _number(text: str, element: str, whole: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ImapSyntaxError(f"invalid sequence set {whole!r}: {element!r} is not a number, a range or '*'")
    if text.startswith("0"):
        raise ImapSyntaxError(f"invalid sequence set {whole!r}: numbers start at 1 (found {text!r})")
    value = int(text) if len(text) <= 10 else MAX_NUMBER + 1
    if value > MAX_NUMBER:
        raise ImapSyntaxError(f"invalid sequence set {whole!r}: {text} is above {MAX_NUMBER}")
    return value


def parse_sequence_set(text: str) -> Ranges:
    """``"1:3,5,7:*"`` -> ``[(1, 3), (5, 5), (7, None)]``: each element a range (low, high), high None for
    ``*``; a range written high first (``5:2``) is the same range (§9 ``seq-range``); ``*:n`` is ``n:*``."""
    if not text:
        raise ImapSyntaxError("empty sequence set")
    ranges: Ranges = []
    for element in text.split(","):
        if not element:
            raise ImapSyntaxError(f"invalid sequence set {text!r}: empty element")
        ends = element.split(":")
        if len(ends) > 2:
            raise ImapSyntaxError(f"invalid sequence set {text!r}: {element!r} has more than one ':'")
        values = [None if end == "*" else _number(end, element, text) for end in ends]
        if len(values) == 1:
            ranges.append((STAR, None) if values[0] is None else (values[0], values[0]))  # type: ignore[arg-type]
            continue
        low, high = values
        if low is None and high is None:
            ranges.append((STAR, None))
        elif low is None or high is None:
            ranges.append((low if high is None else high, None))  # type: ignore[arg-type]
        else:
            ranges.append((min(low, high), max(low, high)))
    return ranges


def is_sequence_set(text: str) -> bool:
    """Whether an atom is a sequence set (SEARCH tells one from a search key by that)."""
    return bool(text) and all(c in "0123456789:,*" for c in text) and text[0] != ","


def _bounds(low: int, high: int | None, largest: int) -> tuple[int, int]:
    end = largest if high is None else high
    return min(low, end), max(low, end)


def resolve(ranges: Ranges, values: Sequence[int]) -> list[int]:
    """The members of ``values`` (ascending: the msns 1..n or the UIDs of a folder) that the set names,
    ascending, each once. ``*`` is the largest value; ``n:*`` with n above it names that largest value
    (RFC 3501 §6.4.8); nothing is named in an empty folder."""
    if not values:
        return []
    largest = values[-1]
    picked: list[int] = []
    for low, high in ranges:
        start, end = _bounds(low, high, largest)
        picked.extend(values[bisect_left(values, start) : bisect_right(values, end)])
    if len(ranges) > 1:
        picked = sorted(set(picked))
    return picked


def contains(ranges: Ranges, value: int, largest: int) -> bool:
    """Whether ``value`` is in the set, ``*`` being ``largest`` (SEARCH ``UID``/sequence-set keys)."""
    for low, high in ranges:
        start, end = _bounds(low, high, largest)
        if start <= value <= end:
            return True
    return False


def highest(ranges: Ranges) -> int | None:
    """The highest explicit number in the set (None when only ``*``): a message sequence number above the
    message count is an error the server reports (RFC 3501 §9 ``seq-number``)."""
    numbers = [n for low, high in ranges for n in (low, high) if n is not None and n != STAR]
    return max(numbers) if numbers else None


def compress(values: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1:3,5"``: runs of consecutive ascending numbers as ranges, the order kept (the
    two sets of COPYUID must correspond element by element, RFC 4315 §3)."""
    parts: list[str] = []
    index = 0
    while index < len(values):
        start = index
        while index + 1 < len(values) and values[index + 1] == values[index] + 1:
            index += 1
        parts.append(str(values[start]) if start == index else f"{values[start]}:{values[index]}")
        index += 1
    return ",".join(parts)
