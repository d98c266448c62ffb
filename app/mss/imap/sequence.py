"""Sequence sets (RFC 3501 §9 ``sequence-set``, §6.4.8): parsing, resolution against the message sequence
numbers or UIDs of a folder, and the compact form used by COPYUID/APPENDUID (RFC 4315 ``uid-set``)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

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


def merged(ranges: Ranges, largest: int) -> list[tuple[int, int]]:
    """The set as ascending, disjoint bounds ``(first, last)``, ``*`` being ``largest``: ``1:*,2:3,5`` over
    10 values is ``[(1, 10)]``. Its size is at most the number of ranges, whatever they span."""
    out: list[tuple[int, int]] = []
    for low, high in sorted(_bounds(low, high, largest) for low, high in ranges):
        if out and low <= out[-1][1] + 1:
            if high > out[-1][1]:
                out[-1] = (out[-1][0], high)
        else:
            out.append((low, high))
    return out


def resolve(ranges: Ranges, values: Sequence[int]) -> list[int]:
    """The members of ``values`` (ascending: the msns 1..n or the UIDs of a folder) that the set names,
    ascending, each once. ``*`` is the largest value; ``n:*`` with n above it names that largest value
    (RFC 3501 §6.4.8); nothing is named in an empty folder. The ranges are merged first, so the work is
    bounded by the number of ranges and of values named (``1:*,1:*,...`` names each value once)."""
    if not values:
        return []
    picked: list[int] = []
    for start, end in merged(ranges, values[-1]):
        picked.extend(values[bisect_left(values, start) : bisect_right(values, end)])
    return picked


def contains(ranges: Ranges, value: int, largest: int) -> bool:
    """Whether ``value`` is in the set, ``*`` being ``largest`` (one look-up; :class:`Members` for many)."""
    for low, high in ranges:
        start, end = _bounds(low, high, largest)
        if start <= value <= end:
            return True
    return False


@dataclass(frozen=True)
class Members:
    """A sequence set ready for many look-ups whatever ``*`` turns out to be (SEARCH tests it once per
    message): the ranges without ``*`` merged and sorted, looked up by bisection, and the ``n:*`` ranges as
    one (they all contain ``*``, so together they span from the smallest n or ``*`` to the largest)."""

    firsts: tuple[int, ...]
    lasts: tuple[int, ...]
    star: tuple[int, int] | None  # (smallest, largest) n of the n:* ranges

    @classmethod
    def of(cls, ranges: Ranges) -> Members:
        bounds = merged([r for r in ranges if r[1] is not None], 0)
        stars = [low for low, high in ranges if high is None]
        return cls(tuple(b[0] for b in bounds), tuple(b[1] for b in bounds),
                   (min(stars), max(stars)) if stars else None)

    def contains(self, value: int, largest: int) -> bool:
        """Whether ``value`` is in the set, ``*`` being ``largest`` (as :func:`contains`)."""
        if self.star is not None and min(self.star[0], largest) <= value <= max(self.star[1], largest):
            return True
        index = bisect_right(self.firsts, value) - 1
        return index >= 0 and value <= self.lasts[index]


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
