"""End to end: the authorization endpoint (app/psc/oidc/authorize.py), its pages and refusals."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.psc.helpers import (
    GP,
    ISSUER,
    OIDC,
    PUBLIC_CLIENT,
    REDIRECT_URI,
    TOKEN,
    authorize_params,
    token_response_for,
)

SLOW = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


async def test_authorize_answers_at_the_keycloak_path_too(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(
        OIDC + "/auth",
        params={
            "client_id": PUBLIC_CLIENT,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "code_challenge": "x" * 43,
        },
    )
    assert response.status_code == 200 and "Pro Santé Connect" in response.text


async def test_form_post_response_mode(client) -> None:  # type: ignore[no-untyped-def]
    params = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "response_mode": "form_post",
        "login_hint": GP,
        "code_challenge": "f" * 43,
        "state": "st",
    }
    response = await client.get("/auth", params=params)
    assert response.status_code == 200 and f'action="{REDIRECT_URI}"' in response.text
    assert 'name="code"' in response.text and 'name="iss"' in response.text and 'value="st"' in response.text


async def test_prompt_none_uses_the_session_cookie(client) -> None:  # type: ignore[no-untyped-def]
    base = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "code_challenge": "c" * 43,
        "state": "s",
    }
    response = await client.get("/auth", params={**base, "prompt": "none"})
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["login_required"] and query["state"] == ["s"] and query["iss"] == [ISSUER]
    first = await client.get("/auth", params={**base, "login_hint": GP})
    assert "code" in parse_qs(urlsplit(first.headers["location"]).query)
    assert client.cookies.get("PSC_SESSION")
    again = await client.get("/auth", params={**base, "prompt": "none"})
    assert "code" in parse_qs(urlsplit(again.headers["location"]).query)
    client.cookies.clear()


async def test_interactive_login_page_with_ecps_confirmation(client) -> None:  # type: ignore[no-untyped-def]
    verifier = "v" * 43
    base = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "code_challenge": verifier,
        "state": "xyz",
        "scope": "openid scope_all",
    }
    page = await client.get("/auth", params=base)
    assert page.status_code == 200 and "Claire" in page.text and GP in page.text
    confirm = await client.post("/auth", data={**base, "subject_name_id": GP, "psc_action": "select"})
    assert confirm.status_code == 200 and "e-CPS" in confirm.text and "Fontaine" in confirm.text
    denied = await client.post("/auth", data={**base, "subject_name_id": GP, "psc_action": "deny"})
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    done = await client.post("/auth", data={**base, "subject_name_id": GP, "psc_action": "confirm"})
    query = parse_qs(urlsplit(done.headers["location"]).query)
    answer = await client.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REDIRECT_URI,
            "client_id": PUBLIC_CLIENT,
            "code_verifier": verifier,
        },
    )
    assert answer.status_code == 200
    client.cookies.clear()


async def test_authorize_errors_without_valid_redirect_are_an_error_page(client) -> None:  # type: ignore[no-untyped-def]
    unknown = await client.get(
        "/auth", params={"client_id": "nobody", "redirect_uri": REDIRECT_URI, "response_type": "code"}
    )
    assert unknown.status_code == 400 and "location" not in unknown.headers
    evil = await client.get(
        "/auth", params={"client_id": PUBLIC_CLIENT, "response_type": "code", "redirect_uri": REDIRECT_URI + "/../evil"}
    )
    assert evil.status_code == 400 and "location" not in evil.headers
    prefix = await client.get(
        "/auth", params={"client_id": PUBLIC_CLIENT, "response_type": "code", "redirect_uri": REDIRECT_URI + "x"}
    )
    assert prefix.status_code == 400


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "S512"}, "invalid_request"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"login_hint": "899999999999"}, "access_denied"),
    ],
)
async def test_authorize_errors_are_redirected(client, extra: dict, error: str) -> None:  # type: ignore[no-untyped-def]
    params = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "code_challenge": "c" * 43,
        "state": "st8",
        "login_hint": GP,
        **extra,
    }
    response = await client.get("/auth", params={k: v for k, v in params.items() if v is not None})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == [error] and query["state"] == ["st8"] and query["iss"] == [ISSUER]


async def test_max_age_forces_a_new_login(client) -> None:  # type: ignore[no-untyped-def]
    base = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "code_challenge": "c" * 43,
    }
    await client.get("/auth", params={**base, "login_hint": GP})
    fresh = await client.get("/auth", params={**base, "prompt": "none", "max_age": "3600"})
    assert "code" in parse_qs(urlsplit(fresh.headers["location"]).query)
    import asyncio

    await asyncio.sleep(1.1)
    stale = await client.get("/auth", params={**base, "prompt": "none", "max_age": "0"})
    assert parse_qs(urlsplit(stale.headers["location"]).query)["error"] == ["login_required"]
    client.cookies.clear()


@SLOW
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "client_id",
                "redirect_uri",
                "response_type",
                "response_mode",
                "scope",
                "state",
                "prompt",
                "login_hint",
                "code_challenge",
                "code_challenge_method",
                "psc_action",
                "subject_name_id",
            ]
        ),
        st.one_of(
            st.text(max_size=60),
            st.sampled_from(
                [PUBLIC_CLIENT, REDIRECT_URI, "code", "none", "form_post", "S256", "810001000016", "confirm", "select"]
            ),
        ),
        max_size=8,
    )
)
async def test_authorize_never_500(client, params: dict) -> None:  # type: ignore[no-untyped-def]
    for response in (await client.get("/auth", params=params), await client.post("/auth", data=params)):
        assert response.status_code < 500, (params, response.text)
        if response.status_code in (301, 302, 303, 307):
            assert response.headers["location"].startswith(REDIRECT_URI)
    client.cookies.clear()


@pytest.mark.parametrize("max_age", ["²", "٣", "9" * 5000, "-1", "1.5", " 1", "1\n"])
async def test_bad_max_age_is_invalid_request(client, max_age: str) -> None:  # type: ignore[no-untyped-def]
    await token_response_for(client, GP)  # a live session: max_age is only read with one
    response = await client.get("/auth", params=authorize_params(max_age=max_age))
    assert response.status_code == 302, response.text[:300]
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"]


async def test_good_max_age_still_works(client) -> None:  # type: ignore[no-untyped-def]
    await token_response_for(client, GP)
    response = await client.get("/auth", params=authorize_params(max_age="3600"))
    assert response.status_code == 302 and "code" in parse_qs(urlsplit(response.headers["location"]).query)


@pytest.mark.parametrize(
    ("name", "value"), [("nonce", "n" * 600), ("acr_values", "x" * 300), ("scope", "openid " * 400)]
)
async def test_authorize_over_long_parameters(client, name: str, value: str) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/auth", params=authorize_params(login_hint=GP, **{name: value}))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and name in query["error_description"][0]


async def test_code_challenge_with_a_final_newline_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(
        "/auth", params=authorize_params(login_hint=GP, code_challenge="A" * 43 + "\n", code_challenge_method="plain")
    )
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and "code" not in query
