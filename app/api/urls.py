"""Absolute URLs the sandbox emits (issuer, ``Location``, next links, attachments) all start with
``SEGUR_PUBLIC_BASE_URL``, never with whatever Host header a request came in with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from app.config import Settings

QueryValue = str | int | float | bool | None


def absolute_url(
    settings: Settings, path: str,
    params: Mapping[str, QueryValue | Sequence[QueryValue]] | Sequence[tuple[str, QueryValue]] | None = None,
) -> str:
    if not path.startswith("/"):
        path = "/" + path
    url = settings.public_base_url + path
    if params:
        items = params.items() if isinstance(params, Mapping) else params
        flat: list[tuple[str, str]] = []
        for key, value in items:
            values = value if isinstance(value, list | tuple) else [value]
            flat.extend((key, str(v)) for v in values if v is not None)
        if flat:
            url += "?" + urlencode(flat)
    return url
