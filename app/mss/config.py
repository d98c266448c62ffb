"""Settings of the mss domain (a mixin of app.config.Settings; env prefix SEGUR_)."""

from pydantic import ValidationInfo, field_validator
from pydantic_settings import BaseSettings


class MssSettings(BaseSettings):
    """Fields are flat and prefixed with `mss_`: `mss_x` is read from `SEGUR_MSS_X`."""

    mss_max_message_bytes: int = 10 * 1024 * 1024
    """SMTP SIZE announced and enforced at DATA (552 5.3.4). No authoritative figure exists; one LPS
    team uses 10 MB, configurable per operator (mss.md §6, unverified)."""
    mss_smtp_hostname: str = "smtp.sandbox.mssante.fr"
    """Name in the SMTP greeting and in DSN/MDN ``Reporting-MTA``."""
    mss_smtp_tls_port: int | None = None
    """Optional implicit-TLS (SMTPS) port; 0 = ephemeral (tests)."""
    mss_smtp_auth_require_tls: bool = True
    """Refuse AUTH before STARTTLS (SC.MSS/CONF.05, .07). Turn off for quick plain-text tests."""
    mss_imap_enabled: bool = True
    """Start the IMAP listener (RFC 3501) on the application's event loop."""
    mss_imap_host: str | None = None
    """Address the IMAP listener binds; unset = ``SEGUR_SMTP_HOST``."""
    mss_imap_port: int = 1143
    """IMAP with STARTTLS (RFC 2595); 0 = ephemeral (tests)."""
    mss_imap_tls_port: int | None = None
    """Optional implicit-TLS IMAP port (RFC 8314); 0 = ephemeral (tests)."""
    mss_imap_hostname: str = "imap.sandbox.mssante.fr"
    """Name in the IMAP greeting and in the autoconfiguration."""
    mss_imap_auth_require_tls: bool = True
    """LOGINDISABLED and no AUTHENTICATE before STARTTLS (RFC 3501 §6.2.3, RFC 2595 §3.2). Turn off for quick
    plain-text tests."""
    mss_imap_max_connections: int = 2000
    """IMAP connections one worker serves at once; beyond, the greeting is ``* BYE``."""
    mss_imap_idle_timeout_seconds: int = 1800
    """Autologout of an authenticated IMAP session that says nothing (IDLE included): at least 30 minutes by
    RFC 3501 §5.4; a session not yet authenticated is logged out after the smaller of this and 2 minutes."""
    mss_tls_cert_file: str | None = None
    mss_tls_key_file: str | None = None
    """PEM server certificate and key; when unset the sandbox generates a self-signed test certificate
    at start-up (not an IGC-Santé certificate)."""
    mss_enforced_checks: str = ""
    """Comma-separated check ids (docs/mss.md) to enforce (refuse at DATA) on top of the defaults,
    e.g. ``MSS.NIL,MSS.CODECDA,MSS.INS``."""
    mss_pharmacy_window_days: int = 365
    """How long after a dispensation the patient may start a conversation with the pharmacy's organisational
    mailbox (Mon espace santé's pharmacy exception): "au cours de l'année écoulée" (lepharmaciendefrance.fr, 2023;
    segur-requirements.md §4.5)."""
    mss_annuaire_api_key: str = "sandbox-esante-api-key"
    """Value the Annuaire Santé stub expects in the ``ESANTE-API-KEY`` header; empty = no check."""

    @field_validator("mss_max_message_bytes")
    @classmethod
    def _size(cls, value: int) -> int:
        if value < 1024:
            raise ValueError(f"[mss] SEGUR_MSS_MAX_MESSAGE_BYTES must be at least 1024, got {value}")
        return value

    @field_validator("mss_pharmacy_window_days")
    @classmethod
    def _window(cls, value: int) -> int:
        if not 1 <= value <= 3650:
            raise ValueError(f"[mss] SEGUR_MSS_PHARMACY_WINDOW_DAYS must be 1..3650, got {value}")
        return value

    @field_validator("mss_smtp_tls_port", "mss_imap_port", "mss_imap_tls_port")
    @classmethod
    def _tls_port(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and not 0 <= value <= 65535:
            raise ValueError(f"[mss] SEGUR_{str(info.field_name).upper()} must be 0..65535, got {value}")
        return value

    @field_validator("mss_imap_max_connections")
    @classmethod
    def _connections(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"[mss] SEGUR_MSS_IMAP_MAX_CONNECTIONS must be at least 1, got {value}")
        return value

    @field_validator("mss_imap_idle_timeout_seconds")
    @classmethod
    def _autologout(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"[mss] SEGUR_MSS_IMAP_IDLE_TIMEOUT_SECONDS must be at least 1, got {value}")
        return value

    @property
    def mss_enforced_check_ids(self) -> list[str]:
        return [item.strip() for item in self.mss_enforced_checks.split(",") if item.strip()]
