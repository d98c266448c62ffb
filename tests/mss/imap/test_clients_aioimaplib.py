"""aioimaplib, an asyncio IMAP client, on the application's own loop: IDLE (RFC 2177) woken by an SMTP delivery
and by a flag set over HTTP, the XDM part found in the BODYSTRUCTURE and fetched with BODY.PEEK, unzipped."""

from __future__ import annotations

import asyncio
import base64
import io
import ssl
import time
import zipfile
from typing import Any

import aioimaplib

from tests.mss.conftest import DOCTOR, DOCTOR_SNI
from tests.mss.helpers import sample_xdm
from tests.mss.imap.clients import deliver, fetch_items, find_part, listing, server_context
from tests.psc.helpers import access_token_for

WAKE_UP_BOUND = 2.0
"""Seconds between the SMTP server's 250 and the untagged EXISTS reaching an IDLE client: loose on purpose
(a loaded CI machine); bench/mss_imap.py measures the real figure (milliseconds)."""


async def starttls(imap: aioimaplib.IMAP4, context: ssl.SSLContext) -> None:
    """STARTTLS (RFC 2595 / RFC 3501 §6.2.1): aioimaplib sends the command but has no helper to switch the
    transport; asyncio's own ``start_tls`` does it, then CAPABILITY is asked again (§6.2.1: it may change)."""
    protocol = imap.protocol
    response = await protocol.execute(aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop))
    assert response.result == "OK", response
    protocol.transport = await asyncio.get_running_loop().start_tls(
        protocol.transport, protocol, context, server_hostname="127.0.0.1")
    await protocol.capability()


def literal_of(response: Any) -> bytes:
    """The first literal of a FETCH response (aioimaplib hands literals as ``bytearray`` lines)."""
    return bytes(next(line for line in response.lines if isinstance(line, bytearray)))


async def test_idle_woken_by_smtp_delivery_then_xdm_part_fetched_and_unzipped(app, client, smtp_call):
    imap = aioimaplib.IMAP4(host="127.0.0.1", port=app.state.imap_port, timeout=10)
    await imap.wait_hello_from_server()
    assert "LOGINDISABLED" in imap.protocol.capabilities  # no credentials before TLS (RFC 3501 §6.2.3)
    await starttls(imap, server_context(app))
    assert "IDLE" in imap.protocol.capabilities and "LOGINDISABLED" not in imap.protocol.capabilities
    token = await access_token_for(client, DOCTOR_SNI)
    assert (await imap.xoauth2(DOCTOR, token)).result == "OK"
    assert (await imap.select("INBOX")).result == "OK"

    idle = await imap.idle_start(timeout=30)
    xdm_bytes = sample_xdm()
    await deliver(smtp_call, xdm_bytes=xdm_bytes)
    answered = time.perf_counter()  # the SMTP 250: the delivery is committed
    pushed = await imap.wait_server_push(timeout=WAKE_UP_BOUND)
    woken = time.perf_counter() - answered
    assert any(isinstance(line, bytes) and line.endswith(b"EXISTS") for line in pushed), pushed
    assert woken <= WAKE_UP_BOUND

    # a flag set by another interface reaches the IDLE client too (RFC 3501 §7.4.2 unsolicited FETCH)
    [message] = await listing(client)
    assert (await client.post(f"/sandbox/v1/mailboxes/{DOCTOR}/messages/{message['uid']}/read")).status_code == 200
    pushed = await imap.wait_server_push(timeout=WAKE_UP_BOUND)
    assert any(b"FETCH" in line and b"\\Seen" in line for line in pushed if isinstance(line, bytes)), pushed
    imap.idle_done()
    assert (await asyncio.wait_for(idle, 5)).result == "OK"

    uid = message["imap_uid"]
    response = await imap.uid("fetch", str(uid), "(BODYSTRUCTURE)")
    assert response.result == "OK", response
    line = next(line for line in response.lines if isinstance(line, bytes) and b"BODYSTRUCTURE" in line)
    section = find_part(fetch_items(line.split(b"FETCH", 1)[1])["BODYSTRUCTURE"], "IHE_XDM.ZIP")
    assert section is not None

    response = await imap.uid("fetch", str(uid), f"(BODY.PEEK[{section}])")
    assert response.result == "OK", response
    archive = base64.b64decode(literal_of(response))
    assert archive == xdm_bytes
    with zipfile.ZipFile(io.BytesIO(archive)) as unzipped:
        names = unzipped.namelist()
        assert "IHE_XDM/SUBSET01/METADATA.XML" in names, names
        assert unzipped.read("IHE_XDM/SUBSET01/METADATA.XML").lstrip().startswith(b"<")
    assert (await imap.logout()).result == "OK"
