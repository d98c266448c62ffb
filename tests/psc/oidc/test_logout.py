"""End to end: RP-initiated logout (app/psc/oidc/logout.py)."""

from __future__ import annotations

import pytest

from tests.psc.helpers import (
    GP,
    OIDC,
    PUBLIC_CLIENT,
    REDIRECT_URI,
    TOKEN,
    authorize_params,
    register_client,
    token_response_for,
)


async def test_rp_initiated_logout(client) -> None:  # type: ignore[no-untyped-def]
    tokens = await token_response_for(client, GP)
    response = await client.get(
        OIDC + "/logout",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "http://localhost:8080/",
            "state": "bye",
        },
    )
    assert response.status_code == 302 and response.headers["location"] == "http://localhost:8080/?state=bye"
    me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 401
    refresh = await client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "client_id": PUBLIC_CLIENT, "refresh_token": tokens["refresh_token"]},
    )
    assert refresh.status_code == 400
    evil = await client.get(
        OIDC + "/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
    )
    # an unregistered target is not followed: the session ends, the logged-out page says why
    assert evil.status_code == 200 and "location" not in evil.headers
    assert "déconnecté" in evil.text and "post_logout_redirect_uri ignored" in evil.text
    # without id_token_hint, GET asks for confirmation; the POST of that page logs out
    plain = await client.get(OIDC + "/logout")
    assert plain.status_code == 200 and 'method="post"' in plain.text and "déconnecté" not in plain.text
    confirmed = await client.post(OIDC + "/logout", data={})
    assert confirmed.status_code == 200 and "déconnecté" in confirmed.text


async def test_logout_does_not_redirect_on_a_bare_client_id(client) -> None:  # type: ignore[no-untyped-def]
    created = await register_client(
        client,
        client_id="evil-rp",
        redirect_uris=["https://evil.example/cb"],
        post_logout_redirect_uris=["https://evil.example/"],
    )
    assert created.status_code == 201
    params = {"client_id": "evil-rp", "post_logout_redirect_uri": "https://evil.example/", "state": "x"}
    get = await client.get(OIDC + "/logout", params=params)
    assert get.status_code == 200 and "location" not in get.headers
    post = await client.post(OIDC + "/logout", data=params)
    assert post.status_code == 200 and "location" not in post.headers and "déconnecté" in post.text


async def test_logout_hint_of_another_client_does_not_open_its_uris(client) -> None:  # type: ignore[no-untyped-def]
    await register_client(client, client_id="evil-rp", post_logout_redirect_uris=["https://evil.example/"])
    tokens = await token_response_for(client, GP)  # the public client's id_token
    response = await client.get(
        OIDC + "/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
    )
    assert response.status_code == 200 and "location" not in response.headers
    # a redirect URI (not a post-logout one) is not a logout target either
    tokens = await token_response_for(client, GP)
    response = await client.get(
        OIDC + "/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": REDIRECT_URI}
    )
    assert response.status_code == 200 and "location" not in response.headers


async def test_cross_site_get_logout_needs_confirmation(client) -> None:  # type: ignore[no-untyped-def]
    tokens = await token_response_for(client, GP)  # leaves the PSC_SESSION cookie in the client
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    page = await client.get(OIDC + "/logout")
    assert page.status_code == 200 and 'method="post"' in page.text
    assert (await client.get("/psc/v1/me", headers=bearer)).status_code == 200  # still logged in
    confirmed = await client.post(OIDC + "/logout", data={})
    assert confirmed.status_code == 200 and "déconnecté" in confirmed.text
    assert (await client.get("/psc/v1/me", headers=bearer)).status_code == 401


@pytest.mark.parametrize("cookie", ['PSC_SESSION="\\000abc"', "PSC_SESSION=" + "a" * 300])
async def test_odd_session_cookie_on_logout(client, cookie: str) -> None:  # type: ignore[no-untyped-def]
    client.cookies.clear()
    get = await client.get(OIDC + "/logout", headers={"Cookie": cookie})
    assert get.status_code == 200
    post = await client.post(OIDC + "/logout", headers={"Cookie": cookie}, data={})
    assert post.status_code == 200 and "déconnecté" in post.text
    authorize = await client.get("/auth", params=authorize_params(prompt="none"), headers={"Cookie": cookie})
    assert authorize.status_code == 302
