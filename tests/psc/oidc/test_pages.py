"""The HTML pages of the OIDC face (app/psc/oidc/pages.py): CSP, escaping."""

from __future__ import annotations

from tests.psc.helpers import (
    GP,
    PUBLIC_CLIENT,
    REDIRECT_URI,
    authorize_params,
    register_client,
)


async def test_pages_escape_what_the_client_sent(client) -> None:  # type: ignore[no-untyped-def]
    evil = '"><script>alert(1)</script>'
    params = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "response_mode": "form_post",
        "login_hint": GP,
        "code_challenge": "f" * 43,
        "state": evil,
    }
    response = await client.get("/auth", params=params)
    assert "<script>alert" not in response.text and "&lt;script&gt;" in response.text
    page = await client.get("/auth", params={**params, "login_hint": "", "nonce": evil})
    assert page.status_code == 200 and "<script>alert" not in page.text
    client.cookies.clear()


async def test_form_post_page_has_a_strict_csp(client) -> None:  # type: ignore[no-untyped-def]
    created = await register_client(
        client, client_id="fp-client", token_endpoint_auth_method="none", redirect_uris=["https://app.example/cb"]
    )
    assert created.status_code == 201, created.text
    response = await client.get(
        "/auth",
        params={
            "client_id": "fp-client",
            "redirect_uri": "https://app.example/cb",
            "response_type": "code",
            "response_mode": "form_post",
            "scope": "openid",
            "login_hint": GP,
            "code_challenge": "A" * 43,
            "code_challenge_method": "plain",
        },
    )
    assert response.status_code == 200, response.text
    csp = response.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["form-action"] == ["https://app.example"]
    assert directives["default-src"] == ["'none'"]
    (nonce_source,) = directives["script-src"]
    assert nonce_source.startswith("'nonce-")
    nonce = nonce_source[len("'nonce-") : -1]
    assert f'<script nonce="{nonce}">' in response.text
    assert "onload=" not in response.text  # an inline handler would need 'unsafe-inline'


async def test_html_pages_have_a_csp(client) -> None:  # type: ignore[no-untyped-def]
    login = await client.get("/auth", params=authorize_params())
    assert login.status_code == 200
    csp = login.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "form-action 'self'" in csp and "frame-ancestors 'none'" in csp
    error = await client.get("/auth", params={"client_id": "nobody"})
    assert error.status_code == 400 and "default-src 'self'" in error.headers["content-security-policy"]
