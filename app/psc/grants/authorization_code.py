"""The authorization_code grant (RFC 6749 §4.1): what an authorization request may ask for (§4.1.1, PKCE
RFC 7636 §4.3), and the exchange of its code (§4.1.3, RFC 7636 §4.6): the code is used once, and is bound
to the client, the redirect_uri, the verifier of its challenge, and a live login session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.psc import pkce
from app.psc.clients import ClientLike, client_allows_grant, granted_scope, redirect_uri_problem
from app.psc.exceptions import InvalidGrant, InvalidRequest, UnauthorizedClient, UnsupportedResponseType
from app.psc.issuance import Grant, issue_user_tokens
from app.psc.professionals import professional_row
from app.psc.sessions import consume_code, live_session
from app.psc.storage import epoch

if TYPE_CHECKING:
    from app.config import Settings


def trusted_redirect_uri(client: ClientLike, redirect_uri: str) -> bool:
    """Exact string match with a registered URI (OAuth 2.0 Security BCP §4.1.3); a URI registered before
    registration checked schemes (javascript:, data:...) is never used."""
    return (
        bool(redirect_uri)
        and redirect_uri in client.client_metadata.get("redirect_uris", [])
        and redirect_uri_problem(redirect_uri) is None
    )


@dataclass(frozen=True)
class CodeRequest:
    """What an authorization request was granted: the scope, and the PKCE challenge the code is bound to."""

    scope: str
    code_challenge: str | None
    code_challenge_method: str | None


def code_request(
    client: ClientLike,
    *,
    response_type: str | None,
    scope: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
) -> CodeRequest:
    """The checks of an authorization request, in order: response type, grant, scope, PKCE (required for
    public clients and clients registered with ``require_pkce``)."""
    if response_type != "code":
        raise UnsupportedResponseType("only response_type=code is supported", rule="PSC:authorize.response_type")
    if not client_allows_grant(client, "authorization_code"):
        raise UnauthorizedClient("this client may not use the authorization code flow", rule="PSC:authorize.grant")
    granted = granted_scope(client, scope)
    challenge = code_challenge or None
    method = code_challenge_method or ("plain" if challenge else None)
    public = client.token_endpoint_auth_method == "none"
    if challenge is None and (client.client_metadata.get("require_pkce") or public):
        raise InvalidRequest("PKCE code_challenge required for this client", rule="PSC:pkce.required")
    if method is not None and method not in pkce.METHODS:
        raise InvalidRequest(f"code_challenge_method {method!r} is not supported", rule="PSC:pkce.method")
    if challenge is not None and not pkce.is_valid_challenge(challenge):
        raise InvalidRequest("code_challenge must be 43-128 unreserved characters", rule="PSC:pkce.challenge")
    return CodeRequest(granted, challenge, method)


async def exchange_code(
    session: AsyncSession,
    settings: Settings,
    *,
    client: ClientLike,
    code: str,
    redirect_uri: str | None,
    code_verifier: str | None,
) -> dict[str, Any]:
    """The token response for ``code``, or the refusal (``invalid_grant``; a replay revokes its tokens)."""
    row = await consume_code(session, code=code)
    # RFC 6749 §4.1.3: the code is bound to the client and the redirect_uri; RFC 7636 §4.6 to the verifier.
    if row.client_id != client.client_id:
        raise InvalidGrant("the code was issued to another client", rule="PSC:code.client")
    if redirect_uri != row.redirect_uri:
        raise InvalidGrant("redirect_uri differs from the authorization request", rule="PSC:code.redirect_uri")
    if row.code_challenge is not None:
        if not code_verifier:
            raise InvalidGrant("code_verifier is required (PKCE)", rule="PSC:pkce.verifier_missing")
        if not pkce.verify(code_verifier, row.code_challenge, row.code_challenge_method or "plain"):
            raise InvalidGrant("PKCE verification failed", rule="PSC:pkce.mismatch")
    elif code_verifier:
        raise InvalidGrant("code_verifier sent but no code_challenge was", rule="PSC:pkce.unexpected")
    login = await live_session(session, session_id=row.session_id)
    if login is None:
        raise InvalidGrant("the session of this code has ended", rule="PSC:code.session")
    pro = await professional_row(session, row.subject_name_id)
    if pro is None:
        raise InvalidGrant("the professional no longer exists", rule="PSC:code.subject")
    grant = Grant(
        client=client,
        subject_name_id=pro.subject_name_id,
        userinfo=pro.userinfo,
        scope=row.scope,
        session_id=row.session_id,
        auth_time=epoch(row.auth_time),
        grant_id=row.code_sha256,
        nonce=row.nonce,
    )
    return await issue_user_tokens(session, settings, grant)
