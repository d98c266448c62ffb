"""Discovery: the OpenID Provider metadata (OIDC Discovery 1.0, at PSC's two well-known names) and the
realm's JWKS (RFC 7517), modelled on ANS's copy of the PSC discovery document (psc.md §3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import SessionDep, SettingsDep
from app.psc import tokens
from app.psc.config import REALM_PATH
from app.psc.grants import GRANT_CIBA
from app.psc.oidc.http import OIDC
from app.psc.realm import authorize_url, issuer
from app.psc.signing import get_keyring

router = APIRouter(tags=["psc"])


def discovery_document(settings: Any) -> dict[str, Any]:
    """Modelled on ANS's copy of the PSC discovery document (psc.md §3), advertising what the sandbox
    implements. ``acr_values_supported`` says ``eidas1`` (the real one says Keycloak's ``["0","0"]``:
    see docs/psc.md)."""
    iss = issuer(settings)
    ep = f"{iss}/protocol/openid-connect"
    algs = ["RS256", "ES256"]
    auth_methods = ["private_key_jwt", "client_secret_basic", "client_secret_post"]
    return {
        "issuer": iss,
        "authorization_endpoint": authorize_url(settings),
        "token_endpoint": f"{ep}/token",
        "introspection_endpoint": f"{ep}/token/introspect",
        "userinfo_endpoint": f"{ep}/userinfo",
        "end_session_endpoint": f"{ep}/logout",
        "jwks_uri": f"{ep}/certs",
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", GRANT_CIBA],
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


@router.get(
    OIDC + "/certs",
    summary="JWKS: the realm's public signing keys",
    operation_id="psc_jwks",
    response_class=JwkSetResponse,
)
async def certs(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    ring = await get_keyring(session, settings)  # cached (psc_key_cache_ttl); rotation here clears it
    return JSONResponse(ring.jwks, media_type="application/jwk-set+json")
