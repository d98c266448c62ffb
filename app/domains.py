"""The domains of the sandbox, in seeding order, and what each one plugs into the platform.

Each domain package exposes ``app/<name>/domain.py: DOMAIN``. The platform includes its routers, seeds
its fixtures on reset, registers its exception handlers and runs its lifespan (for example the SMTP
listener); no domain is wired by hand in ``app/main.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from sqlalchemy.ext.asyncio import AsyncSession
    from starlette.responses import Response

    from app.config import Settings
    from app.shared.professional import Professional

# Order matters: PSC professionals and INS identities exist before DMPs and mailboxes refer to them.
DOMAIN_NAMES: tuple[str, ...] = ("psc", "ins", "dmp", "mss", "mes")

Seeder = Callable[["AsyncSession", "Settings"], Awaitable[None]]
Authenticator = Callable[["AsyncSession", "Settings", "str | None"], Awaitable["Professional"]]
"""Checks an ``Authorization`` header holding a PSC access token: the professional, or ``AuthError``."""
ErrorRenderer = Callable[["Request", int, str, str | None], "Response"]


@dataclass(frozen=True)
class Domain:
    name: str
    routers: Sequence[APIRouter] = ()
    """Routers included as they are: discovery documents, and faces with an auth of their own (the control
    API's token, INSi's certificate, OAuth client authentication, SMTP AUTH, an API key)."""
    protected_routers: Sequence[APIRouter] = ()
    """Routers whose every route needs a PSC access token: the platform includes them with the bearer check
    (:func:`app.api.deps.current_professional`), so a route added there is protected by default."""
    authenticate: Authenticator | None = None
    """The bearer check itself; one domain (PSC) provides it, the others only read its answer."""
    seed: Seeder | None = None
    exception_handlers: Mapping[type[BaseException], Callable[..., Any]] = field(default_factory=dict)
    keep_on_reset: tuple[str, ...] = ()
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None
    openapi_tags: Sequence[dict[str, str]] = ()
    error_renderers: Mapping[str, ErrorRenderer] = field(default_factory=dict)
    """Path prefix -> renderer of generic errors (unknown route, 405, 413, ...) in this domain's own
    protocol shape, e.g. ``{"/lps": soap_fault}``. Called as ``renderer(request, status, message, rule)``."""
    hot_operations: tuple[str, ...] = ()
    """Operation ids of ``routers`` routes dispatched by exact path beside FastAPI's router, when fast paths
    are on (:mod:`app.api.hotpaths`): endpoints that take the request alone, at thousands a second."""
    body_limits: Callable[[Settings], Mapping[str, int]] | None = None
    """Path prefix -> the largest request body accepted there, when a face needs more (or less) than
    ``SEGUR_MAX_BODY_BYTES``: the DMP's SOAP repository takes a 20 MB document in inline base64."""


def load_domains() -> list[Domain]:
    domains = []
    for name in DOMAIN_NAMES:
        module = importlib.import_module(f"app.{name}.domain")
        domains.append(module.DOMAIN)
    return domains


def import_models() -> None:
    """Register every table on ``Base.metadata`` (Alembic and reset need the whole schema)."""
    importlib.import_module("app.api.models")
    importlib.import_module("app.faults.models")
    for name in DOMAIN_NAMES:
        if importlib.util.find_spec(f"app.{name}.models") is not None:
            importlib.import_module(f"app.{name}.models")
