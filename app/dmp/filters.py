"""Search filters as SQL, from typed values: date ranges, tokens, names, taken literally on both engines.

A face parses its protocol's search syntax into these values (FHIR ``ge2026-01-01``, ``system|code``; an
XDS stored query's slots); the queries of :mod:`app.dmp.queries` and :mod:`app.dmp.traces` turn them into
clauses here. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_

from app.db import contains_text


@dataclass(frozen=True)
class DateRange:
    """A date search value: its range [low, high) (from its precision) and how it compares (``prefix``, the
    FHIR search prefixes: eq ne gt lt ge le sa eb; ``ap`` is taken as ``eq``)."""

    prefix: str
    low: datetime
    high: datetime


@dataclass(frozen=True)
class Token:
    """A coded search value: ``system`` None when none was given (``code``), ``""`` for ``|code``."""

    system: str | None
    code: str


def date_clauses(column: Any, values: Sequence[DateRange], *, end_column: Any = None) -> list[Any]:
    """FHIR date search (R4 search.html#date). A column is one instant; with ``end_column`` the target is the
    range [column, end] (an absent end: the start alone). Prefixes on a target range [t0, t1]: ``eq`` the
    value's range contains it; ``ne`` it does not; ``gt``/``ge`` the range from high/low up overlaps it
    (``t1 >= high`` / ``t1 >= low``); ``lt``/``le`` the range below low/high overlaps it (``t0 < low`` /
    ``t0 < high``); ``sa`` it starts after the value (``t0 >= high``); ``eb`` it ends before (``t1 < low``).
    Every bound is bound through the column's type (:class:`app.db.Instant`), so it is compared as an
    instant on both engines."""
    clauses = []
    start = column
    end = column if end_column is None else func.coalesce(end_column, column)
    for value in values:
        prefix, low, high = value.prefix, value.low, value.high
        if prefix == "ge":
            clauses.append(end >= low)
        elif prefix == "gt":
            clauses.append(end >= high)
        elif prefix == "le":
            clauses.append(start < high)
        elif prefix == "lt":
            clauses.append(start < low)
        elif prefix == "sa":
            clauses.append(start >= high)
        elif prefix == "eb":
            clauses.append(end < low)
        elif prefix == "ne":
            clauses.append(or_(start < low, end >= high))
        else:
            clauses.append(and_(start >= low, end < high))
    return clauses


def token_clause(system_col: Any, code_col: Any, values: Sequence[Token]) -> Any:
    options = []
    for token in values:
        if token.system is None:
            options.append(code_col == token.code)
        elif token.system and system_col is not None:
            options.append(and_(system_col == token.system, code_col == token.code))
        else:
            options.append(code_col == token.code)
    return or_(*options)


def like_literal(text: str) -> str:
    """``text`` for a LIKE pattern with ``ESCAPE '\\'``: its ``%`` and ``_`` match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_tokens(column: Any, values: Sequence[Token], *, with_system: bool = True) -> Any:
    """Tokens kept in a text column as `` system|code ... `` (or `` code ... ``), the search values taken
    literally and case-sensitively on both engines (FHIR token search matches codes exactly; SQLite's LIKE
    would ignore ASCII case): a substring test, no pattern."""
    options = []
    for token in values:
        if token.system:
            needle = f" {token.system}|{token.code} "
        elif with_system:
            needle = f"|{token.code} "
        else:
            needle = f" {token.code} "
        options.append(contains_text(column, needle))
    return or_(*options)


def name_starts_with(column: Any, values: Sequence[str]) -> Any:
    """Names kept lower-cased in a text column as `` name name ``: any of them starting with a value (taken
    literally, as in :func:`like_tokens`)."""
    return or_(*(column.like(f"% {like_literal(v.lower())}%", escape="\\") for v in values))
