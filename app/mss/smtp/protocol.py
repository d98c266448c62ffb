"""The SMTP session (aiosmtpd's ``SMTP``): the DSN extension's parameters (RFC 3461), DATA read in bulk
(aiosmtpd's own line-by-line DATA with ``SEGUR_FAST_PATHS=false``), MSSanté reply texts, lookups cached per
connection, the session's tenant, and the session's journal entry.

Tenant: each connection runs in its own task (aiosmtpd's ``_handle_client``), in the default tenant until an
AUTH names another (``<tenant>/<login>``, :mod:`app.mss.smtp.auth`), which :meth:`MssSMTP.enter_tenant` makes
the tenant of the rest of the task (:func:`app.tenancy.set_tenant`): every store access and journal entry of
the connection is then the tenant's. STARTTLS forgets it with the identity (RFC 3207 §4.2)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

from aiosmtpd.smtp import MISSING, SMTP, syntax

from app.api.journal import peer_text, record
from app.mss import auth, service
from app.mss.smtp import replies
from app.mss.smtp.data import LINE_TOO_LONG, _scan_data, _unstuffed, line_too_long
from app.tenancy import DEFAULT_TENANT, set_tenant

logger = logging.getLogger("segur.mss.smtp")

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.config import Settings


class Handler(Protocol):
    """What a session needs of its handler (:class:`app.mss.smtp.handler.MssHandler`)."""

    app: FastAPI
    settings: Settings
    generation: int

    async def injected(self, server: MssSMTP, stage: str) -> str | None: ...


LOOKUP_TTL = 5.0


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"  # RFC 5322 §3.2.3
_PLAIN_ANGLE_ADDR = re.compile(rf"<({_ATEXT}+(?:\.{_ATEXT}+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")
_DSN_MAIL = re.compile(r"\s+(RET|ENVID)=(\S+)", re.IGNORECASE)
_DSN_RCPT = re.compile(r"\s+(NOTIFY|ORCPT)=(\S+)", re.IGNORECASE)
_TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size ({limit} bytes)"
_REWRITES = {  # aiosmtpd's reply: (MSSanté's, its rule)
    "552 Error: Too much mail data": (_TOO_BIG, "MSS:size"),
    "552 Error: message size exceeds fixed maximum message size": (_TOO_BIG, "MSS:size"),
    "500 Line too long (see RFC5321 4.5.3.1.6)": (LINE_TOO_LONG, None),  # aiosmtpd's DATA (the plain path)
}


class _CountingReader:
    """The connection's reader while aiosmtpd's own DATA reads (the plain path), counting the octets it
    takes: aiosmtpd stops counting the size once a line overran its reader."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader, self.consumed = reader, 0

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        line = await self.reader.readuntil(separator)
        self.consumed += len(line)
        return line

    async def read(self, n: int = -1) -> bytes:
        data = await self.reader.read(n)
        self.consumed += len(data)
        return data


class MssSMTP(SMTP):
    """aiosmtpd's SMTP with the DSN extension parameters, MSSanté reply texts and a journal."""

    def __init__(self, handler: Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        # RFC 4954 §4: an AUTH line may reach 12288 octets (a PSC token in XOAUTH2 is ~1-2 KB).
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self.command_size_limits["AUTH"] = 12288
        reader = getattr(self, "_stream_reader", None)
        if reader is not None:  # a longer line overruns the reader (aiosmtpd's DATA answers "Line too long")
            reader._limit = 12288 + 2
        # aiosmtpd's DATA measures a line before unstuffing (1,001 octets); the sandbox's rule is measured once
        # unstuffed (:func:`app.mss.smtp.data.line_too_long`, before the handler), whichever reads DATA.
        self.line_length_limit = sys.maxsize
        self.mss = handler
        self.fast_paths = handler.settings.fast_paths
        self.session_id = uuid.uuid4().hex[:16]
        self.started = time.monotonic()
        self.accepted = 0
        self.refusals: list[tuple[str, str | None]] = []
        self.pending_rcpt_params: dict[str, str] = {}
        self.pending_mail_params: dict[str, str] = {}
        self.dsn_rcpt: dict[str, str | None] = {}
        self.dsn_mail: dict[str, str] = {}
        self.verdicts: dict[str, service.RecipientVerdict] = {}
        self.lookups: dict[tuple[str, str], tuple[float, Any]] = {}
        self.lookups_generation = handler.generation
        self.sender_mailbox: Any = None
        self.identity: dict[str, Any] | None = None
        self.last_rule: str | None = None
        self.plain_data: _CountingReader | None = None
        self.facts: dict[str, Any] = {}
        """What the conformance report needs of the session (journaled on its SESSION entry)."""
        self.tenant = DEFAULT_TENANT
        """The tenant of the connection: the default one until an AUTH names another."""

    def enter_tenant(self, tenant: str) -> None:
        """After a successful AUTH (in the connection's task): the rest of the connection runs in ``tenant``;
        what was cached of another tenant's lookups is forgotten."""
        if tenant != self.tenant:
            self.lookups.clear()
        self.tenant = tenant
        set_tenant(tenant)

    async def smtp_STARTTLS(self, arg: str) -> None:
        await super().smtp_STARTTLS(arg)
        if self._original_transport is not None and self.tenant != DEFAULT_TENANT:
            self.enter_tenant(DEFAULT_TENANT)  # RFC 3207 §4.2: what was said in clear, the AUTH too, is forgotten

    def note_first_command(self) -> None:
        """SC.MSS/CONF.05: at the first AUTH or MAIL, whether TLS (STARTTLS, or implicit TLS) was already on;
        the TLS version and cipher then in force (SC.MSS/CONF.01-.03)."""
        if "starttls_before_auth" not in self.facts:
            self.facts["starttls_before_auth"] = self.transport is not None and (
                self._tls_protocol is not None or self.transport.get_extra_info("ssl_object") is not None)
        if self.facts.get("tls_version") is None:  # TLS started after a command sent in clear: record it then
            self.facts.update(auth.tls_facts(self.transport))

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        self.note_first_command()
        if arg:
            # only a mechanism the server offers is recorded: ``AUTH <base64 initial response>`` puts a credential
            # where the mechanism goes (aiosmtpd answers 504), and the journal never holds one
            name = arg.split(maxsplit=1)[0].upper() if arg.split() else ""
            self.facts["sasl"] = name if name in self._auth_methods else "(invalid)"
        await super().smtp_AUTH(arg)

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            if self.plain_data is not None and status.startswith("500 Line too long"):
                limit = self.data_size_limit or 0  # the size first, as the bulk reader (less the ".\r\n")
                if limit and self.plain_data.consumed - 3 > limit:
                    status = "552 Error: Too much mail data"
            for prefix, (text, rule) in _REWRITES.items():
                if status.startswith(prefix):
                    status = text.format(limit=self.data_size_limit)
                    self.last_rule = rule
            if status[:1] in ("4", "5"):
                self.refusals.append((status[:200], self.last_rule))
        self.last_rule = None
        await super().push(status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parser (``email._header_value_parser.get_angle_addr``, ~0.1 ms a call) with a
        fast path for the usual ``<dot-atom@domain>``: same address and same rest of the line; anything
        else (quoted local part, comments, source route, address literal, UTF-8...) goes to aiosmtpd, and
        so does an address with ``=?``: the stdlib parser decodes a local part that starts as an RFC 2047
        encoded word (``<=?utf-8?q?a?=@b>`` is ``a@b`` to aiosmtpd), however strange that is in SMTP.
        With ``SEGUR_FAST_PATHS=false`` every address goes to aiosmtpd."""
        match = _PLAIN_ANGLE_ADDR.match(arg) if arg and self.fast_paths else None
        if match is None or "=?" in match.group(1):
            return super()._getaddr(arg)
        rest = arg[match.end():]
        if rest[:1] in (" ", "\t"):  # get_angle_addr skips folding white space (str.lstrip) and comments
            rest = rest.lstrip()
        if rest[:1] == "(":
            return super()._getaddr(arg)
        address = match.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

    async def smtp_MAIL(self, arg: str | None) -> None:
        self.note_first_command()
        self.pending_mail_params = {}
        if arg:
            self.pending_mail_params = {m.group(1).upper(): m.group(2) for m in _DSN_MAIL.finditer(arg)}
            arg = _DSN_MAIL.sub("", arg)
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        self.pending_rcpt_params = {}
        if arg:
            self.pending_rcpt_params = {m.group(1).upper(): m.group(2) for m in _DSN_RCPT.finditer(arg)}
            arg = _DSN_RCPT.sub("", arg)
        await super().smtp_RCPT(arg)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """DATA read in bulk (aiosmtpd reads it line by line, which dominates the CPU cost of a 100 KB
        message); same replies, RFC 5321 §4.5.2 dot-unstuffing, SIZE limit; the §4.5.3.1.6 line length is
        checked before the handler (:meth:`_call_handler_hook`). With ``SEGUR_FAST_PATHS=false``, after
        the same checks of the command, aiosmtpd's own DATA reads the message (its replies reworded by
        :meth:`push`)."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        if not self.fast_paths:
            reader = self._reader
            self.plain_data = self._reader = _CountingReader(reader)  # type: ignore[assignment]
            try:
                await super().smtp_DATA(arg)
            finally:
                self._reader, self.plain_data = reader, None
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        limit = self.data_size_limit or 0
        buffer = bytearray(b"\r\n")  # the DATA line's CRLF: lets a lone "." on the first line match
        too_big = False
        scan_from = 0
        stuffed = False  # a line starts with a dot (other than the terminator): unstuff
        end = -1
        while True:
            chunk = await self._reader.read(262144)
            if not chunk:  # connection closed mid-DATA
                return
            buffer += chunk
            end, scan_from, stuffed = _scan_data(buffer, scan_from, stuffed)
            if end >= 0:
                leftover = bytes(buffer[end + 5:])
                if leftover:  # a client that pipelines after the terminator: give the bytes back
                    self._reader._buffer[0:0] = leftover  # type: ignore[attr-defined]
                del buffer[end + 2:]
                break
            if limit and len(buffer) > limit + 4:  # the CRLF of DATA, and ".\r" may start the terminator
                too_big = True
                keep = bytes(buffer[-4:])  # discard what is over the limit, keep enough to see the end
                buffer = bytearray(keep)
                scan_from = 0
        if too_big or (limit and len(buffer) - 2 > limit):
            self._set_post_data_state()
            self.last_rule = "MSS:size"
            await self.push(f"552 5.3.4 Message size exceeds fixed maximum message size ({limit} bytes)")
            return
        content = _unstuffed(buffer, stuffed)
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def _call_handler_hook(self, command: str, *args: Any) -> Any:
        """The handler's hook; for DATA, after the line length rule (RFC 5321 §4.5.3.1.6), checked here for
        both readers of DATA (the message is refused with :data:`LINE_TOO_LONG`, the handler not called)."""
        if command == "DATA" and self.envelope is not None and line_too_long(self.envelope.original_content or b""):
            return LINE_TOO_LONG
        return await super()._call_handler_hook(command, *args)

    def _set_rset_state(self) -> None:
        super()._set_rset_state()
        self._clear_transaction()

    def _set_post_data_state(self) -> None:
        super()._set_post_data_state()
        self._clear_transaction()

    def _clear_transaction(self) -> None:
        self.dsn_rcpt, self.dsn_mail, self.verdicts, self.sender_mailbox = {}, {}, {}, None

    async def cached(self, key: tuple[str, str], factory: Any) -> Any:
        """Trust-space and mailbox lookups, remembered for LOOKUP_TTL seconds within one connection (a
        client sending many messages to the same addresses does not repeat the queries), and forgotten
        when the store is reset (the mailboxes are seeded again, new ids), a mailbox is created or a fault
        scripted, by any worker (:meth:`app.mss.smtp.handler.MssHandler.forget`). With
        ``SEGUR_FAST_PATHS=false`` nothing is remembered: every lookup asks the store."""
        if not self.fast_paths:
            return await factory()
        now = time.monotonic()
        if self.lookups_generation != self.mss.generation:
            self.lookups.clear()
            self.lookups_generation = self.mss.generation
        hit = self.lookups.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        generation = self.mss.generation
        value = await factory()
        if generation != self.mss.generation:  # reset while the lookup ran: do not keep its answer
            return value
        if len(self.lookups) > 1000:
            self.lookups.clear()
        self.lookups[key] = (now + LOOKUP_TTL, value)
        return value

    async def _handle_client(self) -> None:
        """The greeting, unless a fault rule (target ``mss.smtp.connect``) answers 421 and closes instead.

        aiosmtpd has no public hook before its greeting, so this overrides its private ``_handle_client``
        (pinned ``aiosmtpd<1.5`` in pyproject.toml). A fault check that fails (the store down) must not leave
        the client waiting for a greeting: the session goes on without fault injection."""
        try:
            injected = await self.mss.injected(self, "CONNECT")
        except Exception as exc:  # the greeting comes first; the failure is the store's, logged without data
            logger.warning("SMTP greeting: fault rules not checked (%s)", type(exc).__name__)
            injected = None
        if injected:
            await self.push(injected)
            _close(self)
            return
        await super()._handle_client()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._original_transport is not None:  # after STARTTLS: forget what was said in clear (RFC 3207 §4.2)
            self.identity = None
            self._clear_transaction()

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        peer = self.session.peer if self.session else None
        refused = self.refusals[-1] if self.refusals else None
        entry = dict(
            protocol="smtp", method="SESSION", path="/mss/smtp", service="mss",
            request_id=self.session_id, client=peer_text(peer), operation="mss.smtp.session",
            outcome="ok" if not self.refusals else "refused",
            status=(replies.reply_code(refused[0]) if refused else None) or 221,
            rule=refused[1] if refused else None,
            detail=(f"identity={self.identity.get('login') if self.identity else None} accepted={self.accepted} "
                    f"refusals={len(self.refusals)} tls={'yes' if self._tls_protocol else 'no'}"),
            duration_ms=(time.monotonic() - self.started) * 1000,
            actor=auth.mss_actor((self.identity or {}).get("login"), tried=self.facts.get("login")),
            facts=self.facts or None,
        )
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(self._journal_session(entry))

    async def _journal_session(self, entry: dict[str, Any]) -> None:
        """The SESSION entry, in the connection's tenant: ``connection_lost`` is a transport callback, outside
        the connection's task, so the entry is written by a task of its own, put in the tenant first."""
        set_tenant(self.tenant)
        await record(self.mss.app, **entry)


def _close(server: MssSMTP) -> None:
    if server.transport is not None:
        server.transport.close()


