"""The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2), at ``/auth`` (the "wallet" host path)
and at the Keycloak path: the code flow with PKCE, the login and confirmation pages that stand for the
e-CPS, and ``login_hint=<SubjectNameID>`` completing the flow at once for CI.

Refusals: while the client or its redirect URI cannot be trusted, an error page (400); after, a redirect
to the client carrying ``error`` (RFC 6749 §4.1.2.1), each noted in the journal."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import SessionDep, SettingsDep
from app.api.journal import note_facts, note_refusal
from app.psc.clients import get_client
from app.psc.exceptions import (
    AccessDenied,
    InvalidRequest,
    LoginRequired,
    OAuthRefusal,
)
from app.psc.grants.authorization_code import code_request, trusted_redirect_uri
from app.psc.oidc.http import NO_STORE, OIDC, PARAM_LIMITS, SESSION_COOKIE, too_long
from app.psc.oidc.pages import error_page, page, redirect
from app.psc.professionals import list_professionals, professional_row, to_professional
from app.psc.realm import issuer
from app.psc.sessions import create_code, live_session, start_session, within_max_age
from app.tenancy import tenant_path

router = APIRouter(tags=["psc"])

PROFESSION_LABELS = {
    "10": "Médecin",
    "21": "Pharmacien",
    "40": "Chirurgien-dentiste",
    "50": "Sage-femme",
    "60": "Infirmier",
    "70": "Masseur-kinésithérapeute",
    "80": "Pédicure-podologue",
}


_AUTH_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "prompt",
    "login_hint",
    "acr_values",
    "code_challenge",
    "code_challenge_method",
    "max_age",
    "ui_locales",
)


async def _authorize(request: Request, params: dict[str, str], session: Any, settings: Any) -> Response:
    if any("\x00" in k or "\x00" in v for k, v in params.items()):
        return error_page(request, "invalid_request", "parameters must not contain NUL characters", "PSC:form.nul")
    client_id = params.get("client_id", "")
    client = await get_client(session, client_id=client_id) if client_id else None
    if client is None:
        return error_page(
            request,
            "invalid_request" if not client_id else "unauthorized_client",
            f"unknown client_id {client_id!r}",
            "PSC:authorize.client_id",
        )
    # SC.PSC.08 (EX PSC 16), SC.PSC.01: what the conformance report checks of an authorization request
    note_facts(request, actor=f"psc:{client_id}", flow="code", acr_values=params.get("acr_values"))
    redirect_uri = params.get("redirect_uri", "")
    if not trusted_redirect_uri(client, redirect_uri):  # never redirect to an unvalidated URI
        return error_page(
            request,
            "invalid_request",
            f"redirect_uri {redirect_uri!r} is not registered for {client_id}",
            "PSC:authorize.redirect_uri",
        )
    mode = params.get("response_mode") or "query"
    state = params.get("state")
    iss = issuer(settings)

    def fail(error: str, description: str, rule: str) -> Response:
        note_refusal(request, rule=rule, detail=f"{error}: {description}", status=302)
        return redirect(
            request,
            redirect_uri,
            "form_post" if mode == "form_post" else "query",
            {"error": error, "error_description": description, "state": state, "iss": iss},
        )

    try:
        overlong = too_long(params)
        if overlong is not None:
            if overlong == "state":
                state = None  # not echoed back
            raise InvalidRequest(
                f"{overlong} is longer than {PARAM_LIMITS[overlong]} characters", rule="PSC:form.length"
            )
        if mode not in ("query", "form_post"):
            raise InvalidRequest(
                f"response_mode {mode!r} is not supported (query, form_post)", rule="PSC:authorize.response_mode"
            )
        asked = code_request(
            client,
            response_type=params.get("response_type"),
            scope=params.get("scope"),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
        )
        prompt = set((params.get("prompt") or "").split())
        existing = await live_session(session, session_id=request.cookies.get(SESSION_COOKIE))
        hint = params.get("login_hint") or None
        login = None
        max_age = params.get("max_age")
        if existing is not None and max_age is not None and not within_max_age(existing, max_age):
            existing = None  # OIDC Core §3.1.2.1: an older authentication must be done again
        if existing is not None and "login" not in prompt and (hint is None or hint == existing.subject_name_id):
            login = existing
        elif "none" in prompt:
            raise LoginRequired("no active PSC session (prompt=none)", rule="PSC:authorize.prompt_none")
        elif hint is not None:
            # Non-interactive path for CI: login_hint = SubjectNameID completes the flow at once.
            if await professional_row(session, hint) is None:
                raise AccessDenied(f"login_hint {hint!r}: no such professional", rule="PSC:authorize.login_hint")
            login = await start_session(session, settings, subject_name_id=hint)
        else:
            action = params.get("psc_action")
            chosen = params.get("subject_name_id")
            if action == "deny":
                raise AccessDenied("the professional refused the authentication", rule="PSC:authorize.denied")
            pro = await professional_row(session, chosen) if chosen else None
            if action == "confirm" and pro is not None:
                login = await start_session(session, settings, subject_name_id=pro.subject_name_id)
            else:
                carried = [(k, params[k]) for k in _AUTH_PARAMS if params.get(k)]
                context = {
                    "client_name": client.client_metadata.get("client_name", client.client_id),
                    "action": tenant_path(request.url.path),  # the page posts back into its tenant
                    "params": carried,
                }
                if action == "select" and pro is not None:
                    context.update(professional=to_professional(pro), binding_code=f"{secrets.randbelow(100):02d}")
                    return page(request, "confirm.html", context, headers=NO_STORE)
                context.update(professionals=await list_professionals(session), profession_labels=PROFESSION_LABELS)
                return page(request, "login.html", context, headers=NO_STORE)
    except OAuthRefusal as exc:
        return fail(exc.error, exc.description, exc.rule)
    code = await create_code(
        session,
        settings,
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        login=login,
        scope=asked.scope,
        nonce=params.get("nonce"),
        code_challenge=asked.code_challenge,
        code_challenge_method=asked.code_challenge_method,
    )
    response = redirect(
        request, redirect_uri, mode, {"state": state, "session_state": login.id, "iss": iss, "code": code}
    )
    response.set_cookie(  # sent back to this tenant's /auth pages only (its login session)
        SESSION_COOKIE, login.id, httponly=True, samesite="lax", path=tenant_path("/auth"),
        max_age=settings.psc_session_ttl,
    )
    return response


_AUTHORIZE_DOC = dict(
    summary="Authorization endpoint (code flow, login page, login_hint for CI)",
    description="OIDC code flow with PKCE (plain, S256), `state`, `nonce`, `acr_values=eidas1`, "
    "`response_mode` query or form_post, `iss` in the redirect (RFC 9207). `login_hint=<SubjectNameID>` "
    "completes at once (CI); otherwise a login page lists the test professionals. `prompt=none` uses the "
    "session cookie.",
    response_class=HTMLResponse,
    responses={
        302: {"description": "back to the redirect URI with `code` (or an RFC 6749 §4.1.2.1 `error`)"},
        400: {
            "description": "error page: the client or redirect URI cannot be trusted (RFC 6749 §4.1.2.1)",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
    },
)


@router.get("/auth", operation_id="psc_authorize_wallet", **_AUTHORIZE_DOC)  # type: ignore[arg-type]
@router.get(OIDC + "/auth", operation_id="psc_authorize", **_AUTHORIZE_DOC)  # type: ignore[arg-type]
async def authorize_get(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _authorize(request, dict(request.query_params), session, settings)


@router.post("/auth", operation_id="psc_authorize_wallet_post", **_AUTHORIZE_DOC)  # type: ignore[arg-type]
@router.post(OIDC + "/auth", operation_id="psc_authorize_post", **_AUTHORIZE_DOC)  # type: ignore[arg-type]
async def authorize_post(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    return await _authorize(request, {k: str(v) for k, v in form.items()}, session, settings)
