"""The MSSanté operator's IMAP server (RFC 3501 IMAP4rev1), served on the application's own event loop:
what one listener shares between its sessions (the command table, the TLS context, the connection limit,
the capabilities it announces) and the connection handler the listener runs for each client.

Capabilities, announced only for what is done (RFC 3501 §6.1.1, §7.2.1): ``IMAP4rev1``, ``STARTTLS``
(RFC 2595, on the port without implicit TLS, before TLS), ``LOGINDISABLED`` and no ``AUTH=`` before TLS
unless ``SEGUR_MSS_IMAP_AUTH_REQUIRE_TLS=false`` (RFC 3501 §6.2.3), ``AUTH=PLAIN`` (RFC 4616),
``AUTH=XOAUTH2`` and ``AUTH=OAUTHBEARER`` (RFC 7628) with a PSC access token, ``AUTH=EXTERNAL`` (RFC 4422
Appendix A) when the client presented a certificate of the sandbox test CA, ``SASL-IR`` (RFC 4959),
``LITERAL+`` (RFC 7888), ``ID`` (RFC 2971), ``IDLE`` (RFC 2177), ``NAMESPACE`` (RFC 2342), ``UIDPLUS``
(RFC 4315), ``MOVE`` (RFC 6851), ``UNSELECT`` (RFC 3691), ``CHILDREN`` (RFC 3348), ``SPECIAL-USE``
(RFC 6154: the attributes in LIST; no LIST-EXTENDED, no CREATE-SPECIAL-USE).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING, Any

from app.mss.imap import commands_mailbox, commands_message, commands_session
from app.mss.imap.commands import Spec, State
from app.mss.imap.session import ImapSession
from app.mss.imap.wire import MAX_LINE

if TYPE_CHECKING:
    from fastapi import FastAPI

WRITE_TIMEOUT = 60.0
"""Seconds a session waits for a client that reads nothing of what it is sent before it gives up."""
PSC_RECHECK_SECONDS = 5.0
"""A session opened with a PSC token checks, at most this often (at a command, and every minute of IDLE),
that the token is still valid (SC.MSS/CONF.10, .11)."""
BASE_CAPABILITIES = ("IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT",
                     "CHILDREN", "SPECIAL-USE")


class ImapServer:
    """One application's IMAP listener state, shared by the STARTTLS and implicit-TLS ports."""

    def __init__(self, app: FastAPI, tls: ssl.SSLContext | None) -> None:
        self.app = app
        self.settings = app.state.settings
        self.tls = tls
        self.commands: dict[str, Spec] = {
            **commands_session.COMMANDS, **commands_mailbox.COMMANDS, **commands_message.COMMANDS,
        }
        self.sessions: set[ImapSession] = set()
        self.write_timeout = WRITE_TIMEOUT
        self.psc_recheck_seconds = PSC_RECHECK_SECONDS
        self.closing = False

    def capabilities(self, session: ImapSession) -> str:
        caps = list(BASE_CAPABILITIES)
        if session.state is State.NOT_AUTHENTICATED:
            if not session.tls and self.tls is not None:
                caps.append("STARTTLS")
            if session.auth_allowed():
                caps += ["AUTH=PLAIN", "AUTH=XOAUTH2", "AUTH=OAUTHBEARER"]
                if session.peercert:
                    caps.append("AUTH=EXTERNAL")
            else:
                caps.append("LOGINDISABLED")
        return " ".join(caps)

    def admit(self, session: ImapSession) -> bool:
        """Count the session in, unless ``SEGUR_MSS_IMAP_MAX_CONNECTIONS`` are open already."""
        if self.closing or len(self.sessions) >= self.settings.mss_imap_max_connections:
            return False
        self.sessions.add(session)
        return True

    def release(self, session: ImapSession) -> None:
        self.sessions.discard(session)

    def factory(self, *, implicit_tls: bool) -> Any:
        """The protocol factory of ``loop.create_server``: asyncio streams whose line limit is the command
        line's (the reader keeps what a literal needs: :meth:`ImapSession.read_command`)."""
        loop = asyncio.get_running_loop()

        def make() -> asyncio.StreamReaderProtocol:
            reader = asyncio.StreamReader(limit=MAX_LINE + 2, loop=loop)

            async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                await ImapSession(self, reader, writer, implicit_tls=implicit_tls).run()

            return asyncio.StreamReaderProtocol(reader, serve, loop=loop)

        return make

    async def stop(self) -> None:
        """``* BYE`` to every session (RFC 3501 §7.1.5), then wait a little for them to end."""
        self.closing = True
        sessions = list(self.sessions)
        for session in sessions:
            session.shutdown("the sandbox is shutting down")
        tasks = [s.task for s in sessions if s.task is not None and not s.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=2)
