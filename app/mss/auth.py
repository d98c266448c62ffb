"""The credential checks shared by the SMTP and IMAP listeners (SMTP AUTH, RFC 4954; IMAP LOGIN and
AUTHENTICATE, RFC 3501 §6.2): the mailbox password (quick tests), an applicative (APP) mailbox's TLS
client certificate chained to the sandbox test CA (SC.MSS/CONF.12; the password is then not checked), and a
PSC access token whose professional owns the mailbox (XOAUTH2, SC.MSS/CONF.07; OAUTHBEARER, RFC 7628),
which must stay valid for the session to go on (SC.MSS/CONF.10, .11).

Each check takes its own store session from the caller and answers a value, never a protocol's reply:
the listeners shape the answer (SMTP ``535 5.7.8``, IMAP ``NO [AUTHENTICATIONFAILED]``). Credentials never
reach the journal nor the logs: what may be written of a login is :func:`journal_login`'s form of it.

Tenants (:mod:`app.tenancy`): a login ``<tenant>/<login>`` (SMTP AUTH PLAIN/LOGIN, IMAP LOGIN and AUTHENTICATE
PLAIN, the ``user`` of XOAUTH2/OAUTHBEARER, the authzid of EXTERNAL) is ``<login>`` in that tenant's world:
:func:`login_tenant` reads it, the check runs in the tenant, and a session that succeeds stays in it for the
rest of the connection (:func:`app.tenancy.set_tenant`). A plain login is the default tenant's; a tenant that
does not exist is an authentication failure like a wrong password (nothing tells which tenants exist). A
session that never logs in (an inbound relay from another operator, a client sending unauthenticated mail
to an external domain) stays in the default tenant: a per-tenant port range, the issue's other way to
address a tenant, is not built.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.mss import service
from app.psc import service as psc_service
from app.tenancy import DEFAULT_TENANT, is_valid_tenant_name

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.config import Settings
    from app.mss.models import MssMailbox


_LOGIN_CUT = re.compile(r"[\s\x00\x01]")
_LOGIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}")

BEARER_ERROR_CHALLENGE = json.dumps({"status": "invalid_token", "schemes": "bearer", "scope": "openid scope_all"})
"""RFC 7628 §3.2.2 (and Google's XOAUTH2): the server's error challenge before it refuses a token."""


def journal_login(value: str | None) -> str:
    """What the journal may say of a login or SASL ``user``: the address up to the first whitespace, NUL
    or ^A, lower-cased, when it is a plain mailbox address; ``-`` otherwise. A client that forgets the
    XOAUTH2 separators puts ``auth=Bearer <token>`` after the address: it is cut off here, and a value
    that is not an address (a password typed as the login, a token) is never written."""
    if not value:
        return "-"
    head = _LOGIN_CUT.split(value, maxsplit=1)[0]
    return head.lower() if _LOGIN_ADDRESS.fullmatch(head) else "-"


def split_login(value: str) -> tuple[str | None, str]:
    """``<tenant>/<login>`` -> (tenant, login); a login without a tenant (no ``/``, or what is before the first
    ``/`` is not a tenant's name) -> (None, login). A default-tenant address whose local part holds a ``/``
    after a word that could name a tenant cannot be told apart: it is read as a tenant's login."""
    head, slash, rest = value.partition("/")
    if slash and rest and is_valid_tenant_name(head):
        return head, rest
    return None, value


async def login_tenant(app: Any, value: str) -> tuple[str | None, str]:
    """The tenant a login names and the login within it: (``default``, login) without a prefix, (None, login)
    when the prefix names no tenant that exists (the caller answers an authentication failure)."""
    name, login = split_login(value)
    if name is None or name == DEFAULT_TENANT:
        return DEFAULT_TENANT, login
    from app.api.tenants import directory_of

    return (name if await directory_of(app).exists(app.state.sessionmaker, name) else None), login


def unknown_tenant(mechanism: str, login: str) -> Refused:
    """The refusal of a login whose tenant does not exist: worded as a wrong password (no hint of which
    tenants exist); the journal (of the default tenant) says why."""
    return Refused("invalid credentials", "MSS:auth.tenant", f"{mechanism} {journal_login(login)}: unknown tenant")


def mss_actor(login: str | None, *, tried: str | None = None) -> str | None:
    """The calling software as the conformance report keys an SMTP or IMAP session: ``mss:<login>``, the
    authenticated ``login``, else the login ``tried`` (the session facts' :func:`journal_login`, when the
    authentication failed); None when neither names a mailbox (``-``)."""
    name = login or tried
    return f"mss:{name}" if name and name != "-" else None


def b64decode(value: str | bytes) -> bytes | None:
    """A SASL response (RFC 4422 §3.1 carried in base64 by both protocols), or None when not base64."""
    try:
        return base64.b64decode(value.encode() if isinstance(value, str) else value, validate=True)
    except Exception:
        return None


def parse_bearer(text: str, mechanism: str) -> tuple[str | None, str | None]:
    """XOAUTH2 ``user=<u>^Aauth=Bearer <t>^A^A``; OAUTHBEARER (RFC 7628 §3.1) ``n,a=<u>,^A...auth=Bearer <t>^A^A``.
    Returns (user, token), either None when absent."""
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


_XOAUTH2 = re.compile(r"user=[^\x00-\x20\x7f]+\x01auth=Bearer [^\x00-\x20\x7f]+\x01\x01")


def xoauth2_well_formed(text: str) -> bool:
    """SC.MSS/CONF.07: the XOAUTH2 string is exactly ``user=<mailbox>^Aauth=Bearer <token>^A^A`` (Google's
    XOAUTH2 protocol, as the MSSanté API LPS takes it). For the journal's facts: says nothing of the token."""
    return _XOAUTH2.fullmatch(text) is not None


def tls_facts(transport: Any) -> dict[str, Any]:
    """The TLS version and cipher a session negotiated (SC.MSS/CONF.01-.03), for the journal's facts."""
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return {"tls_version": None, "tls_cipher": None}
    cipher = ssl_object.cipher()
    return {"tls_version": ssl_object.version(), "tls_cipher": cipher[0] if cipher else None}


@dataclass(frozen=True)
class Identity:
    """Who a session authenticated as. ``kind``: ``password`` (the mailbox password, or an APP mailbox's
    client certificate: then ``mechanism`` ends with ``+client-certificate``) or ``psc`` (a PSC access
    token: ``subject`` is its SubjectNameID, ``token`` the token, kept to check it stays valid)."""

    kind: str
    login: str
    """The mailbox address, lower-cased ("" when a PSC professional has no mailbox and named none)."""
    mechanism: str
    mailbox_id: int | None = None
    subject: str | None = None
    token: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "login": self.login, "mechanism": self.mechanism}
        if self.subject is not None:
            data["subject"] = self.subject
        if self.token is not None:
            data["token"] = self.token
        return data


@dataclass(frozen=True)
class Refused:
    """A refused authentication: ``error`` is what the client is told, ``rule`` the journal's rule,
    ``journal`` what the journal says (never a credential; the login only in :func:`journal_login`'s form)."""

    error: str
    rule: str
    journal: str


def certificate_addresses(peercert: dict[str, Any] | None) -> set[str]:
    """Mailbox addresses a verified TLS client certificate names (subject CN, rfc822Name SANs)."""
    if not peercert:
        return set()
    found = {value.lower() for kind, value in peercert.get("subjectAltName", ()) if kind == "email"}
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                found.add(str(value).lower())
    return found


def _certified(mailbox: MssMailbox | None, peercert: dict[str, Any] | None) -> bool:
    return (mailbox is not None and mailbox.type == "APP"
            and mailbox.address.lower() in certificate_addresses(peercert))


async def password_login(session: AsyncSession, *, login: str, password: str, mechanism: str,
                         peercert: dict[str, Any] | None) -> Identity | Refused:
    """The mailbox password; or, for an APP mailbox whose verified TLS client certificate names it, the
    certificate (the password is then not checked, SC.MSS/CONF.12)."""
    mailbox = await service.get_mailbox(session, login)
    by_certificate = _certified(mailbox, peercert)
    if mailbox is None or not (by_certificate or service.check_password(mailbox.password_hash, password)):
        return Refused("invalid credentials", "MSS:auth.password", f"{mechanism} {journal_login(login)}")
    if by_certificate:
        mechanism += "+client-certificate"
    return Identity(kind="password", login=mailbox.address.lower(), mechanism=mechanism, mailbox_id=mailbox.id)


async def certificate_login(session: AsyncSession, *, authzid: str, peercert: dict[str, Any] | None,
                            mechanism: str = "EXTERNAL") -> Identity | Refused:
    """SASL EXTERNAL (RFC 4422 Appendix A) over a verified TLS client certificate: the APP mailbox the
    certificate names (``authzid``, when given, must be one of them)."""
    named = sorted(certificate_addresses(peercert))
    if not named:
        return Refused("no verified TLS client certificate: EXTERNAL needs one issued by the sandbox test CA",
                       "MSS:auth.certificate", f"{mechanism} -: no client certificate")
    candidates = [authzid] if authzid else named
    for address in candidates:
        mailbox = await service.get_mailbox(session, address)
        if _certified(mailbox, peercert):
            assert mailbox is not None
            return Identity(kind="password", login=mailbox.address.lower(), mechanism=f"{mechanism}+client-certificate",
                            mailbox_id=mailbox.id)
    who = journal_login(authzid) if authzid else "-"
    if authzid:
        return Refused(f"the client certificate does not name the applicative mailbox {who}",
                       "MSS:auth.certificate", f"{mechanism} {who}: certificate of another mailbox")
    return Refused("the client certificate names no applicative (APP) mailbox of the sandbox",
                   "MSS:auth.certificate", f"{mechanism} -: no APP mailbox named")


async def bearer_login(session: AsyncSession, settings: Settings, *, user: str | None, token: str | None,
                       mechanism: str) -> Identity | Refused:
    """A PSC access token (XOAUTH2, OAUTHBEARER): valid, and its professional may use the mailbox ``user``
    names (or, without ``user``, owns one). ``session`` must be in a transaction: the professional's PER
    mailbox may be created on the way (:func:`app.mss.service.mailboxes_of`)."""
    login = journal_login(user)  # the only form of ``user`` that is echoed or journaled
    if not token:
        error = "no bearer token in the SASL message (fields separated by ^A)"
        return Refused(error, "MSS:auth.syntax", f"{mechanism} {login}: {error}")
    if user and login == "-":
        error = "the SASL user is not a mailbox address"
        return Refused(error, "MSS:auth.syntax", f"{mechanism} {login}: {error}")
    try:
        professional = await psc_service.authenticate_access_token(session, settings, token)
    except psc_service.TokenError as exc:
        # the rule says which check refused; the journal does not repeat a text that may quote the token
        return Refused(exc.description, exc.rule or "MSS:auth.token", f"{mechanism} {login}: PSC access token refused")
    mailbox = await service.get_mailbox(session, login) if user else None
    if user and mailbox is None:
        error = f"unknown mailbox {login}"
        return Refused(error, "MSS:auth.mailbox", f"{mechanism} {login}: {error}")
    if mailbox is not None and not service.may_use(mailbox, professional.subject_name_id):
        error = f"the PSC token of {professional.subject_name_id} does not own mailbox {mailbox.address}"
        return Refused(error, "MSS:auth.owner", f"{mechanism} {login}: {error}")
    owned = await service.mailboxes_of(session, professional.subject_name_id)  # may create the PER mailbox
    if mailbox is None:
        if not owned:
            error = "the professional has no MSSanté mailbox"
            return Refused(error, "MSS:auth.mailbox", f"{mechanism} {login}: {error}")
        mailbox = owned[0]
    return Identity(kind="psc", login=mailbox.address.lower(), mechanism=mechanism, mailbox_id=mailbox.id,
                    subject=professional.subject_name_id, token=token)


async def psc_session_ended(session: AsyncSession, settings: Settings, identity: Identity | dict[str, Any] | None
                            ) -> str | None:
    """SC.MSS/CONF.10, .11: the rule that ends a session authenticated by a PSC token that is no longer
    valid (expired, revoked, PSC logout); None while it is (and for other kinds of identity)."""
    if identity is None:
        return None
    kind = identity.get("kind") if isinstance(identity, dict) else identity.kind
    token = identity.get("token") if isinstance(identity, dict) else identity.token
    if kind != "psc" or not token:
        return None
    try:
        await psc_service.authenticate_access_token(session, settings, token)
    except psc_service.TokenError as exc:
        return exc.rule or "MSS:auth.psc-ended"
    return None
