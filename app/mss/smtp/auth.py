"""SMTP AUTH (RFC 4954): PLAIN and LOGIN with the mailbox password (quick tests; an APP mailbox's client
certificate instead, SC.MSS/CONF.12), XOAUTH2 (SC.MSS/CONF.07) and OAUTHBEARER (RFC 7628) with a PSC
access token whose professional owns the mailbox; a PSC session that ends ends the SMTP session
(SC.MSS/CONF.10, .11). Credentials never reach the journal nor the logs."""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING

from aiosmtpd.smtp import AuthResult, LoginPassword

from app.mss import service
from app.mss.smtp import replies
from app.mss.smtp.protocol import MssSMTP
from app.mss.smtp.tls import certificate_addresses
from app.psc import service as psc_service

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.config import Settings


_LOGIN_CUT = re.compile(r"[\s\x00\x01]")
_LOGIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}")


def journal_login(value: str | None) -> str:
    """What the journal may say of a login or SASL ``user``: the address up to the first whitespace, NUL
    or ^A, lower-cased, when it is a plain mailbox address; ``-`` otherwise. A client that forgets the
    XOAUTH2 separators puts ``auth=Bearer <token>`` after the address: it is cut off here, and a value
    that is not an address (a password typed as the login, a token) is never written."""
    if not value:
        return "-"
    head = _LOGIN_CUT.split(value, maxsplit=1)[0]
    return head.lower() if _LOGIN_ADDRESS.fullmatch(head) else "-"


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.encode(), validate=True)
    except Exception:
        return None


def _parse_bearer(text: str, mechanism: str) -> tuple[str | None, str | None]:
    """XOAUTH2 ``user=<u>^Aauth=Bearer <t>^A^A``; OAUTHBEARER (RFC 7628 §3.1) ``n,a=<u>,^A...auth=Bearer <t>^A^A``."""
    user = token = None
    fields = text.split("\x01")
    if mechanism == "OAUTHBEARER" and fields:
        gs2 = fields[0].split(",")
        for item in gs2:
            if item.startswith("a="):
                user = item[2:].replace("=2C", ",").replace("=3D", "=")
        fields = fields[1:]
    for item in fields:
        if item.startswith("user="):
            user = item[5:]
        elif item.lower().startswith("auth="):
            value = item[5:]
            if value.lower().startswith("bearer "):
                token = value[7:].strip()
    return user, token


class SaslMechanisms:
    """The ``auth_*`` mechanisms of the handler (handler-defined mechanisms replace aiosmtpd's built-in
    PLAIN/LOGIN, so credentials are checked asynchronously). Mixed into :class:`app.mss.smtp.handler.MssHandler`,
    which provides ``app``, ``settings`` and ``journal``."""

    app: FastAPI
    settings: Settings

    async def journal(self, server: MssSMTP, *, method: str, outcome: str, status: int | None, rule: str | None,
                      detail: str | None, operation: str) -> None:
        raise NotImplementedError

    async def _login(self, server: MssSMTP, login: bytes, password: bytes, mechanism: str) -> AuthResult:
        address = login.decode("utf-8", "replace")
        peercert = server.transport.get_extra_info("peercert") if server.transport is not None else None
        async with self.app.state.sessionmaker() as session:
            mailbox = await service.get_mailbox(session, address)
            by_certificate = (mailbox is not None and mailbox.type == "APP"
                              and mailbox.address.lower() in certificate_addresses(peercert))
            ok = mailbox is not None and (by_certificate or service.check_password(
                mailbox.password_hash, password.decode("utf-8", "replace")))
            canonical = mailbox.address if mailbox else address
            if by_certificate:
                mechanism += "+client-certificate"
        if not ok:
            server.last_rule = "MSS:auth.password"
            await self.journal(server, method="AUTH", outcome="refused", status=535, rule="MSS:auth.password",
                               detail=f"{mechanism} {journal_login(address)}", operation="mss.smtp.auth")
            return AuthResult(success=False, handled=False)
        server.identity = {"kind": "password", "login": canonical.lower(), "mechanism": mechanism}
        return AuthResult(success=True, auth_data=LoginPassword(canonical.encode(), b""))

    @staticmethod
    async def _response(server: MssSMTP, args: list[str], challenge: str) -> bytes | None:
        """The client's SASL response: the initial response of the AUTH line, or the answer to a 334
        challenge. None when the exchange failed (the reply has been sent)."""
        if len(args) == 1:
            blob = await server.challenge_auth(challenge)
            return blob if isinstance(blob, bytes) else None
        decoded = _b64(args[1])
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
        user, token = _parse_bearer(text, mechanism)
        login = journal_login(user)  # the only form of ``user`` that is echoed or journaled
        error, rule, mailbox_address = None, None, None
        journal_error: str | None = None  # what the journal says when it must not repeat ``error``
        if not token:
            error, rule = "no bearer token in the SASL message (fields separated by ^A)", "MSS:auth.syntax"
        elif user and login == "-":
            error, rule = "the SASL user is not a mailbox address", "MSS:auth.syntax"
        else:
            async with self.app.state.sessionmaker() as session, session.begin():
                try:
                    professional = await psc_service.authenticate_access_token(session, self.settings, token)
                except psc_service.TokenError as exc:
                    error, rule = exc.description, exc.rule
                    journal_error = "PSC access token refused"  # the rule says which check
                else:
                    mailbox = await service.get_mailbox(session, login) if user else None
                    if user and mailbox is None:
                        error, rule = f"unknown mailbox {login}", "MSS:auth.mailbox"
                    elif mailbox is not None and not service.may_use(mailbox, professional.subject_name_id):
                        error = (f"the PSC token of {professional.subject_name_id} does not own mailbox "
                                 f"{mailbox.address}")
                        rule = "MSS:auth.owner"
                    else:
                        owned = await service.mailboxes_of(session, professional.subject_name_id)
                        if mailbox is None and not owned:
                            error, rule = "the professional has no MSSanté mailbox", "MSS:auth.mailbox"
                        mailbox_address = (mailbox.address if mailbox else owned[0].address if owned else None)
        if error:
            server.last_rule = rule
            await self.journal(server, method="AUTH", outcome="refused", status=535, rule=rule,
                               detail=f"{mechanism} {login}: {journal_error or error}", operation="mss.smtp.auth")
            # RFC 7628 §3.2.2 / XOAUTH2: an error challenge, the client answers (^A or empty), then 535.
            challenge = json.dumps({"status": "invalid_token", "schemes": "bearer",
                                    "scope": "openid scope_all"})
            await server.challenge_auth(challenge)
            return AuthResult(success=False, handled=False,
                              message=replies.auth_failure(error))
        server.identity = {"kind": "psc", "login": (mailbox_address or "").lower(),
                           "subject": professional.subject_name_id, "mechanism": mechanism, "token": token}
        return AuthResult(success=True, auth_data=LoginPassword((mailbox_address or "").encode(), b""))

    async def _psc_session_ended(self, server: MssSMTP) -> str | None:
        identity = server.identity
        if not identity or identity.get("kind") != "psc":
            return None
        async with self.app.state.sessionmaker() as session:
            try:
                await psc_service.authenticate_access_token(session, self.settings, identity["token"])
            except psc_service.TokenError as exc:
                return exc.rule or "MSS:auth.psc-ended"
        return None

    async def auth_XOAUTH2(self, server: MssSMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: MssSMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "OAUTHBEARER")
