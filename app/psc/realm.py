"""The realm's URLs: the issuer, its OpenID Connect endpoints, the authorization endpoint (psc.md §2, §3:
Keycloak's layout, realm ``esante-wallet``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.psc.config import REALM_PATH

if TYPE_CHECKING:
    from app.config import Settings


def issuer(settings: Settings) -> str:
    return (settings.psc_issuer_base_url or settings.public_base_url) + REALM_PATH


def endpoint(settings: Settings, name: str) -> str:
    return f"{issuer(settings)}/protocol/openid-connect/{name}"


def authorize_url(settings: Settings) -> str:
    return settings.psc_authorize_url or settings.public_base_url + "/auth"
