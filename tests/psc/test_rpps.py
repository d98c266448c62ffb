"""RPPS numbers and national ids (app/psc/rpps.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.psc import rpps


def test_luhn_known_values() -> None:
    # 79927398713 is the textbook Luhn example; SIRET 73282932000074 (a real published SIRET).
    assert rpps.is_luhn_valid("79927398713")
    assert not rpps.is_luhn_valid("79927398710")
    assert rpps.is_luhn_valid("73282932000074")
    assert rpps.luhn_key("7992739871") == "3"


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_rpps_with_key_is_valid_and_single_digit_errors_are_caught(body: str) -> None:
    number = rpps.rpps_with_key(body)
    assert rpps.is_valid_rpps(number)
    for position in range(11):
        digit = int(number[position])
        changed = number[:position] + str((digit + 1) % 10) + number[position + 1 :]
        assert not rpps.is_valid_rpps(changed)


def test_subject_name_id_round_trip() -> None:
    number = rpps.rpps_with_key("1000100001")
    sni = rpps.subject_name_id(number)
    assert sni == "8" + number and len(sni) == 12
    assert rpps.rpps_from_subject_name_id(sni) == number
    assert rpps.rpps_from_subject_name_id("ANS20231122132732") is None
    with pytest.raises(ValueError):
        rpps.subject_name_id("10001000010")  # wrong key


def test_rpps_rejects_non_digits() -> None:
    assert not rpps.is_valid_rpps("1000100001a")
    assert not rpps.is_valid_rpps("١٠٠٠١٠٠٠٠١٦")  # Arabic-Indic digits are not ASCII
    with pytest.raises(ValueError):
        rpps.rpps_with_key("123")
