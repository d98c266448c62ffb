"""The PSC domain's errors: what was refused, the rule that refused it, the facts.

The services raise these and never choose an HTTP status; each face maps them to its protocol:

- :class:`OAuthRefusal` and its subclasses (RFC 6749 §5.2, OIDC Core §3.1.2.6, CIBA Core §11 and §13) —
  the OIDC face (:mod:`app.psc.oidc.errors`) answers them as RFC 6749 JSON, or as the redirect to the
  client / the error page where the authorization endpoint does so;
- :class:`TokenError` — a token refused by the check every domain uses (RFC 6750 §3: the face answers
  401 ``invalid_token``; the grants turn it into ``invalid_grant``);
- :class:`ControlRefusal` and its subclasses — the control API (:mod:`app.psc.control`) answers them as
  RFC 9457 problem details.
"""

from __future__ import annotations


class PscError(Exception):
    """A refusal of the PSC domain; ``rule`` names the rule (recorded in the journal)."""

    def __init__(self, description: str, *, rule: str) -> None:
        super().__init__(description)
        self.description = description
        self.rule = rule


# --- tokens ---------------------------------------------------------------------------------------


class TokenError(PscError):
    """A token refused; ``rule`` names the check (recorded in the journal)."""

    def __init__(self, description: str, rule: str) -> None:
        super().__init__(description, rule=rule)


class UnknownKeyError(TokenError):
    """The token names a ``kid`` this key ring does not know (reload the ring, then retry once)."""


# --- OAuth 2.0 / OpenID Connect semantics ---------------------------------------------------------


class OAuthRefusal(PscError):
    """An OAuth refusal; ``error`` is its RFC 6749 §5.2 (or OIDC, CIBA) code.

    ``commit`` is true when what the request changed before the refusal must still be committed (the
    poll time of a CIBA request, the revocations that answer a replayed code or refresh token)."""

    error = "invalid_request"
    commit = False

    def __init__(self, description: str, *, rule: str, commit: bool | None = None) -> None:
        super().__init__(description, rule=rule)
        if commit is not None:
            self.commit = commit


class InvalidRequest(OAuthRefusal):
    error = "invalid_request"


class InvalidClient(OAuthRefusal):
    """Client authentication failed (RFC 6749 §5.2). ``basic``: the client tried HTTP Basic, so the
    answer carries ``WWW-Authenticate``."""

    error = "invalid_client"

    def __init__(self, description: str, *, rule: str, basic: bool = False) -> None:
        super().__init__(description, rule=rule)
        self.basic = basic


class InvalidGrant(OAuthRefusal):
    error = "invalid_grant"


class CodeReplayError(InvalidGrant):
    """A used code or refresh token presented again: what was issued from it has been revoked, and that
    revocation must be committed before the refusal is answered."""

    commit = True


class UnauthorizedClient(OAuthRefusal):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthRefusal):
    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthRefusal):
    error = "unsupported_response_type"


class InvalidScope(OAuthRefusal):
    error = "invalid_scope"


class AccessDenied(OAuthRefusal):
    error = "access_denied"


class LoginRequired(OAuthRefusal):
    """OIDC Core §3.1.2.6: ``prompt=none`` and no session."""

    error = "login_required"


class UnknownUserId(OAuthRefusal):
    """CIBA Core §13: the ``login_hint`` names nobody."""

    error = "unknown_user_id"


class AuthorizationPending(OAuthRefusal):
    """CIBA Core §11: not answered yet (the poll time is recorded: committed)."""

    error = "authorization_pending"
    commit = True


class SlowDown(OAuthRefusal):
    """CIBA Core §11: polled too fast (the raised interval is recorded: committed)."""

    error = "slow_down"
    commit = True


class ExpiredToken(OAuthRefusal):
    """CIBA Core §11: the authentication request expired."""

    error = "expired_token"


# --- control API ----------------------------------------------------------------------------------


class ControlRefusal(PscError):
    """A refusal of the control API; ``title`` says what kind, ``description`` the facts."""

    title = "Refused"


class InvalidClientMetadata(ControlRefusal):
    """RFC 7591 §3.2.2: ``error`` is ``invalid_client_metadata`` or ``invalid_redirect_uri``."""

    title = "Invalid client metadata"

    def __init__(self, description: str, *, rule: str, error: str = "invalid_client_metadata") -> None:
        super().__init__(description, rule=rule)
        self.error = error
        if error == "invalid_redirect_uri":
            self.title = "Invalid redirect URI"


class ClientExists(ControlRefusal):
    title = "Client exists"


class UnknownClient(ControlRefusal):
    title = "Unknown client"


class InvalidProfessional(ControlRefusal):
    title = "Invalid professional"


class ProfessionalExists(ControlRefusal):
    title = "Professional exists"


class UnknownProfessional(ControlRefusal):
    title = "Unknown professional"


class UnknownCibaRequest(ControlRefusal):
    title = "Unknown CIBA request"


class CibaRequestDecided(ControlRefusal):
    title = "CIBA request already decided"


class CibaRequestExpired(ControlRefusal):
    title = "CIBA request expired"


class UnsupportedAlgorithm(ControlRefusal):
    title = "Unsupported algorithm"
