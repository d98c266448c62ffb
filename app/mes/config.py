"""Settings of the mes domain (Mon espace santé, the patient side; a mixin of app.config.Settings; env prefix
SEGUR_)."""

from pydantic import ValidationInfo, field_validator
from pydantic_settings import BaseSettings


class MesSettings(BaseSettings):
    """Fields are flat and prefixed with `mes_`: `mes_x` is read from `SEGUR_MES_X`."""

    mes_session_idle_seconds: int = 30 * 60
    """A page session (cookie ``mes_session``) ends after this long without a request (the contract's 30 min)."""
    mes_code_ttl_seconds: int = 5 * 60
    """Life of a sign-in one-time code (the simulated SMS): 5 minutes."""
    mes_code_max_tries: int = 3
    """Wrong codes allowed for one sign-in challenge; the last one ends the challenge."""
    mes_token_ttl_seconds: int = 15 * 60
    """Life of a patient API access token (JWT, audience ``mes``)."""
    mes_upload_max_bytes: int = 10 * 1024 * 1024
    """The largest PDF a patient may add to their DMP."""

    @field_validator("mes_session_idle_seconds", "mes_code_ttl_seconds", "mes_token_ttl_seconds",
                     "mes_code_max_tries", "mes_upload_max_bytes")
    @classmethod
    def _positive(cls, value: int, info: ValidationInfo) -> int:
        if value < 1:
            raise ValueError(f"[mes] SEGUR_{(info.field_name or '').upper()} must be at least 1, got {value}")
        return value
