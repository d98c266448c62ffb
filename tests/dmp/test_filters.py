"""Search filters as SQL (app/dmp/filters.py): date prefixes on instants and ranges, tokens taken literally."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql

from app.dmp.filters import DateRange, Token, date_clauses, like_literal, like_tokens, token_clause
from app.dmp.models import DmpDocument

LOW, HIGH = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)


def _sql(clause) -> str:  # type: ignore[no-untyped-def]
    return str(clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def test_date_prefixes_compare_the_range_bounds():
    d = DmpDocument.date
    said = {prefix: _sql(date_clauses(d, [DateRange(prefix, LOW, HIGH)])[0])
            for prefix in ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")}
    low, high = "'2026-01-01 00:00:00+00:00'", "'2026-01-02 00:00:00+00:00'"
    assert said["ge"].endswith(f">= {low}") and said["gt"].endswith(f">= {high}")
    assert said["lt"].endswith(f"< {low}") and said["le"].endswith(f"< {high}")
    assert said["sa"].endswith(f">= {high}") and said["eb"].endswith(f"< {low}")
    assert " AND " in said["eq"] and " OR " in said["ne"]
    ranged = _sql(date_clauses(DmpDocument.period_start, [DateRange("ge", LOW, HIGH)],
                               end_column=DmpDocument.period_end)[0])
    assert "coalesce(dmp_document.period_end, dmp_document.period_start) >=" in ranged


def test_tokens_with_and_without_system():
    d = DmpDocument
    assert "type_system" in _sql(token_clause(d.type_system, d.type_code, [Token("http://loinc.org", "1")]))
    assert "type_system" not in _sql(token_clause(d.type_system, d.type_code, [Token(None, "1")]))
    assert "type_system" not in _sql(token_clause(d.type_system, d.type_code, [Token("", "1")]))
    assert _sql(like_tokens(d.event_codes, [Token("s", "c")]))


def test_like_literal_escapes_the_pattern_characters():
    assert like_literal("50%_a\\b") == "50\\%\\_a\\\\b"
