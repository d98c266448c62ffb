"""The one check the rest of the sandbox uses to authenticate a request with a PSC access token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import AuthError
from app.psc.exceptions import TokenError
from app.psc.verification import authenticate_access_token
from app.shared.professional import Professional

if TYPE_CHECKING:
    from app.config import Settings


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header (RFC 6750 §2.1), or AuthError."""
    if not authorization:
        raise AuthError(
            "missing Authorization: Bearer <PSC access token>", rule="PSC:bearer.missing", error="invalid_request"
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(
            "the Authorization header must be 'Bearer <token>'", rule="PSC:bearer.scheme", error="invalid_request"
        )
    return token.strip()


async def authenticate(session: AsyncSession, settings: Settings, authorization: str | None) -> Professional:
    """Signature with RS256/ES256 only and a key of this sandbox, ``iss`` = the current tenant's issuer (a
    token of another tenant is refused as one of a foreign issuer: 401 ``invalid_token``), ``aud``
    = ``SEGUR_PSC_ACCESS_TOKEN_AUDIENCE``, ``exp`` with ``SEGUR_PSC_LEEWAY`` seconds, ``typ`` Bearer
    (so an id_token or refresh token is refused), not revoked, and a known professional."""
    token = bearer_token(authorization)
    try:
        return await authenticate_access_token(session, settings, token)
    except TokenError as exc:
        raise AuthError(exc.description, rule=exc.rule) from None
