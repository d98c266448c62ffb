"""The realm's URLs: the issuer, its OpenID Connect endpoints, the authorization endpoint (psc.md §2, §3:
Keycloak's layout, realm ``esante-wallet``), each in the current tenant.

Tenants: each tenant is an issuer of its own, at its own path (``{base}/t/{tenant}/auth/realms/esante-wallet``,
as mock-oauth2-server gives each issuer its own path; the default tenant keeps ``{base}/auth/realms/...``):
its discovery document, JWKS, endpoints and the ``iss`` of every token it issues (access, ID, refresh) say
so. One realm key set (``psc_signing_key``, not tenant-owned, kept on reset) signs for every tenant, so the
JWKS of every tenant is the same document: tokens are told apart by their ``iss``, which every check demands
be the current tenant's issuer (:func:`app.psc.tokens.check_claims`), and client assertions by their ``aud``
(the current tenant's issuer or endpoints). A token of one tenant is thus refused in every other one as a
token of a foreign issuer is."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app.api.urls import absolute_url
from app.psc.config import REALM_PATH
from app.tenancy import tenant_prefix

if TYPE_CHECKING:
    from app.config import Settings


def issuer(settings: Settings) -> str:
    """The current tenant's issuer: ``SEGUR_PSC_ISSUER_BASE_URL`` (default: the public base URL), the
    tenant's prefix, the realm's path."""
    if settings.psc_issuer_base_url:
        return settings.psc_issuer_base_url + tenant_prefix() + REALM_PATH
    return absolute_url(settings, REALM_PATH)


def endpoint(settings: Settings, name: str) -> str:
    return f"{issuer(settings)}/protocol/openid-connect/{name}"


def authorize_url(settings: Settings) -> str:
    """The current tenant's authorization endpoint: ``SEGUR_PSC_AUTHORIZE_URL`` (the "wallet" host) with the
    tenant's prefix before its path, or ``/auth`` under the public base URL."""
    if settings.psc_authorize_url:
        prefix = tenant_prefix()
        if not prefix:
            return settings.psc_authorize_url
        parts = urlsplit(settings.psc_authorize_url)
        return f"{parts.scheme}://{parts.netloc}{prefix}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return absolute_url(settings, "/auth")
