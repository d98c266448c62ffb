"""RPPS numbers and the Luhn key.

An RPPS number has 11 digits; the last is a Luhn key over the first ten (ANS, "Répertoire
Partagé des Professionnels intervenant dans le système de Santé"; same algorithm as SIRET/SIREN).
The PSC ``SubjectNameID`` of a professional is ``"8" + RPPS`` (12 characters): the ``8`` is the
national-identifier type prefix for RPPS (reference psc.md §6, ``ad2ien/prosante-connect-synapse-module``).
"""

from __future__ import annotations

import re

RPPS_LENGTH = 11
RPPS_PREFIX = "8"
_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() also accepts "²" or "٣", which int() refuses


def luhn_checksum(digits: str) -> int:
    """Luhn sum modulo 10 of ``digits`` (0 means the string carries a valid key)."""
    if not _DIGITS.fullmatch(digits):
        raise ValueError("Luhn input must be ASCII digits")
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10


def luhn_key(body: str) -> str:
    """The Luhn digit to append to ``body`` so the whole is valid."""
    return str((10 - luhn_checksum(body + "0")) % 10)


def is_luhn_valid(number: str) -> bool:
    return len(number) >= 2 and _DIGITS.fullmatch(number) is not None and luhn_checksum(number) == 0


def rpps_with_key(body: str) -> str:
    """Complete a 10-digit RPPS body with its Luhn key."""
    if len(body) != RPPS_LENGTH - 1 or not _DIGITS.fullmatch(body):
        raise ValueError("an RPPS body has 10 digits")
    return body + luhn_key(body)


def is_valid_rpps(rpps: str) -> bool:
    return len(rpps) == RPPS_LENGTH and is_luhn_valid(rpps)


def subject_name_id(rpps: str) -> str:
    """``SubjectNameID`` for an RPPS: ``"8" + RPPS``."""
    if not is_valid_rpps(rpps):
        raise ValueError(f"invalid RPPS {rpps!r}")
    return RPPS_PREFIX + rpps


def rpps_from_subject_name_id(value: str) -> str | None:
    """The RPPS inside a ``SubjectNameID``, or None for other identifier kinds (e.g. EDIT ``ANS…``)."""
    if len(value) == RPPS_LENGTH + 1 and value.startswith(RPPS_PREFIX) and is_valid_rpps(value[1:]):
        return value[1:]
    return None
