"""The SMTP peer of bench/peers/compare.py: a bare aiosmtpd sink on asyncio's own event loop, one process.

It accepts AUTH PLAIN/LOGIN with any credentials without TLS (so the client does what it does with the
sandbox: EHLO, AUTH once, then messages) and every message with a 250, keeping nothing: the floor of an
asyncio SMTP server in Python, against which the sandbox's listener (parsed, checked, stored) is measured.

Run: ``python bench/peers/smtp_sink.py <port>``; it prints ``ready`` once it listens.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        return "250 OK: queued nowhere"


def accept_anyone(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    return AuthResult(success=True)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Sink(), authenticator=accept_anyone, auth_require_tls=False, data_size_limit=10 * 1024 * 1024,
                     hostname="sink.bench.test"),
        host="127.0.0.1", port=port,
    )
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    # aiosmtpd 1.4 logs a warning on every AUTH (Session.login_data is deprecated; it sets it itself)
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    asyncio.run(serve(int(sys.argv[1])))
