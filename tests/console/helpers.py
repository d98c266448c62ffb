"""What the console tests share: reading a form's CSRF token, starting a CIBA request."""

from __future__ import annotations

import re

import httpx

from tests.psc.helpers import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, GP, OIDC

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def csrf(client: httpx.AsyncClient, path: str = "/console/psc") -> str:
    """The CSRF token of a page the client reads (its cookie is set on the way)."""
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


async def start_ciba(client: httpx.AsyncClient, binding_message: str = "42") -> str:
    response = await client.post(
        OIDC + "/ext/ciba/auth",
        data={"scope": "openid scope_all", "login_hint": GP, "binding_message": binding_message},
        auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
    )
    assert response.status_code == 200, response.text
    return response.json()["auth_req_id"]


DOCTOR = "claire.fontaine@medecin.mssante.fr"
HOSPITAL_DOCTOR = "sophie.bernard@hopital-a.mssante.fr"


async def send_mail(app, raw: bytes, *, sender: str = DOCTOR, to: str = HOSPITAL_DOCTOR) -> None:  # type: ignore[no-untyped-def]
    """One message over the sandbox's SMTP listener (STARTTLS, AUTH with the test password), as an LPS sends it."""
    import asyncio
    import smtplib
    import ssl

    context = ssl.create_default_context(cadata=app.state.mss_tls_certificate.decode())

    def work() -> None:
        with smtplib.SMTP("127.0.0.1", app.state.smtp_port, timeout=20) as smtp:
            smtp.starttls(context=context)
            smtp.login(sender, "mssante")
            assert smtp.sendmail(sender, [to], raw) == {}

    await asyncio.to_thread(work)
