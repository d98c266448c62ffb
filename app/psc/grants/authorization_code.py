"""The authorization_code grant (RFC 6749 §4.1.3, with PKCE, RFC 7636 §4.6): the code is used once, and
is bound to the client, the redirect_uri, the verifier of its challenge, and a live login session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.psc import pkce
from app.psc.clients import ClientLike
from app.psc.exceptions import InvalidGrant
from app.psc.issuance import Grant, issue_user_tokens
from app.psc.professionals import professional_row
from app.psc.sessions import consume_code, live_session
from app.psc.storage import epoch

if TYPE_CHECKING:
    from app.config import Settings


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
