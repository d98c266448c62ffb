"""The IMAP listener's lifespan: started on the application's event loop (``loop.create_server``, like the
SMTP listener) with the SMTP listener's TLS context, on the STARTTLS port and, when configured, the
implicit-TLS port (RFC 8314); reported in ``/readyz`` (probe ``imap``); stopped with the application, every
session told ``* BYE``. Off with ``SEGUR_MSS_IMAP_ENABLED=false``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from app.mss.imap.server import ImapServer
from app.mss.smtp.listener import REUSE_PORT, mss_tls_context

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger("segur.mss.imap")


@contextlib.asynccontextmanager
async def imap_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the IMAP listener(s); publish ``app.state.imap_port`` and ``app.state.imaps_port`` (None when
    off) and ``app.state.imap_server``; stop them on shutdown."""
    settings = app.state.settings
    app.state.imap_port = app.state.imaps_port = app.state.imap_server = None
    if not settings.mss_imap_enabled:
        yield
        return
    loop = asyncio.get_running_loop()
    tls = await mss_tls_context(app)
    imap = ImapServer(app, tls)
    imap.listen()
    host = settings.mss_imap_host or settings.smtp_host
    servers = []
    # reuse_port: with several uvicorn workers, each worker's loop serves the same IMAP port.
    server = await loop.create_server(imap.factory(implicit_tls=False), host=host, port=settings.mss_imap_port,
                                      reuse_port=REUSE_PORT)
    servers.append(server)
    app.state.imap_port = server.sockets[0].getsockname()[1]
    if settings.mss_imap_tls_port is not None:
        imaps = await loop.create_server(imap.factory(implicit_tls=True), host=host, port=settings.mss_imap_tls_port,
                                         ssl=tls, reuse_port=REUSE_PORT)
        servers.append(imaps)
        app.state.imaps_port = imaps.sockets[0].getsockname()[1]
    app.state.imap_server = imap
    probes = getattr(app.state, "readiness_probes", None)
    if isinstance(probes, dict):
        probes["imap"] = lambda: all(s.is_serving() for s in servers)
    logger.info("MSSante IMAP listening on %s:%s", host, app.state.imap_port)
    try:
        yield
    finally:
        if isinstance(probes, dict):
            probes.pop("imap", None)
        for s in servers:
            s.close()
        await imap.stop()
        for s in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.wait_closed(), timeout=2)
