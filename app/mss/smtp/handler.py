"""The aiosmtpd handler: the stages of a transaction (EHLO, MAIL, RCPT, DATA) as service calls, scripted
faults, the ``Received`` trace field, and the journal of each refusal."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import traceback
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from app.api.journal import peer_text, record
from app.faults import rules as fault_rules
from app.faults import service as faults
from app.mss import service
from app.mss.auth import mss_actor
from app.mss.exceptions import SenderRefused
from app.mss.smtp import replies
from app.mss.smtp.auth import SaslMechanisms
from app.mss.smtp.protocol import MssSMTP, _close

if TYPE_CHECKING:
    from fastapi import FastAPI


logger = logging.getLogger("segur.mss.smtp")


class MssHandler(SaslMechanisms):
    """The aiosmtpd handler: ``handle_*`` hooks and the ``auth_*`` mechanisms (handler-defined
    mechanisms replace aiosmtpd's built-in PLAIN/LOGIN, so credentials are checked asynchronously)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.settings = app.state.settings
        self._autocommit: Any = None
        self.generation = 0
        """Bumped when the store is reset, a mailbox created or a fault scripted: every connection's cached
        lookups are then forgotten."""

    def forget(self, _key: str = "") -> None:
        """Store event ``store.reset`` or ``mss.lookups`` (from this worker, or another one's relayed by
        PostgreSQL)."""
        self.generation += 1

    def autocommit_sessions(self) -> Any:
        """On PostgreSQL, a sessionmaker whose sessions run each statement in its own transaction
        (autocommit: no BEGIN/COMMIT round trips), for the one-statement store of
        :class:`app.mss.store.FastMessageStore`; None on other stores and with ``SEGUR_FAST_PATHS=false``
        (DATA then runs in one transaction)."""
        if self._autocommit is None:
            engine = getattr(self.app.state, "engine", None)
            self._autocommit = False
            if engine is not None and engine.dialect.name == "postgresql" and self.settings.fast_paths:
                self._autocommit = async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"),
                                                      expire_on_commit=False, autoflush=False)
        return self._autocommit or None

    # -- journal helper --
    async def journal(self, server: MssSMTP, *, method: str, outcome: str, status: int | None, rule: str | None,
                      detail: str | None, operation: str, facts: dict[str, Any] | None = None) -> None:
        await record(self.app, protocol="smtp", method=method, path="/mss/smtp", service="mss",
                     request_id=server.session_id, client=peer_text(server.session.peer if server.session else None),
                     operation=operation, outcome=outcome, status=status, rule=rule, detail=detail,
                     actor=mss_actor(server.identity["login"] if server.identity else None), facts=facts)

    # -- EHLO: advertise DSN --
    async def handle_EHLO(self, server: MssSMTP, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-DSN", "250-ENHANCEDSTATUSCODES", responses[-1]]

    async def _fault(self, server: MssSMTP, addresses_: list[str], stage: str) -> str | None:
        """A scripted failure (``POST /sandbox/v1/mailboxes/{address}/faults``) for this stage, if one is
        pending; the pending set is cached per connection like the lookups."""
        candidates = []
        for address in addresses_:
            stages = await server.cached(("faults", address.lower()), lambda a=address: self._pending(a))
            if stage in stages:
                candidates.append(address)
        if not candidates:
            return None
        async with self.app.state.sessionmaker() as db, db.begin():
            fault = await service.consume_fault(db, addresses_=candidates, stage=stage)
            if fault is None:
                return None
            reply, disconnect = fault.reply, fault.disconnect
        for address in candidates:
            server.lookups.pop(("faults", address.lower()), None)
        server.last_rule = "MSS:fault-injection"
        await self.journal(server, method=stage, outcome="refused" if reply[:1] in "45" else "ok",
                           status=replies.reply_code(reply), rule="MSS:fault-injection",
                           detail=f"scripted: {reply}", operation=f"mss.smtp.{stage.lower()}")
        if disconnect:
            asyncio.get_running_loop().call_soon(_close, server)
        return reply

    async def injected(self, server: MssSMTP, stage: str) -> str | None:
        """Fault injection (``/sandbox/v1/faults``, target ``mss.smtp.<stage>``): the reply of an unavailable
        service at this stage (RFC 5321 §4.2.3, RFC 3463), the connection closed after a 421; a slow rule
        delays the stage, which then goes on."""
        actor = f"mss:{server.identity['login']}" if server.identity else None
        operation = f"mss.smtp.{stage.lower()}"
        injection = await faults.inject(self.app, operation, actor=actor)
        if injection is None:
            return None
        server.facts["injected"] = True
        if injection.kind == fault_rules.SLOW:
            await self.journal(server, method=stage, outcome="ok", status=None, rule=None, operation=operation,
                               detail=f"injected delay of {injection.rule.delay_ms} ms", facts=injection.facts())
            return None
        reply = replies.INJECTED[stage]
        server.last_rule = injection.name
        await self.journal(server, method=stage, outcome="refused", status=replies.reply_code(reply),
                           rule=injection.name, detail=f"injected: {reply}", operation=operation,
                           facts=injection.facts())
        if reply.startswith("421"):
            asyncio.get_running_loop().call_soon(_close, server)
        return reply

    async def _pending(self, address: str) -> set[str]:
        async with self.app.state.sessionmaker() as db:
            return await service.pending_stages(db, address)

    async def _lookup(self, address: str) -> tuple[Any, Any]:
        if "@" not in address:
            return None, None
        async with self.app.state.sessionmaker() as db:
            return await service.lookup(db, address)

    @staticmethod
    def _ins_lookup(server: MssSMTP, db: Any) -> Any:
        """Which of an XDM's INS the INS service knows, remembered within the connection like the other lookups
        (:meth:`MssSMTP.cached`): a client sending many messages about the same patients asks once, not once
        per message (one statement and its round trip: about 13 % of the listener's CPU per message)."""
        async def lookup(candidates: set[str]) -> set[str] | None:
            if not candidates:
                return None
            key = ("ins", " ".join(sorted(candidates)))
            known = await server.cached(key, lambda: service.known_ins(db, candidates))
            return None if known is None else set(known)
        return lookup

    async def _check_recipient(self, address: str) -> service.RecipientVerdict:
        async with self.app.state.sessionmaker() as db, db.begin():  # may create a PER mailbox on the fly
            return await service.check_recipient(db, address)

    # -- envelope --
    async def handle_MAIL(self, server: MssSMTP, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        params = server.pending_mail_params
        address = address or ""
        ended = await self._psc_session_ended(server)
        if ended:
            # SC.MSS/CONF.10/.11: the PSC token behind this session is no longer valid (expired, revoked,
            # PSC logout): the operator ends the session; the client must re-authenticate and reconnect.
            server.last_rule = ended
            await self.journal(server, method="MAIL", outcome="refused", status=421, rule=ended,
                               detail="PSC token no longer valid: session ended", operation="mss.smtp.mail")
            asyncio.get_running_loop().call_soon(_close, server)
            return replies.PSC_SESSION_ENDED
        if injected := await self.injected(server, "MAIL"):
            return injected
        if address and (scripted := await self._fault(server, [address], "MAIL")):
            return scripted
        if address:
            domain, mailbox = await server.cached(("lookup", address.lower()), lambda: self._lookup(address))
            identity = server.identity or {}
            try:
                service.check_sender(address, domain, mailbox, authenticated=server.identity is not None,
                                     login=identity.get("login") if identity.get("kind") == "password" else None,
                                     professional=identity.get("subject") if identity.get("kind") == "psc" else None)
            except SenderRefused as exc:
                reply = replies.sender_reply(exc)
                server.last_rule = exc.rule
                await self.journal(server, method="MAIL", outcome="refused", status=int(reply[:3]), rule=exc.rule,
                                   detail=reply[4:], operation="mss.smtp.mail")
                return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        server.dsn_mail = params
        server.sender_mailbox = mailbox if address else None
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: MssSMTP, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if injected := await self.injected(server, "RCPT"):
            return injected
        verdict = await server.cached(("rcpt", address.lower()), lambda: self._check_recipient(address))
        if verdict.accepted and (scripted := await self._fault(server, [address], "RCPT")):
            return scripted
        if verdict.refusal is not None:
            reply = replies.recipient_reply(verdict.refusal)
            server.last_rule = verdict.refusal.rule
            await self.journal(server, method="RCPT", outcome="refused", status=int(reply[:3]),
                               rule=verdict.refusal.rule, detail=reply[4:], operation="mss.smtp.rcpt")
            return reply
        if len(envelope.rcpt_tos) >= 100:
            return replies.TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        server.dsn_rcpt[address] = server.pending_rcpt_params.get("NOTIFY")
        server.verdicts[address] = verdict
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: MssSMTP, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or b""
        smtp_envelope = service.Envelope(
            mail_from=envelope.mail_from or "",
            recipients=[(r, server.dsn_rcpt.get(r)) for r in envelope.rcpt_tos],
            transport="smtp",
            auth_identity=server.identity.get("login") if server.identity else None,
            envelope_id=server.dsn_mail.get("ENVID"),
        )
        raw = _received_header(server, envelope) + raw
        if injected := await self.injected(server, "DATA"):
            return injected
        if scripted := await self._fault(server, list(envelope.rcpt_tos), "DATA"):
            return scripted
        verdicts = [server.verdicts[r] for r in envelope.rcpt_tos]
        message: service.StoredMessage | None = None
        try:
            autocommit = self.autocommit_sessions()
            if autocommit is not None:
                # PostgreSQL: the reads in autocommit (each sees what is committed, as each statement of a
                # READ COMMITTED transaction would), then the message and its deliveries in one statement,
                # atomic by itself; when notifications are due, one transaction stores everything.
                async with autocommit() as db:
                    analysis = await service.analyse(db, self.settings, raw, smtp_envelope, verdicts=verdicts,
                                                     sender=server.sender_mailbox, sender_known=True,
                                                     ins_lookup=self._ins_lookup(server, db))
                    if analysis.refused is None:
                        message = await service.store_at_once(db, self.settings, raw, smtp_envelope, analysis)
                if analysis.refused is None and message is None:
                    async with self.app.state.sessionmaker() as db, db.begin():
                        message = await service.store(db, self.settings, raw, smtp_envelope, analysis)
            else:
                async with self.app.state.sessionmaker() as db, db.begin():
                    analysis = await service.analyse(db, self.settings, raw, smtp_envelope, verdicts=verdicts,
                                                     sender=server.sender_mailbox, sender_known=True,
                                                     ins_lookup=self._ins_lookup(server, db))
                    if analysis.refused is None:
                        message = await service.store(db, self.settings, raw, smtp_envelope, analysis)
            refusal = analysis.refused
            if refusal is not None:
                reply, journal_detail = replies.check_reply(refusal)
            else:
                assert message is not None
                uid = message.uid
                reply = f"250 2.0.0 OK queued as {uid}"
        except Exception as exc:
            # The exception's text may quote the message: log its type and where it happened, not its text.
            logger.error("SMTP DATA failed (%s); nothing stored\n%s", type(exc).__name__,
                         "".join(traceback.format_tb(exc.__traceback__)))
            server.last_rule = "MSS:internal"
            await self.journal(server, method="DATA", outcome="error", status=451, rule="MSS:internal",
                               detail="unexpected error; nothing stored", operation="mss.smtp.data")
            return replies.NOTHING_STORED
        if refusal is not None:
            server.last_rule = refusal.rule
            await self.journal(server, method="DATA", outcome="refused", status=int(reply[:3]),
                               rule=refusal.rule, detail=journal_detail, operation="mss.smtp.data",
                               facts=analysis.facts(envelope.rcpt_tos, size=len(raw)))
            return reply
        server.accepted += 1
        failures = analysis.report.summary()["fail"]
        await self.journal(server, method="DATA", outcome="ok", status=250, rule=None,
                           detail=f"message {uid} size={len(raw)} rcpt={len(envelope.rcpt_tos)} "
                                  f"findings_failed={failures}", operation="mss.smtp.data",
                           facts=analysis.facts(envelope.rcpt_tos, size=len(raw)))
        return reply


def _received_header(server: MssSMTP, envelope: Any) -> bytes:
    """RFC 5321 §4.4 trace field prepended to what is stored."""
    peer = peer_text(server.session.peer if server.session else None) or "unknown"
    helo = getattr(server.session, "host_name", None) or "unknown"
    with_ = "ESMTPSA" if server.identity else "ESMTP"
    if server._tls_protocol is not None:
        with_ = with_.replace("ESMTP", "ESMTPS")
    now = dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    hostname = server.mss.settings.mss_smtp_hostname
    return f"Received: from {helo} ({peer}) by {hostname} (Segur Sandbox) with {with_}; {now}\r\n".encode()
