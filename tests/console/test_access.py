"""Who may use the console (app/console/access.py, app/api/console_session.py): with SEGUR_CONTROL_TOKEN set, a
sign-in form and an HMAC session cookie; CSRF tokens on every form that changes state, in both modes."""

from __future__ import annotations

import httpx

from app.api.console_session import SESSION_TTL, session_valid, session_value
from app.console.access import csrf_matches
from tests.console.conftest import TOKEN
from tests.console.helpers import csrf, csrf_of

# --- pure -----------------------------------------------------------------------------------------------------

def test_session_cookie_is_an_hmac_that_expires_and_never_holds_the_token() -> None:
    value = session_value(TOKEN, now=1_000)
    assert TOKEN not in value
    assert session_valid(TOKEN, value, now=1_000 + SESSION_TTL - 1)
    assert not session_valid(TOKEN, value, now=1_000 + SESSION_TTL)  # expired
    assert not session_valid("another-token-0123456789", value, now=1_000)  # the token changed
    expires, mac = value.split(".")
    assert not session_valid(TOKEN, f"{int(expires) + 1}.{mac}", now=1_000)  # a longer life, forged
    for broken in (None, "", "x", ".", f"{expires}.", "-1." + mac, "9" * 40 + "." + mac, f"{expires}.{mac}x"):
        assert not session_valid(TOKEN, broken, now=1_000), broken


def test_csrf_matches_only_the_cookie_s_own_value() -> None:
    good = "a" * 43
    assert csrf_matches(good, good)
    for cookie, given in ((good, "b" * 43), (None, good), (good, None), ("", ""), ("a", "a"), (good, ["x"])):
        assert not csrf_matches(cookie, given)


# --- over HTTP --------------------------------------------------------------------------------------------------

async def _sign_in(client: httpx.AsyncClient, token: str, next_path: str = "/console/psc") -> httpx.Response:
    form = await client.get("/console/login", params={"next": next_path})
    assert form.status_code == 200 and 'type="password"' in form.text
    return await client.post("/console/login", data={"csrf": csrf_of(form.text), "token": token, "next": next_path})


async def test_open_without_the_setting(client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).status_code == 200
    assert (await client.get("/console/login")).status_code == 303  # nothing to sign in to


async def test_with_the_token_set_every_page_needs_a_sign_in(client: httpx.AsyncClient, protected: str) -> None:
    for path in ("/", "/console/psc", "/console/journal", "/console/mss", "/console/dmp/documents/x"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/login?next=")
    live = await client.get("/console/live/journal")
    assert live.status_code == 401
    refused = await client.post("/console/reset", data={"confirm": "yes"})
    assert refused.status_code == 401  # signed out: refused before the form is even read
    entries = (await client.get("/sandbox/v1/journal", params={"rule": "console:sign-in"},
                                headers={"Authorization": f"Bearer {protected}"})).json()["entries"]
    assert entries and all(e["outcome"] == "refused" for e in entries)


async def test_wrong_token_refused_right_token_signs_in(client: httpx.AsyncClient, protected: str) -> None:
    wrong = await _sign_in(client, "not-the-token-at-all-000")
    assert wrong.status_code == 401 and "Jeton refusé" in wrong.text
    assert "segur_console=" not in wrong.headers.get("set-cookie", "")
    right = await _sign_in(client, protected)
    assert right.status_code == 303 and right.headers["location"] == "/console/psc"
    cookie = right.headers["set-cookie"]
    assert "segur_console=" in cookie and protected not in cookie
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert (await client.get("/console/psc")).status_code == 200
    assert (await client.get("/")).status_code == 200
    # a signed-in browser follows the console's links to the control API's GET routes, and only those
    assert (await client.get("/sandbox/v1/clients")).status_code == 200
    assert (await client.post("/sandbox/v1/reset")).status_code == 401
    out = await client.post("/console/logout", data={"csrf": await csrf(client)})
    assert out.status_code == 303
    assert (await client.get("/console/psc")).status_code == 303


async def test_sign_in_redirects_only_within_the_site(client: httpx.AsyncClient, protected: str) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = await _sign_in(client, protected, target)
        assert response.headers["location"] == "/", target


async def test_a_cookie_of_another_token_is_refused(client: httpx.AsyncClient, protected: str) -> None:
    client.cookies.set("segur_console", session_value("some-other-token-0123456789", now=2_000_000_000 - SESSION_TTL))
    assert (await client.get("/console/psc")).status_code == 303


async def test_forms_without_their_csrf_token_are_refused(client: httpx.AsyncClient) -> None:
    token = await csrf(client)
    for path, data in (("/console/psc/clients", {"client_id": "x-csrf"}), ("/console/reset", {"confirm": "yes"}),
                       ("/console/ins/search", {"NomNaissance": "ADRUN"}), ("/console/psc/ciba/x", {"action": "deny"}),
                       ("/console/logout", {})):
        missing = await client.post(path, data=data)
        assert missing.status_code == 403 and "console:csrf" in missing.text, path
        wrong = await client.post(path, data={**data, "csrf": "z" * 43})
        assert wrong.status_code == 403, path
    assert (await client.get("/sandbox/v1/clients/x-csrf")).status_code == 404  # nothing was created
    client.cookies.clear()
    stale = await client.post("/console/psc/clients", data={"client_id": "x-csrf", "csrf": token})
    assert stale.status_code == 403  # a token without its cookie


async def test_sign_in_form_needs_its_csrf_token(client: httpx.AsyncClient, protected: str) -> None:
    response = await client.post("/console/login", data={"token": protected})
    assert response.status_code == 403
