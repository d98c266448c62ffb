"""Counts and sizes read from untrusted text: ASCII digits only, bounded length, never an exception."""

from __future__ import annotations

import pytest

from app.numbers import ascii_count


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("42", 42), ("999999999", 999_999_999)])
def test_ascii_digits_are_read(text: str, expected: int) -> None:
    assert ascii_count(text) == expected


@pytest.mark.parametrize("text", [None, "", " 5", "5 ", "-1", "+1", "1e3", "\u00b2", "\u0663", "9" * 10, "9" * 5000])
def test_anything_else_is_none(text: str | None) -> None:
    assert ascii_count(text) is None


def test_the_digit_bound_is_the_callers() -> None:
    assert ascii_count("12345", max_digits=4) is None
    assert ascii_count("1234", max_digits=4) == 1234
