"""The pure rules of fault injection: validation, matching, triggers, the seeded draw."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.faults import rules
from app.faults.rules import Rule, RuleError, draw, exhausted, fires, matches, validate

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
BASE = Rule(id=1, target="dmp.iti65", kind="unavailable")


def test_every_target_has_unavailable_and_slow() -> None:
    for target, kinds in rules.TARGETS.items():
        assert {"unavailable", "slow"} <= kinds, target
        assert kinds <= set(rules.KINDS)


def test_wrong_answers_only_where_the_service_has_one() -> None:
    assert {t for t, k in rules.TARGETS.items() if "wrong_answer" in k} == set(rules.WRONG_ANSWERS)


@pytest.mark.parametrize(("changes", "field"), [
    ({"target": "dmp.iti99"}, "target"),
    ({"kind": "explode"}, "kind"),
    ({"target": "mss.smtp.rcpt", "kind": "expired_token"}, "kind"),
    ({"kind": "slow"}, "delay_ms"),
    ({"kind": "slow", "delay_ms": rules.MAX_DELAY_MS + 1}, "delay_ms"),
    ({"delay_ms": 5}, "delay_ms"),
    ({"target": "ins.search_traits", "kind": "wrong_answer", "answer": "00"}, "answer"),
    ({"answer": "02"}, "answer"),
    ({"count": 0}, "count"),
    ({"starts_at": NOW, "ends_at": NOW}, "until"),
    ({"probability": 0.0, "seed": "s"}, "probability"),
    ({"probability": 0.5}, "seed"),
    ({"seed": "s"}, "seed"),
    # U+0000: PostgreSQL cannot store it (the console form and the control API both call validate)
    ({"probability": 0.5, "seed": "run\x0042"}, "seed"),
    ({"client": "psc:a\x00"}, "client"),
    ({"target": "dmp.iti65\x00"}, "target"),
])
def test_validation_names_the_field(changes, field) -> None:
    with pytest.raises(RuleError) as err:
        validate(replace(BASE, **changes))
    assert err.value.field == field


@pytest.mark.parametrize("changes", [
    {}, {"kind": "slow", "delay_ms": 1}, {"kind": "expired_token"}, {"count": 3},
    {"starts_at": NOW, "ends_at": NOW + timedelta(seconds=1)}, {"probability": 1.0, "seed": "x"},
    {"target": "ins.search_vitale", "kind": "wrong_answer", "answer": "01"}, {"client": "psc:a"},
])
def test_valid_rules(changes) -> None:
    validate(replace(BASE, **changes))


def test_matching_target_tenant_client_window() -> None:
    assert matches(BASE, "dmp.iti65", actor=None, now=NOW)
    assert not matches(BASE, "dmp.iti67", actor=None, now=NOW)
    assert not matches(BASE, "dmp.iti65", actor=None, now=NOW, tenant="other")
    mine = replace(BASE, client="psc:mine")
    assert matches(mine, "dmp.iti65", actor="psc:mine", now=NOW)
    assert not matches(mine, "dmp.iti65", actor="psc:other", now=NOW)
    assert not matches(mine, "dmp.iti65", actor=None, now=NOW)
    window = replace(BASE, starts_at=NOW, ends_at=NOW + timedelta(minutes=5))
    assert not matches(window, "dmp.iti65", actor=None, now=NOW - timedelta(microseconds=1))
    assert matches(window, "dmp.iti65", actor=None, now=NOW)  # from: inclusive
    assert not matches(window, "dmp.iti65", actor=None, now=NOW + timedelta(minutes=5))  # until: exclusive


def test_next_n_calls() -> None:
    rule = replace(BASE, count=3)
    assert [fires(rule, k) for k in range(1, 6)] == [True, True, True, False, False]
    assert [exhausted(rule, k, NOW) for k in (2, 3)] == [False, True]


def test_no_trigger_fires_every_time() -> None:
    assert all(fires(BASE, k) for k in range(1, 100))
    assert not exhausted(BASE, 10**6, NOW)


def test_the_draw_depends_only_on_seed_and_k() -> None:
    assert draw("s", 7) == draw("s", 7) == random.Random("s:7").random()
    assert draw("s", 7) != draw("s", 8) and draw("s", 7) != draw("t", 7)
    random.seed(0)  # the global generator changes nothing
    first = [draw("s", k) for k in range(1, 50)]
    random.seed(1)
    assert first == [draw("s", k) for k in range(1, 50)]


def test_probability_fires_about_that_often_and_count_bounds_it() -> None:
    rule = replace(BASE, probability=0.3, seed="ci")
    fired = [fires(rule, k) for k in range(1, 2001)]
    assert 500 < sum(fired) < 700
    assert fired == [draw("ci", k) < 0.3 for k in range(1, 2001)]
    bounded = replace(rule, count=10)
    assert [fires(bounded, k) for k in range(1, 2001)] == fired[:10] + [False] * 1990


def test_window_end_exhausts() -> None:
    rule = replace(BASE, ends_at=NOW)
    assert exhausted(rule, 1, NOW) and not exhausted(rule, 1, NOW - timedelta(seconds=1))
