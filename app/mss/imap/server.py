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
import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from app.events import TOPIC_RESET, events_for
from app.mss import service
from app.mss.changes import TOPIC_MAILBOX, mailbox_key, reset_tenant, tenant_of_key
from app.mss.imap import commands_mailbox, commands_message, commands_session
from app.mss.imap.commands import Spec, State
from app.mss.imap.session import ImapSession, MailboxGone
from app.mss.imap.wire import MAX_LINE
from app.mss.models import MssMailbox
from app.tenancy import current_tenant

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.mss.folders import Entry

SHARED_READ_GRACE = 1.0
"""Seconds a folder read stays shareable once done (only while no change was announced since it started)."""
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
        self.resets: dict[str, int] = {}
        """Resets (or deletion) of each tenant's world seen: its sessions end at their next command."""
        self.read_sessions = self._autocommit_sessions()
        self.generations: dict[str, int] = {}
        """Changes announced per mailbox (:func:`app.mss.changes.mailbox_key`), since its tenant's last reset."""
        self.reads: dict[tuple[int, str], tuple[tuple[int, int], asyncio.Future[tuple[int, list[Entry]]]]] = {}

    def _autocommit_sessions(self) -> Any:
        """On PostgreSQL with the fast paths, sessions whose statements run each in its own transaction
        (autocommit: no BEGIN/COMMIT round trips) for the reads of message data; None otherwise (those reads
        then run in a transaction like the rest)."""
        engine = getattr(self.app.state, "engine", None)
        if engine is None or engine.dialect.name != "postgresql" or not self.settings.fast_paths:
            return None
        return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False,
                                  autoflush=False)

    # --- shared folder reads ---------------------------------------------------------------------------

    def listen(self) -> None:
        """Count the store's change announcements per mailbox (any worker's, through :mod:`app.events`;
        weakly: a stopped application is not kept alive), so sessions woken by one change share one read; and
        the resets of each tenant (only that tenant's sessions end, its mailboxes' counts start again)."""
        ref = weakref.ref(self)

        def changed(key: str) -> None:
            live = ref()
            if live is not None:
                live.generations[key] = live.generations.get(key, 0) + 1

        def reset(key: str) -> None:
            live = ref()
            if live is not None:
                live.reset(reset_tenant(key))

        events = events_for(self.settings.database_url)
        events.subscribe(TOPIC_MAILBOX, changed)
        events.subscribe(TOPIC_RESET, reset)

    def reset(self, tenant: str) -> None:
        self.resets[tenant] = self.resets.get(tenant, 0) + 1
        for key in [key for key in self.generations if tenant_of_key(key) == tenant]:
            del self.generations[key]

    def resets_of(self, tenant: str) -> int:
        return self.resets.get(tenant, 0)

    def version(self, address: str) -> tuple[int, int]:
        """What a read of the current tenant's mailbox ``address`` must be at least as recent as."""
        tenant = current_tenant()
        return self.resets.get(tenant, 0), self.generations.get(mailbox_key(address, tenant), 0)

    async def folder_entries(self, *, mailbox_id: int, address: str, folder: str) -> tuple[int, list[Entry]]:
        """The folder's UIDVALIDITY and entries as the store has them since the last change announced for the
        mailbox: a
        read started after that announcement is shared (a delivery to a mailbox with a thousand sessions in
        IDLE reads the folder once, not a thousand times). The read is a task of its own, so a session that
        goes away does not cancel it for the others (it runs in the tenant of the session that started it: a
        mailbox id belongs to one tenant). :class:`MailboxGone` when the mailbox is no more."""
        key = (mailbox_id, folder)
        needed = self.version(address)
        hit = self.reads.get(key)
        if hit is None or hit[0] < needed or (hit[1].done() and not hit[1].cancelled() and hit[1].exception()):
            task = asyncio.ensure_future(self._read(mailbox_id, address, folder))
            loop = asyncio.get_running_loop()
            task.add_done_callback(lambda done: self._done(key, done, loop))
            hit = self.reads[key] = (needed, task)
        return await asyncio.shield(hit[1])

    async def _read(self, mailbox_id: int, address: str, folder: str) -> tuple[int, list[Entry]]:
        async with self.app.state.sessionmaker() as db, db.begin():
            mailbox = await db.get(MssMailbox, mailbox_id)
            if mailbox is None or mailbox.address.lower() != address.lower():
                raise MailboxGone
            info = await service.folder_info(db, mailbox, folder)
            return info.uidvalidity, await service.entries(db, mailbox, folder)

    def _done(self, key: tuple[int, str], task: asyncio.Future[tuple[int, list[Entry]]],
              loop: asyncio.AbstractEventLoop) -> None:
        if not task.cancelled():
            task.exception()  # retrieved: the sessions sharing the read get it from their await
        loop.call_later(SHARED_READ_GRACE, self._forget, key, task)

    def _forget(self, key: tuple[int, str], future: asyncio.Future[tuple[int, list[Entry]]]) -> None:
        hit = self.reads.get(key)
        if hit is not None and hit[1] is future:
            del self.reads[key]

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
