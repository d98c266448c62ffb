"""PSC's OpenID Connect endpoints, with Keycloak's path layout (realm ``esante-wallet``).

Paths and behaviour: reference psc.md §2 (``ansforge/keycloak-prosanteconnect`` ``psc.properties``),
§3 (ANS's discovery fixture, ``ansforge/psc-edc-proxy-esante``), §4 (CIBA page of
industriels.esante.gouv.fr). The authorization endpoint answers both at ``/auth`` (the "wallet" host
path) and at the Keycloak path.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.api.deps import CurrentProfessional, SessionDep, SettingsDep
from app.api.errors import AuthError, OAuthError
from app.db import LazySession, as_utc, utcnow
from app.numbers import ascii_count
from app.psc import pkce, service, tokens
from app.psc.auth import bearer_token
from app.psc.config import REALM_PATH
from app.shared.professional import Professional

OIDC = REALM_PATH + "/protocol/openid-connect"
SESSION_COOKIE = "PSC_SESSION"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PROFESSION_LABELS = {
    "10": "Médecin",
    "21": "Pharmacien",
    "40": "Chirurgien-dentiste",
    "50": "Sage-femme",
    "60": "Infirmier",
    "70": "Masseur-kinésithérapeute",
    "80": "Pédicure-podologue",
}

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
# HTML pages load nothing from elsewhere; base.html has an inline <style>; forms post to this origin only.
PAGE_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; object-src 'none'"
)
# Stored free-text parameters and their limits (columns: models.py; Text columns get a sane cap).
PARAM_LIMITS = {
    "state": 2048,
    "nonce": 512,
    "scope": 2048,
    "login_hint": 64,
    "acr_values": 255,
    "binding_message": 1024,
    "ui_locales": 255,
    "prompt": 255,
    "code_challenge": 128,
    "code_challenge_method": 8,
    "response_mode": 32,
    "response_type": 32,
    "max_age": 32,
    "client_id": 255,
    "redirect_uri": 2048,
    "subject_name_id": 64,
    "psc_action": 16,
}
LOGOUT_LIMITS = {"id_token_hint": 80 * 1024, "post_logout_redirect_uri": 2048, "state": 2048, "client_id": 255}


def _too_long(params: dict[str, str]) -> str | None:
    """The first parameter longer than its limit (``PARAM_LIMITS``), or None."""
    for name, limit in PARAM_LIMITS.items():
        value = params.get(name)
        if value is not None and len(value) > limit:
            return name
    return None


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    csp: str = PAGE_CSP,
) -> HTMLResponse:
    """A template with a Content-Security-Policy (and no framing)."""
    all_headers = {**(headers or {}), "Content-Security-Policy": csp, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=all_headers)


router = APIRouter(tags=["psc"])


# --- discovery and keys ---------------------------------------------------------------------------


def discovery_document(settings: Any) -> dict[str, Any]:
    """Modelled on ANS's copy of the PSC discovery document (psc.md §3), advertising what the sandbox
    implements. ``acr_values_supported`` says ``eidas1`` (the real one says Keycloak's ``["0","0"]``:
    see docs/psc.md)."""
    iss = service.issuer(settings)
    ep = f"{iss}/protocol/openid-connect"
    algs = ["RS256", "ES256"]
    auth_methods = ["private_key_jwt", "client_secret_basic", "client_secret_post"]
    return {
        "issuer": iss,
        "authorization_endpoint": service.authorize_url(settings),
        "token_endpoint": f"{ep}/token",
        "introspection_endpoint": f"{ep}/token/introspect",
        "userinfo_endpoint": f"{ep}/userinfo",
        "end_session_endpoint": f"{ep}/logout",
        "jwks_uri": f"{ep}/certs",
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", service.GRANT_CIBA],
        "acr_values_supported": ["eidas1"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": algs,
        "request_object_signing_alg_values_supported": ["none"],
        "response_modes_supported": ["query", "form_post"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": list(tokens.CLIENT_ASSERTION_ALGS),
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": list(tokens.CLIENT_ASSERTION_ALGS),
        "revocation_endpoint": f"{ep}/revoke",
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": list(tokens.CLIENT_ASSERTION_ALGS),
        "claims_supported": [
            "aud",
            "sub",
            "iss",
            "auth_time",
            "name",
            "given_name",
            "family_name",
            "preferred_username",
            "acr",
            "SubjectNameID",
            "SubjectRole",
            "SubjectRefPro",
            "otherIds",
            "codeCivilite",
        ],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": False,
        "scopes_supported": [
            "openid",
            "rpps",
            "referentiel",
            "basic",
            "identity",
            "acr",
            "offline_access",
            "eidas1",
            "eidas2",
            "profile",
            "roles",
            "email",
            "scope_all",
            "phone",
            "interop",
            "scope_1",
            "scope_2",
            "address",
            "ciba",
        ],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "code_challenge_methods_supported": ["plain", "S256"],
        "tls_client_certificate_bound_access_tokens": False,
        "backchannel_token_delivery_modes_supported": ["poll"],
        "backchannel_authentication_endpoint": f"{ep}/ext/ciba/auth",
        "backchannel_user_code_parameter_supported": False,
        "require_pushed_authorization_requests": False,
        "authorization_response_iss_parameter_supported": True,
    }


@router.get(
    REALM_PATH + "/.well-known/openid-configuration", summary="OpenID Provider metadata", operation_id="psc_discovery"
)
async def discovery(settings: SettingsDep) -> dict[str, Any]:
    return discovery_document(settings)


@router.get(
    REALM_PATH + "/.well-known/wallet-openid-configuration",
    summary="OpenID Provider metadata (PSC's non-standard name)",
    operation_id="psc_wallet_discovery",
)
async def wallet_discovery(settings: SettingsDep) -> dict[str, Any]:
    return discovery_document(settings)


class JwkSetResponse(JSONResponse):
    media_type = "application/jwk-set+json"  # RFC 7517 §8.5.1


@router.get(OIDC + "/certs", summary="JWKS: the realm's public signing keys", operation_id="psc_jwks",
            response_class=JwkSetResponse)
async def certs(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    ring = await service.get_keyring(session, settings)  # cached (psc_key_cache_ttl); rotation here clears it
    return JSONResponse(ring.jwks, media_type="application/jwk-set+json")


# --- authorization endpoint -----------------------------------------------------------------------

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


def _error_page(request: Request, error: str, description: str, rule: str) -> HTMLResponse:
    from app.api.journal import note_refusal

    note_refusal(request, rule=rule, detail=f"{error}: {description}", status=400)
    return _page(request, "error.html", {"error": error, "description": description, "rule": rule}, status_code=400)


def _redirect(request: Request, redirect_uri: str, mode: str, params: dict[str, str | None]) -> Response:
    values = [(k, v) for k, v in params.items() if v is not None]
    if mode == "form_post":
        # The auto-submitting page may post to the client's redirect URI only, and run only its own script.
        nonce = secrets.token_urlsafe(16)
        csp = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
            f"form-action {service.redirect_origin(redirect_uri)}; base-uri 'none'; frame-ancestors 'none'"
        )
        return _page(
            request,
            "form_post.html",
            {"redirect_uri": redirect_uri, "params": values, "csp_nonce": nonce},
            headers=NO_STORE,
            csp=csp,
        )
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + separator + urlencode(values), status_code=302, headers=NO_STORE)


class _AuthorizeError(Exception):
    def __init__(self, error: str, description: str, rule: str) -> None:
        super().__init__(description)
        self.error, self.description, self.rule = error, description, rule


async def _authorize(request: Request, params: dict[str, str], session: Any, settings: Any) -> Response:
    if any("\x00" in k or "\x00" in v for k, v in params.items()):
        return _error_page(request, "invalid_request", "parameters must not contain NUL characters", "PSC:form.nul")
    client_id = params.get("client_id", "")
    client = await service.get_client(session, client_id=client_id) if client_id else None
    if client is None:
        return _error_page(
            request,
            "invalid_request" if not client_id else "unauthorized_client",
            f"unknown client_id {client_id!r}",
            "PSC:authorize.client_id",
        )
    redirect_uri = params.get("redirect_uri", "")
    if (
        not redirect_uri
        or redirect_uri not in client.client_metadata.get("redirect_uris", [])
        # a URI registered before registration checked schemes (javascript:, data:...) is never used
        or service.redirect_uri_problem(redirect_uri) is not None
    ):
        # Exact string match (OAuth 2.0 Security BCP §4.1.3); never redirect to an unvalidated URI.
        return _error_page(
            request,
            "invalid_request",
            f"redirect_uri {redirect_uri!r} is not registered for {client_id}",
            "PSC:authorize.redirect_uri",
        )
    mode = params.get("response_mode") or "query"
    state = params.get("state")
    iss = service.issuer(settings)

    def fail(error: str, description: str, rule: str) -> Response:
        from app.api.journal import note_refusal

        note_refusal(request, rule=rule, detail=f"{error}: {description}", status=302)
        return _redirect(
            request,
            redirect_uri,
            "form_post" if mode == "form_post" else "query",
            {"error": error, "error_description": description, "state": state, "iss": iss},
        )

    try:
        too_long = _too_long(params)
        if too_long is not None:
            if too_long == "state":
                state = None  # not echoed back
            raise _AuthorizeError(
                "invalid_request", f"{too_long} is longer than {PARAM_LIMITS[too_long]} characters", "PSC:form.length"
            )
        if mode not in ("query", "form_post"):
            raise _AuthorizeError(
                "invalid_request",
                f"response_mode {mode!r} is not supported (query, form_post)",
                "PSC:authorize.response_mode",
            )
        if params.get("response_type") != "code":
            raise _AuthorizeError(
                "unsupported_response_type", "only response_type=code is supported", "PSC:authorize.response_type"
            )
        if not service.client_allows_grant(client, "authorization_code"):
            raise _AuthorizeError(
                "unauthorized_client", "this client may not use the authorization code flow", "PSC:authorize.grant"
            )
        try:
            scope = service._granted_scope(client, params.get("scope"))
        except OAuthError as exc:
            raise _AuthorizeError(exc.error, exc.description, exc.rule or "PSC:scope") from None
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or ("plain" if challenge else None)
        if challenge is None and (
            client.client_metadata.get("require_pkce") or client.token_endpoint_auth_method == "none"
        ):
            raise _AuthorizeError(
                "invalid_request", "PKCE code_challenge required for this client", "PSC:pkce.required"
            )
        if method is not None and method not in pkce.METHODS:
            raise _AuthorizeError(
                "invalid_request", f"code_challenge_method {method!r} is not supported", "PSC:pkce.method"
            )
        if challenge is not None and not pkce.is_valid_challenge(challenge):
            raise _AuthorizeError(
                "invalid_request", "code_challenge must be 43-128 unreserved characters", "PSC:pkce.challenge"
            )
        prompt = set((params.get("prompt") or "").split())
        existing = await service.live_session(session, session_id=request.cookies.get(SESSION_COOKIE))
        hint = params.get("login_hint") or None
        login = None
        max_age = params.get("max_age")
        if existing is not None and max_age is not None:
            # OIDC Core §3.1.2.1: an older authentication must be done again
            max_age_seconds = ascii_count(max_age)
            if max_age_seconds is None:
                raise _AuthorizeError("invalid_request", "max_age must be a number of seconds", "PSC:authorize.max_age")
            if (utcnow() - as_utc(existing.auth_time)).total_seconds() > max_age_seconds:
                existing = None
        if existing is not None and "login" not in prompt and (hint is None or hint == existing.subject_name_id):
            login = existing
        elif "none" in prompt:
            raise _AuthorizeError("login_required", "no active PSC session (prompt=none)", "PSC:authorize.prompt_none")
        elif hint is not None:
            # Non-interactive path for CI: login_hint = SubjectNameID completes the flow at once.
            if await service.professional_row(session, hint) is None:
                raise _AuthorizeError(
                    "access_denied", f"login_hint {hint!r}: no such professional", "PSC:authorize.login_hint"
                )
            login = await service.start_session(session, settings, subject_name_id=hint)
        else:
            action = params.get("psc_action")
            chosen = params.get("subject_name_id")
            if action == "deny":
                raise _AuthorizeError(
                    "access_denied", "the professional refused the authentication", "PSC:authorize.denied"
                )
            pro = await service.professional_row(session, chosen) if chosen else None
            if action == "confirm" and pro is not None:
                login = await service.start_session(session, settings, subject_name_id=pro.subject_name_id)
            else:
                carried = [(k, params[k]) for k in _AUTH_PARAMS if params.get(k)]
                context = {
                    "client_name": client.client_metadata.get("client_name", client.client_id),
                    "action": request.url.path,
                    "params": carried,
                }
                if action == "select" and pro is not None:
                    context.update(
                        professional=service.to_professional(pro), binding_code=f"{secrets.randbelow(100):02d}"
                    )
                    return _page(request, "confirm.html", context, headers=NO_STORE)
                context.update(
                    professionals=await service.list_professionals(session), profession_labels=PROFESSION_LABELS
                )
                return _page(request, "login.html", context, headers=NO_STORE)
    except _AuthorizeError as exc:
        return fail(exc.error, exc.description, exc.rule)
    code = await service.create_code(
        session,
        settings,
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        login=login,
        scope=scope,
        nonce=params.get("nonce"),
        code_challenge=challenge,
        code_challenge_method=method,
    )
    response = _redirect(
        request, redirect_uri, mode, {"state": state, "session_state": login.id, "iss": iss, "code": code}
    )
    response.set_cookie(
        SESSION_COOKIE, login.id, httponly=True, samesite="lax", path="/auth", max_age=settings.psc_session_ttl
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
        400: {"description": "error page: the client or redirect URI cannot be trusted (RFC 6749 §4.1.2.1)",
              "content": {"text/html": {"schema": {"type": "string"}}}},
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


# --- token endpoint -------------------------------------------------------------------------------


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise OAuthError(
            "invalid_request", "the body must be application/x-www-form-urlencoded", rule="PSC:form.content_type"
        )
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    _refuse_nul(values)
    return values


def _refuse_nul(values: dict[str, str]) -> None:
    # A NUL character can be neither stored nor compared by PostgreSQL: refuse it as bad input.
    if any("\x00" in k or "\x00" in v for k, v in values.items()):
        raise OAuthError("invalid_request", "parameters must not contain NUL characters", rule="PSC:form.nul")


def _json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=NO_STORE)


@router.post(
    OIDC + "/token",
    summary="Token endpoint",
    operation_id="psc_token",
    description="Grants: authorization_code (+PKCE), refresh_token (rotated), client_credentials, "
    "urn:openid:params:grant-type:ciba (poll). Client authentication: client_secret_basic, "
    "client_secret_post, private_key_jwt, or none for public clients.",
)
async def token(request: Request) -> JSONResponse:
    # The hot path of the sandbox (client_credentials at thousands per second): no dependency machinery,
    # and a session that touches the store only if the grant needs it. Same transaction contract as
    # SessionDep: commit before answering, roll back on error (but commit CommittedOAuthError's effects).
    settings = request.app.state.settings
    authorization = request.headers.get("authorization")
    session = LazySession(request.app.state.sessionmaker)  # client_credentials from memory opens none
    try:
        response = await _token(request, session, settings, authorization)
    except service.CommittedOAuthError:
        await session.commit()
        raise
    except BaseException:
        await session.rollback()
        raise
    else:
        await session.commit()
    finally:
        await session.close()
    return response


async def _token(request: Request, session: Any, settings: Any, authorization: str | None) -> JSONResponse:
    form = await _form(request)
    grant_type = form.get("grant_type")
    if grant_type == "client_credentials":
        client = await service.authenticate_client(
            session, settings, authorization=authorization, form=form, allow_public=False
        )
        _require_grant(client, grant_type)
        return _json(await service.issue_client_credentials(session, settings, client=client, scope=form.get("scope")))
    if grant_type == "authorization_code":
        client = await service.authenticate_client(session, settings, authorization=authorization, form=form)
        _require_grant(client, grant_type)
        return _json(await _code_grant(session, settings, client, form))
    if grant_type == "refresh_token":
        client = await service.authenticate_client(session, settings, authorization=authorization, form=form)
        _require_grant(client, grant_type)
        if not form.get("refresh_token"):
            raise OAuthError("invalid_request", "refresh_token is required", rule="PSC:refresh.missing")
        return _json(
            await service.rotate_refresh(
                session, settings, client=client, refresh_token=form["refresh_token"], scope=form.get("scope")
            )
        )
    if grant_type == service.GRANT_CIBA:
        client = await service.authenticate_client(
            session, settings, authorization=authorization, form=form, allow_public=False
        )
        _require_grant(client, grant_type)
        if not form.get("auth_req_id"):
            raise OAuthError("invalid_request", "auth_req_id is required", rule="PSC:ciba.missing")
        return _json(await service.poll_ciba(session, settings, client=client, auth_req_id=form["auth_req_id"]))
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required", rule="PSC:token.grant_type")
    raise OAuthError(
        "unsupported_grant_type", f"grant_type {grant_type!r} is not supported", rule="PSC:token.grant_type"
    )


def _require_grant(client: Any, grant_type: str) -> None:
    if not service.client_allows_grant(client, grant_type):
        raise OAuthError(
            "unauthorized_client",
            f"client {client.client_id} may not use {grant_type}",
            rule="PSC:token.unauthorized_client",
        )


async def _code_grant(session: Any, settings: Any, client: Any, form: dict[str, str]) -> dict[str, Any]:
    if not form.get("code"):
        raise OAuthError("invalid_request", "code is required", rule="PSC:code.missing")
    row = await service.consume_code(session, code=form["code"])
    # RFC 6749 §4.1.3: the code is bound to the client and the redirect_uri; RFC 7636 §4.6 to the verifier.
    if row.client_id != client.client_id:
        raise OAuthError("invalid_grant", "the code was issued to another client", rule="PSC:code.client")
    if form.get("redirect_uri") != row.redirect_uri:
        raise OAuthError(
            "invalid_grant", "redirect_uri differs from the authorization request", rule="PSC:code.redirect_uri"
        )
    verifier = form.get("code_verifier")
    if row.code_challenge is not None:
        if not verifier:
            raise OAuthError("invalid_grant", "code_verifier is required (PKCE)", rule="PSC:pkce.verifier_missing")
        if not pkce.verify(verifier, row.code_challenge, row.code_challenge_method or "plain"):
            raise OAuthError("invalid_grant", "PKCE verification failed", rule="PSC:pkce.mismatch")
    elif verifier:
        raise OAuthError("invalid_grant", "code_verifier sent but no code_challenge was", rule="PSC:pkce.unexpected")
    login = await service.live_session(session, session_id=row.session_id)
    if login is None:
        raise OAuthError("invalid_grant", "the session of this code has ended", rule="PSC:code.session")
    pro = await service.professional_row(session, row.subject_name_id)
    if pro is None:
        raise OAuthError("invalid_grant", "the professional no longer exists", rule="PSC:code.subject")
    grant = service.Grant(
        client=client,
        subject_name_id=pro.subject_name_id,
        userinfo=pro.userinfo,
        scope=row.scope,
        session_id=row.session_id,
        auth_time=service.epoch(row.auth_time),
        grant_id=row.code_sha256,
        nonce=row.nonce,
    )
    return await service.issue_user_tokens(session, settings, grant)


# --- userinfo, introspection, revocation ----------------------------------------------------------


async def _userinfo_route(request: Request) -> Response:
    # Hot path: no dependency machinery; answered from memory when it can be, else a read-only session.
    settings = request.app.state.settings
    authorization = request.headers.get("authorization")
    try:
        known = service.userinfo_from_memory(settings, bearer_token(authorization))
    except tokens.TokenError as exc:
        raise AuthError(exc.description, rule=exc.rule) from None
    if known is not None and not known[1]["_client"].get("userinfo_signed_response_alg"):
        return Response(known[0], media_type="application/json")
    async with request.app.state.sessionmaker() as session:
        return await _userinfo(request, session, settings, authorization)


async def _userinfo(request: Request, session: Any, settings: Any, authorization: str | None) -> Response:
    token_value = bearer_token(authorization)
    try:
        info, claims = await service.userinfo_for(session, settings, token_value)
    except tokens.TokenError as exc:
        raise AuthError(exc.description, rule=exc.rule) from None
    alg = claims["_client"].get("userinfo_signed_response_alg")
    if alg:
        ring = await service.get_keyring(session, settings)
        body = {**json.loads(info), "iss": service.issuer(settings), "aud": claims.get("azp")}
        return Response(tokens.sign(ring, body, alg=alg), media_type="application/jwt")
    return Response(info, media_type="application/json")  # the stored JSON text, as is


@router.get(
    OIDC + "/userinfo", summary="Userinfo in PSC's shape (JSON, or JWT per client)", operation_id="psc_userinfo"
)
async def userinfo_get(request: Request) -> Response:
    return await _userinfo_route(request)


@router.post(OIDC + "/userinfo", summary="Userinfo (POST)", operation_id="psc_userinfo_post")
async def userinfo_post(request: Request) -> Response:
    return await _userinfo_route(request)


@router.post(OIDC + "/token/introspect", summary="Token introspection (RFC 7662)", operation_id="psc_introspect")
async def introspect(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> JSONResponse:
    form = await _form(request)
    await service.authenticate_client(session, settings, authorization=authorization, form=form, allow_public=False)
    if not form.get("token"):
        raise OAuthError("invalid_request", "token is required", rule="PSC:introspect.missing")
    return _json(await service.introspect(session, settings, token=form["token"]))


@router.post(OIDC + "/revoke", summary="Token revocation (RFC 7009)", operation_id="psc_revoke")
async def revoke(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    form = await _form(request)
    client = await service.authenticate_client(session, settings, authorization=authorization, form=form)
    if not form.get("token"):
        raise OAuthError("invalid_request", "token is required", rule="PSC:revoke.missing")
    await service.revoke_token(session, settings, client=client, token=form["token"])
    return Response(status_code=200, headers=NO_STORE)


# --- logout ---------------------------------------------------------------------------------------


async def _logout(request: Request, params: dict[str, str], session: Any, settings: Any, *, post: bool) -> Response:
    """OIDC RP-Initiated Logout 1.0: ``id_token_hint``, ``post_logout_redirect_uri``, ``state``.

    A redirect to ``post_logout_redirect_uri`` needs a valid ``id_token_hint`` (signed by this sandbox;
    expiry not checked) whose client registered that exact URI in ``post_logout_redirect_uris`` (§3
    lets the OP require the hint): anyone can register a client, so a bare ``client_id`` proves nothing.
    Without a hint, GET shows a confirmation page whose button POSTs here; the POST ends the session
    named by the cookie (SameSite=Lax: a cross-site POST carries no cookie) and shows the logged-out page."""
    if any("\x00" in k or "\x00" in v for k, v in params.items()):
        return _error_page(request, "invalid_request", "parameters must not contain NUL characters", "PSC:form.nul")
    too_long = next(
        (
            n
            for n in ("id_token_hint", "post_logout_redirect_uri", "state", "client_id")
            if len(params.get(n) or "") > LOGOUT_LIMITS[n]
        ),
        None,
    )
    if too_long is not None:
        return _error_page(
            request,
            "invalid_request",
            f"{too_long} is longer than {LOGOUT_LIMITS[too_long]} characters",
            "PSC:form.length",
        )
    hint = params.get("id_token_hint")
    claims: dict[str, Any] = {}
    if hint:
        try:
            claims = await service.verify_token(session, settings, hint, typ=tokens.TYP_ID, check_exp=False)
        except tokens.TokenError as exc:
            return _error_page(request, "invalid_request", f"id_token_hint refused: {exc.description}", exc.rule)
        if params.get("client_id") and params["client_id"] != claims.get("azp"):
            return _error_page(
                request, "invalid_request", "client_id does not match id_token_hint", "PSC:logout.client_id"
            )
    elif not post:
        # No proof the relying party asked: ask the professional (a cross-site link must not log out).
        return _page(
            request,
            "logout_confirm.html",
            {"action": request.url.path, "params": [(k, params[k]) for k in ("state", "client_id") if params.get(k)]},
            headers=NO_STORE,
        )
    target = params.get("post_logout_redirect_uri") or None
    ignored = None
    if target:
        client_id = claims.get("azp")
        client = await service.get_client(session, client_id=client_id) if isinstance(client_id, str) else None
        registered = [] if client is None else client.client_metadata.get("post_logout_redirect_uris", [])
        if not claims or target not in registered or service.redirect_uri_problem(target) is not None:
            from app.api.journal import note_refusal

            ignored = (
                "post_logout_redirect_uri ignored: it needs an id_token_hint whose client registered it"
                " in post_logout_redirect_uris"
            )
            note_refusal(request, rule="PSC:logout.redirect_uri", detail=ignored, status=200)
            target = None
    sid = claims.get("sid") or request.cookies.get(SESSION_COOKIE)
    if service.usable_id(sid, max_length=64):  # a NUL or over-long cookie never reaches a query
        await service.revoke_session(session, session_id=sid, reason="logout")
    if target:
        response: Response = _redirect(request, target, "query", {"state": params.get("state")})
    else:
        response = _page(request, "logged_out.html", {"notice": ignored}, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path="/auth")
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


# --- CIBA -----------------------------------------------------------------------------------------


@router.post(
    OIDC + "/ext/ciba/auth", summary="CIBA backchannel authentication (poll mode)", operation_id="psc_ciba_auth"
)
async def ciba_auth(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> JSONResponse:
    """PSC: HTTP Basic client auth, form-encoded, poll mode only (industriels.esante.gouv.fr CIBA page)."""
    form = await _form(request)
    client = await service.authenticate_client(
        session, settings, authorization=authorization, form=form, allow_public=False
    )
    _require_grant(client, service.GRANT_CIBA)
    scope = form.get("scope", "")
    if "openid" not in scope.split():
        raise OAuthError("invalid_scope", "CIBA requires the openid scope", rule="PSC:ciba.scope")
    granted = service._granted_scope(client, scope)
    too_long = _too_long(form)
    if too_long is not None:
        raise OAuthError(
            "invalid_request", f"{too_long} is longer than {PARAM_LIMITS[too_long]} characters", rule="PSC:form.length"
        )
    if form.get("login_hint_token") or form.get("id_token_hint"):
        raise OAuthError("invalid_request", "only login_hint (SubjectNameID) is supported", rule="PSC:ciba.hint")
    if not form.get("login_hint"):
        raise OAuthError("invalid_request", "login_hint (SubjectNameID) is required", rule="PSC:ciba.hint")
    row = await service.create_ciba_request(
        session,
        settings,
        client=client,
        login_hint=form["login_hint"],
        scope=granted,
        binding_message=form.get("binding_message"),
        acr_values=form.get("acr_values"),
    )
    return _json({"auth_req_id": row.auth_req_id, "expires_in": settings.psc_ciba_expires_in, "interval": row.interval})


# --- a small protected route: who am I -----------------------------------------------------------


@router.get(
    "/psc/v1/me",
    summary="The professional behind the bearer token (CurrentProfessional)",
    operation_id="psc_me",
    response_model=Professional,
    response_model_exclude={"token_claims"},
)
async def me(professional: CurrentProfessional) -> Professional:
    return professional
