"""The patient side's rules, without I/O.

Sources: reference/segur-requirements.md §4 ("Mon espace santé patient side: feature checklist"), reference/dmp.md
§2.4-§2.6 (visibility codes, the patient's controls, traces), the issue 13 contract (sign-in by INS and a one-time
code: 6 digits, 5 minutes, 3 tries).

Decisions (docs/mes.md):
- A legal representative acts for a person only while that person is a minor (under 18 on the day), even if the
  relation is still recorded: at 18 the young adult takes over their own profile (Mon espace santé transfers the
  profile at majority).
- A person's birth date may have an unknown day or month (INSi writes ``00``): the unknown part is taken as the
  latest possible (31 December / end of month), so nobody is treated as an adult before they surely are.
"""

from __future__ import annotations

import calendar
import re
import secrets
from datetime import date

INS_PATTERN = re.compile(r"^[0-9]{13}[0-9]{2}$|^[12][0-9]{4}2[AB][0-9]{6}[0-9]{2}$")
CODE_PATTERN = re.compile(r"^[0-9]{6}$")
MAJORITY_AGE = 18


def clean_ins(value: str) -> str:
    """An INS as people type it (spaces, dots), upper-cased: 15 characters when well-formed."""
    return re.sub(r"[\s.\-]", "", value or "").upper()


def well_formed_ins(value: str) -> bool:
    return bool(INS_PATTERN.match(value))


def new_code() -> str:
    """A one-time code: 6 digits from the system's CSPRNG."""
    return f"{secrets.randbelow(1_000_000):06d}"


def well_formed_code(value: str) -> bool:
    return bool(CODE_PATTERN.match(value or ""))


def birth_date_latest(text: str) -> date | None:
    """The latest day a birth date written ``YYYY-MM-DD`` (``00`` for an unknown month or day) may mean."""
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})$", text or "")
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= year <= 9999 or month > 12:
        return None
    if month == 0:
        month, day = 12, 31
    last = calendar.monthrange(year, month)[1]
    if day == 0 or day > last:
        day = last
    return date(year, month, day)


def is_minor(birth_date: str, today: date) -> bool:
    """Under 18 on ``today``; an unreadable birth date is no minor (nobody may act for them)."""
    born = birth_date_latest(birth_date)
    if born is None:
        return False
    try:
        majority = born.replace(year=born.year + MAJORITY_AGE)
    except ValueError:  # born on 29 February: majority on 1 March
        majority = date(born.year + MAJORITY_AGE, 3, 1)
    return today < majority


def tries_left(tries: int, max_tries: int) -> int:
    return max(0, max_tries - tries)
