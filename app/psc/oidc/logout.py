"""RP-Initiated Logout 1.0 (the end_session_endpoint): ends the login session and revokes its tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import SessionDep, SettingsDep
from app.api.journal import note_facts, note_refusal
from app.psc import tokens
from app.psc.clients import get_client, redirect_uri_problem
from app.psc.exceptions import TokenError
from app.psc.oidc.http import LOGOUT_LIMITS, NO_STORE, OIDC, SESSION_COOKIE
from app.psc.oidc.pages import error_page, page, redirect
from app.psc.revocation import revoke_session
from app.psc.storage import usable_id
from app.psc.verification import verify_token
from app.tenancy import tenant_path

router = APIRouter(tags=["psc"])


async def _logout(request: Request, params: dict[str, str], session: Any, settings: Any, *, post: bool) -> Response:
    """OIDC RP-Initiated Logout 1.0: ``id_token_hint``, ``post_logout_redirect_uri``, ``state``.

    A redirect to ``post_logout_redirect_uri`` needs a valid ``id_token_hint`` (signed by this sandbox;
    expiry not checked) whose client registered that exact URI in ``post_logout_redirect_uris`` (§3
    lets the OP require the hint): anyone can register a client, so a bare ``client_id`` proves nothing.
    Without a hint, GET shows a confirmation page whose button POSTs here; the POST ends the session
    named by the cookie (SameSite=Lax: a cross-site POST carries no cookie) and shows the logged-out page."""
    if any("\x00" in k or "\x00" in v for k, v in params.items()):
        return error_page(request, "invalid_request", "parameters must not contain NUL characters", "PSC:form.nul")
    too_long = next(
        (
            n
            for n in ("id_token_hint", "post_logout_redirect_uri", "state", "client_id")
            if len(params.get(n) or "") > LOGOUT_LIMITS[n]
        ),
        None,
    )
    if too_long is not None:
        return error_page(
            request,
            "invalid_request",
            f"{too_long} is longer than {LOGOUT_LIMITS[too_long]} characters",
            "PSC:form.length",
        )
    hint = params.get("id_token_hint")
    claims: dict[str, Any] = {}
    if hint:
        try:
            claims = await verify_token(session, settings, hint, typ=tokens.TYP_ID, check_exp=False)
        except TokenError as exc:
            return error_page(request, "invalid_request", f"id_token_hint refused: {exc.description}", exc.rule)
        if params.get("client_id") and params["client_id"] != claims.get("azp"):
            return error_page(
                request, "invalid_request", "client_id does not match id_token_hint", "PSC:logout.client_id"
            )
    elif not post:
        # No proof the relying party asked: ask the professional (a cross-site link must not log out).
        return page(
            request,
            "logout_confirm.html",
            {
                "action": tenant_path(request.url.path),  # the page posts back into its tenant
                "params": [(k, params[k]) for k in ("state", "client_id") if params.get(k)],
            },
            headers=NO_STORE,
        )
    azp = claims.get("azp") or params.get("client_id")
    # SC.PSC.01: a logout reached the end-session endpoint (the conformance report)
    note_facts(request, actor=f"psc:{azp}" if isinstance(azp, str) and azp else None, flow="logout")
    target = params.get("post_logout_redirect_uri") or None
    ignored = None
    if target:
        client_id = claims.get("azp")
        client = await get_client(session, client_id=client_id) if isinstance(client_id, str) else None
        registered = [] if client is None else client.client_metadata.get("post_logout_redirect_uris", [])
        if not claims or target not in registered or redirect_uri_problem(target) is not None:
            ignored = (
                "post_logout_redirect_uri ignored: it needs an id_token_hint whose client registered it"
                " in post_logout_redirect_uris"
            )
            note_refusal(request, rule="PSC:logout.redirect_uri", detail=ignored, status=200)
            target = None
    sid = claims.get("sid") or request.cookies.get(SESSION_COOKIE)
    if usable_id(sid, max_length=64):  # a NUL or over-long cookie never reaches a query
        await revoke_session(session, session_id=sid, reason="logout")
    if target:
        response: Response = redirect(request, target, "query", {"state": params.get("state")})
    else:
        response = page(request, "logged_out.html", {"notice": ignored}, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path=tenant_path("/auth"))
    return response


@router.get(OIDC + "/logout", summary="RP-initiated logout", operation_id="psc_logout", response_class=HTMLResponse)
async def logout_get(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _logout(request, dict(request.query_params), session, settings, post=False)


@router.post(
    OIDC + "/logout", summary="RP-initiated logout (POST)", operation_id="psc_logout_post", response_class=HTMLResponse
)
async def logout_post(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    return await _logout(request, {k: str(v) for k, v in form.items()}, session, settings, post=True)
