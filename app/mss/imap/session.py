"""One IMAP connection (RFC 3501): reading commands and their literals within bounds, answering them in
order, the state of the session, the selected folder's snapshot of message sequence numbers, the untagged
updates other sessions' changes call for, and the session's journal.

- A command line is at most :data:`app.mss.imap.wire.MAX_LINE` octets (literals apart): a longer one is
  discarded up to its end and answered ``BAD``. A literal is announced before it is sent (RFC 3501 §4.3);
  one larger than the message size limit (APPEND) or :data:`MAX_LITERAL` (any other command) is refused
  before it is read: ``NO [TOOBIG]`` for a synchronising APPEND literal (the client then does not send it),
  ``BAD`` otherwise; a non-synchronising one (RFC 7888 LITERAL+) is on its way already, so the session ends
  after the ``BAD`` (``* BYE``), as RFC 7888 §4 allows.
- Three ``BAD`` answers in a row end the session (``* BYE``): a client that speaks another protocol, or
  garbage, does not keep a session busy.
- Writes honour the transport's flow control: above :data:`WRITE_HIGH_WATER` octets queued the session
  waits for the client to read, and gives up (closing the connection) when it has not within
  ``server.write_timeout`` seconds. Other sessions are never held up by one.
- Autologout (RFC 3501 §5.4): ``SEGUR_MSS_IMAP_IDLE_TIMEOUT_SECONDS`` of silence once authenticated (IDLE
  included), at most :data:`PREAUTH_TIMEOUT` before.
- Message sequence numbers are positions in the session's snapshot of the selected folder's UIDs; changes
  made elsewhere (SMTP deliveries, the HTTP API, other IMAP sessions: :mod:`app.mss.changes` announces
  them) are reported as untagged ``EXISTS``, ``EXPUNGE`` and ``FETCH (FLAGS ...)`` after a command, at
  NOOP and during IDLE, never an ``EXPUNGE`` while answering FETCH, STORE or SEARCH (RFC 3501 §7.4.1): a
  message removed meanwhile stays in the snapshot until an EXPUNGE response may be sent.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import ssl
import time
import traceback
import unicodedata
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from app.api.journal import peer_text, record
from app.faults import rules as fault_rules
from app.faults import service as faults
from app.mss import auth, service
from app.mss.changes import changes_of
from app.mss.exceptions import MssError, UnknownFolder
from app.mss.imap import wire
from app.mss.imap.commands import SELECTED, Refusal, Spec, State, bad, refusal_of
from app.mss.imap.wire import ImapSyntaxError
from app.mss.models import MssMailbox
from app.tenancy import DEFAULT_TENANT, set_tenant, use_tenant

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.mss.folders import Entry

logger = logging.getLogger("segur.mss.imap")

MAX_LITERAL = 64 * 1024
"""The largest literal (and the most literal octets in one command) any command but APPEND may send."""
MAX_DISCARD = 1024 * 1024
"""An over-long line is read and thrown away up to its end; past this many octets the session ends."""
MAX_BAD_IN_ROW = 3
WRITE_HIGH_WATER = 256 * 1024
"""Octets queued on the transport above which the session waits for the client to read."""
PREAUTH_TIMEOUT = 120.0
"""Seconds a session that has not authenticated may stay silent."""
CRLF = b"\r\n"


class ImapServer(Protocol):
    """What a session needs of its listener (:class:`app.mss.imap.server.ImapServer`)."""

    app: Any
    settings: Any
    tls: ssl.SSLContext | None
    commands: dict[str, Spec]
    write_timeout: float
    psc_recheck_seconds: float
    read_sessions: Any

    def resets_of(self, tenant: str) -> int: ...

    async def folder_entries(self, *, mailbox_id: int, address: str, folder: str) -> tuple[int, list[Entry]]: ...

    def capabilities(self, session: ImapSession) -> str: ...

    def admit(self, session: ImapSession) -> bool: ...

    def release(self, session: ImapSession) -> None: ...


class MailboxGone(Exception):
    """The session's mailbox no longer exists (the store was reset)."""


class Close(Exception):
    """End the session now (the goodbye, if any, has been written)."""


@dataclass
class Selected:
    """The selected folder as this session knows it (RFC 3501 §2.3.1.2: the MSN of a message is its
    position in :attr:`uids`, 1-based)."""

    name: str
    readonly: bool
    uidvalidity: int
    uids: list[int] = field(default_factory=list)
    entries: dict[int, Entry] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)
    """Removed from the folder by someone else; their EXPUNGE not yet sent (RFC 3501 §7.4.1)."""
    keywords: frozenset[str] = frozenset()

    def msn(self, uid: int) -> int:
        return bisect.bisect_left(self.uids, uid) + 1

    @property
    def max_uid(self) -> int:
        return self.uids[-1] if self.uids else 0


class ImapSession:
    """One connection, from its greeting to its goodbye."""

    def __init__(self, server: ImapServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 implicit_tls: bool) -> None:
        self.server = server
        self.app = server.app
        self.settings = server.settings
        self.reader, self.writer = reader, writer
        self.tls = implicit_tls
        self.peercert: dict[str, Any] | None = writer.get_extra_info("peercert") if implicit_tls else None
        self.state = State.NOT_AUTHENTICATED
        self.identity: auth.Identity | None = None
        self.tenant = DEFAULT_TENANT
        """The tenant of the session: the default one until a login names another (then the task's too)."""
        self.mailbox: MssMailbox | None = None
        self.selected: Selected | None = None
        self.changes: asyncio.Queue[str] | None = None
        self.session_id = uuid.uuid4().hex[:16]
        self.started = time.monotonic()
        self.peer = peer_text(writer.get_extra_info("peername"))
        self.commands = 0
        self.facts: dict[str, Any] = {}
        """What the conformance report needs of the session (journaled on its SESSION entry)."""
        self.refusals: list[tuple[str, str | None]] = []
        self.bad_in_row = 0
        self.client_name: str | None = None
        self.end_rule: str | None = None
        self.psc_checked = 0.0
        self.resets_seen = 0
        self.expect_done = False
        self.current: str = "-"
        self._timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[Any] | None = None
        transport = writer.transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)  # type: ignore[attr-defined]

    # --- output -----------------------------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Queue ``data``; wait (bounded) while the client reads less than the session writes."""
        if self.writer.is_closing():
            raise Close
        self.writer.write(data)
        await self.flush()

    async def flush(self) -> None:
        """Wait while more than :data:`WRITE_HIGH_WATER` octets are queued (the transport then paused the
        protocol); give up after ``server.write_timeout`` seconds."""
        if self.writer.transport.get_write_buffer_size() <= WRITE_HIGH_WATER:  # type: ignore[attr-defined]
            return
        try:
            await asyncio.wait_for(self.writer.drain(), timeout=self.server.write_timeout)
        except TimeoutError:
            self.end_rule = "IMAP:write-stalled"
            self.refusals.append(("the client did not read its responses", self.end_rule))
            await self.journal("SESSION", rule=self.end_rule,
                               detail=f"gave up: the client read nothing for {self.server.write_timeout:g} s")
            self.writer.transport.abort()
            raise Close from None
        except (ConnectionError, RuntimeError):
            raise Close from None

    async def send_parts(self, parts: Sequence[bytes | memoryview]) -> None:
        """A response in pieces (a FETCH's bodies as views of the raw message, not copies)."""
        if self.writer.is_closing():
            raise Close
        self.writer.writelines(parts)  # type: ignore[arg-type]
        await self.flush()

    async def untagged(self, text: str | bytes) -> None:
        await self.send(b"* " + (text.encode() if isinstance(text, str) else text) + CRLF)

    async def tagged(self, tag: str, kind: str, text: str, code: str | None = None) -> None:
        prefix = f"[{code}] " if code else ""
        await self.send(f"{tag} {kind} {prefix}{_printable(text)}".encode() + CRLF)
        await self.flush()

    async def bye(self, text: str, code: str | None = None) -> None:
        prefix = f"[{code}] " if code else ""
        with contextlib.suppress(Close):
            await self.untagged(f"BYE {prefix}{_printable(text)}")
            await self.flush()

    # --- input ------------------------------------------------------------------------------------------

    def arm_timer(self) -> None:
        """Autologout (RFC 3501 §5.4), restarted whenever a command arrives."""
        if self._timer is not None:
            self._timer.cancel()
        timeout = float(self.settings.mss_imap_idle_timeout_seconds)
        if self.state is State.NOT_AUTHENTICATED:
            timeout = min(timeout, PREAUTH_TIMEOUT)
        self._timer = asyncio.get_running_loop().call_later(timeout, self._autologout, timeout)

    def disarm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _autologout(self, timeout: float) -> None:
        if self.writer.is_closing():
            return
        self.end_rule = "IMAP:autologout"
        self.writer.write(f"* BYE Autologout: no command for {timeout:g} seconds\r\n".encode())
        self.writer.close()

    async def read_line(self) -> bytes:
        """A line without its CRLF (a bare LF is tolerated). :class:`LineTooLong` once the over-long line has
        been read and thrown away; :class:`Close` at the end of the stream."""
        try:
            line = await self.reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as exc:
            await self._discard_line(exc)
            raise AssertionError("unreachable") from None
        except (asyncio.IncompleteReadError, ConnectionError):
            raise Close from None
        return line[:-2] if line.endswith(b"\r\n") else line[:-1]

    async def _discard_line(self, exc: asyncio.LimitOverrunError) -> None:
        head = b""
        tail = b""
        discarded = 0
        while True:
            try:
                chunk = await self.reader.readexactly(exc.consumed)
            except (asyncio.IncompleteReadError, ConnectionError):
                raise Close from None
            head = head or chunk[:80]
            tail = (tail + chunk)[-40:]
            discarded += len(chunk)
            if discarded > MAX_DISCARD:
                self.end_rule = "IMAP:line-length"
                self.refusals.append(("endless line", self.end_rule))
                await self.journal("-", rule=self.end_rule, detail=f"a line of more than {MAX_DISCARD} octets")
                await self.bye(f"a command line of more than {MAX_DISCARD} octets: closing")
                raise Close
            try:
                rest = await self.reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as again:
                exc = again
                continue
            except (asyncio.IncompleteReadError, ConnectionError):
                raise Close from None
            tail = (tail + rest)[-40:]
            raise LineTooLong(head, tail.rstrip(b"\r\n"))

    async def read_continuation(self) -> bytes:
        """A line answering a continuation request (a SASL response, IDLE's DONE), under the autologout timer
        (RFC 3501 §5.4: a client that goes silent there frees its connection as anywhere else); an over-long one
        is ``BAD`` for the command in progress."""
        self.arm_timer()
        try:
            return await self.read_line()
        except LineTooLong:
            raise bad(f"line longer than {wire.MAX_LINE} octets", rule="IMAP:line-length") from None
        finally:
            self.disarm_timer()

    async def read_command(self) -> list[bytes]:
        """The lines and literals of one command (``[line0, literal0, line1, ...]``, RFC 3501 §4.3)."""
        line = await self.read_line()
        parts = [line]
        name = _command_name(line)
        limit = MAX_LITERAL
        if name == "APPEND" and self.state in (State.AUTHENTICATED, State.SELECTED):
            # a message only from an authenticated client: before, 64 KB at most (bounded memory per connection)
            limit = self.settings.mss_max_message_bytes + MAX_LITERAL
        received = 0
        while (announced := wire.literal_announced(line)) is not None:
            size, non_synchronising = announced
            received += size
            if received > limit or len(parts) > 2 * 64:
                raise LiteralTooBig(_tag_of(parts[0]), name, size, non_synchronising, limit)
            if not non_synchronising:
                await self.send(b"+ Ready for literal data" + CRLF)
                await self.flush()
            try:
                literal = await self.reader.readexactly(size)
            except (asyncio.IncompleteReadError, ConnectionError):
                raise Close from None
            parts.append(literal)
            try:
                line = await self.read_line()
            except LineTooLong as exc:  # the BAD answers the command: its tag is on the first line
                raise LineTooLong(parts[0], exc.tail) from None
            parts.append(line)
        return parts

    # --- the loop ---------------------------------------------------------------------------------------

    async def run(self) -> None:
        self.task = asyncio.current_task()
        try:
            if not await self.greet():
                return
            while self.state is not State.LOGOUT:
                self.arm_timer()
                try:
                    parts = await self.read_command()
                except LineTooLong as exc:
                    await self.line_too_long(exc)
                    continue
                except LiteralTooBig as exc:
                    await self.literal_too_big(exc)
                    continue
                self.disarm_timer()
                if self.expect_done:
                    self.expect_done = False
                    if len(parts) == 1 and parts[0].strip().upper() == b"DONE":
                        continue  # the DONE of an IDLE the server ended with its tagged answer (RFC 2177)
                await self.execute(parts)
        except Close:
            pass
        except (ConnectionError, ssl.SSLError):
            pass
        except Exception as exc:
            logger.error("IMAP session failed: %s", _where(exc))
            self.end_rule = "IMAP:internal"
            await self.bye("internal error", code="SERVERBUG")
        finally:
            await self.close()

    async def greet(self) -> bool:
        """RFC 3501 §7.1.1 / §7.1.5: ``* OK [CAPABILITY ...]``, or ``* BYE`` beyond the connection limit."""
        if not self.server.admit(self):
            self.end_rule = "IMAP:connections"
            self.refusals.append(("too many connections", self.end_rule))
            limit = self.settings.mss_imap_max_connections
            await self.bye(f"too many connections ({limit} at most, SEGUR_MSS_IMAP_MAX_CONNECTIONS); try again later",
                           code="UNAVAILABLE")
            return False
        await self.untagged(f"OK [CAPABILITY {self.server.capabilities(self)}] {self.settings.mss_imap_hostname} "
                            "Segur Sandbox MSSante IMAP4rev1 ready")
        await self.flush()
        return True

    async def execute(self, parts: list[bytes]) -> None:
        self.commands += 1
        try:
            command = wire.parse_command(parts)
        except RecursionError:
            self.current = _command_name(parts[0]) or "-"
            await self.refuse(_tag_of(parts[0]), bad("arguments nested too deeply", rule="IMAP:syntax"))
            return
        except ImapSyntaxError as exc:
            self.current = _command_name(parts[0]) or "-"
            await self.refuse(exc.tag, Refusal("BAD", exc.message, rule="IMAP:syntax",
                                               journal=None if self.current not in _SECRET_COMMANDS
                                               else "syntax error (not journaled: the line may hold a credential)"))
            return
        self.current = ("UID " if command.uid else "") + command.name
        spec = self.server.commands.get(command.name)
        try:
            if spec is None or (command.uid and not spec.uid):
                raise bad(f"unknown command {self.current}", rule="IMAP:unknown-command")
            self.check_state(command, spec)
            await self.check_store_reset()
            await self.check_psc_session()
            await self.injected_fault(command)
            quiet = spec.quiet and not command.uid
            if spec.states == SELECTED and self.dirty():  # the snapshot the command works on, up to date
                await self.refresh(expunge=not quiet)
            text = await spec.handler(self, command)
        except Refusal as refusal:
            await self.refuse(command.tag, refusal)
            return
        except ImapSyntaxError as exc:
            await self.refuse(command.tag, Refusal("BAD", exc.message, rule="IMAP:syntax"))
            return
        except RecursionError:  # a search program or list nested beyond what the parsers follow
            await self.refuse(command.tag, bad("arguments nested too deeply", rule="IMAP:syntax"))
            return
        except MssError as exc:
            await self.refuse(command.tag, refusal_of(exc))
            return
        except (Close, ConnectionError):
            raise
        except Exception as exc:
            logger.error("IMAP %s failed: %s", self.current, _where(exc))
            await self.refuse(command.tag, Refusal("NO", f"internal error in {self.current} (its transaction "
                                                   "rolled back; the sandbox log says where)",
                                                   code="SERVERBUG", rule="IMAP:internal"))
            return
        self.bad_in_row = 0
        if text is None:
            return
        if self.selected is not None and self.dirty():
            try:
                await self.refresh(expunge=not (spec.quiet and not command.uid))
            except (Close, ConnectionError):
                raise
            except Exception as exc:  # the command is done: its OK stands; the updates wait for the next read
                logger.error("IMAP updates after %s failed (%s)", self.current, type(exc).__name__)
        await self.tagged(command.tag, "OK", text)

    def check_state(self, command: Command, spec: Spec) -> None:
        """RFC 3501 §3: a command valid in another state is refused (``BAD``, with what to do instead)."""
        if self.state in spec.states:
            return
        name = command.name
        if self.state is State.NOT_AUTHENTICATED:
            raise bad(f"{name} needs an authenticated session: LOGIN or AUTHENTICATE first", rule="IMAP:state")
        if State.NOT_AUTHENTICATED in spec.states:
            raise bad(f"{name} is valid only before authentication; the session is authenticated already",
                      rule="IMAP:state")
        raise bad(f"{name} needs a selected mailbox: SELECT or EXAMINE one first", rule="IMAP:state")

    async def refuse(self, tag: str | None, refusal: Refusal) -> None:
        """A tagged (untagged when the tag was unreadable) ``NO`` or ``BAD``, journaled; the third ``BAD``
        in a row ends the session."""
        self.refusals.append((f"{refusal.kind} {refusal.text}"[:200], refusal.rule))
        with use_tenant(refusal.tenant or self.tenant):
            await self.journal(self.current, rule=refusal.rule, detail=_journal_text(refusal), facts=refusal.facts)
        if tag is None:
            await self.untagged(f"{refusal.kind} {'[' + refusal.code + '] ' if refusal.code else ''}"
                                f"{_printable(refusal.text)}")
            await self.flush()
        else:
            await self.tagged(tag, refusal.kind, refusal.text, refusal.code)
        if refusal.kind != "BAD":
            self.bad_in_row = 0
            return
        self.bad_in_row += 1
        if self.bad_in_row >= MAX_BAD_IN_ROW:
            self.end_rule = "IMAP:bad-commands"
            await self.journal("SESSION", rule=self.end_rule, detail=f"{MAX_BAD_IN_ROW} bad commands in a row")
            await self.bye(f"{MAX_BAD_IN_ROW} bad commands in a row: closing")
            raise Close

    async def line_too_long(self, exc: LineTooLong) -> None:
        self.current = _command_name(exc.head) or "-"
        announced = wire.literal_announced(exc.tail)
        await self.refuse(_tag_of(exc.head), bad(f"command line longer than {wire.MAX_LINE} octets: discarded",
                                                 rule="IMAP:line-length"))
        if announced is not None and announced[1]:
            # a LITERAL+ literal follows the discarded line: its octets cannot be told from commands
            self.end_rule = "IMAP:line-length"
            await self.bye("a non-synchronising literal followed the discarded line: closing")
            raise Close

    async def literal_too_big(self, exc: LiteralTooBig) -> None:
        """RFC 3501 §7.5 / RFC 7888 §4: a literal refused before it is read (RFC 4469 ``TOOBIG``)."""
        self.current = exc.name or "-"
        what = "message" if exc.name == "APPEND" else "literal"
        if exc.limit > MAX_LITERAL:
            scope = " (SEGUR_MSS_MAX_MESSAGE_BYTES)"
        elif self.state is State.NOT_AUTHENTICATED:
            scope = " before authentication"
        else:
            scope = f" for {exc.name or 'this command'}"
        text = f"{what} of {exc.size} octets refused: at most {exc.limit} octets{scope}"
        if exc.name == "APPEND" and not exc.non_synchronising:
            await self.refuse(exc.tag, Refusal("NO", text, code="TOOBIG", rule="IMAP:literal-size"))
            return
        await self.refuse(exc.tag, Refusal("BAD", text, code="TOOBIG", rule="IMAP:literal-size"))
        if exc.non_synchronising:
            self.end_rule = "IMAP:literal-size"
            await self.bye("the non-synchronising literal that follows cannot be read: closing")
            raise Close

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.changes is not None and self.identity is not None:
            changes_of(self.app).unsubscribe(self.identity.login, self.changes, self.tenant)
            self.changes = None
        self.server.release(self)
        with contextlib.suppress(Exception):
            self.writer.close()
        refused = self.refusals[-1] if self.refusals else None
        tls = "yes" if self.tls else "no"
        await record(
            self.app, protocol="imap", method="SESSION", path="/mss/imap", service="mss",
            request_id=self.session_id, client=self.peer, operation="mss.imap.session",
            outcome="refused" if self.end_rule or refused else "ok", status=None,
            rule=self.end_rule or (refused[1] if refused else None),
            detail=(f"identity={self.identity.login if self.identity else None} "
                    f"mechanism={self.identity.mechanism if self.identity else None} commands={self.commands} "
                    f"refusals={len(self.refusals)} tls={tls} client={self.client_name or '-'}"),
            duration_ms=(time.monotonic() - self.started) * 1000,
            actor=auth.mss_actor(self.identity.login if self.identity else None, tried=self.facts.get("login")),
            facts=self.facts or None,
        )

    def shutdown(self, text: str) -> None:
        """The application stops: ``* BYE`` and close (RFC 3501 §7.1.5)."""
        if not self.writer.is_closing():
            with contextlib.suppress(Exception):
                self.writer.write(f"* BYE {text}\r\n".encode())
                self.writer.close()

    async def journal(self, method: str, *, rule: str | None, detail: str | None, outcome: str = "refused",
                      facts: dict[str, Any] | None = None) -> None:
        operation = "mss.imap." + (method.split()[-1].lower() if method not in ("-", "") else "command")
        await record(self.app, protocol="imap", method=method[:16] or "-", path="/mss/imap", service="mss",
                     request_id=self.session_id, client=self.peer, operation=operation, outcome=outcome,
                     status=None, rule=rule, detail=detail, facts=facts)

    async def injected_fault(self, command: Command) -> None:
        """Fault injection (``/sandbox/v1/faults``, targets ``mss.imap.login|select|fetch``): LOGIN and SELECT
        answer ``NO [UNAVAILABLE]`` (RFC 5530 §3: a subsystem is down); FETCH ends the session with
        ``* BYE [UNAVAILABLE]`` (RFC 3501 §7.1.5), as a server going down mid-session; a slow rule delays the
        command, which then runs."""
        target = _FAULT_TARGETS.get(command.name)
        if target is None:
            return
        login = self.identity.login if self.identity else None
        injection = await faults.inject(self.app, target, actor=f"mss:{login}" if login else None)
        if injection is None:
            return
        if injection.kind == fault_rules.SLOW:
            await self.journal(self.current, rule=None, outcome="ok", facts=injection.facts(),
                               detail=f"injected delay of {injection.rule.delay_ms} ms")
            return
        text = f"service temporarily unavailable (injected fault {injection.name}); try again later"
        if target == "mss.imap.fetch":
            self.end_rule = injection.name
            self.refusals.append((f"BYE {text}"[:200], injection.name))
            await self.journal(self.current, rule=injection.name, detail=f"BYE [UNAVAILABLE] {text}",
                               facts=injection.facts())
            await self.bye(text, code="UNAVAILABLE")
            raise Close
        raise Refusal("NO", text, code="UNAVAILABLE", rule=injection.name, facts=injection.facts())

    # --- authentication -------------------------------------------------------------------------------------

    def auth_allowed(self) -> bool:
        """RFC 3501 §6.2.3 / RFC 2595 §3.2: no credentials in clear unless the operator allows it."""
        return self.tls or not self.settings.mss_imap_auth_require_tls

    async def authenticated(self, identity: auth.Identity, tenant: str = DEFAULT_TENANT) -> None:
        """The login succeeded in ``tenant``: the rest of the session (its task) runs in it."""
        self.tenant = tenant
        set_tenant(tenant)
        self.identity = identity
        self.resets_seen = self.server.resets_of(tenant)
        self.state = State.AUTHENTICATED
        self.psc_checked = time.monotonic()
        self.changes = changes_of(self.app).subscribe(identity.login, tenant)
        async with self.app.state.sessionmaker() as db, db.begin():
            mailbox = await db.get(MssMailbox, identity.mailbox_id)
            if mailbox is None:
                await self.mailbox_gone()
            await service.ensure_standard_folders(db, mailbox)
        self.mailbox = mailbox

    async def check_store_reset(self) -> None:
        """A reset of the session's tenant (``POST [/t/{tenant}]/sandbox/v1/reset``, its deletion; any worker)
        since this session authenticated: its mailbox, folders and UIDs are gone (seeded again under new ids),
        so the session ends. Another tenant's reset leaves it alone."""
        if self.identity is not None and self.resets_seen != self.server.resets_of(self.tenant):
            await self.mailbox_gone()

    async def check_psc_session(self) -> None:
        """SC.MSS/CONF.10, .11: a session opened with a PSC token ends once the token is no longer valid."""
        identity = self.identity
        if identity is None or identity.kind != "psc":
            return
        if time.monotonic() - self.psc_checked < self.server.psc_recheck_seconds:
            return
        self.psc_checked = time.monotonic()
        async with self.app.state.sessionmaker() as db:
            ended = await auth.psc_session_ended(db, self.settings, identity)
        if ended:
            self.end_rule = ended
            self.refusals.append(("PSC session ended", ended))
            await self.journal(self.current, rule=ended, detail="PSC token no longer valid: session ended")
            await self.bye("the PSC session ended (token expired, revoked or logged out): authenticate again",
                           code="ALERT")
            raise Close

    # --- the store --------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self, *, read_only: bool = False) -> AsyncIterator[tuple[AsyncSession, MssMailbox]]:
        """One store transaction with the session's mailbox (one per command that writes: all or nothing).
        ``read_only``: a read of message data (FETCH, SEARCH batches) that needs no transaction; on PostgreSQL
        with the fast paths it runs in autocommit (no BEGIN/COMMIT round trips). The mailbox row was read at
        login (a store reset ends the session: :meth:`check_store_reset`)."""
        assert self.mailbox is not None
        reads = self.server.read_sessions if read_only else None
        if reads is not None:
            async with reads() as db:
                yield db, await db.merge(self.mailbox, load=False)
            return
        async with self.app.state.sessionmaker() as db, db.begin():
            yield db, await db.merge(self.mailbox, load=False)

    async def mailbox_gone(self) -> NoReturn:
        self.end_rule = "IMAP:mailbox-gone"
        await self.bye("this mailbox no longer exists as it was (the sandbox store was reset): log in again")
        raise Close

    def dirty(self) -> bool:
        return self.changes is not None and not self.changes.empty()

    def drain_changes(self) -> None:
        if self.changes is not None:
            while not self.changes.empty():
                self.changes.get_nowait()

    async def refresh(self, *, expunge: bool) -> None:
        """Read the selected folder again and tell the client what changed (RFC 3501 §7.3.1 EXISTS, §7.4.1
        EXPUNGE, §7.4.2 FETCH FLAGS, §7.2.6 FLAGS). ``expunge`` False: removed messages stay in the snapshot."""
        self.drain_changes()
        selected = self.selected
        if selected is None:
            return
        assert self.identity is not None and self.identity.mailbox_id is not None
        try:
            uidvalidity, current = await self.server.folder_entries(
                mailbox_id=self.identity.mailbox_id, address=self.identity.login, folder=selected.name)
        except MailboxGone:
            await self.mailbox_gone()
        except UnknownFolder:
            uidvalidity, current = 0, []
        if uidvalidity != selected.uidvalidity:  # RFC 3501 §2.3.1.1: the UIDs the client holds mean nothing now
            self.end_rule = "IMAP:folder-gone"
            await self.bye(f"the selected folder {selected.name} was deleted, renamed or created again elsewhere "
                           "(its UIDVALIDITY changed): closing")
            raise Close
        await self.apply(current, expunge=expunge)

    async def apply(self, current: Sequence[Entry], *, expunge: bool) -> None:
        selected = self.selected
        assert selected is not None
        now = {entry.uid: entry for entry in current}
        removed = {uid for uid in selected.uids if uid not in now}
        out = bytearray()
        if expunge and removed:
            out += self.expunge_lines(removed)
        else:
            selected.gone |= removed
        for uid in selected.uids:
            entry = now.get(uid)
            known = selected.entries.get(uid)
            if entry is not None and known is not None and entry.flags != known.flags:
                selected.entries[uid] = entry
                out += b"* %d FETCH (UID %d FLAGS (%s))\r\n" % (selected.msn(uid), uid, " ".join(entry.flags).encode())
        highest = selected.max_uid
        added = [entry for entry in current if entry.uid > highest]
        keywords = selected.keywords | _keywords(added) | _keywords(now.values())
        if keywords != selected.keywords:
            selected.keywords = frozenset(keywords)
            out = bytearray(b"* FLAGS (%s)\r\n" % flag_names(selected.keywords).encode()) + out
        if added:
            for entry in added:
                selected.uids.append(entry.uid)
                selected.entries[entry.uid] = entry
            out += b"* %d EXISTS\r\n" % len(selected.uids)
        if out:
            await self.send(bytes(out))

    def expunge_lines(self, removed: set[int]) -> bytes:
        """``* n EXPUNGE`` for each removed UID, ascending, each number counted after the ones before it
        (RFC 3501 §7.4.1); the snapshot loses them."""
        selected = self.selected
        assert selected is not None
        removed = removed | selected.gone
        out = bytearray()
        kept: list[int] = []
        for uid in selected.uids:
            if uid in removed:
                out += b"* %d EXPUNGE\r\n" % (len(kept) + 1)
                selected.entries.pop(uid, None)
            else:
                kept.append(uid)
        selected.uids = kept
        selected.gone.clear()
        return bytes(out)


_FAULT_TARGETS = {"LOGIN": "mss.imap.login", "AUTHENTICATE": "mss.imap.login", "SELECT": "mss.imap.select",
                  "EXAMINE": "mss.imap.select", "FETCH": "mss.imap.fetch"}


def flag_names(keywords: frozenset[str] | set[str]) -> str:
    return " ".join(("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", *sorted(keywords)))


def _keywords(entries: Any) -> set[str]:
    return {flag for entry in entries for flag in entry.flags if not flag.startswith("\\")}


class LineTooLong(Exception):
    def __init__(self, head: bytes, tail: bytes) -> None:
        super().__init__("line too long")
        self.head, self.tail = head, tail


class LiteralTooBig(Exception):
    def __init__(self, tag: str | None, name: str, size: int, non_synchronising: bool, limit: int) -> None:
        super().__init__("literal too big")
        self.tag, self.name, self.size, self.non_synchronising, self.limit = tag, name, size, non_synchronising, limit


_SECRET_COMMANDS = frozenset({"LOGIN", "AUTHENTICATE"})
_TAG_FORBIDDEN = frozenset(b'(){%*"\\+')


def _tag_of(line: bytes) -> str | None:
    """The tag a line starts with, when it is a valid one (RFC 3501 §9 ``tag``); else None (untagged BAD)."""
    tag = line.split(b" ", 1)[0]
    if not tag or len(tag) > 64 or any(b <= 0x20 or b >= 0x7F or b in _TAG_FORBIDDEN for b in tag):
        return None
    return tag.decode("ascii")


def _command_name(line: bytes) -> str:
    """The command a line names (``UID`` skipped), upper-cased; "" when unreadable."""
    words = line.split(b" ", 3)
    if len(words) < 2:
        return ""
    name = words[1]
    if name.upper() == b"UID" and len(words) > 2:
        name = words[2]
    try:
        text = name.decode("ascii").upper()
    except UnicodeDecodeError:
        return ""
    return text if text.isalnum() else ""


def _printable(text: str) -> str:
    """Response text (RFC 3501 §9 ``text``: 7-bit, no CR, LF or NUL): accents dropped, "§" spelled out."""
    ascii_text = unicodedata.normalize("NFKD", text.replace("§", "section ")).encode("ascii", "ignore").decode()
    return "".join(c if " " <= c < "\x7f" else "?" for c in ascii_text)[:900]


def _journal_text(refusal: Refusal) -> str:
    text = refusal.journal or refusal.text
    return (f"{refusal.kind} [{refusal.code}] {text}" if refusal.code else f"{refusal.kind} {text}")[:1024]


def _where(exc: BaseException) -> str:
    """One log line for an unexpected error: its type and the innermost frame (never its text: it may quote a
    message; never a whole traceback: a recursion would write a thousand frames per command)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return f"{type(exc).__name__}{where}"




if TYPE_CHECKING:
    from app.mss.imap.wire import Command
