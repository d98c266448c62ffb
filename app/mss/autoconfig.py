"""Mail client autoconfiguration (SC.MSS/CONF.04): the Thunderbird-format ``config-v1.1.xml`` an LPS fetches
from ``https://autoconfig.<domain>/``, describing the endpoints that really answer. Open (discovery).

What is named is what listens now: the SMTP listener (STARTTLS, and the implicit-TLS port when one is
configured), the IMAP listener (STARTTLS, and implicit TLS when configured; nothing when IMAP is off), each
with the port it is bound to and the authentication methods it accepts for that mailbox, in Thunderbird's
vocabulary (``OAuth2``: XOAUTH2/OAUTHBEARER with a PSC access token; ``password-cleartext``: LOGIN/PLAIN
with the fixture password; ``TLS-client-cert``: an APP mailbox's certificate from the sandbox test CA).
Implicit TLS is listed before STARTTLS (RFC 8314 §3.3 prefers it), the first method is the preferred one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.mss import mime, service
from app.tenancy import DEFAULT_TENANT, current_tenant

router = APIRouter(tags=["mss"])

_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
WILDCARDS = ("", "0.0.0.0", "::")  # noqa: S104  (addresses a listener binds to mean "every interface")


@dataclass(frozen=True)
class Server:
    """One endpoint of the configuration: ``protocol`` is ``imap`` (an ``incomingServer``) or ``smtp``
    (an ``outgoingServer``); ``socket_type`` is ``SSL`` (implicit TLS) or ``STARTTLS``."""

    protocol: str
    hostname: str
    port: int
    socket_type: str
    authentications: tuple[str, ...]


def authentications(mailbox_type: str | None) -> tuple[str, ...]:
    """The methods the listeners accept for a mailbox of this type (None: unknown address), best first.

    PER/CAB/ORG: a PSC access token whose professional may use the mailbox (SC.MSS/CONF.07), or the
    password; APP: the TLS client certificate naming it (SC.MSS/CONF.12), or the password; a patient
    mailbox (PAT) has no PSC professional, so only the password."""
    if mailbox_type == "APP":
        return ("TLS-client-cert", "password-cleartext")
    if mailbox_type == "PAT":
        return ("password-cleartext",)
    return ("OAuth2", "password-cleartext")


def reachable_host(bound: str | None, request_host: str | None) -> str:
    """The name a client connects to: the bound address, or for a wildcard bind the host the client used
    to reach this HTTP API (it answers there), else ``localhost``."""
    if bound not in WILDCARDS and bound is not None:
        return bound
    return request_host or "localhost"


def servers(state: Any, settings: Any, *, mailbox_type: str | None, request_host: str | None) -> list[Server]:
    """The endpoints listening now, from the bound ports on ``app.state`` (``imap_port``/``imaps_port``
    are None or absent when IMAP is off; ``smtps_port`` None without an implicit-TLS port)."""
    methods = authentications(mailbox_type)
    found: list[Server] = []
    imap_host = reachable_host(getattr(settings, "mss_imap_host", None) or settings.smtp_host, request_host)
    imap_ports = ((getattr(state, "imaps_port", None), "SSL"), (getattr(state, "imap_port", None), "STARTTLS"))
    for port, socket_type in imap_ports:
        if port:
            found.append(Server("imap", imap_host, int(port), socket_type, methods))
    smtp_host = reachable_host(settings.smtp_host, request_host)
    smtp_port = getattr(state, "smtp_port", None) or settings.smtp_port
    for port, socket_type in ((getattr(state, "smtps_port", None), "SSL"), (smtp_port, "STARTTLS")):
        if port:
            found.append(Server("smtp", smtp_host, int(port), socket_type, methods))
    return found


def login_template(tenant: str = DEFAULT_TENANT) -> str:
    """The ``username`` of the configuration: the address (``%EMAILADDRESS%``), after ``<tenant>/`` outside
    the default tenant (the SMTP/IMAP login of a tenant's mailbox, :mod:`app.mss.auth`)."""
    return "%EMAILADDRESS%" if tenant == DEFAULT_TENANT else f"{tenant}/%EMAILADDRESS%"


def render(domain: str, endpoints: list[Server], username: str = "%EMAILADDRESS%") -> str:
    """The ``clientConfig`` document (Thunderbird's config-v1.1 format)."""
    blocks = []
    for server in endpoints:
        element = "incomingServer" if server.protocol == "imap" else "outgoingServer"
        methods = "".join(f"\n      <authentication>{xml_escape(m)}</authentication>" for m in server.authentications)
        blocks.append(
            f"""    <{element} type="{server.protocol}">
      <hostname>{xml_escape(server.hostname)}</hostname>
      <port>{server.port}</port>
      <socketType>{server.socket_type}</socketType>{methods}
      <username>{xml_escape(username)}</username>
    </{element}>
""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id={quoteattr(domain)}>
    <domain>{xml_escape(domain)}</domain>
    <displayName>Ségur Sandbox MSSanté</displayName>
    <displayShortName>MSSanté (sandbox)</displayShortName>
{"".join(blocks)}  </emailProvider>
</clientConfig>
"""


@router.get(
    "/mail/config-v1.1.xml",
    operation_id="mss_autoconfig",
    response_class=Response,
    summary="Mail client autoconfiguration (Thunderbird format), as served at https://autoconfig.<domain>/",
    responses={200: {"content": {"application/xml": {}}}},
)
async def mail_autoconfig(
    request: Request, settings: SettingsDep, session: SessionDep,
    emailaddress: Annotated[str | None, Query(description="the mailbox, e.g. jean.dupont@medecin.mssante.fr")] = None,
) -> Response:
    """SC.MSS/CONF.04: the LPS fetches ``https://autoconfig.<domain>/mail/config-v1.1.xml``, applies it and
    tests the connection. The sandbox describes its own listeners: IMAP (when on) and SMTP, each port
    that is bound, with the authentication methods the mailbox named by ``emailaddress`` may use; under
    ``/t/{tenant}``, the user name is the tenant's login (``{tenant}/%EMAILADDRESS%``)."""
    request_host = request.url.hostname or None
    domain = (emailaddress or "").rsplit("@", 1)[-1].strip()
    if not _DOMAIN.fullmatch(domain):  # what goes in the XML is a host name (no control characters)
        domain = request_host or "localhost"
    # only a plain address is looked up (a NUL or a 10 KB string never reaches the store): anything else is
    # answered as an unknown address, with the methods of PER/CAB/ORG mailboxes
    known = emailaddress is not None and mime.valid_address(emailaddress.strip())
    mailbox = await service.get_mailbox(session, emailaddress) if known and emailaddress else None
    endpoints = servers(request.app.state, settings, mailbox_type=mailbox.type if mailbox else None,
                        request_host=request_host)
    return Response(render(domain, endpoints, login_template(current_tenant())), media_type="application/xml")
