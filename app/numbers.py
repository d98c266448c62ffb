"""Reading a count or a size from untrusted text.

``str.isdigit()`` accepts ``"²"`` and ``"٣"``, and ``int()`` refuses more than 4,300 digits: either way a
check written with them turns bad input into a 500. Every parameter, header, slot or pointer the sandbox
reads as a number goes through :func:`ascii_count`.
"""

from __future__ import annotations

import re

_DIGITS = {n: re.compile(rf"[0-9]{{1,{n}}}") for n in range(1, 19)}


def ascii_count(text: str | None, *, max_digits: int = 9) -> int | None:
    """The non-negative integer written in ``text`` with 1 to ``max_digits`` ASCII digits, else None."""
    if text is None or not _DIGITS[max_digits].fullmatch(text):
        return None
    return int(text)
