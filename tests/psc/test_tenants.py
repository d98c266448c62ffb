"""PSC in tenants (issue 15): each tenant is an issuer of its own at ``/t/{tenant}/auth/realms/esante-wallet``,
with its own clients, professionals, sessions, codes, tokens and revocations; a credential of one tenant is
refused in every other one as the real service refuses a foreign one. Driven as a vendor would: an Authlib
OAuth 2.0 / OIDC client configured from each tenant's discovery document, and plain HTTP.

Two tenants, ``a`` and ``b``, are created with the fixtures (``seed: fixtures``) for each test and deleted after.
"""

from __future__ import annotations

import html
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select

from app.psc import models
from app.psc.keys import generate_private_jwk, import_jwk, public_jwk
from app.psc.memory import memory_for
from app.tenancy import use_tenant
from tests.conftest import BASE_URL
from tests.psc.helpers import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    GP,
    ISSUER,
    OIDC,
    PUBLIC_CLIENT,
    REALM,
    REDIRECT_URI,
    access_token_for,
    jwt_claims,
    token_response_for,
)

TENANTS = ("a", "b")
DISCOVERY = REALM + "/.well-known/openid-configuration"
PSC_MODELS = (
    models.Client, models.Professional, models.LoginSession, models.AuthorizationCode, models.IssuedToken,
    models.RevokedToken, models.CibaRequest,
)
NEW_PRO = "810001000990"  # a valid RPPS Luhn key, in no fixture


def issuer_of(tenant: str) -> str:
    return f"{BASE_URL}/t/{tenant}{REALM}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def tenants(app, client) -> AsyncIterator[dict[str, httpx.AsyncClient]]:  # type: ignore[no-untyped-def]
    """Tenants ``a`` and ``b`` seeded with the fixtures, each with an HTTP client at its base URL
    (``http://sandbox.test/t/<name>``); deleted afterwards (whatever the test did)."""
    made: dict[str, httpx.AsyncClient] = {}
    try:
        for name in TENANTS:
            created = await client.post("/sandbox/v1/tenants", json={"name": name, "seed": "fixtures"})
            assert created.status_code == 201, created.text
            made[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=created.json()["base_url"])
        yield made
    finally:
        for name, http in made.items():
            await http.aclose()
            await client.delete(f"/sandbox/v1/tenants/{name}")


@pytest.fixture
async def oidc_client(app):  # type: ignore[no-untyped-def]
    """An Authlib ``AsyncOAuth2Client`` configured from a tenant's discovery document (as a vendor's software
    would be, changing only its base URL)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import AsyncOAuth2Client

    made: list[Any] = []

    async def make(http: httpx.AsyncClient, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        metadata = (await http.get(DISCOVERY)).json()
        oauth = AsyncOAuth2Client(transport=httpx.ASGITransport(app=app), redirect_uri=REDIRECT_URI,
                                  scope="openid scope_all", **kwargs)
        made.append(oauth)
        return oauth, metadata

    yield make
    for oauth in made:
        await oauth.aclose()


async def _authorize(oauth: Any, metadata: dict[str, Any], subject: str) -> tuple[str, str, str]:
    """The code flow's first leg with ``login_hint`` (no HTML): the redirect's Location, the PKCE verifier, the
    session cookie set."""
    verifier = secrets.token_urlsafe(48)
    url, _ = oauth.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier,
                                            nonce=secrets.token_hex(8), login_hint=subject)
    response = await oauth.request("GET", url, withhold_token=True)
    assert response.status_code == 302, response.text
    return response.headers["location"], verifier, response.headers["set-cookie"]


async def _jwks(http: httpx.AsyncClient) -> KeySet:
    metadata = (await http.get(DISCOVERY)).json()
    return KeySet.import_key_set((await http.get(metadata["jwks_uri"])).json())


async def _introspect(http: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await http.post(OIDC + "/token/introspect", data={"token": token},
                               auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _invalid_token(response: httpx.Response) -> None:
    """RFC 6750 §3.1: 401 with ``WWW-Authenticate: Bearer ... error="invalid_token"``."""
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer") and 'error="invalid_token"' in challenge, challenge


async def test_each_tenant_is_an_issuer_of_its_own_at_its_own_path(client, tenants) -> None:  # type: ignore[no-untyped-def]
    documents = {name: (await http.get(DISCOVERY)).json() for name, http in tenants.items()}
    documents["default"] = (await client.get(DISCOVERY)).json()
    assert documents["default"]["issuer"] == ISSUER  # the default tenant at today's paths
    assert documents["default"]["authorization_endpoint"] == BASE_URL + "/auth"
    for name in TENANTS:
        metadata = documents[name]
        assert metadata["issuer"] == issuer_of(name)
        assert metadata["authorization_endpoint"] == f"{BASE_URL}/t/{name}/auth"
        for key in ("token_endpoint", "userinfo_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint",
                    "end_session_endpoint", "backchannel_authentication_endpoint"):
            assert metadata[key].startswith(issuer_of(name) + "/protocol/openid-connect/"), (name, key)
        wallet = (await tenants[name].get(REALM + "/.well-known/wallet-openid-configuration")).json()
        assert wallet == metadata
    assert len({documents[name]["issuer"] for name in documents}) == 3
    # one realm key set signs for every tenant: the same JWKS everywhere, tokens told apart by iss
    jwks = [(await http.get(documents[name]["jwks_uri"])).json() for name, http in
            (("a", tenants["a"]), ("b", tenants["b"]), ("default", client))]
    assert jwks[0] == jwks[1] == jwks[2] and jwks[0]["keys"]


async def test_the_code_flow_runs_in_two_tenants_interleaved(client, tenants, oidc_client) -> None:  # type: ignore[no-untyped-def]
    clients = {name: await oidc_client(http, client_id=PUBLIC_CLIENT, token_endpoint_auth_method="none",
                                       code_challenge_method="S256") for name, http in tenants.items()}
    # first legs in a, then b; the codes redeemed in the other order
    legs = {name: await _authorize(*clients[name], GP) for name in TENANTS}
    for name in TENANTS:
        query = parse_qs(urlsplit(legs[name][0]).query)
        assert query["iss"] == [issuer_of(name)]  # RFC 9207: the tenant's issuer
        # the session cookie of a tenant is sent back to its own pages only
        assert f"Path=/t/{name}/auth;" in legs[name][2] + ";", legs[name][2]
    # a code of b is unknown in a (invalid_grant), and does not spend b's code
    location_b, verifier_b, _ = legs["b"]
    code_b = parse_qs(urlsplit(location_b).query)["code"][0]
    foreign = await tenants["a"].post(OIDC + "/token", data={
        "grant_type": "authorization_code", "code": code_b, "redirect_uri": REDIRECT_URI, "code_verifier": verifier_b,
        "client_id": PUBLIC_CLIENT})
    assert foreign.status_code == 400 and foreign.json()["error"] == "invalid_grant", foreign.text
    answers = {}
    for name in reversed(TENANTS):
        oauth, metadata = clients[name]
        location, verifier, _ = legs[name]
        answers[name] = await oauth.fetch_token(metadata["token_endpoint"], authorization_response=location,
                                                code_verifier=verifier)
    for name in TENANTS:
        oauth, metadata = clients[name]
        token = answers[name]
        id_token = jwt.decode(token["id_token"], await _jwks(tenants[name]), algorithms=["RS256"])
        assert id_token.claims["iss"] == issuer_of(name) and id_token.claims["aud"] == PUBLIC_CLIENT
        assert jwt_claims(token["access_token"])["iss"] == issuer_of(name)
        assert jwt_claims(token["refresh_token"])["iss"] == issuer_of(name)
        assert jwt_claims(token["refresh_token"])["aud"] == issuer_of(name)
        info = await oauth.get(metadata["userinfo_endpoint"])
        assert info.status_code == 200 and info.json()["SubjectNameID"] == GP
    # a refresh token of a is refused by b (invalid_grant), and still rotates in a
    foreign = await tenants["b"].post(OIDC + "/token", data={
        "grant_type": "refresh_token", "refresh_token": answers["a"]["refresh_token"], "client_id": PUBLIC_CLIENT})
    assert foreign.status_code == 400 and foreign.json()["error"] == "invalid_grant", foreign.text
    oauth, metadata = clients["a"]
    rotated = await oauth.refresh_token(metadata["token_endpoint"], refresh_token=answers["a"]["refresh_token"])
    assert jwt_claims(rotated["access_token"])["iss"] == issuer_of("a")
    # a's login session does not log in b (prompt=none: login_required), whatever cookie is sent there
    sid = answers["a"]["session_state"]
    oauth, metadata = clients["b"]
    url, _ = oauth.create_authorization_url(metadata["authorization_endpoint"], code_verifier="w" * 43, prompt="none")
    refused = await tenants["b"].get(url, headers={"Cookie": f"PSC_SESSION={sid}"})
    assert refused.status_code == 302
    assert parse_qs(urlsplit(refused.headers["location"]).query)["error"] == ["login_required"]
    oauth, metadata = clients["a"]
    url, _ = oauth.create_authorization_url(metadata["authorization_endpoint"], code_verifier="w" * 43, prompt="none")
    accepted = await tenants["a"].get(url, headers={"Cookie": f"PSC_SESSION={sid}"})
    assert "code" in parse_qs(urlsplit(accepted.headers["location"]).query), accepted.headers["location"]


async def test_the_same_client_id_with_different_secrets_works_only_in_its_tenant(  # type: ignore[no-untyped-def]
    client, tenants, oidc_client
) -> None:
    secrets_of = {"a": "secret-of-a-" + secrets.token_hex(8), "b": "secret-of-b-" + secrets.token_hex(8)}
    for name, http in tenants.items():
        created = await http.post("/sandbox/v1/clients", json={
            "client_id": "shared-ci", "client_secret": secrets_of[name], "grant_types": ["client_credentials"],
            "scope": "openid scope_all", "client_name": f"CI of {name}"})
        assert created.status_code == 201, created.text
    # not known in the default tenant
    assert (await client.get("/sandbox/v1/clients/shared-ci")).status_code == 404
    for _ in range(2):  # the second round is answered from the workers' client caches (fast path)
        for name in TENANTS:
            oauth, metadata = await oidc_client(tenants[name], client_id="shared-ci", client_secret=secrets_of[name],
                                                token_endpoint_auth_method="client_secret_basic")
            token = await oauth.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
            assert jwt_claims(token["access_token"])["iss"] == issuer_of(name)
            assert jwt_claims(token["access_token"])["azp"] == "shared-ci"
        for name, other in (("a", "b"), ("b", "a")):
            refused = await tenants[other].post(OIDC + "/token", data={"grant_type": "client_credentials"},
                                                auth=("shared-ci", secrets_of[name]))
            assert refused.status_code == 401 and refused.json()["error"] == "invalid_client", refused.text
            assert refused.headers["www-authenticate"].startswith("Basic")
        unknown = await client.post(OIDC + "/token", data={"grant_type": "client_credentials"},
                                    auth=("shared-ci", secrets_of["a"]))
        assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    for name, http in tenants.items():
        assert (await http.get("/sandbox/v1/clients/shared-ci")).json()["client_name"] == f"CI of {name}"


def _assertion(key: dict[str, Any], client_id: str, audience: str, jti: str) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60, "jti": jti}
    return jwt.encode({"alg": "ES256", "kid": key["kid"]}, claims, import_jwk(key), algorithms=["ES256"])


async def test_a_client_assertion_is_for_its_tenants_token_endpoint_only(client, tenants) -> None:  # type: ignore[no-untyped-def]
    key = generate_private_jwk("ES256")
    for http in tenants.values():
        created = await http.post("/sandbox/v1/clients", json={
            "client_id": "pkjwt", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [public_jwk(key)]},
            "grant_types": ["client_credentials"], "scope": "openid scope_all"})
        assert created.status_code == 201, created.text

    def form(assertion: str) -> dict[str, str]:
        return {"grant_type": "client_credentials", "scope": "openid", "client_assertion": assertion,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}

    # the same jti in both tenants: each tenant's replay check is its own
    for name, http in tenants.items():
        ok = await http.post(OIDC + "/token", data=form(_assertion(key, "pkjwt", issuer_of(name) + "/protocol/"
                                                                   "openid-connect/token", "same-jti")))
        assert ok.status_code == 200, ok.text
        assert jwt_claims(ok.json()["access_token"])["iss"] == issuer_of(name)
    # made for a's token endpoint (or issuer, or the default's): refused at b, as one for another server
    for audience in (issuer_of("a") + "/protocol/openid-connect/token", issuer_of("a"), ISSUER):
        refused = await tenants["b"].post(OIDC + "/token", data=form(_assertion(key, "pkjwt", audience,
                                                                                secrets.token_hex(8))))
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client", refused.text
        assert "audience" in refused.json()["error_description"]


async def test_a_token_of_one_tenant_is_refused_in_the_others(client, tenants) -> None:  # type: ignore[no-untyped-def]
    tokens = {name: await access_token_for(http, GP) for name, http in tenants.items()}
    tokens["default"] = await access_token_for(client, GP)
    https = {**tenants, "default": client}
    issuers = {"a": issuer_of("a"), "b": issuer_of("b"), "default": ISSUER}
    for _ in range(2):  # the second round is answered from the worker's memory (fast path)
        for name, http in https.items():
            for path in (OIDC + "/userinfo", "/psc/v1/me"):
                assert (await http.get(path, headers=bearer(tokens[name]))).status_code == 200, (name, path)
            own = await http.get("/dmp/fhir/DocumentReference/unknown", headers=bearer(tokens[name]))
            assert own.status_code == 404, own.text  # authenticated, then the DMP answers
            introspected = await _introspect(http, tokens[name])
            assert introspected["active"] is True and introspected["iss"] == issuers[name]
            for other, token in tokens.items():
                if other == name:
                    continue
                for path in (OIDC + "/userinfo", "/psc/v1/me"):
                    refused = await http.get(path, headers=bearer(token))
                    _invalid_token(refused)
                    assert "issuer" in refused.text, refused.text
                # the bearer check other domains use (Domain.authenticate): the DMP's FHIR face
                fhir = await http.get("/dmp/fhir/DocumentReference/unknown", headers=bearer(token))
                _invalid_token(fhir)
                assert fhir.json()["resourceType"] == "OperationOutcome"
                assert await _introspect(http, token) == {"active": False}
    # revoking a's token at b does nothing (RFC 7009 §2.2: an invalid token is no error), in a it still works
    revoked = await tenants["b"].post(OIDC + "/revoke", data={"token": tokens["a"], "client_id": PUBLIC_CLIENT})
    assert revoked.status_code == 200
    assert (await tenants["a"].get(OIDC + "/userinfo", headers=bearer(tokens["a"]))).status_code == 200
    assert (await _introspect(tenants["a"], tokens["a"]))["active"] is True


async def test_a_professional_created_in_one_tenant_is_unknown_in_the_other(client, tenants) -> None:  # type: ignore[no-untyped-def]
    pro = {"SubjectNameID": NEW_PRO, "given_name": "Alice", "family_name": "Dans-A",
           "SubjectRefPro": {"exercices": [{"codeProfession": "10", "activities": [{"raisonSocialeSite": "A"}]}]}}
    assert (await tenants["a"].post("/sandbox/v1/professionals", json=pro)).status_code == 201
    assert (await tenants["b"].get(f"/sandbox/v1/professionals/{NEW_PRO}")).status_code == 404
    assert (await client.get(f"/sandbox/v1/professionals/{NEW_PRO}")).status_code == 404
    token_a = await access_token_for(tenants["a"], NEW_PRO)
    for _ in range(2):  # the second time from the worker's memory of a's professionals
        info = await tenants["a"].get(OIDC + "/userinfo", headers=bearer(token_a))
        assert info.status_code == 200 and info.json()["family_name"] == "Dans-A"
    # unknown in b: the login_hint is refused (access_denied), and so is a CIBA request for it
    params = {"client_id": PUBLIC_CLIENT, "redirect_uri": REDIRECT_URI, "response_type": "code", "scope": "openid",
              "login_hint": NEW_PRO, "code_challenge": "c" * 43, "code_challenge_method": "plain", "state": "s"}
    denied = await tenants["b"].get("/auth", params=params)
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    ciba = await tenants["b"].post(OIDC + "/ext/ciba/auth", data={"scope": "openid", "login_hint": NEW_PRO},
                                   auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    assert ciba.status_code == 400 and ciba.json()["error"] == "unknown_user_id", ciba.text
    # the same SubjectNameID created in b: b's own professional, a's unchanged (in the store and in memory)
    assert (await tenants["b"].post("/sandbox/v1/professionals",
                                    json={**pro, "family_name": "Dans-B"})).status_code == 201
    token_b = await access_token_for(tenants["b"], NEW_PRO)
    for _ in range(2):
        assert (await tenants["b"].get(OIDC + "/userinfo", headers=bearer(token_b))).json()["family_name"] == "Dans-B"
        assert (await tenants["a"].get(OIDC + "/userinfo", headers=bearer(token_a))).json()["family_name"] == "Dans-A"
        me = await tenants["b"].get("/psc/v1/me", headers=bearer(token_b))
        assert me.json()["family_name"] == "Dans-B"


async def test_revocation_and_reset_of_one_tenant_leave_the_other_alone(client, tenants) -> None:  # type: ignore[no-untyped-def]
    answers = {name: await token_response_for(http, GP, client_id=CONFIDENTIAL_CLIENT)
               for name, http in tenants.items()}
    kept_b = await access_token_for(tenants["b"], GP)
    for name, http in tenants.items():  # known to the worker's memory first
        assert (await http.get(OIDC + "/userinfo", headers=bearer(answers[name]["access_token"]))).status_code == 200
    # b revokes its token; a revokes its own
    for name, http in tenants.items():
        revoked = await http.post(OIDC + "/revoke", data={"token": answers[name]["access_token"]},
                                  auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
        assert revoked.status_code == 200
        _invalid_token(await http.get(OIDC + "/userinfo", headers=bearer(answers[name]["access_token"])))
    assert (await tenants["b"].get(OIDC + "/userinfo", headers=bearer(kept_b))).status_code == 200
    # a CIBA request pending in b, and a client registered in b
    started = await tenants["b"].post(OIDC + "/ext/ciba/auth", data={"scope": "openid", "login_hint": GP},
                                      auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    auth_req_id = started.json()["auth_req_id"]
    registered = await tenants["b"].post("/sandbox/v1/clients", json={"client_id": "b-only",
                                                                        "grant_types": ["client_credentials"]})
    assert registered.status_code == 201
    # a's CIBA poll of b's request: unknown there
    polled = await tenants["a"].post(OIDC + "/token", data={"grant_type": "urn:openid:params:grant-type:ciba",
                                                            "auth_req_id": auth_req_id},
                                     auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    assert polled.status_code == 400 and polled.json()["error"] == "invalid_grant", polled.text
    assert (await tenants["a"].post(f"/sandbox/v1/ciba/{auth_req_id}", json={"action": "approve"})).status_code == 404
    # a is reset: b keeps its revocation (store and memory), its tokens, its client, its CIBA request
    assert (await tenants["a"].post("/sandbox/v1/reset")).status_code == 200
    refused = await tenants["b"].get(OIDC + "/userinfo", headers=bearer(answers["b"]["access_token"]))
    _invalid_token(refused)
    assert "revoked" in refused.text
    assert (await _introspect(tenants["b"], answers["b"]["access_token"])) == {"active": False}
    assert (await tenants["b"].get(OIDC + "/userinfo", headers=bearer(kept_b))).status_code == 200
    assert (await tenants["b"].get("/sandbox/v1/clients/b-only")).status_code == 200
    assert (await tenants["b"].get("/sandbox/v1/ciba")).json()[0]["auth_req_id"] == auth_req_id
    # and b's refresh token still rotates; a's session is gone with a's reset, so a's refresh token is refused
    refreshed = await tenants["b"].post(OIDC + "/token", data={"grant_type": "refresh_token",
                                                               "refresh_token": answers["b"]["refresh_token"]},
                                        auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    assert refreshed.status_code == 200, refreshed.text
    gone = await tenants["a"].post(OIDC + "/token", data={"grant_type": "refresh_token",
                                                          "refresh_token": answers["a"]["refresh_token"]},
                                   auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    assert gone.status_code == 400 and gone.json()["error"] == "invalid_grant"
    # b is reset in turn: its revocation and client are gone, a's fresh token is untouched
    fresh_a = await access_token_for(tenants["a"], GP)
    assert (await tenants["b"].post("/sandbox/v1/reset")).status_code == 200
    assert (await tenants["b"].get("/sandbox/v1/clients/b-only")).status_code == 404
    assert (await tenants["a"].get(OIDC + "/userinfo", headers=bearer(fresh_a))).status_code == 200


async def test_a_worker_that_loads_the_revocations_loads_every_tenants(app, client, tenants) -> None:  # type: ignore[no-untyped-def]
    """At start-up and on every reconnection of the PostgreSQL listener a worker loads the revocations of the
    store: those of every tenant, each into its tenant's memory."""
    revoked = await access_token_for(tenants["b"], GP)
    kept = await access_token_for(tenants["b"], GP)
    answer = await tenants["b"].post(OIDC + "/revoke", data={"token": revoked, "client_id": PUBLIC_CLIENT})
    assert answer.status_code == 200
    memory = memory_for(app.state.settings.database_url)
    memory.tenants.clear()  # a worker that starts, or whose listener reconnects, knows nothing yet
    await memory.load(app.state.sessionmaker)
    jti = jwt_claims(revoked)["jti"]
    with use_tenant("b"):
        assert jti in memory.revoked
    assert jti not in memory.revoked  # the default tenant's
    _invalid_token(await tenants["b"].get(OIDC + "/userinfo", headers=bearer(revoked)))
    assert (await tenants["b"].get(OIDC + "/userinfo", headers=bearer(kept))).status_code == 200


def _form_of(page: str) -> tuple[str, dict[str, str]]:
    """The first form of an HTML page: its action and its hidden fields and first button."""
    form = page[page.index("<form"):page.index("</form>")]
    action = form.split('action="', 1)[1].split('"', 1)[0]
    fields = {}
    for tag in form.split("<")[1:]:
        if tag.startswith(("input", "button")) and 'name="' in tag:
            name = tag.split('name="', 1)[1].split('"', 1)[0]
            fields.setdefault(name, html.unescape(tag.split('value="', 1)[1].split('"', 1)[0]))
    return html.unescape(action), fields


async def test_the_login_and_logout_pages_post_back_into_their_tenant(client, tenants) -> None:  # type: ignore[no-untyped-def]
    http = tenants["a"]
    params = {"client_id": CONFIDENTIAL_CLIENT, "redirect_uri": REDIRECT_URI, "response_type": "code",
              "scope": "openid scope_all", "state": "st"}
    login = await http.get("/auth", params=params)
    assert login.status_code == 200 and "text/html" in login.headers["content-type"]
    action, fields = _form_of(login.text)
    assert action == "/t/a/auth"  # the page's form posts to a's authorization endpoint, not the default one's
    confirm = await client.post(action, data={**fields, "subject_name_id": GP})
    action, fields = _form_of(confirm.text)
    assert action == "/t/a/auth"
    done = await client.post(action, data={**fields, "psc_action": "confirm"})
    assert done.status_code == 302, done.text
    query = parse_qs(urlsplit(done.headers["location"]).query)
    assert query["iss"] == [issuer_of("a")] and query["code"]
    sid = query["session_state"][0]
    # logout without id_token_hint: a confirmation page posting back to a's end-session endpoint
    asked = await http.get(OIDC + "/logout")
    action, fields = _form_of(asked.text)
    assert action == f"/t/a{OIDC}/logout"
    ended = await client.post(action, data=fields, headers={"Cookie": f"PSC_SESSION={sid}"})
    assert ended.status_code == 200 and "Path=/t/a/auth" in ended.headers["set-cookie"]
    url = "/auth?" + urlencode({**params, "prompt": "none", "code_challenge": "c" * 43})
    again = await http.get(url, headers={"Cookie": f"PSC_SESSION={sid}"})
    assert parse_qs(urlsplit(again.headers["location"]).query)["error"] == ["login_required"]


async def _counts(app: Any, tenant: str) -> dict[str, int]:
    counts = {}
    with use_tenant(tenant):
        async with app.state.sessionmaker() as session:
            for model in PSC_MODELS:
                query = select(func.count()).select_from(model).where(model.tenant == tenant)
                counts[model.__tablename__] = await session.scalar(query) or 0
    return counts


async def test_deleting_a_tenant_removes_its_psc_rows_and_leaves_the_other(app, client, tenants) -> None:  # type: ignore[no-untyped-def]
    for name, http in tenants.items():  # rows in every PSC table of both tenants
        answer = await token_response_for(http, GP, client_id=CONFIDENTIAL_CLIENT)
        await http.post(OIDC + "/revoke", data={"token": answer["access_token"]},
                        auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
        started = await http.post(OIDC + "/ext/ciba/auth", data={"scope": "openid", "login_hint": GP},
                                  auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
        assert started.status_code == 200, started.text
    kept_b = await access_token_for(tenants["b"], GP)
    token_a = await access_token_for(tenants["a"], GP)
    before = {name: await _counts(app, name) for name in TENANTS}
    for name in TENANTS:
        assert all(before[name].values()), before[name]
    default_before = await _counts(app, "default")
    deleted = await client.delete("/sandbox/v1/tenants/a")
    assert deleted.status_code == 200 and deleted.json()["rows_deleted"] >= sum(before["a"].values())
    assert await _counts(app, "a") == dict.fromkeys(before["a"], 0)
    assert await _counts(app, "b") == before["b"]
    assert await _counts(app, "default") == default_before
    # a's faces are gone (404), its token is refused everywhere; b works as before
    assert (await tenants["a"].get(DISCOVERY)).status_code == 404
    _invalid_token(await client.get(OIDC + "/userinfo", headers=bearer(token_a)))
    _invalid_token(await tenants["b"].get(OIDC + "/userinfo", headers=bearer(token_a)))
    assert (await tenants["b"].get(OIDC + "/userinfo", headers=bearer(kept_b))).status_code == 200


def test_the_configured_issuer_and_wallet_hosts_carry_the_tenant() -> None:
    """``SEGUR_PSC_ISSUER_BASE_URL`` and ``SEGUR_PSC_AUTHORIZE_URL`` (the "auth" and "wallet" hosts): a tenant's
    prefix goes between the host and the path."""
    from app.psc.realm import authorize_url, endpoint, issuer
    from tests.conftest import make_settings

    settings = make_settings("sqlite+aiosqlite:///:memory:", psc_issuer_base_url="https://auth.example",
                             psc_authorize_url="https://wallet.example/auth")
    assert issuer(settings) == "https://auth.example" + REALM
    assert authorize_url(settings) == "https://wallet.example/auth"
    with use_tenant("a"):
        assert issuer(settings) == "https://auth.example/t/a" + REALM
        assert endpoint(settings, "token") == f"https://auth.example/t/a{OIDC}/token"
        assert authorize_url(settings) == "https://wallet.example/t/a/auth"
