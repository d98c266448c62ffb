"""The PSC domain's errors (app/psc/exceptions.py): what each says, and which must still be committed."""

from __future__ import annotations

import pytest

from app.psc import exceptions, tokens
from app.psc.exceptions import (
    AccessDenied,
    AuthorizationPending,
    CodeReplayError,
    ControlRefusal,
    ExpiredToken,
    InvalidClient,
    InvalidClientMetadata,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    LoginRequired,
    OAuthRefusal,
    PscError,
    SlowDown,
    TokenError,
    UnauthorizedClient,
    UnknownKeyError,
    UnknownUserId,
    UnsupportedGrantType,
    UnsupportedResponseType,
)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (InvalidRequest, "invalid_request"),
        (InvalidClient, "invalid_client"),
        (InvalidGrant, "invalid_grant"),
        (CodeReplayError, "invalid_grant"),
        (UnauthorizedClient, "unauthorized_client"),
        (UnsupportedGrantType, "unsupported_grant_type"),
        (UnsupportedResponseType, "unsupported_response_type"),
        (InvalidScope, "invalid_scope"),
        (AccessDenied, "access_denied"),
        (LoginRequired, "login_required"),
        (UnknownUserId, "unknown_user_id"),
        (AuthorizationPending, "authorization_pending"),
        (SlowDown, "slow_down"),
        (ExpiredToken, "expired_token"),
    ],
)
def test_each_oauth_refusal_carries_its_rfc_code_description_and_rule(kind: type[OAuthRefusal], code: str) -> None:
    error = kind("what went wrong", rule="PSC:x")
    assert (error.error, error.description, error.rule) == (code, "what went wrong", "PSC:x")
    assert str(error) == "what went wrong"


def test_only_what_changed_the_store_on_purpose_is_committed() -> None:
    committed = {AuthorizationPending, SlowDown, CodeReplayError}
    for kind in (cls for cls in vars(exceptions).values() if isinstance(cls, type) and issubclass(cls, OAuthRefusal)):
        assert kind("x", rule="r").commit is (kind in committed), kind
    assert InvalidGrant("x", rule="r", commit=True).commit


def test_invalid_client_says_whether_http_basic_was_tried() -> None:
    assert InvalidClient("x", rule="r", basic=True).basic and not InvalidClient("x", rule="r").basic


def test_token_errors_are_the_ones_tokens_raises() -> None:
    assert issubclass(UnknownKeyError, TokenError)
    with pytest.raises(TokenError):  # what tokens raises is the exceptions module's class
        tokens.unverified_header("not-a-jws")
    error = TokenError("the token has expired", "PSC:token.exp")
    assert (error.description, error.rule) == ("the token has expired", "PSC:token.exp")
    assert isinstance(error, PscError) and not isinstance(error, (OAuthRefusal, ControlRefusal))


def test_client_metadata_refusals_name_their_rfc7591_code() -> None:
    assert InvalidClientMetadata("x", rule="r").title == "Invalid client metadata"
    redirect = InvalidClientMetadata("x", rule="r", error="invalid_redirect_uri")
    assert (redirect.error, redirect.title) == ("invalid_redirect_uri", "Invalid redirect URI")
