"""PSC pydantic models: the authenticated professional, control-API bodies, token answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ClientCreate(BaseModel):
    """RFC 7591 client metadata (and the Keycloak-style extensions the sandbox honours)."""

    model_config = ConfigDict(extra="allow")

    client_id: str | None = Field(default=None, min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._~:\-]+$")
    client_secret: str | None = Field(default=None, min_length=8, max_length=255)
    client_name: str | None = None
    redirect_uris: list[str] = Field(default_factory=list)
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    grant_types: list[str] = Field(default_factory=lambda: ["authorization_code", "refresh_token"])
    response_types: list[str] = Field(default_factory=lambda: ["code"])
    token_endpoint_auth_method: Literal["none", "client_secret_basic", "client_secret_post", "private_key_jwt"] = (
        "client_secret_basic"
    )
    scope: str = "openid scope_all"
    jwks: dict[str, Any] | None = None
    id_token_signed_response_alg: Literal["RS256", "ES256"] = "RS256"
    access_token_signed_response_alg: Literal["RS256", "ES256"] = "RS256"
    userinfo_signed_response_alg: Literal["RS256", "ES256"] | None = None
    require_pkce: bool = False
    backchannel_token_delivery_mode: Literal["poll"] | None = None


class CibaDecision(BaseModel):
    action: Literal["approve", "deny"]


class CibaRead(BaseModel):
    auth_req_id: str
    client_id: str
    login_hint: str
    scope: str
    binding_message: str | None
    acr_values: str | None
    status: str
    expires_at: str
