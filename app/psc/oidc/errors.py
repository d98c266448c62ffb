"""The OIDC face's error mapper: the domain's OAuth refusals as RFC 6749 §5.2 JSON (registered for
:class:`app.psc.exceptions.OAuthRefusal` through ``Domain.exception_handlers``), and a refused bearer
token as RFC 6750 §3 (``AuthError``: 401 ``invalid_token``), also the fallback for a :class:`TokenError`
nobody caught (registered through ``Domain.exception_handlers``). The authorization endpoint answers its
refusals itself, by redirect or error page (RFC 6749 §4.1.2.1)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from app.api.errors import AuthError, oauth_response, render_generic
from app.api.journal import note_refusal
from app.psc.exceptions import InvalidClient, OAuthRefusal, TokenError

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="esante-wallet"'}


def status_of(exc: OAuthRefusal) -> int:
    """RFC 6749 §5.2: 401 for a failed client authentication, 400 for everything else."""
    return 401 if isinstance(exc, InvalidClient) else 400


async def oauth_refusal(request: Request, exc: OAuthRefusal) -> Response:
    status = status_of(exc)
    note_refusal(request, rule=exc.rule, detail=f"{exc.error}: {exc.description}", status=status)
    # RFC 6749 §5.2: 401 + WWW-Authenticate when the client tried HTTP Basic.
    headers = BASIC_CHALLENGE if isinstance(exc, InvalidClient) and exc.basic else None
    return oauth_response(status, exc.error, exc.description, headers)


def bearer_refusal(exc: TokenError) -> AuthError:
    """A refused access token, as the platform answers it (401, ``WWW-Authenticate: Bearer``)."""
    return AuthError(exc.description, rule=exc.rule)


async def token_refusal(request: Request, exc: TokenError) -> Response:
    """``Domain.exception_handlers[TokenError]``: a refused token that a route forgot to catch answers as the
    platform answers ``AuthError`` (401, ``WWW-Authenticate: Bearer error="invalid_token"``, in the route's
    protocol shape), not as an unexpected 500."""
    error = bearer_refusal(exc)
    return render_generic(request, error.status, error.description, rule=error.rule,
                          headers={"WWW-Authenticate": error.www_authenticate})
