"""Bad input and greedy clients, each refused in IMAP's own form while other sessions go on: an over-long
command line, literals announced too large (synchronising and LITERAL+, RFC 7888 §4), garbage, unknown
commands, three BAD in a row, a client that never reads its responses, the connection limit and the
autologout timer (RFC 3501 §5.4)."""

from __future__ import annotations

import asyncio
import imaplib
import socket
import time

from app.mss.imap.session import WRITE_HIGH_WATER
from tests.mss.asking import journal_dump
from tests.mss.conftest import DOCTOR, PASSWORD
from tests.mss.imap.server_helpers import Raw, command, connect, own_sandbox, tls_context


async def test_bad_input_refused_and_other_sessions_unharmed(app, client):
    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        bystander = connect(app)
        bystander.select("INBOX")
        raw = Raw(app.state.imap_port)
        raw.send(b"a1 NOOP " + b"x" * 10_000 + b"\r\n")  # over 8192 octets: discarded, BAD
        seen["long"] = raw.line()
        raw.send(b"a2 NOOP\r\n")
        seen["after-long"] = raw.line()
        raw.send(b"a3 APPEND INBOX {999999999}\r\n")  # never read: NO [TOOBIG] (RFC 4469, RFC 7888 §4)
        seen["append-toobig"] = raw.line()
        raw.send(b"a3b APPEND INBOX {100000}\r\n")  # not authenticated: 64 KB at most, whatever the command
        seen["append-preauth"] = raw.line()
        raw.send(b"a4 LOGIN {70000}\r\n")  # any other command: 64 KB at most
        seen["literal-toobig"] = raw.line()
        raw.send(b"a5 NOOP\r\n")
        seen["after-literal"] = raw.line()
        raw.send(b"\x00\xff\xfe\x80garbage\r\n")
        seen["garbage"] = raw.line()
        raw.send(b"a6 XYZZY\r\n")
        seen["unknown"] = raw.line()
        raw.send(b"a7 FETCH 1 FLAGS\r\n")  # the third BAD in a row ends the session
        seen["third"] = raw.line()
        seen["bye"] = raw.line()
        seen["closed"] = raw.closed()
        raw.close()
        plus = Raw(app.state.imap_port)  # a LITERAL+ literal too large is on its way: BAD, then BYE
        plus.send(b"b1 APPEND INBOX {99999999+}\r\n" + b"x" * 4096)
        seen["plus"] = plus.line()
        seen["plus-bye"] = plus.line()
        seen["plus-closed"] = plus.closed()
        plus.close()
        started = time.monotonic()
        seen["bystander"] = bystander.noop()[0], bystander.fetch("1:*", "(FLAGS)")[0]
        seen["bystander-time"] = time.monotonic() - started
        bystander.logout()
        return seen

    seen = await asyncio.to_thread(work)
    assert seen["long"] == b"a1 BAD command line longer than 8192 octets: discarded"
    assert seen["after-long"] == b"a2 OK NOOP completed"
    assert seen["append-toobig"].startswith(b"a3 NO [TOOBIG] message of 999999999 octets")  # type: ignore[union-attr]
    assert seen["append-preauth"] == (b"a3b NO [TOOBIG] message of 100000 octets refused: at most 65536 octets "
                                      b"before authentication")
    assert seen["literal-toobig"].startswith(b"a4 BAD [TOOBIG] literal of 70000 octets")  # type: ignore[union-attr]
    assert seen["after-literal"] == b"a5 OK NOOP completed"
    assert seen["garbage"].startswith(b"* BAD ")  # type: ignore[union-attr]  # no readable tag: untagged
    assert seen["unknown"].startswith(b"a6 BAD unknown command")  # type: ignore[union-attr]
    assert seen["third"].startswith(b"a7 BAD") and seen["bye"].startswith(b"* BYE 3 bad commands")  # type: ignore[union-attr]
    assert seen["closed"] is True
    assert seen["plus"].startswith(b"b1 BAD [TOOBIG]") and seen["plus-bye"].startswith(b"* BYE")  # type: ignore[union-attr]
    assert seen["plus-closed"] is True
    assert seen["bystander"] == ("OK", "OK") and seen["bystander-time"] < 2  # type: ignore[operator]
    dump = await journal_dump(client, protocol="imap")
    for rule in ("IMAP:line-length", "IMAP:literal-size", "IMAP:syntax", "IMAP:unknown-command", "IMAP:bad-commands"):
        assert rule in dump, rule


async def test_a_client_that_never_reads_is_dropped(app, client):
    """The server's writes follow the transport's flow control; a session whose client reads nothing for
    ``write_timeout`` seconds is closed, its memory bounded meanwhile, other sessions unharmed."""
    server = app.state.imap_server
    big = b"From: <" + DOCTOR.encode() + b">\r\nSubject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 1000

    def fill() -> None:
        imap = connect(app)
        for _ in range(4):
            assert imap.append("INBOX", None, None, big)[0] == "OK"
        imap.logout()

    await asyncio.to_thread(fill)
    server.write_timeout = 0.5
    try:
        def work() -> dict[str, object]:
            seen: dict[str, object] = {}
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(10)
            sock.connect(("127.0.0.1", app.state.imap_port))
            sock.recv(4096)
            sock.sendall(b"s1 STARTTLS\r\n")
            assert b"s1 OK" in sock.recv(4096)
            tls = tls_context(app).wrap_socket(sock, server_hostname="localhost")
            tls.sendall(f"s2 LOGIN {DOCTOR} {PASSWORD}\r\ns3 SELECT INBOX\r\n".encode())
            got = b""
            while b"s3 OK" not in got:
                got += tls.recv(65536)
            seen["limits"] = {s.writer.transport.get_write_buffer_limits()[1] for s in list(server.sessions)}
            tls.sendall(b"".join(b"f%d FETCH 1:* BODY.PEEK[]\r\n" % i for i in range(8)))  # 32 MB asked, never read
            bystander = connect(app)
            started = time.monotonic()
            seen["bystander"] = bystander.select("INBOX")[0]
            seen["bystander-time"] = time.monotonic() - started
            before = len(server.sessions)
            deadline = time.monotonic() + 10
            while len(server.sessions) >= before and time.monotonic() < deadline:
                time.sleep(0.1)
            seen["dropped"] = len(server.sessions) < before
            bystander.logout()
            tls.close()
            return seen

        seen = await asyncio.to_thread(work)
    finally:
        server.write_timeout = 60.0
    assert seen["limits"] == {WRITE_HIGH_WATER}  # after STARTTLS too
    assert seen["dropped"] is True and seen["bystander"] == "OK" and seen["bystander-time"] < 2  # type: ignore[operator]
    dump = await journal_dump(client, protocol="imap")
    assert "IMAP:write-stalled" in dump


async def test_connection_limit_and_autologout(tmp_path):
    """``SEGUR_MSS_IMAP_MAX_CONNECTIONS``: beyond, ``* BYE`` at the greeting; a silent session is logged out
    (RFC 3501 §5.4) after ``SEGUR_MSS_IMAP_IDLE_TIMEOUT_SECONDS`` (at most 120 s before authentication)."""
    async with own_sandbox(tmp_path, mss_imap_max_connections=2, mss_imap_idle_timeout_seconds=1) as other:
        port = other.state.imap_port

        def work() -> dict[str, object]:
            seen: dict[str, object] = {}
            first, second = Raw(port), Raw(port)
            third = Raw(port)
            seen["greetings"] = first.greeting[:4], second.greeting[:4]
            seen["third"] = third.greeting
            seen["third-closed"] = third.closed()
            time.sleep(1.5)
            seen["autologout"] = first.line(), first.closed()
            fourth = Raw(port)
            seen["fourth"] = fourth.greeting[:4]
            fourth.send(b"s1 STARTTLS\r\n")
            fourth.until(b"s1")
            fourth.sock = tls_context(other).wrap_socket(fourth.sock, server_hostname="localhost")
            fourth.send(b"s2 AUTHENTICATE PLAIN\r\n")  # then silence: the autologout runs there too
            seen["sasl"] = fourth.line(), fourth.line(), fourth.closed()
            for raw in (first, second, third, fourth):
                raw.close()
            return seen

        seen = await asyncio.to_thread(work)
    assert seen["greetings"] == (b"* OK", b"* OK") and seen["fourth"] == b"* OK"
    assert seen["third"].startswith(b"* BYE [UNAVAILABLE] too many connections")  # type: ignore[union-attr]
    assert seen["third-closed"] is True
    line, closed = seen["autologout"]  # type: ignore[misc]
    assert line.startswith(b"* BYE Autologout") and closed is True
    continuation, bye, closed = seen["sasl"]  # type: ignore[misc]
    assert continuation == b"+ " and bye.startswith(b"* BYE Autologout") and closed is True


async def test_store_reset_ends_the_sessions_of_its_mailboxes(app, client):
    """The sandbox store reset (``POST /sandbox/v1/reset``) seeds the mailboxes again under new ids: a session
    on a mailbox that is gone says so (``* BYE``) rather than answer from a store that is no longer there."""
    loop = asyncio.get_running_loop()

    def work() -> str:
        imap = connect(app)
        imap.select("INBOX")
        reset = asyncio.run_coroutine_threadsafe(client.post("/sandbox/v1/reset"), loop).result(30)
        assert reset.status_code == 200, reset.text
        try:
            imap.noop()
        except imaplib.IMAP4.abort as exc:
            return str(exc)
        return "not ended"

    assert "no longer exists" in await asyncio.to_thread(work)


async def test_a_store_error_during_idle_ends_idle_cleanly(tmp_path):
    """A store that fails while a session is in IDLE: a tagged ``NO [SERVERBUG]`` ends the IDLE, the DONE the
    client still sends is not taken for a command, and the session goes on (never two reads at once).
    A sandbox of its own (SQLite, run once): its store is broken on purpose."""
    from sqlalchemy import text

    from app.events import events_for
    from app.mss.changes import TOPIC_MAILBOX

    async with own_sandbox(tmp_path) as app:
        url = app.state.settings.database_url
        loop = asyncio.get_running_loop()

        async def break_store() -> None:
            async with app.state.engine.begin() as connection:
                await connection.execute(text("DROP TABLE mss_delivery"))
            events_for(url).dispatch(TOPIC_MAILBOX, DOCTOR)  # as a delivery to the mailbox announces it

        def work() -> list[bytes]:
            imap = connect(app)
            imap.select("INBOX")
            tag = imap._new_tag()  # type: ignore[attr-defined]
            imap.send(tag + b" IDLE\r\n")
            lines = [imap.readline()]
            asyncio.run_coroutine_threadsafe(break_store(), loop).result(10)
            lines.append(imap.readline())
            imap.send(b"DONE\r\n")
            lines += command(imap, "CAPABILITY")
            imap.shutdown()
            return lines

        lines = await asyncio.to_thread(work)
    assert lines[0].startswith(b"+ ")
    assert b" NO [SERVERBUG] internal error in IDLE" in lines[1]
    assert lines[2].startswith(b"* CAPABILITY ") and lines[3].endswith(b"OK CAPABILITY completed")


async def test_deep_nesting_is_a_bad_command_not_a_crash(app, client, caplog):
    """Parentheses or NOT chains nested beyond what the parsers follow: ``BAD``, the session goes on, and the log
    gets at most one line (never a traceback of a thousand frames)."""

    def work() -> list[bytes]:
        imap = connect(app)
        imap.select("INBOX")
        lines = command(imap, "SEARCH " + "(" * 600 + "ALL" + ")" * 600)[-1:]
        lines += command(imap, "NOOP")[-1:]
        lines += command(imap, "SEARCH " + "NOT " * 1500 + "ALL")[-1:]
        lines += command(imap, "NOOP")[-1:]
        imap.logout()
        return lines

    lines = await asyncio.to_thread(work)
    assert b" BAD " in lines[0] and lines[1].endswith(b"OK NOOP completed")
    assert b" BAD " in lines[2] and lines[3].endswith(b"OK NOOP completed")
    assert all(len(record.getMessage()) < 1000 for record in caplog.records)
