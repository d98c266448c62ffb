"""Fixtures of the mss tests: SMTP clients (smtplib in a thread, so the app's loop keeps serving)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Callable
from typing import Any

import pytest

from app.mss import parser

PASSWORD = "mssante"
DOCTOR = "claire.fontaine@medecin.mssante.fr"
DOCTOR_SNI = "810001000016"
HOSPITAL_DOCTOR = "sophie.bernard@hopital-a.mssante.fr"
HOSPITAL_SNI = "810001000032"


@pytest.fixture
def smtp_port(app, client) -> int:  # type: ignore[no-untyped-def]
    return app.state.smtp_port


@pytest.fixture
def tls_context(app) -> ssl.SSLContext:  # type: ignore[no-untyped-def]
    context = ssl.create_default_context(cadata=app.state.mss_tls_certificate.decode())
    return context


@pytest.fixture
def smtp_call(smtp_port, tls_context) -> Callable[..., Any]:  # type: ignore[no-untyped-def]
    """``await smtp_call(fn)``: runs ``fn(smtp)`` on a STARTTLS'd smtplib connection in a thread."""

    async def run(fn: Callable[[smtplib.SMTP], Any], *, starttls: bool = True) -> Any:
        def work() -> Any:
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
                smtp.ehlo("lps.test")
                if starttls:
                    smtp.starttls(context=tls_context)
                    smtp.ehlo("lps.test")
                return fn(smtp)

        return await asyncio.to_thread(work)

    return run


@pytest.fixture
def threads(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """The names of the functions the parser hands to a worker thread."""
    names: list[str] = []
    real = asyncio.to_thread

    async def spy(fn, *args):  # type: ignore[no-untyped-def]
        names.append(fn.__name__)
        return await real(fn, *args)

    monkeypatch.setattr(parser.asyncio, "to_thread", spy)
    return names
