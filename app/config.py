"""Every knob of the sandbox, read from the environment (prefix ``SEGUR_``) and validated at start-up.

Each domain owns a settings mixin (``app/<domain>/config.py``); :class:`Settings` joins them. A value
that cannot work is refused before anything starts, with the subsystem named in the message, so an
operator reads ``[database] ...`` rather than a traceback from the driver ten seconds later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.dmp.config import DmpSettings
from app.ins.config import InsSettings
from app.mes.config import MesSettings
from app.mss.config import MssSettings
from app.psc.config import PscSettings

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/segur-sandbox.db"


class PlatformSettings(BaseSettings):
    """Platform settings: store, listeners, HTTP limits, logs."""

    database_url: str = DEFAULT_DATABASE_URL
    database_pool_size: int = 10
    public_base_url: str = "http://localhost:8000"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    max_body_bytes: int = 20 * 1024 * 1024
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    access_log: bool = True
    control_token: str | None = None
    """When set, the control API (``/sandbox/v1``) demands ``Authorization: Bearer <this value>``. Unset,
    it is open: a sandbox on a developer's machine or in a CI job is arranged by its own harness."""
    fast_paths: bool = True
    """The shortcuts measured to buy a significant share of a bench (README, "Performance decisions"): off,
    every one of them takes the plain path it shortcuts (FastAPI's full pipeline, the ORM, the standard
    parsers), so each can be measured and deleted by flipping this one setting. The suite runs both ways."""
    auto_migrate: bool | None = None
    """Apply migrations and fixtures at start-up. Default: on for SQLite (the embedded store), off for
    PostgreSQL, where ``segur-sandbox db upgrade`` is an explicit step."""

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"[http] SEGUR_PUBLIC_BASE_URL must be an absolute http(s) URL, got {value!r}"
            )
        if parts.query or parts.fragment:
            raise ValueError("[http] SEGUR_PUBLIC_BASE_URL must not carry a query or a fragment")
        return value.rstrip("/")

    @field_validator("http_port", "smtp_port")
    @classmethod
    def _port(cls, value: int, info) -> int:  # type: ignore[no-untyped-def]
        if not 0 <= value <= 65535:
            subsystem = "smtp" if info.field_name.startswith("smtp") else "http"
            raise ValueError(f"[{subsystem}] SEGUR_{info.field_name.upper()} must be 0..65535, got {value}")
        return value

    @field_validator("max_body_bytes")
    @classmethod
    def _max_body(cls, value: int) -> int:
        if value < 1024:
            raise ValueError(f"[http] SEGUR_MAX_BODY_BYTES must be at least 1024, got {value}")
        return value

    @field_validator("control_token")
    @classmethod
    def _control_token(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("[control] SEGUR_CONTROL_TOKEN must be at least 16 characters (or unset)")
        return value or None

    @field_validator("database_pool_size")
    @classmethod
    def _pool(cls, value: int) -> int:
        if value < 1:
            raise ValueError("[database] SEGUR_DATABASE_POOL_SIZE must be at least 1")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_fresh_sqlite_store(self) -> bool:
        """An embedded store whose file does not exist yet: its first start creates everything."""
        if not self.is_sqlite:
            return False
        path = self.database_url.split(":///", 1)[-1]
        return path not in ("", ":memory:") and not Path(path).expanduser().exists()

    @property
    def migrate_on_start(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate


def normalise_database_url(value: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``, ``sqlite:///``) and pick the
    async driver; refuse anything else with the subsystem named."""
    value = value.strip()
    scheme, sep, rest = value.partition("://")
    if not sep:
        raise ValueError(f"[database] SEGUR_DATABASE_URL is not a URL: {value!r}")
    drivers = {
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "postgresql+asyncpg": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
        "sqlite+aiosqlite": "sqlite+aiosqlite",
    }
    if scheme not in drivers:
        raise ValueError(
            f"[database] SEGUR_DATABASE_URL scheme {scheme!r} is not supported: "
            "use postgresql://user@host/db or sqlite:///path/to/file.db"
        )
    return f"{drivers[scheme]}://{rest}"


class Settings(PlatformSettings, PscSettings, InsSettings, DmpSettings, MssSettings, MesSettings):
    """All settings of the sandbox. Environment variables: ``SEGUR_<FIELD NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SEGUR_", env_file=None, extra="ignore")


class SettingsError(Exception):
    """Raised with one line per refused setting, each naming its subsystem."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            message = str(error.get("msg", "")).removeprefix("Value error, ")
            field = ".".join(str(p) for p in error.get("loc", ()))
            if not message.startswith("["):
                message = f"[config] SEGUR_{field.upper()}: {message}"
            lines.append(message)
        raise SettingsError("\n".join(lines)) from None
