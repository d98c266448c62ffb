"""The commands of any state and of the not-authenticated state (RFC 3501 §6.1, §6.2): CAPABILITY, NOOP,
LOGOUT, ID (RFC 2971), STARTTLS (RFC 2595), LOGIN, AUTHENTICATE (PLAIN RFC 4616, XOAUTH2, OAUTHBEARER
RFC 7628, EXTERNAL RFC 4422 Appendix A; initial response RFC 4959). The credential checks are
:mod:`app.mss.auth`'s, shared with SMTP AUTH.

Tenants: a user name ``<tenant>/<login>`` (LOGIN, PLAIN's authcid, the ``user`` of XOAUTH2/OAUTHBEARER,
EXTERNAL's authzid) logs in to that tenant's mailbox, and the session then runs in the tenant; an unknown
tenant is ``NO [AUTHENTICATIONFAILED] invalid credentials``, as a wrong password. Without a prefix, and for
EXTERNAL without an authzid, the default tenant."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING

from app.mss import auth
from app.mss.imap import wire
from app.mss.imap.commands import ANY, NOT_AUTHENTICATED, Refusal, State, arity, atom, bad, no, string, table
from app.mss.imap.session import WRITE_HIGH_WATER, Close
from app.tenancy import use_tenant

if TYPE_CHECKING:
    from app.mss.imap.session import ImapSession
    from app.mss.imap.wire import Command

COMMANDS, command = table()

SERVER_ID = ("name", "Segur Sandbox", "vendor", "Segur Sandbox (MSSante operator simulator)", "version", "1")
_ID_FIELD = re.compile(r"[\x20-\x7e]{1,30}")


@command("CAPABILITY", ANY)
async def capability(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.1.1."""
    arity(cmd, 0)
    await session.untagged("CAPABILITY " + session.server.capabilities(session))
    return "CAPABILITY completed"


@command("NOOP", ANY)
async def noop(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.1.2: polls the selected folder for changes (reported before the OK)."""
    arity(cmd, 0)
    if session.selected is not None:
        await session.refresh(expunge=True)
    return "NOOP completed"


@command("LOGOUT", ANY)
async def logout(session: ImapSession, cmd: Command) -> None:
    """RFC 3501 §6.1.3: ``* BYE`` then the tagged OK, and the connection closes."""
    arity(cmd, 0)
    await session.untagged("BYE Segur Sandbox MSSante IMAP logging out")
    await session.tagged(cmd.tag, "OK", "LOGOUT completed")
    session.state = State.LOGOUT
    return None


@command("ID", ANY)
async def id_(session: ImapSession, cmd: Command) -> str:
    """RFC 2971: the client's identification (its ``name`` is kept for the session's journal entry) and the
    server's. At most 30 pairs, fields of at most 30 octets, values of at most 1024 (§3.3)."""
    arity(cmd, 1, 1, "(field value ...) or NIL")
    parameters = cmd.args[0]
    if parameters is not None:
        if not isinstance(parameters, list) or len(parameters) % 2 or len(parameters) > 60:
            raise bad("ID takes NIL or a list of at most 30 field/value pairs")
        for key, value in zip(parameters[::2], parameters[1::2], strict=True):
            name = string(key, "an ID field name")
            if not _ID_FIELD.fullmatch(name):
                raise bad("an ID field name is 1 to 30 printable US-ASCII characters")
            if value is not None:
                text = string(value, "an ID value")
                if len(text.encode()) > 1024:
                    raise bad("an ID value is at most 1024 octets")
                if name.lower() == "name":
                    session.client_name = "".join(c for c in text if c.isprintable())[:64]
    pairs = " ".join(wire.quoted_or_literal(item).decode() for item in SERVER_ID)
    await session.untagged(f"ID ({pairs})")
    return "ID completed"


@command("STARTTLS", NOT_AUTHENTICATED)
async def starttls(session: ImapSession, cmd: Command) -> None:
    """RFC 3501 §6.2.1, RFC 2595 §3.1: TLS negotiation starts right after the tagged OK. Anything the client
    sent after the STARTTLS line in clear is thrown away (a command injection otherwise, CVE-2011-0411); the
    capabilities change (the client asks again, RFC 2595 §3.1)."""
    arity(cmd, 0)
    if session.tls:
        raise bad("TLS is already active", rule="IMAP:state")
    if session.server.tls is None:
        raise bad("STARTTLS is not offered here", rule="IMAP:state")
    await session.tagged(cmd.tag, "OK", "Begin TLS negotiation now")
    buffered = getattr(session.reader, "_buffer", None)
    if buffered:
        buffered.clear()
    try:
        await session.writer.start_tls(session.server.tls)
    except Exception:
        session.end_rule = "IMAP:tls"
        raise Close from None
    session.tls = True
    session.peercert = session.writer.get_extra_info("peercert")
    session.writer.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)  # type: ignore[attr-defined]
    return None


def _privacy(session: ImapSession, mechanism: str) -> None:
    # SC.MSS/CONF.01-.06: at the first LOGIN or AUTHENTICATE, whether TLS was on, and which (conformance report)
    session.facts.setdefault("starttls_before_auth", session.tls)
    if session.facts.get("tls_version") is None:
        session.facts.update(auth.tls_facts(session.writer.transport))
    session.facts["sasl"] = mechanism
    if not session.auth_allowed():
        raise no("authentication is disabled before STARTTLS (SEGUR_MSS_IMAP_AUTH_REQUIRE_TLS)",
                 code="PRIVACYREQUIRED", rule="IMAP:privacy-required")


@command("LOGIN", NOT_AUTHENTICATED)
async def login(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.2.3: the mailbox address and its password; an APP mailbox whose TLS client certificate
    names it may give any password (SC.MSS/CONF.12). LOGINDISABLED before TLS: ``NO [PRIVACYREQUIRED]``."""
    if len(cmd.args) != 2:
        raise bad("LOGIN takes 2 arguments: LOGIN user password",
                  journal="LOGIN takes 2 arguments (not journaled: they may hold a credential)")
    _privacy(session, "LOGIN")
    user, password = string(cmd.args[0], "the user name"), string(cmd.args[1], "the password")
    tenant, user = await auth.login_tenant(session.app, user)
    session.facts["login"] = auth.journal_login(user)
    return await _complete(session, tenant, await _password(session, tenant, user, password, "LOGIN"))


async def _password(session: ImapSession, tenant: str | None, login: str, password: str,
                    mechanism: str) -> auth.Identity | auth.Refused:
    """The password check of ``login`` in ``tenant`` (None: a tenant that does not exist)."""
    if tenant is None:
        return auth.unknown_tenant(mechanism, login)
    with use_tenant(tenant):
        async with session.app.state.sessionmaker() as db:
            return await auth.password_login(db, login=login, password=password, mechanism=mechanism,
                                             peercert=session.peercert)


async def _complete(session: ImapSession, tenant: str | None, outcome: auth.Identity | auth.Refused) -> str:
    if isinstance(outcome, auth.Refused):
        raise Refusal("NO", _refusal_text(outcome), code="AUTHENTICATIONFAILED", rule=outcome.rule,
                      journal=outcome.journal, tenant=tenant)
    assert tenant is not None
    await session.authenticated(outcome, tenant)
    return f"[CAPABILITY {session.server.capabilities(session)}] {outcome.mechanism} completed: {outcome.login}"


def _refusal_text(outcome: auth.Refused) -> str:
    if outcome.rule == "MSS:auth.password":
        return "invalid credentials"
    return outcome.error


MECHANISMS = ("PLAIN", "XOAUTH2", "OAUTHBEARER", "EXTERNAL")
_MECHANISM_NAME = re.compile(r"[A-Z0-9_-]{1,20}")


@command("AUTHENTICATE", NOT_AUTHENTICATED)
async def authenticate(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.2.2 with the initial response of RFC 4959 (``=`` for an empty one); a ``*`` line cancels
    the exchange (tagged BAD)."""
    arity(cmd, 1, 2, "mechanism [initial-response]")
    mechanism = atom(cmd.args[0], "a SASL mechanism").upper()
    if mechanism not in MECHANISMS or (mechanism == "EXTERNAL" and not session.peercert):
        # RFC 4422 §3.1: a mechanism name is at most 20 of [A-Z0-9-_]; anything else is not echoed (a token?)
        named = mechanism if _MECHANISM_NAME.fullmatch(mechanism) else "(not a mechanism name)"
        raise no(f"unsupported SASL mechanism {named}" + (" (EXTERNAL needs a TLS client certificate)"
                                                          if mechanism == "EXTERNAL" else ""),
                 code="CANNOT", rule="IMAP:mechanism")
    _privacy(session, mechanism)
    initial = None
    if len(cmd.args) == 2:
        token = cmd.args[1]
        if not isinstance(token, wire.Atom):
            raise bad("the initial response is base64 (an atom) or '='",
                      journal="malformed initial response (not journaled)")
        initial = token.value
    blob = await _response(session, initial)
    if mechanism == "PLAIN":
        pieces = blob.split(b"\x00")
        if len(pieces) != 3:
            raise bad("PLAIN expects authzid NUL authcid NUL password (RFC 4616)", rule="MSS:auth.syntax",
                      journal="PLAIN message malformed")
        authzid, authcid, password = (p.decode("utf-8", "replace") for p in pieces)
        tenant, login = await auth.login_tenant(session.app, authcid)
        if authzid and authzid.lower() not in (authcid.lower(), login.lower()):
            raise Refusal("NO", "PLAIN: the authorisation identity must be the authentication identity",
                          code="AUTHORIZATIONFAILED", rule="MSS:auth.authzid",
                          journal=f"PLAIN {auth.journal_login(login)}: authzid differs")
        return await _complete(session, tenant, await _password(session, tenant, login, password, "PLAIN"))
    if mechanism == "EXTERNAL":
        tenant, authzid = await auth.login_tenant(session.app, blob.decode("utf-8", "replace").strip())
        outcome: auth.Identity | auth.Refused = auth.unknown_tenant("EXTERNAL", authzid)
        if tenant is not None:
            with use_tenant(tenant):
                async with session.app.state.sessionmaker() as db:
                    outcome = await auth.certificate_login(db, authzid=authzid, peercert=session.peercert)
        return await _complete(session, tenant, outcome)
    text = blob.decode("utf-8", "replace")
    if mechanism == "XOAUTH2":
        session.facts["xoauth2_well_formed"] = auth.xoauth2_well_formed(text)
    user, bearer = auth.parse_bearer(text, mechanism)
    tenant = session.tenant  # without a user (OAUTHBEARER may omit it): the default tenant
    if user:
        tenant, user = await auth.login_tenant(session.app, user)
    session.facts["login"] = auth.journal_login(user)
    outcome = auth.unknown_tenant(mechanism, user or "")
    if tenant is not None:
        with use_tenant(tenant):
            async with session.app.state.sessionmaker() as db, db.begin():
                outcome = await auth.bearer_login(db, session.settings, user=user, token=bearer, mechanism=mechanism)
    if isinstance(outcome, auth.Refused):
        # RFC 7628 §3.2.2 (and XOAUTH2): an error challenge; the client answers (^A or empty), then NO.
        challenge = base64.b64encode(auth.BEARER_ERROR_CHALLENGE.encode()).decode()
        await session.send(f"+ {challenge}\r\n".encode())
        await session.read_continuation()
    return await _complete(session, tenant, outcome)


async def _response(session: ImapSession, initial: str | None) -> bytes:
    """The client's SASL response, base64-decoded: the initial response, or the line answering an empty
    challenge (``+ ``). ``*`` cancels (RFC 3501 §6.2.2: tagged BAD)."""
    if initial is None:
        await session.send(b"+ \r\n")
        line = (await session.read_continuation()).strip()
        if line == b"*":
            raise bad("AUTHENTICATE cancelled by the client", rule="IMAP:auth-cancelled")
        text = line.decode("ascii", "replace")
    else:
        text = initial
    if text == "=":
        return b""
    decoded = auth.b64decode(text)
    if decoded is None:
        raise bad("the SASL response is not base64", rule="MSS:auth.syntax",
                  journal="the SASL response is not base64 (not journaled)")
    return decoded
