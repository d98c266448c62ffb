"""The IMAP listener as a client meets it (RFC 3501 with imaplib): greeting and capabilities, STARTTLS and
LOGINDISABLED before it, LOGIN and AUTHENTICATE (PLAIN, XOAUTH2 and OAUTHBEARER with a real PSC token,
EXTERNAL for an APP mailbox over mutual TLS), the implicit-TLS port and the off switch, commands in the
wrong state, ID, NAMESPACE, the session journal; never a credential in the journal."""

from __future__ import annotations

import asyncio
import base64
import imaplib
import json
import ssl

from tests.mss.asking import SECRET, journal_dump
from tests.mss.conftest import DOCTOR, DOCTOR_SNI, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.imap.server_helpers import Raw, code_of, command, connect, own_sandbox, tls_context
from tests.psc.helpers import access_token_for

APP_BOX = "resultats@labo-b.mssante.fr"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def journal_when(client, needle: str, **params) -> str:  # type: ignore[no-untyped-def]
    """The journal once it holds ``needle`` (a session's entry is written when the server closes it)."""
    dump = ""
    for _ in range(40):
        dump = await journal_dump(client, protocol="imap", **params)
        if needle in dump:
            return dump
        await asyncio.sleep(0.05)
    return dump


async def test_greeting_starttls_logindisabled_login(app, client):
    def before_tls() -> list[bytes]:
        raw = Raw(app.state.imap_port)
        lines = [raw.greeting]
        for line in (b"a1 LOGIN " + DOCTOR.encode() + b" " + PASSWORD.encode(), b"a2 AUTHENTICATE PLAIN AGFiYwBk",
                     b"a3 SELECT INBOX", b"a4 CAPABILITY"):
            raw.send(line + b"\r\n")
            lines += raw.until(line.split()[0])
        raw.close()
        return lines

    def starttls_injection() -> tuple[bytes, list[bytes]]:
        """RFC 2595 §3.1 (CVE-2011-0411): what the client sent in clear after STARTTLS is thrown away."""
        raw = Raw(app.state.imap_port)
        raw.send(b"s1 STARTTLS\r\ns2 LOGOUT\r\n")
        ok = raw.line()
        raw.sock = tls_context(app).wrap_socket(raw.sock, server_hostname="localhost")
        raw.send(b"s3 NOOP\r\n")
        after = raw.until(b"s3")
        raw.close()
        return ok, after

    ok, after = await asyncio.to_thread(starttls_injection)
    assert ok == b"s1 OK Begin TLS negotiation now" and after == [b"s3 OK NOOP completed"]
    lines = await asyncio.to_thread(before_tls)
    greeting = lines[0].decode()
    assert greeting.startswith("* OK [CAPABILITY IMAP4rev1 ") and "imap.sandbox.mssante.fr" in greeting
    assert "STARTTLS" in greeting and "LOGINDISABLED" in greeting and "AUTH=" not in greeting  # RFC 3501 §6.2.3
    assert lines[1].startswith(b"a1 NO [PRIVACYREQUIRED]")  # RFC 5530
    assert lines[2].startswith(b"a2 NO [PRIVACYREQUIRED]")
    assert lines[3].startswith(b"a3 BAD") and b"LOGIN or AUTHENTICATE first" in lines[3]
    assert lines[4].startswith(b"* CAPABILITY") and lines[5].startswith(b"a4 OK")

    def after_tls() -> tuple[tuple[str, ...], tuple[str, ...], str]:
        imap = connect(app, login=None)
        before = imap.capabilities
        try:
            imap.login(DOCTOR, "wrong-" + SECRET)
        except imaplib.IMAP4.error as exc:
            refused = str(exc)
        else:
            refused = ""
        typ, data = imap.login(DOCTOR, PASSWORD)
        assert typ == "OK" and code_of(data[0]).startswith("CAPABILITY")
        after = tuple(imap.capability()[1][0].decode().split())
        imap.logout()
        return before, after, refused

    before, after, refused = await asyncio.to_thread(after_tls)
    assert {"AUTH=PLAIN", "AUTH=XOAUTH2", "AUTH=OAUTHBEARER", "SASL-IR", "IDLE", "UIDPLUS", "MOVE", "LITERAL+",
            "NAMESPACE", "ID", "UNSELECT", "SPECIAL-USE"} <= set(before)
    assert "STARTTLS" not in before and "LOGINDISABLED" not in before and "AUTH=EXTERNAL" not in before
    assert not any(c.startswith("AUTH=") for c in after)
    assert "[AUTHENTICATIONFAILED]" in refused  # RFC 5530
    dump = await journal_when(client, "mss.imap.session")
    assert f"LOGIN {DOCTOR}" in dump and "MSS:auth.password" in dump and "mss.imap.login" in dump
    assert f"identity={DOCTOR}" in dump and "tls=yes" in dump
    assert SECRET not in dump and "wrong-" not in dump
    ready = await client.get("/readyz")
    assert ready.json()["checks"]["imap"] == "ok"


async def test_authenticate_plain_bearer_and_cancel(app, client):
    token = await access_token_for(client, DOCTOR_SNI)
    other = await access_token_for(client, "810001000032")

    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        imap = connect(app, login=None)
        # PLAIN with the continuation (imaplib's way), then SASL-IR (RFC 4959)
        typ, _ = imap.authenticate("PLAIN", lambda _: f"\0{DOCTOR}\0{PASSWORD}".encode())
        seen["plain"] = typ
        imap.logout()
        imap = connect(app, login=None)
        seen["plain-ir"] = imap._simple_command("AUTHENTICATE", "PLAIN", b64(f"{DOCTOR}\0{DOCTOR}\0{PASSWORD}"))[0]
        imap.logout()
        imap = connect(app, login=None)
        seen["authzid"] = command(imap, "AUTHENTICATE PLAIN " + b64(f"{HOSPITAL_DOCTOR}\0{DOCTOR}\0{PASSWORD}"))[-1]
        # XOAUTH2 with a real PSC token (SC.MSS/CONF.07), then SELECT works
        typ, _ = imap.authenticate("XOAUTH2", lambda _: f"user={DOCTOR}\x01auth=Bearer {token}\x01\x01".encode())
        seen["xoauth2"] = typ
        seen["select"] = imap.select("INBOX")[0]
        imap.logout()
        # OAUTHBEARER with its initial response (RFC 7628 §3.1)
        imap = connect(app, login=None)
        sasl = f"n,a={DOCTOR},\x01host=localhost\x01port=143\x01auth=Bearer {token}\x01\x01"
        seen["oauthbearer"] = imap._simple_command("AUTHENTICATE", "OAUTHBEARER", b64(sasl))[0]
        imap.logout()
        # the token of another professional: error challenge (RFC 7628 §3.2.2), then NO
        imap = connect(app, login=None)
        challenges: list[bytes] = []

        def answer(challenge: bytes) -> bytes:
            challenges.append(challenge)
            return f"user={DOCTOR}\x01auth=Bearer {other}\x01\x01".encode() if len(challenges) == 1 else b""

        try:
            imap.authenticate("XOAUTH2", answer)
        except imaplib.IMAP4.error as exc:
            seen["owner"] = str(exc)
        seen["challenge"] = challenges[-1]
        # a token that is not one, in the initial response (RFC 4959): the error challenge, then NO
        lines = command(imap, "AUTHENTICATE XOAUTH2 " + b64(f"user={DOCTOR}\x01auth=Bearer {SECRET}\x01\x01")
                        + "\r\n")
        seen["bad-token"] = lines[-1]
        imap.shutdown()
        # "*" cancels the exchange (RFC 3501 §6.2.2): tagged BAD
        raw = Raw(app.state.imap_port)
        raw.send(b"c1 STARTTLS\r\n")
        raw.until(b"c1")
        raw.sock = tls_context(app).wrap_socket(raw.sock, server_hostname="localhost")
        raw.send(b"c2 AUTHENTICATE PLAIN\r\n")
        seen["continuation"] = raw.line()
        raw.send(b"*\r\n")
        seen["cancel"] = raw.line()
        raw.send(b"c3 AUTHENTICATE PLAIN !!notbase64\r\n")
        seen["not-base64"] = raw.line()
        raw.send(b"c4 AUTHENTICATE CRAM-MD5\r\n")
        seen["mechanism"] = raw.line()
        raw.send(f"c6 AUTHENTICATE {SECRET}\r\n".encode())  # a token typed where the mechanism goes
        seen["not-mechanism"] = raw.line()
        # LOGIN with a synchronising literal (RFC 3501 §4.3: "+" first), then a LITERAL+ one (RFC 7888)
        raw.send(b"c5 LOGIN {%d}\r\n" % len(DOCTOR))
        seen["literal-continuation"] = raw.line()
        raw.send(DOCTOR.encode() + b" {%d+}\r\n" % len(PASSWORD) + PASSWORD.encode() + b"\r\n")
        seen["literal-login"] = raw.line()
        raw.close()
        return seen

    seen = await asyncio.to_thread(work)
    assert seen["plain"] == seen["plain-ir"] == seen["xoauth2"] == seen["select"] == seen["oauthbearer"] == "OK"
    assert "[AUTHORIZATIONFAILED]" in str(seen["authzid"])
    assert "[AUTHENTICATIONFAILED]" in str(seen["owner"]) and "does not own" in str(seen["owner"])
    assert json.loads(seen["challenge"])["status"] == "invalid_token"  # type: ignore[arg-type]
    assert "[AUTHENTICATIONFAILED]" in str(seen["bad-token"])
    assert seen["continuation"] == b"+ "
    assert seen["cancel"].startswith(b"c2 BAD")  # type: ignore[union-attr]
    assert seen["not-base64"].startswith(b"c3 BAD")  # type: ignore[union-attr]
    assert seen["mechanism"].startswith(b"c4 NO [CANNOT]")  # type: ignore[union-attr]
    assert seen["not-mechanism"] == b"c6 NO [CANNOT] unsupported SASL mechanism (not a mechanism name)"
    assert seen["literal-continuation"].startswith(b"+ ")  # type: ignore[union-attr]
    assert seen["literal-login"].startswith(b"c5 OK [CAPABILITY ")  # type: ignore[union-attr]
    dump = await journal_when(client, "mss.imap.authenticate", operation="mss.imap.authenticate")
    assert f"XOAUTH2 {DOCTOR}: PSC access token refused" in dump and "MSS:auth.owner" in dump
    assert SECRET not in dump and token not in dump and other not in dump and "Bearer" not in dump


async def test_psc_session_ends_when_the_token_is_revoked(app, client):
    """SC.MSS/CONF.10: once the PSC token is revoked, the operator ends the IMAP session (``* BYE``)."""
    token = await access_token_for(client, DOCTOR_SNI)
    loop = asyncio.get_running_loop()
    app.state.imap_server.psc_recheck_seconds = 0.0
    try:
        def work() -> str:
            imap = connect(app, login=None)
            imap.authenticate("XOAUTH2", lambda _: f"user={DOCTOR}\x01auth=Bearer {token}\x01\x01".encode())
            assert imap.select("INBOX")[0] == "OK"
            revoked = asyncio.run_coroutine_threadsafe(client.post(
                "/auth/realms/esante-wallet/protocol/openid-connect/revoke",
                data={"token": token, "client_id": "segur-sandbox-public"}), loop).result(20)
            assert revoked.status_code == 200, revoked.text
            try:
                imap.noop()
            except imaplib.IMAP4.abort as exc:
                return str(exc)
            return "not ended"

        ended = await asyncio.to_thread(work)
    finally:
        app.state.imap_server.psc_recheck_seconds = 5.0
    assert "PSC session ended" in ended


async def test_app_mailbox_over_mutual_tls(app, client, tmp_path):
    """SC.MSS/CONF.12: an APP mailbox's client certificate (sandbox test CA) authenticates it: AUTHENTICATE
    EXTERNAL (RFC 4422 Appendix A), or LOGIN with its address and any password."""
    issued = await client.post(f"/sandbox/v1/mailboxes/{APP_BOX}/certificates")
    assert issued.status_code == 201, issued.text
    body = issued.json()
    (tmp_path / "c.pem").write_text(body["certificate_pem"])
    (tmp_path / "k.pem").write_text(body["private_key_pem"])
    mutual = tls_context(app)
    mutual.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")

    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        imap = connect(app, login=None, context=mutual)
        seen["caps"] = imap.capabilities
        seen["external"] = imap.authenticate("EXTERNAL", lambda _: b"")[0]
        seen["list"] = imap.list()[0]
        imap.logout()
        imap = connect(app, login=(APP_BOX, "not-the-password"), context=mutual)
        seen["login"] = imap.state
        imap.logout()
        imap = connect(app, login=None, context=mutual)
        try:
            imap.login("dpi@hopital-a.mssante.fr", "not-the-password")  # the certificate names another box
        except imaplib.IMAP4.error as exc:
            seen["other"] = str(exc)
        try:
            imap.authenticate("EXTERNAL", lambda _: b"dpi@hopital-a.mssante.fr")
        except imaplib.IMAP4.error as exc:
            seen["other-external"] = str(exc)
        imap.shutdown()
        imap = connect(app, login=None)  # no client certificate
        seen["plain-caps"] = imap.capabilities
        try:
            imap.login(APP_BOX, "not-the-password")
        except imaplib.IMAP4.error as exc:
            seen["no-cert"] = str(exc)
        try:
            imap.authenticate("EXTERNAL", lambda _: b"")
        except imaplib.IMAP4.error as exc:
            seen["no-cert-external"] = str(exc)
        imap.shutdown()
        return seen

    seen = await asyncio.to_thread(work)
    assert "AUTH=EXTERNAL" in seen["caps"] and "AUTH=EXTERNAL" not in seen["plain-caps"]  # type: ignore[operator]
    assert seen["external"] == seen["list"] == "OK" and seen["login"] == "AUTH"
    assert "[AUTHENTICATIONFAILED]" in str(seen["other"]) and "[AUTHENTICATIONFAILED]" in str(seen["other-external"])
    assert "[AUTHENTICATIONFAILED]" in str(seen["no-cert"]) and "[CANNOT]" in str(seen["no-cert-external"])
    dump = await journal_when(client, "EXTERNAL+client-certificate")
    assert f"identity={APP_BOX} mechanism=EXTERNAL+client-certificate" in dump


async def test_wrong_state_unknown_command_id_namespace(app, client):
    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        imap = connect(app)
        for name, line in (("fetch", "FETCH 1 FLAGS"), ("login", "LOGIN a b"), ("starttls", "STARTTLS"),
                           ("unknown", "XYZZY"), ("uid-select", "UID SELECT INBOX")):
            seen[name] = command(imap, line)[-1]
            imap.noop()  # three BAD in a row end the session
        seen["id"] = command(imap, '("name" "pytest-imaplib" "version" "1")'.join(("ID ", "")))
        seen["namespace"] = imap.namespace()[1]
        seen["id-odd"] = command(imap, 'ID ("name")')[-1]
        imap.logout()
        return seen

    seen = await asyncio.to_thread(work)
    assert "needs a selected mailbox" in str(seen["fetch"])
    assert "only before authentication" in str(seen["login"]) and "only before" in str(seen["starttls"])
    assert "unknown command XYZZY" in str(seen["unknown"]) and "unknown command UID SELECT" in str(seen["uid-select"])
    assert b'* ID ("name" "Segur Sandbox"' in seen["id"][0] and b"OK" in seen["id"][1]  # type: ignore[index]
    assert seen["namespace"] == [b'(("" "/")) NIL NIL']
    assert "ID takes NIL or a list" in str(seen["id-odd"])
    dump = await journal_when(client, "client=pytest-imaplib")
    assert "IMAP:state" in dump and "IMAP:unknown-command" in dump


async def test_implicit_tls_port_and_off_switch(tmp_path):
    """RFC 8314 implicit TLS on ``SEGUR_MSS_IMAP_TLS_PORT``; ``SEGUR_MSS_IMAP_ENABLED=false`` starts nothing;
    the sessions told ``* BYE`` when the application stops (RFC 3501 §7.1.5). Sandboxes of their own."""
    async with own_sandbox(tmp_path, "tls", mss_imap_tls_port=0) as other:
        port = other.state.imaps_port
        context = ssl.create_default_context(cadata=other.state.mss_tls_certificate.decode())

        def work() -> tuple[tuple[str, ...], str]:
            imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=10)
            caps = imap.capabilities
            typ, _ = imap.login(DOCTOR, PASSWORD)
            imap.logout()
            return caps, typ

        caps, typ = await asyncio.to_thread(work)
        assert typ == "OK" and "STARTTLS" not in caps and "AUTH=PLAIN" in caps and "LOGINDISABLED" not in caps
        assert port != other.state.imap_port
        connected = await asyncio.to_thread(Raw, other.state.imap_port)
    assert (await asyncio.to_thread(connected.line)).startswith(b"* BYE ")
    connected.close()
    async with own_sandbox(tmp_path, "off", mss_imap_enabled=False) as off:
        assert off.state.imap_port is None and off.state.imaps_port is None
        assert "imap" not in off.state.readiness_probes


def test_capabilities_are_what_is_done():
    """Pure: the announced extensions (RFC 3501 §7.2.1) are implemented by the command table."""
    from app.mss.imap import commands_mailbox, commands_message, commands_session
    from app.mss.imap.server import BASE_CAPABILITIES

    names = {**commands_session.COMMANDS, **commands_mailbox.COMMANDS, **commands_message.COMMANDS}
    assert {"IDLE", "NAMESPACE", "ID", "UNSELECT", "MOVE"} <= set(names) & set(BASE_CAPABILITIES)
    assert names["EXPUNGE"].uid and names["MOVE"].uid  # UIDPLUS's UID EXPUNGE, RFC 6851's UID MOVE
