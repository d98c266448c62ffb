"""SMTP AUTH (RFC 4954): PLAIN and LOGIN with the mailbox password (quick tests; an APP mailbox's client
certificate instead, SC.MSS/CONF.12), XOAUTH2 (SC.MSS/CONF.07) and OAUTHBEARER (RFC 7628) with a PSC
access token whose professional owns the mailbox; a PSC session that ends ends the SMTP session
(SC.MSS/CONF.10, .11). Credentials never reach the journal nor the logs.

A user name ``<tenant>/<login>`` (PLAIN, LOGIN; the ``user`` of XOAUTH2 and OAUTHBEARER) logs in to that
tenant's mailbox and keeps the connection in the tenant (:mod:`app.mss.auth`); an unknown tenant is answered
``535 5.7.8`` as a wrong password. A connection that does not authenticate stays in the default tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiosmtpd.smtp import AuthResult, LoginPassword

from app.mss import auth
from app.mss.auth import journal_login
from app.mss.smtp import replies
from app.mss.smtp.protocol import MssSMTP
from app.tenancy import use_tenant

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.config import Settings

__all__ = ["SaslMechanisms", "journal_login"]


class SaslMechanisms:
    """The ``auth_*`` mechanisms of the handler (handler-defined mechanisms replace aiosmtpd's built-in
    PLAIN/LOGIN, so credentials are checked asynchronously). Mixed into :class:`app.mss.smtp.handler.MssHandler`,
    which provides ``app``, ``settings`` and ``journal``. The checks themselves are :mod:`app.mss.auth`'s,
    shared with the IMAP listener."""

    app: FastAPI
    settings: Settings

    async def journal(self, server: MssSMTP, *, method: str, outcome: str, status: int | None, rule: str | None,
                      detail: str | None, operation: str) -> None:
        raise NotImplementedError

    async def _login(self, server: MssSMTP, login: bytes, password: bytes, mechanism: str) -> AuthResult:
        tenant, address = await auth.login_tenant(self.app, login.decode("utf-8", "replace"))
        peercert = server.transport.get_extra_info("peercert") if server.transport is not None else None
        outcome: auth.Identity | auth.Refused
        if tenant is None:
            outcome = auth.unknown_tenant(mechanism, address)
        else:
            with use_tenant(tenant):
                async with self.app.state.sessionmaker() as session:
                    outcome = await auth.password_login(session, login=address,
                                                        password=password.decode("utf-8", "replace"),
                                                        mechanism=mechanism, peercert=peercert)
        server.facts.update(login=journal_login(address), auth_ok=not isinstance(outcome, auth.Refused))
        if isinstance(outcome, auth.Refused):
            await self._refused(server, tenant, outcome)
            return AuthResult(success=False, handled=False)
        assert tenant is not None  # an unknown tenant is refused
        server.enter_tenant(tenant)
        server.identity = outcome.as_dict()
        return AuthResult(success=True, auth_data=LoginPassword(outcome.login.encode(), b""))

    async def _refused(self, server: MssSMTP, tenant: str | None, outcome: auth.Refused) -> None:
        """Journal a refused AUTH: in the tenant the login named, when it exists (its pipeline sees it), else in
        the connection's."""
        server.last_rule = outcome.rule
        with use_tenant(tenant or server.tenant):
            await self.journal(server, method="AUTH", outcome="refused", status=535, rule=outcome.rule,
                               detail=outcome.journal, operation="mss.smtp.auth")

    @staticmethod
    async def _response(server: MssSMTP, args: list[str], challenge: str) -> bytes | None:
        """The client's SASL response: the initial response of the AUTH line, or the answer to a 334
        challenge. None when the exchange failed (the reply has been sent)."""
        if len(args) == 1:
            blob = await server.challenge_auth(challenge)
            return blob if isinstance(blob, bytes) else None
        decoded = auth.b64decode(args[1])
        if decoded is None:
            await server.push("501 5.5.2 Can't decode base64")
        return decoded

    async def auth_PLAIN(self, server: MssSMTP, args: list[str]) -> AuthResult:
        blob = await self._response(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        pieces = blob.split(b"\x00")
        if len(pieces) != 3:
            await server.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        return await self._login(server, pieces[1], pieces[2], "PLAIN")

    async def auth_LOGIN(self, server: MssSMTP, args: list[str]) -> AuthResult:
        login = await self._response(server, args, "User Name\x00")
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth("Password\x00")
        if not isinstance(password, bytes):
            return AuthResult(success=False, handled=True)
        return await self._login(server, login, password, "LOGIN")

    async def _bearer(self, server: MssSMTP, args: list[str], mechanism: str) -> AuthResult:
        blob = await self._response(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        text = blob.decode("utf-8", "replace")
        if mechanism == "XOAUTH2":
            server.facts["xoauth2_well_formed"] = auth.xoauth2_well_formed(text)
        user, token = auth.parse_bearer(text, mechanism)
        tenant: str | None = server.tenant  # without a user (OAUTHBEARER may omit it): the connection's
        if user:
            tenant, user = await auth.login_tenant(self.app, user)
        outcome: auth.Identity | auth.Refused
        if tenant is None:
            outcome = auth.unknown_tenant(mechanism, user or "")
        else:
            with use_tenant(tenant):
                async with self.app.state.sessionmaker() as session, session.begin():
                    outcome = await auth.bearer_login(session, self.settings, user=user, token=token,
                                                      mechanism=mechanism)
        server.facts.update(login=journal_login(user), auth_ok=not isinstance(outcome, auth.Refused))
        if isinstance(outcome, auth.Refused):
            await self._refused(server, tenant, outcome)
            # RFC 7628 §3.2.2 / XOAUTH2: an error challenge, the client answers (^A or empty), then 535.
            await server.challenge_auth(auth.BEARER_ERROR_CHALLENGE)
            return AuthResult(success=False, handled=False, message=replies.auth_failure(outcome.error))
        assert tenant is not None  # an unknown tenant is refused
        server.enter_tenant(tenant)
        server.identity = outcome.as_dict()
        return AuthResult(success=True, auth_data=LoginPassword(outcome.login.encode(), b""))

    async def _psc_session_ended(self, server: MssSMTP) -> str | None:
        if not server.identity or server.identity.get("kind") != "psc":
            return None
        async with self.app.state.sessionmaker() as session:
            return await auth.psc_session_ended(session, self.settings, server.identity)

    async def auth_XOAUTH2(self, server: MssSMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: MssSMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "OAUTHBEARER")
