"""The console's fault-injection page: the rules (``/sandbox/v1/faults``), a form to create one, a button to
delete each or all. It calls the functions the control API calls (:mod:`app.faults.store`), so a form does what
``POST /sandbox/v1/faults`` does and is journaled like it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from app.api.deps import SessionDep
from app.api.journal import note_refusal
from app.console.access import check_csrf, require_sign_in
from app.console.pages import HEADERS, ConsoleRoute, render
from app.db import as_utc
from app.faults import rules, store
from app.tenancy import tenant_path

router = APIRouter(prefix="/console/faults", route_class=ConsoleRoute, include_in_schema=False,
                   dependencies=[Depends(require_sign_in)])

FIELDS = ("target", "kind", "delay_ms", "answer", "count", "from", "until", "probability", "seed", "client")


async def _page(request: Request, session: AsyncSession, *, form: dict[str, str] | None = None,
                error: dict[str, str] | None = None, status_code: int = 200) -> Response:
    return render(request, "faults.html", {
        "page": "faults", "rules": await store.list_rules(session), "targets": sorted(rules.TARGETS),
        "kinds": rules.KINDS, "form": form or {}, "error": error,
    }, status_code=status_code)


@router.get("", name="console_faults")
async def faults_page(request: Request, session: SessionDep) -> Response:
    return await _page(request, session)


class _Refused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _number(fields: dict[str, str], name: str, kind: type) -> Any:
    text = fields.get(name, "")
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise _Refused(name, f"« {text} » n'est pas un nombre (not a number)") from None
    if kind is int and not -(2**31) < value < 2**31:
        raise _Refused(name, "nombre hors limites (out of range)")
    return value


def _instant(fields: dict[str, str], name: str) -> datetime | None:
    text = fields.get(name, "")
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _Refused(name, f"« {text} » n'est pas une date ISO 8601 (not an ISO 8601 time)") from None
    try:
        return as_utc(parsed)  # a datetime-local field (no offset): read as UTC
    except OverflowError:  # 0001-01-01T00:00:00+14:00: no UTC instant (the store would fail on it)
        raise _Refused(name, f"« {text} » n'a pas d'équivalent UTC entre les années 1 et 9999 "
                             "(no UTC equivalent)") from None


def rule_of_form(fields: dict[str, str]) -> rules.Rule:
    """The rule the form describes (empty fields: absent); :class:`rules.RuleError` or ``_Refused`` if not."""
    return rules.Rule(
        id=0, target=fields.get("target", ""), kind=fields.get("kind", ""),
        delay_ms=_number(fields, "delay_ms", int), answer=fields.get("answer") or None,
        count=_number(fields, "count", int), starts_at=_instant(fields, "from"), ends_at=_instant(fields, "until"),
        probability=_number(fields, "probability", float), seed=fields.get("seed") or None,
        client=fields.get("client") or None,
    )


@router.post("", name="console_faults_create")
async def create(request: Request, session: SessionDep,
                 form: FormData = Depends(check_csrf)) -> Response:  # noqa: B008
    fields = {name: str(form.get(name) or "").strip()[:128] for name in FIELDS}
    try:
        await store.add_rule(session, rule=rule_of_form(fields))
    except (rules.RuleError, _Refused) as err:
        note_refusal(request, rule="faults:rule", detail=err.message, status=422)
        return await _page(request, session, form=fields, error={"field": err.field, "message": err.message},
                           status_code=422)
    return RedirectResponse(tenant_path("/console/faults"), status_code=303, headers=HEADERS)


@router.post("/delete", name="console_faults_delete")
async def delete(request: Request, session: SessionDep,
                 form: FormData = Depends(check_csrf)) -> Response:  # noqa: B008
    """One rule (``id``), or all of them (``all=yes``)."""
    if form.get("all") == "yes":
        await store.delete_rules(session)
    else:
        text = str(form.get("id") or "")
        row = await store.get_rule(session, rule_id=int(text)) if text.isdigit() and len(text) < 10 else None
        if row is not None:
            await store.delete_rule(session, row=row)
    return RedirectResponse(tenant_path("/console/faults"), status_code=303, headers=HEADERS)
