"""Absolute URLs the sandbox emits (issuer, ``Location``, next links, attachments) all start with
``SEGUR_PUBLIC_BASE_URL``, never with whatever Host header a request came in with, followed by the current
tenant's prefix (``/t/{tenant}``; none for the default tenant): a tenant's PSC issuer, FHIR ``fullUrl`` and
next links stay in that tenant's world."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from app.config import Settings
from app.tenancy import tenant_prefix

QueryValue = str | int | float | bool | None


def absolute_url(
    settings: Settings, path: str,
    params: Mapping[str, QueryValue | Sequence[QueryValue]] | Sequence[tuple[str, QueryValue]] | None = None,
    *, tenant: str | None = None,
) -> str:
    """``path`` under the public base URL, in ``tenant`` (the current one when not given)."""
    if not path.startswith("/"):
        path = "/" + path
    url = settings.public_base_url + tenant_prefix(tenant) + path
    if params:
        items = params.items() if isinstance(params, Mapping) else params
        flat: list[tuple[str, str]] = []
        for key, value in items:
            values = value if isinstance(value, list | tuple) else [value]
            flat.extend((key, str(v)) for v in values if v is not None)
        if flat:
            url += "?" + urlencode(flat)
    return url
