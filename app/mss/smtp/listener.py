"""The SMTP listener's lifespan: started on the application's event loop with the TLS context, its
handler subscribed to the store's changes, stopped with the application; reported in ``/readyz``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from aiosmtpd.smtp import AuthResult

from app.mss import service
from app.mss.smtp.handler import MssHandler
from app.mss.smtp.protocol import MssSMTP
from app.mss.smtp.tls import generate_test_ca, generate_test_certificate, server_tls_context

if TYPE_CHECKING:
    from fastapi import FastAPI


REUSE_PORT = hasattr(socket, "SO_REUSEPORT")  # several workers share the SMTP port (Linux, BSD)
logger = logging.getLogger("segur.mss.smtp")


class _QuietLoginData(logging.Filter):
    """On aiosmtpd's ``mail.log``: drops its deprecation noise about ``login_data`` and the debug records
    that would carry a SASL response (an undecodable AUTH blob, a logged client response): credentials
    never reach the logs."""

    mss = True
    SASL_FORMATS = frozenset({"%r can't decode base64: %s", "%r >> %r"})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in self.SASL_FORMATS:
            return False
        return "login_data is deprecated" not in record.getMessage()


def _factory(app: FastAPI, handler: MssHandler, tls: ssl.SSLContext, *, implicit: bool):  # type: ignore[no-untyped-def]
    settings = app.state.settings

    def make() -> MssSMTP:
        return MssSMTP(
            handler,
            hostname=settings.mss_smtp_hostname,
            ident="Segur Sandbox MSSante operator",
            data_size_limit=settings.mss_max_message_bytes,
            enable_SMTPUTF8=True,
            tls_context=None if implicit else tls,
            require_starttls=False,
            auth_required=False,
            auth_require_tls=False if implicit else settings.mss_smtp_auth_require_tls,
            authenticator=lambda *a: AuthResult(success=False),
            command_call_limit=None,
        )

    return make


def _forget_on_store_change(database_url: str, handler: MssHandler) -> None:
    """Subscribe ``handler`` (weakly: an app that stops does not stay alive) to the store's resets and to
    the changes of mailboxes and scripted faults (:data:`service.TOPIC_LOOKUPS`), from any worker."""
    from app.events import TOPIC_RESET, events_for

    ref = weakref.ref(handler)

    def on_change(key: str) -> None:
        live = ref()
        if live is not None:
            live.forget(key)

    events = events_for(database_url)
    events.subscribe(TOPIC_RESET, on_change)
    events.subscribe(service.TOPIC_LOOKUPS, on_change)


async def mss_tls_context(app: FastAPI) -> ssl.SSLContext:
    """The TLS context of the SMTP and IMAP listeners, made once per application: the configured certificate
    or the generated test one (kept in the store, shared by the workers), client certificates optional and
    verified against the sandbox test CA (APP mailboxes, SC.MSS/CONF.12). Also publishes
    ``app.state.mss_tls_certificate`` and ``app.state.mss_client_ca``."""
    context: ssl.SSLContext | None = getattr(app.state, "mss_tls_context", None)
    if context is not None:
        return context
    settings = app.state.settings
    if settings.mss_tls_cert_file and settings.mss_tls_key_file:
        cert_pem = await asyncio.to_thread(Path(settings.mss_tls_cert_file).read_bytes)
        key_pem = await asyncio.to_thread(Path(settings.mss_tls_key_file).read_bytes)
    else:
        cert_pem, key_pem = await service.shared_tls_key(
            app.state.sessionmaker,
            lambda: asyncio.to_thread(generate_test_certificate, settings.mss_smtp_hostname,
                                      settings.mss_imap_hostname))
    ca_cert, ca_key = await service.shared_tls_key(
        app.state.sessionmaker, lambda: asyncio.to_thread(generate_test_ca), name="client-ca")
    context = server_tls_context(cert_pem, key_pem, ca_cert)
    app.state.mss_tls_certificate = cert_pem
    app.state.mss_client_ca = (ca_cert, ca_key)
    app.state.mss_tls_context = context
    return context


@contextlib.asynccontextmanager
async def smtp_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the SMTP listener(s) on the running loop; publish ``app.state.smtp_port`` (and
    ``app.state.smtps_port``); stop them on shutdown."""
    settings = app.state.settings
    loop = asyncio.get_running_loop()
    # aiosmtpd warns on every AUTH that it sets its own deprecated attribute; not our concern.
    mail_log = logging.getLogger("mail.log")
    if not any(getattr(f, "mss", False) for f in mail_log.filters):
        quiet = _QuietLoginData()
        mail_log.addFilter(quiet)
    tls = await mss_tls_context(app)
    handler = MssHandler(app)
    _forget_on_store_change(settings.database_url, handler)
    servers = []
    # reuse_port: with several uvicorn workers, each worker's loop serves the same SMTP port.
    server = await loop.create_server(_factory(app, handler, tls, implicit=False),
                                      host=settings.smtp_host, port=settings.smtp_port, reuse_port=REUSE_PORT)
    servers.append(server)
    app.state.smtp_port = server.sockets[0].getsockname()[1]
    app.state.smtps_port = None
    if settings.mss_smtp_tls_port is not None:
        smtps = await loop.create_server(_factory(app, handler, tls, implicit=True), host=settings.smtp_host,
                                         port=settings.mss_smtp_tls_port, ssl=tls, reuse_port=REUSE_PORT)
        servers.append(smtps)
        app.state.smtps_port = smtps.sockets[0].getsockname()[1]
    probes = getattr(app.state, "readiness_probes", None)
    if isinstance(probes, dict):
        probes["smtp"] = lambda: all(s.is_serving() for s in servers)
    logger.info("MSSante SMTP listening on %s:%s", settings.smtp_host, app.state.smtp_port)
    try:
        yield
    finally:
        for s in servers:
            s.close()
        for s in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.wait_closed(), timeout=2)

