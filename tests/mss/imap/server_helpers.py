"""Helpers of the IMAP server tests: Python's ``imaplib`` against the running listener of the ``app`` fixture,
in a thread (so the application's loop keeps serving), and a raw socket for what imaplib will not send."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import re
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from tests.mss.conftest import DOCTOR, PASSWORD

imaplib._MAXLINE = 10_000_000  # type: ignore[attr-defined]  # large FETCH responses in tests


@contextlib.asynccontextmanager
async def own_sandbox(directory: Path, name: str = "own", **settings: Any) -> AsyncIterator[Any]:
    """A sandbox of its own on a fresh SQLite file (migrated, seeded), for a test that needs other settings:
    it runs once (not once per engine and path) and shares no store with the ``app`` fixture's."""
    import httpx

    from app.db import create_engine, upgrade
    from app.main import create_app
    from tests.conftest import BASE_URL, make_settings

    url = f"sqlite+aiosqlite:///{directory / (name + '.db')}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    app = create_app(make_settings(url, **settings))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
            assert (await http.post("/sandbox/v1/reset")).status_code == 200
        yield app


def tls_context(app: Any) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=app.state.mss_tls_certificate.decode())


def connect(app: Any, *, starttls: bool = True, login: tuple[str, str] | None = (DOCTOR, PASSWORD),
            context: ssl.SSLContext | None = None) -> imaplib.IMAP4:
    """A connected (and by default STARTTLS'd and logged in) imaplib client; blocking: call in a thread."""
    imap = imaplib.IMAP4("127.0.0.1", app.state.imap_port, timeout=20)
    if starttls:
        imap.starttls(ssl_context=context or tls_context(app))
    if login is not None:
        imap.login(*login)
    return imap


async def imap_call(app: Any, fn: Callable[[imaplib.IMAP4], Any], **options: Any) -> Any:
    """``await imap_call(app, fn)``: runs ``fn(imap)`` on a fresh client in a thread, logs out after."""

    def work() -> Any:
        imap = connect(app, **options)
        try:
            return fn(imap)
        finally:
            try:
                imap.logout()
            except Exception:
                imap.shutdown()

    return await asyncio.to_thread(work)


def command(imap: imaplib.IMAP4, line: str | bytes) -> list[bytes]:
    """Send ``line`` as a command on an imaplib connection, bypassing imaplib's own checks (unknown
    commands, wrong state); the response lines up to the tagged one (literals left inline)."""
    tag = imap._new_tag()  # type: ignore[attr-defined]
    imap.send(tag + b" " + (line.encode() if isinstance(line, str) else line) + b"\r\n")
    lines = []
    while True:
        got = imap.readline()
        lines.append(got.rstrip(b"\r\n"))
        if got.startswith(tag + b" "):
            return lines


class Raw:
    """A plain socket speaking IMAP by hand (over-long lines, literals announced and never sent, garbage)."""

    def __init__(self, port: int, *, timeout: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        self.greeting = self.line()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buffer)
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def until(self, tag: bytes) -> list[bytes]:
        """Lines up to (and including) the tagged response of ``tag``."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def closed(self) -> bool:
        """Whether the server closed the connection (after what is buffered)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


def fetch_pairs(data: list[Any]) -> list[tuple[bytes, bytes | None]]:
    """imaplib's FETCH data as (header, literal) pairs."""
    out = []
    for item in data:
        if isinstance(item, tuple):
            out.append((item[0], item[1]))
        elif item not in (b")", None):
            out.append((item, None))
    return out


def code_of(text: bytes | str) -> str | None:
    """The response code of a response text: ``[TRYCREATE]`` -> ``TRYCREATE``."""
    if isinstance(text, bytes):
        text = text.decode()
    match = re.search(r"\[([^\]]+)\]", text)
    return match.group(1) if match else None
