"""Fault rules, pure: which targets and kinds exist, whether a call is matched, whether a matched call fails.

A rule names a *target* (``<service>.<operation>``, the names the faces journal as ``operation``), a *kind*
(what the face answers), and a *trigger*:

- ``count``: only the first ``count`` matching calls can fail (the next N calls);
- ``starts_at`` / ``ends_at``: only calls inside the window ``[starts_at, ends_at)`` match;
- ``probability`` with ``seed``: the k-th matching call fails when ``random.Random(f"{seed}:{k}").random()`` is
  below ``probability``: the draw depends only on the seed and k, so a run is reproducible whatever the
  timing or the worker. k counts the calls that reach this rule: an older rule of the same target that fires
  takes the call first, and that call is not counted here (:func:`app.faults.store.find_injection`);
- optionally ``client``: only calls of that actor (the journal's ``actor``, e.g. ``psc:<client_id>``).

The conditions combine (all must hold); a rule with none fails every matching call until deleted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

UNAVAILABLE = "unavailable"
SLOW = "slow"
WRONG_ANSWER = "wrong_answer"
EXPIRED_TOKEN = "expired_token"
REVOKED_TOKEN = "revoked_token"
KINDS = (UNAVAILABLE, SLOW, WRONG_ANSWER, EXPIRED_TOKEN, REVOKED_TOKEN)

_BASIC = frozenset({UNAVAILABLE, SLOW})
_INS_SEARCH = _BASIC | {WRONG_ANSWER}
_BEARER = _BASIC | {EXPIRED_TOKEN, REVOKED_TOKEN}

TARGETS: dict[str, frozenset[str]] = {
    # INSi: rechercherInsAvecTraitsIdentite, rechercherInsAvecCarteVitale (SOAP /lps and the JSON facade),
    # the facade's verification; wrong_answer is CR 01 or 02, the two valid "no INS" answers (reference ins.md §1.6)
    "ins.search_traits": _INS_SEARCH,
    "ins.search_vitale": _INS_SEARCH,
    "ins.verify": _BASIC,
    # DMP, FHIR face (PDSm / MHD): every route checks a PSC bearer token, so the token kinds apply; dmp.td02 (the
    # DMP's state) is also TD0.2 on the SOAP face
    "dmp.iti65": _BEARER,
    "dmp.iti105": _BEARER,
    "dmp.iti67": _BEARER,
    "dmp.iti68": _BEARER,
    "dmp.iti66": _BEARER,
    "dmp.td02": _BEARER,
    # DMP, XDS.b SOAP face (DMPi): every call carries a security token (the VIHF, or a PSC token for its signature)
    "dmp.iti41": _BEARER,
    "dmp.iti18": _BEARER,
    "dmp.iti43": _BEARER,
    "dmp.iti57": _BEARER,
    "dmp.td11": _BEARER,
    # Pro Santé Connect
    "psc.token": _BASIC,
    "psc.userinfo": _BEARER,
    "psc.introspect": _BEARER,
    # MSSanté, SMTP stages and IMAP commands
    "mss.smtp.connect": _BASIC,
    "mss.smtp.mail": _BASIC,
    "mss.smtp.rcpt": _BASIC,
    "mss.smtp.data": _BASIC,
    "mss.imap.login": _BASIC,
    "mss.imap.select": _BASIC,
    "mss.imap.fetch": _BASIC,
}

WRONG_ANSWERS: dict[str, tuple[str, ...]] = {"ins.search_traits": ("01", "02"), "ins.search_vitale": ("01", "02")}
"""The wrong-but-valid answers a target has: INSi's CodeCR ``01`` (no identity) and ``02`` (several)."""

MAX_DELAY_MS = 120_000


class RuleError(ValueError):
    """A rule that cannot be kept; ``field`` names the member at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class Rule:
    """A fault rule as the matching needs it (a snapshot of its row)."""

    id: int
    target: str
    kind: str
    delay_ms: int | None = None
    answer: str | None = None
    count: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    probability: float | None = None
    seed: str | None = None
    client: str | None = None
    tenant: str = "default"


def validate(rule: Rule) -> None:
    """Refuse a rule that could not be applied as written, naming the field (:class:`RuleError`)."""
    for field, text in (("target", rule.target), ("kind", rule.kind), ("seed", rule.seed), ("client", rule.client)):
        if text is not None and "\x00" in text:  # PostgreSQL text cannot hold U+0000 (a 500 when stored)
            raise RuleError(field, f"{field} holds U+0000 (NUL), which no value may contain")
    if rule.target not in TARGETS:
        raise RuleError("target", f"unknown target {rule.target!r}; one of: {', '.join(sorted(TARGETS))}")
    if rule.kind not in KINDS:
        raise RuleError("kind", f"unknown kind {rule.kind!r}; one of: {', '.join(KINDS)}")
    if rule.kind not in TARGETS[rule.target]:
        raise RuleError("kind", f"{rule.target} has no {rule.kind!r} failure; it has: "
                                f"{', '.join(sorted(TARGETS[rule.target]))}")
    if rule.kind == SLOW:
        if rule.delay_ms is None or not 0 < rule.delay_ms <= MAX_DELAY_MS:
            raise RuleError("delay_ms", f"a slow fault needs delay_ms between 1 and {MAX_DELAY_MS}")
    elif rule.delay_ms is not None:
        raise RuleError("delay_ms", "delay_ms is for slow faults only")
    if rule.kind == WRONG_ANSWER:
        answers = WRONG_ANSWERS.get(rule.target, ())
        if rule.answer not in answers:
            raise RuleError("answer", f"a wrong answer of {rule.target} is one of: {', '.join(answers)}")
    elif rule.answer is not None:
        raise RuleError("answer", "answer is for wrong_answer faults only")
    if rule.count is not None and rule.count < 1:
        raise RuleError("count", "count is at least 1 (the next N matching calls)")
    if rule.starts_at and rule.ends_at and rule.ends_at <= rule.starts_at:
        raise RuleError("until", "the window ends after it starts")
    if rule.probability is not None:
        if not 0 < rule.probability <= 1:
            raise RuleError("probability", "probability is in ]0, 1]")
        if not rule.seed:
            raise RuleError("seed", "a probability needs a seed (the draws are reproducible)")
    elif rule.seed is not None:
        raise RuleError("seed", "seed goes with probability")


def matches(rule: Rule, target: str, *, actor: str | None, now: datetime, tenant: str = "default") -> bool:
    """Whether a call of ``target`` by ``actor`` at ``now`` is a matching call of ``rule`` (it counts)."""
    if rule.target != target or rule.tenant != tenant:
        return False
    if rule.client is not None and rule.client != actor:
        return False
    if rule.starts_at is not None and now < rule.starts_at:
        return False
    return rule.ends_at is None or now < rule.ends_at


def draw(seed: str, k: int) -> float:
    """The k-th matching call's draw in [0, 1): a function of the seed and k only."""
    return random.Random(f"{seed}:{k}").random()


def fires(rule: Rule, k: int) -> bool:
    """Whether the k-th matching call (from 1) of ``rule`` fails."""
    if rule.count is not None and k > rule.count:
        return False
    if rule.probability is not None:
        return draw(rule.seed or "", k) < rule.probability
    return True


def exhausted(rule: Rule, k: int, now: datetime) -> bool:
    """Whether no call after the k-th can fail any more (the rule may be forgotten by the cache)."""
    return (rule.count is not None and k >= rule.count) or (rule.ends_at is not None and now >= rule.ends_at)
