"""An applicative (APP) mailbox over SMTP with its TLS client certificate (SC.MSS/CONF.12), with smtplib: the
certificate from the control API, then AUTH PLAIN with the address; refused without it, for another mailbox,
and when self-signed (not from the sandbox test CA)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from typing import Any

from tests.mss.imap.clients import (
    APP_BOX,
    OTHER_APP_BOX,
    issue_certificate,
    self_signed_certificate,
    server_context,
    write_pem,
)


def attempt(port: int, context: ssl.SSLContext, login: str = APP_BOX) -> str:
    """STARTTLS with ``context``, then AUTH with ``login`` and a password that is not the mailbox's."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo("lps.test")
            smtp.starttls(context=context)
            smtp.ehlo("lps.test")
            code, _ = smtp.login(login, "not-the-password")
            return str(code)
    except smtplib.SMTPAuthenticationError as exc:
        return f"refused: {exc.smtp_code}"
    except (ssl.SSLError, smtplib.SMTPServerDisconnected, OSError) as exc:
        return f"handshake: {exc}"


async def test_app_mailbox_certificate_over_smtp(app, client, tmp_path):
    issued = await issue_certificate(client)
    port = app.state.smtp_port
    assert {"protocol": "smtp", "host": "127.0.0.1", "port": port, "tls": "STARTTLS",
            "mechanisms": [f"AUTH PLAIN {APP_BOX}", f"AUTH LOGIN {APP_BOX}"]} in issued["endpoints"]
    assert issued["address"] == APP_BOX and "BEGIN CERTIFICATE" in issued["ca_certificate_pem"]

    def context(cert: str | bytes | None = None, key: str | bytes | None = None) -> ssl.SSLContext:
        ctx = server_context(app)
        if cert is not None and key is not None:
            ctx.load_cert_chain(write_pem(tmp_path, "c.pem", cert), write_pem(tmp_path, "k.pem", key))
        return ctx

    async def outcome(*args: Any) -> str:
        return await asyncio.to_thread(attempt, port, *args)

    good = context(issued["certificate_pem"], issued["private_key_pem"])
    assert await outcome(good) == "235"
    assert await outcome(good, OTHER_APP_BOX) == "refused: 535"  # a certificate for another mailbox
    assert await outcome(context()) == "refused: 535"  # no certificate, wrong password
    assert (await outcome(context(*self_signed_certificate(APP_BOX)))).startswith("handshake:")
