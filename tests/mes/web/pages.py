"""Steps of the page tests over HTTP (``client``), as a browser does them: the forms' hidden fields read from the
HTML, the cookies kept by the client."""

from __future__ import annotations

import re
from html import unescape

import httpx


def hidden(html: str, name: str) -> str:
    """The value of the first hidden input ``name`` of a page."""
    match = re.search(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]*)"', html)
    assert match, f"no hidden field {name} in the page"
    return unescape(match.group(1))


async def sign_in(client: httpx.AsyncClient, ins: str, *, next_path: str = "") -> httpx.Response:
    """The two sign-in steps of the pages: choose the person, then type the code the page shows as an SMS."""
    first = await client.get("/mes/connexion", params={"next": next_path} if next_path else None)
    assert first.status_code == 200, first.text
    return await sign_in_from(client, first.text, ins)


async def sign_in_from(client: httpx.AsyncClient, page: str, ins: str) -> httpx.Response:
    """Sign in from a sign-in page already shown (its hidden fields carried along): the answer to the code."""
    step = await client.post("/mes/connexion", data={
        "signin_token": hidden(page, "signin_token"), "next": hidden(page, "next"),
        "pending": hidden(page, "pending"), "person": ins})
    assert step.status_code == 200, step.text
    code = re.search(r'id="sms-code">(\d{6})<', step.text)
    assert code, step.text
    return await client.post("/mes/connexion/code", data={
        "signin_token": hidden(step.text, "signin_token"), "challenge_id": hidden(step.text, "challenge_id"),
        "next": hidden(step.text, "next"), "pending": hidden(step.text, "pending"), "code": code.group(1)})


async def csrf(client: httpx.AsyncClient, ins: str) -> str:
    """The session's CSRF token, read from a page's form."""
    response = await client.get(f"/mes/patients/{ins}/messages")
    assert response.status_code == 200, response.text
    return hidden(response.text, "csrf_token")
