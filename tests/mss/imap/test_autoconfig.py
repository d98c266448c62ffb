"""The autoconfiguration document (SC.MSS/CONF.04) names endpoints that really answer: every server it lists
(IMAP and SMTP, STARTTLS and implicit TLS) is connected to at the host and port it names, with every
authentication method it names, and succeeds, as a mail client applying it would."""

from __future__ import annotations

import asyncio
import base64
import imaplib
import smtplib
import ssl
from typing import Any

import httpx
from lxml import etree

from tests.conftest import BASE_URL
from tests.mss.conftest import DOCTOR, DOCTOR_SNI, PASSWORD
from tests.mss.imap.clients import APP_BOX, issue_certificate, server_context, tls_app, write_pem
from tests.psc.helpers import access_token_for


def imap_session(server: dict[str, str], method: str, address: str, context: ssl.SSLContext, token: str) -> str:
    host, port = server["hostname"], int(server["port"])
    imap: imaplib.IMAP4
    if server["socketType"] == "SSL":
        imap = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=10)
    else:
        imap = imaplib.IMAP4(host, port, timeout=10)
        imap.starttls(ssl_context=context)
    try:
        if method == "OAuth2":
            imap.authenticate("XOAUTH2", lambda _: f"user={address}\x01auth=Bearer {token}\x01\x01".encode())
        elif method == "TLS-client-cert":
            imap.authenticate("EXTERNAL", lambda _: b"")
        else:
            imap.login(address, PASSWORD)
        return str(imap.select("INBOX")[0])
    finally:
        imap.logout()


def smtp_session(server: dict[str, str], method: str, address: str, context: ssl.SSLContext, token: str) -> str:
    host, port = server["hostname"], int(server["port"])
    smtp: smtplib.SMTP
    if server["socketType"] == "SSL":
        smtp = smtplib.SMTP_SSL(host, port, context=context, timeout=10)
    else:
        smtp = smtplib.SMTP(host, port, timeout=10)
        smtp.starttls(context=context)
    with smtp:
        smtp.ehlo("lps.test")
        if method == "OAuth2":
            sasl = base64.b64encode(f"user={address}\x01auth=Bearer {token}\x01\x01".encode()).decode()
            return str(smtp.docmd("AUTH", f"XOAUTH2 {sasl}")[0])
        # TLS-client-cert: AUTH PLAIN with the address, any password (SC.MSS/CONF.12)
        return str(smtp.login(address, PASSWORD if method == "password-cleartext" else "any")[0])


async def test_every_named_endpoint_answers_with_every_named_method(database_url, client, tmp_path):
    token = await access_token_for(client, DOCTOR_SNI)
    issued = await issue_certificate(client, APP_BOX)
    async with tls_app(database_url) as other:
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            documents = {address: (await http.get("/mail/config-v1.1.xml", params={"emailaddress": address})).content
                         for address in (DOCTOR, APP_BOX)}
        plain = server_context(other)
        with_certificate = server_context(other)
        with_certificate.load_cert_chain(write_pem(tmp_path, "c.pem", issued["certificate_pem"]),
                                         write_pem(tmp_path, "k.pem", issued["private_key_pem"]))
        tried: list[tuple[str, str, str, str]] = []
        for address, document in documents.items():
            provider = etree.fromstring(document).find("emailProvider")
            for element in provider.iterchildren("incomingServer", "outgoingServer"):
                server: dict[str, Any] = {child.tag: child.text for child in element}
                assert server["username"] == "%EMAILADDRESS%"
                for method in [a.text for a in element.findall("authentication")]:
                    session = imap_session if element.get("type") == "imap" else smtp_session
                    context = with_certificate if method == "TLS-client-cert" else plain
                    outcome = await asyncio.to_thread(session, server, method, address, context, token)
                    assert outcome in ("OK", "235"), (address, server, method, outcome)
                    tried.append((address, element.get("type"), server["socketType"], method))
    ports = {other.state.imap_port, other.state.imaps_port, other.state.smtp_port, other.state.smtps_port}
    assert None not in ports and len(ports) == 4
    # both protocols, both TLS modes, every method of each mailbox
    assert len(tried) == 2 * 2 * 2 * 2, tried
    assert {(t[1], t[2]) for t in tried} == {(protocol, socket) for protocol in ("imap", "smtp")
                                             for socket in ("SSL", "STARTTLS")}
    assert {t[3] for t in tried if t[0] == APP_BOX} == {"TLS-client-cert", "password-cleartext"}
