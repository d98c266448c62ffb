"""The patient side's pure rules: INS shapes, one-time codes, who is a minor (app/mes/rules.py)."""

from __future__ import annotations

from datetime import date

import pytest

from app.mes import rules


def test_minor_until_the_eighteenth_birthday() -> None:
    assert rules.is_minor("2008-10-10", date(2026, 10, 9))
    assert not rules.is_minor("2008-10-10", date(2026, 10, 10))
    assert rules.is_minor("2012-01-05", date(2026, 12, 7))
    assert not rules.is_minor("1975-12-31", date(2026, 12, 7))


def test_an_unknown_day_or_month_counts_as_the_latest_possible() -> None:
    assert rules.birth_date_latest("2008-00-00") == date(2008, 12, 31)
    assert rules.birth_date_latest("2008-02-00") == date(2008, 2, 29)
    assert rules.is_minor("2008-00-00", date(2026, 12, 30))
    assert not rules.is_minor("2008-00-00", date(2026, 12, 31))


def test_born_on_29_february() -> None:
    assert rules.is_minor("2008-02-29", date(2026, 2, 28))
    assert not rules.is_minor("2008-02-29", date(2026, 3, 1))


@pytest.mark.parametrize("text", ["", "2008", "2008-13-01", "abcd-ef-gh", "0000-01-01"])
def test_an_unreadable_birth_date_is_no_minor(text: str) -> None:
    assert not rules.is_minor(text, date(2026, 12, 7))


def test_codes_are_six_digits() -> None:
    codes = {rules.new_code() for _ in range(200)}
    assert all(rules.well_formed_code(c) for c in codes) and len(codes) > 150
    assert not rules.well_formed_code("12345") and not rules.well_formed_code("12345a")


@pytest.mark.parametrize(("typed", "ok"), [("275126322074974", True), ("2 75 12 63 220 749 74", True),
                                           ("297022A02077878", True), ("29702 2a 02077878", True),
                                           ("27512632207497", False), ("2751263220749745", False),
                                           ("ABCDEFGHIJKLMNO", False)])
def test_ins_shapes(typed: str, ok: bool) -> None:
    assert rules.well_formed_ins(rules.clean_ins(typed)) is ok


def test_tries_left() -> None:
    assert [rules.tries_left(n, 3) for n in range(5)] == [3, 2, 1, 0, 0]
