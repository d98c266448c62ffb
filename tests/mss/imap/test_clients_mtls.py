"""An applicative (APP) mailbox over IMAP with its TLS client certificate (SC.MSS/CONF.12), with Python's
imaplib: the certificate from the control API authenticates with ``AUTHENTICATE EXTERNAL`` (RFC 4422
Appendix A) or LOGIN with the address; refused without it, for another mailbox, and when self-signed."""

from __future__ import annotations

import asyncio
import imaplib
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


def attempt(port: int, context: ssl.SSLContext, how: str, identity: str = APP_BOX) -> str:
    """STARTTLS with ``context``, authenticate, SELECT INBOX: ``OK`` or what refused it."""
    try:
        imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    except OSError as exc:
        return f"connect: {exc}"
    try:
        imap.starttls(ssl_context=context)
        if how == "EXTERNAL":  # the authorization identity: empty = the one the certificate names
            imap.authenticate("EXTERNAL", lambda _challenge: identity.encode() if identity != "-" else b"")
        else:
            imap.login(identity, "not-the-password")
        return imap.select("INBOX")[0]
    except imaplib.IMAP4.abort as exc:
        return f"handshake: {exc}"
    except imaplib.IMAP4.error as exc:
        return f"refused: {exc}"
    except (ssl.SSLError, OSError) as exc:
        return f"handshake: {exc}"
    finally:
        try:
            imap.shutdown()
        except OSError:
            pass


async def test_app_mailbox_certificate_over_imap(app, client, tmp_path):
    issued = await issue_certificate(client)
    port = app.state.imap_port
    assert {"protocol": "imap", "host": "127.0.0.1", "port": port, "tls": "STARTTLS",
            "mechanisms": ["AUTHENTICATE EXTERNAL", f"LOGIN {APP_BOX} <any password>",
                           f"AUTHENTICATE PLAIN {APP_BOX}"]} in issued["endpoints"]

    def context(cert: str | bytes | None = None, key: str | bytes | None = None) -> ssl.SSLContext:
        ctx = server_context(app)
        if cert is not None and key is not None:
            ctx.load_cert_chain(write_pem(tmp_path, "c.pem", cert), write_pem(tmp_path, "k.pem", key))
        return ctx

    good = context(issued["certificate_pem"], issued["private_key_pem"])
    none = context()
    foreign = context(*self_signed_certificate(APP_BOX))

    async def outcome(*args: Any) -> str:
        return await asyncio.to_thread(attempt, port, *args)

    assert await outcome(good, "EXTERNAL", "-") == "OK"
    assert await outcome(good, "EXTERNAL", APP_BOX) == "OK"
    assert await outcome(good, "LOGIN") == "OK"  # the certificate is the credential, not the password
    # no certificate: EXTERNAL is not even offered (AUTH=EXTERNAL is announced only with one)
    refused = await outcome(none, "EXTERNAL", "-")
    assert refused.startswith("refused: [CANNOT]") or "AUTHENTICATIONFAILED" in refused, refused
    for refused in (await outcome(none, "LOGIN"),  # no certificate, wrong password
                    await outcome(good, "LOGIN", OTHER_APP_BOX),  # a certificate for another mailbox
                    await outcome(good, "EXTERNAL", OTHER_APP_BOX)):
        assert refused.startswith("refused:") and "AUTHENTICATIONFAILED" in refused, refused
    assert (await outcome(foreign, "EXTERNAL", "-")).startswith("handshake:")  # not from the test CA
    assert (await client.post("/sandbox/v1/mailboxes/claire.fontaine@medecin.mssante.fr/certificates")
            ).status_code == 422  # certificates are for APP mailboxes
