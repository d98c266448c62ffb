"""The client_credentials grant (RFC 6749 §4.4): a service-account access token, as Keycloak issues it
(``preferred_username`` ``service-account-<client_id>``, ``clientId``); no refresh token, no id_token, and
nothing written to the store (the token endpoint's hot path)."""

from __future__ import annotations

import functools
import time
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.psc import signer, tokens
from app.psc.clients import ClientLike, granted_scope
from app.psc.issuance import token_response
from app.psc.realm import issuer
from app.psc.signing import get_keyring

if TYPE_CHECKING:
    from app.config import Settings


@functools.lru_cache(maxsize=1024)
def service_account_subject(client_id: str) -> str:
    """The ``sub`` of a client's service-account tokens: one stable UUID per client, as Keycloak's service-account
    user has (a name-based UUID here, so it is the same after a reset)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "service-account:" + client_id))


async def issue_client_credentials(
    session: AsyncSession, settings: Settings, *, client: ClientLike, scope: str | None
) -> dict[str, Any]:
    ring = await get_keyring(session, settings)
    granted = granted_scope(client, scope, default="profile email")
    now = int(time.time())
    claims = tokens.access_token_claims(
        issuer=issuer(settings),
        audience=settings.psc_access_token_audience,
        client_id=client.client_id,
        subject=service_account_subject(client.client_id),
        scope=granted,
        now=now,
        ttl=settings.psc_access_token_ttl,
        preferred_username="service-account-" + client.client_id,
        acr="1",
        extra={"clientId": client.client_id},
    )
    access = await signer.sign(settings, ring, claims, alg=client.access_token_alg)  # type: ignore[arg-type]
    return token_response(access, expires_in=settings.psc_access_token_ttl, scope=granted)
