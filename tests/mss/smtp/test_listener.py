"""The SMTP listener as started: EHLO extensions, the implicit-TLS port."""

from __future__ import annotations

import asyncio
import smtplib
import ssl

from tests.mss.conftest import DOCTOR, PASSWORD


async def test_ehlo_announces_starttls_size_dsn(smtp_port, settings):
    def work():
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.ehlo("lps.test")
            return dict(smtp.esmtp_features)

    features = await asyncio.to_thread(work)
    assert "starttls" in features
    assert features["size"] == str(settings.mss_max_message_bytes)
    assert "dsn" in features
    assert "auth" not in features  # only after STARTTLS


async def test_implicit_tls_port(database_url, client):
    from app.main import create_app
    from tests.conftest import make_settings

    other = create_app(make_settings(database_url, mss_smtp_tls_port=0))
    async with other.router.lifespan_context(other):
        port = other.state.smtps_port
        context = ssl.create_default_context(cadata=other.state.mss_tls_certificate.decode())

        def work():
            with smtplib.SMTP_SSL("127.0.0.1", port, context=context, timeout=10) as smtp:
                smtp.ehlo("lps.test")
                assert "starttls" not in smtp.esmtp_features
                return smtp.login(DOCTOR, PASSWORD)[0]

        assert await asyncio.to_thread(work) == 235
