"""Bad input never yields a 500: random form fields on the token, CIBA, introspection and authorization
endpoints answer in the protocol's own error shape."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.psc.helpers import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, OIDC, PUBLIC_CLIENT, REDIRECT_URI

FIELDS = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "refresh_token",
    "auth_req_id",
    "scope",
    "client_assertion_type",
    "client_assertion",
    "token",
    "login_hint",
]
VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:openid:params:grant-type:ciba",
            "openid",
            "a.b.c",
            "e30.e30.e30",
            PUBLIC_CLIENT,
            CONFIDENTIAL_CLIENT,
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "",
        ]
    ),
)
FORMS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6)
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@SLOW
@given(form=FORMS, basic=st.booleans())
async def test_token_endpoints_never_500(client, form: dict, basic: bool) -> None:  # type: ignore[no-untyped-def]
    auth = (CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET) if basic else None
    for path in ("/token", "/ext/ciba/auth", "/token/introspect", "/revoke"):
        response = await client.post(OIDC + path, data=form, auth=auth)
        assert response.status_code < 500, (path, form, response.text)
        if response.status_code >= 400:
            assert "error" in response.json()


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


BAD_PROFESSIONALS = [
    {"SubjectNameID": "810001000990", "given_name": "A", "family_name": "B", "SubjectRefPro": []},
    {"SubjectNameID": "810001000990", "given_name": "A", "family_name": "B", "SubjectRefPro": {"exercices": [1]}},
    {
        "SubjectNameID": "810001000990",
        "given_name": "A",
        "family_name": "B",
        "SubjectRefPro": {"exercices": [{"codeProfession": 10}]},
    },
    {
        "SubjectNameID": "810001000990",
        "given_name": "A",
        "family_name": "B",
        "SubjectRefPro": {"exercices": [{"activities": [{"codePostal": None}]}]},
    },
    {"SubjectNameID": "810001000990", "given_name": "A\x00", "family_name": "B"},
    {"SubjectNameID": "8100\x00", "given_name": "A", "family_name": "B"},
    {"SubjectNameID": 12, "given_name": "A", "family_name": "B"},
    {"SubjectNameID": "810001000990", "given_name": "A", "family_name": "B", "SubjectRole": "10"},
    {"given_name": "A"},
]


async def test_bad_professionals_are_422(client) -> None:  # type: ignore[no-untyped-def]
    for body in BAD_PROFESSIONALS:
        response = await client.post("/sandbox/v1/professionals", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    for body in ([], "x", None):
        response = await client.post("/sandbox/v1/professionals", json=body)
        assert 400 <= response.status_code < 500
