"""Settings of the psc domain (a mixin of app.config.Settings; env prefix SEGUR_)."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import BaseSettings

REALM_PATH = "/auth/realms/esante-wallet"


class PscSettings(BaseSettings):
    """Fields are flat and prefixed with `psc_`: `psc_x` is read from `SEGUR_PSC_X`.

    Lifetimes: DevBox-Santé says PSC access tokens are "generally valid 4–5 minutes"; ANS's CIBA test
    fixtures use ``expires_in`` 120 and ``refresh_expires_in`` 350 (reference psc.md §5, §11.6). Keycloak's
    own defaults give the code (60 s) and session (SSO idle 30 min, max 10 h) lifetimes.
    """

    psc_issuer_base_url: str | None = None
    """Scheme+host of the issuer ("auth" host); default: SEGUR_PUBLIC_BASE_URL."""
    psc_authorize_url: str | None = None
    """Authorization endpoint advertised in discovery ("wallet" host); default: {public base}/auth."""
    psc_access_token_ttl: int = 300
    psc_id_token_ttl: int = 300
    psc_refresh_token_ttl: int = 1800
    psc_code_ttl: int = 60
    psc_session_ttl: int = 36000
    psc_ciba_expires_in: int = 120
    psc_ciba_interval: int = 1
    psc_access_token_audience: str = "account"
    """`aud` of access tokens (Keycloak's default audience) and what `CurrentProfessional` demands."""
    psc_leeway: int = 5
    """Clock skew (seconds) tolerated on exp/nbf/iat."""
    psc_client_cache_ttl: float = 10.0
    """Seconds a worker keeps a client's registration for client authentication (0: no cache). Reset and
    client creation clear it in the worker that handled them; other workers see changes after this delay."""
    psc_key_cache_ttl: float = 30.0
    """Seconds a worker keeps its parsed signing keys before reloading them from the store."""

    @field_validator(
        "psc_access_token_ttl",
        "psc_id_token_ttl",
        "psc_refresh_token_ttl",
        "psc_code_ttl",
        "psc_session_ttl",
        "psc_ciba_expires_in",
    )
    @classmethod
    def _positive(cls, value: int, info) -> int:  # type: ignore[no-untyped-def]
        if value <= 0:
            raise ValueError(f"[psc] SEGUR_{info.field_name.upper()} must be > 0, got {value}")
        return value

    @field_validator("psc_ciba_interval", "psc_leeway")
    @classmethod
    def _non_negative(cls, value: int, info) -> int:  # type: ignore[no-untyped-def]
        if value < 0:
            raise ValueError(f"[psc] SEGUR_{info.field_name.upper()} must be >= 0, got {value}")
        return value

    @field_validator("psc_issuer_base_url", "psc_authorize_url")
    @classmethod
    def _url(cls, value: str | None, info) -> str | None:  # type: ignore[no-untyped-def]
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"[psc] SEGUR_{info.field_name.upper()} must be an http(s) URL, got {value!r}")
        return value.rstrip("/")
