"""How the PSC store keeps values: identifiers it can look up, secrets and codes as SHA-256 digests,
instants as epoch seconds (the JWT ``exp``/``iat`` unit). Pure: no I/O."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TypeGuard

from app.db import as_utc


def usable_id(value: object, *, max_length: int = 255) -> TypeGuard[str]:
    """An identifier the store can look up (PostgreSQL refuses NUL characters in text)."""
    return isinstance(value, str) and 0 < len(value) <= max_length and "\x00" not in value


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def epoch(value: datetime) -> int:
    return int(as_utc(value).timestamp())


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)
