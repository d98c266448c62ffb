"""Token issuance: Keycloak's token response (psc.md §5) and the tokens of a user grant (access, refresh,
and the id_token for ``openid``), each recorded under its grant so a replay can revoke them together."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.psc import signer, tokens
from app.psc.clients import ClientLike
from app.psc.models import IssuedToken
from app.psc.realm import issuer
from app.psc.signing import get_keyring
from app.psc.storage import from_epoch

if TYPE_CHECKING:
    from app.config import Settings


@dataclass
class Grant:
    """What a user grant carries into token issuance."""

    client: ClientLike
    subject_name_id: str
    userinfo: dict[str, Any]
    scope: str
    session_id: str
    auth_time: int
    grant_id: str
    nonce: str | None = None


def token_response(
    access: str,
    *,
    expires_in: int,
    scope: str,
    refresh: str | None = None,
    refresh_expires_in: int = 0,
    id_token: str | None = None,
    session_state: str | None = None,
) -> dict[str, Any]:
    """Keycloak's token answer (``expires_in``, ``refresh_expires_in``, ``not-before-policy``, ...)."""
    body: dict[str, Any] = {"access_token": access, "expires_in": expires_in, "refresh_expires_in": refresh_expires_in}
    if refresh is not None:
        body["refresh_token"] = refresh
    body["token_type"] = "Bearer"
    if id_token is not None:
        body["id_token"] = id_token
    body["not-before-policy"] = 0
    if session_state is not None:
        body["session_state"] = session_state
    body["scope"] = scope
    return body


async def issue_user_tokens(session: AsyncSession, settings: Settings, grant: Grant) -> dict[str, Any]:
    """Access, refresh and (for ``openid``) id tokens; every jti recorded under ``grant.grant_id``."""
    ring = await get_keyring(session, settings)
    client = grant.client
    now = int(time.time())
    iss = issuer(settings)
    sub = grant.userinfo.get("sub", grant.subject_name_id)
    access_claims = tokens.access_token_claims(
        issuer=iss,
        audience=settings.psc_access_token_audience,
        client_id=client.client_id,
        subject=sub,
        scope=grant.scope,
        now=now,
        ttl=settings.psc_access_token_ttl,
        session_id=grant.session_id,
        auth_time=grant.auth_time,
        preferred_username=grant.subject_name_id,
        extra={
            "given_name": grant.userinfo.get("given_name", ""),
            "family_name": grant.userinfo.get("family_name", ""),
        },
    )
    access = await signer.sign(settings, ring, access_claims, alg=client.access_token_alg)  # type: ignore[arg-type]
    refresh_ttl = min(settings.psc_refresh_token_ttl, settings.psc_session_ttl)
    refresh_claims = tokens.refresh_token_claims(
        issuer=iss,
        client_id=client.client_id,
        subject=sub,
        scope=grant.scope,
        now=now,
        ttl=refresh_ttl,
        session_id=grant.session_id,
    )
    refresh = await signer.sign(settings, ring, refresh_claims, alg="RS256")
    id_token = None
    id_claims = None
    if "openid" in grant.scope.split():
        id_alg = client.client_metadata.get("id_token_signed_response_alg", "RS256")
        id_claims = tokens.id_token_claims(
            issuer=iss,
            client_id=client.client_id,
            subject=sub,
            now=now,
            ttl=settings.psc_id_token_ttl,
            session_id=grant.session_id,
            auth_time=grant.auth_time,
            nonce=grant.nonce,
            access_token=access,
            alg=id_alg,
            # fault injection: a client registered with "sandbox_id_token_acr" gets that acr ("" = none)
            acr=client.client_metadata.get("sandbox_id_token_acr", tokens.ACR_EIDAS1) or None,
            profile={
                # Keycloak's "email" scope mapper writes email_verified to the id_token as to userinfo
                "email_verified": grant.userinfo.get("email_verified", False),
                "preferred_username": grant.subject_name_id,
                "given_name": grant.userinfo.get("given_name", ""),
                "family_name": grant.userinfo.get("family_name", ""),
            },
        )
        id_token = await signer.sign(settings, ring, id_claims, alg=id_alg)
    for kind, claims in (("access", access_claims), ("refresh", refresh_claims), ("id", id_claims)):
        if claims is None:
            continue
        session.add(
            IssuedToken(
                jti=claims["jti"],
                kind=kind,
                grant_id=grant.grant_id,
                client_id=client.client_id,
                subject_name_id=grant.subject_name_id,
                session_id=grant.session_id,
                scope=grant.scope,
                expires_at=from_epoch(claims["exp"]),
            )
        )
    await session.flush()
    return token_response(
        access,
        expires_in=settings.psc_access_token_ttl,
        scope=grant.scope,
        refresh=refresh,
        refresh_expires_in=refresh_ttl,
        id_token=id_token,
        session_state=grant.session_id,
    )
