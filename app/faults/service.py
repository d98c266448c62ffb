"""What the faces call: :func:`check` on each call of a target; the failure shapes they share.

A face calls ``await faults.check(request, "<target>")`` (one dictionary lookup when no rule exists for the
target) and, when it gets an :class:`~app.faults.store.Injection`, answers its protocol's failure for that
kind. ``slow`` is applied here (``asyncio.sleep``: the loop keeps serving) and the call then goes on as
usual. Every injected fault is journaled as injected: the facts ``injected: true``, ``fault`` (the rule id),
``fault_kind``, ``fault_call`` (k); a failure also names ``rule = "fault:<id>"``, so a reader and the
conformance report tell a provoked failure from a real one (a slow call or a wrong-but-valid answer is not a
refusal: no rule, the facts only).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from app.api.errors import AuthError, SandboxError
from app.api.journal import context_of, note_facts, note_refusal
from app.faults import rules, store
from app.faults.store import Injection

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

__all__ = ["Injection", "InjectedUnavailable", "check", "inject", "token_refused", "unavailable"]

UNAVAILABLE_TEXT = "Service temporairement indisponible (panne simulée par la règle {name}) — " \
                   "Service temporarily unavailable (fault injected by rule {name}); retry later."


class InjectedUnavailable(SandboxError):
    """503 in the shape of the path's protocol (:func:`app.api.errors.render_generic`)."""

    status = 503

    def __init__(self, injection: Injection) -> None:
        super().__init__(UNAVAILABLE_TEXT.format(name=injection.name))
        self.rule = injection.name
        self.headers = {"Retry-After": "1"}


async def inject(app: FastAPI, target: str, *, actor: str | None = None) -> Injection | None:
    """The fault of this call of ``target`` (any kind; a ``slow`` one has already slept)."""
    injection = await store.find_injection(app.state.sessionmaker, app.state.settings.database_url, target,
                                           actor=actor)
    if injection is not None and injection.kind == rules.SLOW:
        await asyncio.sleep((injection.rule.delay_ms or 0) / 1000)
    return injection


async def check(request: Request, target: str, *, actor: str | None = None) -> Injection | None:
    """The failure the face must answer now, journaled; None when the call goes on (maybe after a delay).

    ``actor`` defaults to the one the face noted for the journal (``note_facts``)."""
    if actor is None:
        context = context_of(request)
        actor = context.actor if context is not None else None
    injection = await inject(request.app, target, actor=actor)
    if injection is None:
        return None
    note_facts(request, **injection.facts())
    if injection.kind == rules.SLOW:
        return None
    if injection.kind == rules.WRONG_ANSWER:  # a valid 200 answer, not a refusal: the facts say it was injected
        return injection
    note_refusal(request, rule=injection.name, detail=f"injected {injection.kind} ({target}, call {injection.k})")
    return injection


def unavailable(injection: Injection) -> InjectedUnavailable:
    return InjectedUnavailable(injection)


def token_refused(injection: Injection) -> AuthError:
    """The bearer token presented, treated as expired or revoked: 401 ``invalid_token`` (RFC 6750 §3.1) with
    the description the real check gives."""
    description = "the token has been revoked" if injection.kind == rules.REVOKED_TOKEN else "the token has expired"
    return AuthError(f"{description} (fault injected by rule {injection.name})", rule=injection.name)


def refuse(injection: Injection) -> SandboxError:
    """The generic failure of an HTTP face for ``injection``: 503, or 401 for the token kinds."""
    if injection.kind in (rules.EXPIRED_TOKEN, rules.REVOKED_TOKEN):
        return token_refused(injection)
    return unavailable(injection)
