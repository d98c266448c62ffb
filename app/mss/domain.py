"""What the mss domain plugs into the platform."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from app.domains import Domain
from app.mss import annuaire, autoconfig, control, http, service
from app.mss.exceptions import MssError
from app.mss.http import discovery, problems
from app.mss.imap.listener import imap_lifespan
from app.mss.smtp import smtp_lifespan


@contextlib.asynccontextmanager
async def mss_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The store's mailbox changes wired to this application (what wakes IMAP IDLE, RFC 2177), then the SMTP
    listener and the IMAP listener (which shares the SMTP listener's TLS context), stopped in reverse order."""
    service.wire_changes(app)
    async with smtp_lifespan(app), imap_lifespan(app):
        yield


DOMAIN = Domain(
    name="mss",
    routers=[discovery.router, control.router, autoconfig.router, annuaire.router],
    protected_routers=[http.router],
    seed=service.seed,
    lifespan=mss_lifespan,
    exception_handlers={MssError: problems.handle},
    keep_on_reset=("mss_tls_key",),
    openapi_tags=[
        {"name": "mss", "description": "MSSanté operator: HTTP mailbox API over the mailboxes the SMTP "
         "listener delivers to and the IMAP listener reads (send, list, read, raw, attachments, read receipts, "
         "XDM helper)."},
        {"name": "annuaire", "description": "Annuaire Santé FHIR stub (/fhir/v2): Practitioner, "
         "PractitionerRole, Organization with MSSanté mailboxes, header ESANTE-API-KEY."},
    ],
)
