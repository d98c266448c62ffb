"""The patient side in tenants (issue 15): two tenants made with ``seed: fixtures`` hold the same persons, DMPs and
documents (the same INS, the same document ids), and a patient's flows run in both, interleaved, over the real
protocol (the patient API and the pages with httpx, the professional side over FHIR, the control API, one Chromium
run). Each sees only its own world: codes, tokens, page sessions, maskings, representations, notification settings,
notifications and their mails; a credential of one tenant is refused in another in the real service's shape; a
tenant's reset or deletion leaves the other's patient side as it was.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.mes.models import (
    MesChallenge,
    MesNotification,
    MesNotificationSetting,
    MesRepresentation,
    MesTokenRevocation,
    MesWebSession,
)
from app.tenancy import ALL_TENANTS, use_tenant
from tests.conftest import BASE_URL
from tests.mes.helpers import FONTAINE, JULES, LEA, THOMAS, ZOE, auth, exchange, file_document, iti67_ids, start
from tests.mes.web.pages import hidden, sign_in, sign_in_from

A, B = "mes-a", "mes-b"
MAILBOX = f"{ZOE}@patient.mssante.fr"
MES_TABLES = (MesChallenge, MesWebSession, MesTokenRevocation, MesRepresentation, MesNotification,
              MesNotificationSetting)


@pytest.fixture
async def tenants(app, client) -> AsyncIterator[dict[str, httpx.AsyncClient]]:  # type: ignore[no-untyped-def]
    """Tenants ``mes-a`` and ``mes-b``, seeded with the fixtures, each with a client whose base URL is the tenant's
    (``/t/<name>``) and its own cookie jar; deleted after the test."""
    for name in (A, B):
        await client.delete(f"/sandbox/v1/tenants/{name}")  # left over by an interrupted run
        created = await client.post("/sandbox/v1/tenants", json={"name": name, "seed": "fixtures"})
        assert created.status_code == 201, created.text
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"{BASE_URL}/t/{A}") as a, \
            httpx.AsyncClient(transport=transport, base_url=f"{BASE_URL}/t/{B}") as b:
        yield {A: a, B: b}
    for name in (A, B):
        await client.delete(f"/sandbox/v1/tenants/{name}")


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def refused_token(response: httpx.Response, rule: str) -> None:
    """The patient API's answer to a bad bearer token: 401 problem JSON and ``WWW-Authenticate: Bearer``."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule"] == rule, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="mes", error="invalid_token"')


async def count(session, model: Any, tenant: str) -> int:  # type: ignore[no-untyped-def]
    """Rows of ``model`` that belong to ``tenant``, read in the store itself (every tenant's rows, filtered here)."""
    return int((await session.execute(select(func.count()).select_from(model).where(model.tenant == tenant),
                                      execution_options={ALL_TENANTS: True})).scalar_one())


# --- the patient API ---------------------------------------------------------------------------------------------

async def test_codes_and_tokens_are_the_tenants_own(client, tenants) -> None:
    a, b = tenants[A], tenants[B]
    # the same person signs in in both tenants, interleaved
    challenge_a, code_a = await start(a, ZOE)
    challenge_b, code_b = await start(b, ZOE)
    codes_a = await a.get("/sandbox/v1/mes/one-time-codes", params={"ins": ZOE})
    codes_b = await b.get("/sandbox/v1/mes/one-time-codes", params={"ins": ZOE})
    assert [c["challenge"] for c in codes_a.json()] == [challenge_a]
    assert [c["challenge"] for c in codes_b.json()] == [challenge_b]
    assert (await client.get("/sandbox/v1/mes/one-time-codes", params={"ins": ZOE})).json() == []
    started = await a.post("/mes/api/v1/sign-in", json={"ins": LEA})
    assert f"GET /t/{A}/sandbox/v1/mes/one-time-codes?ins={LEA}" in started.json()["delivery"]

    # a challenge of A is unknown in B (RFC 6749 on the token endpoint), and costs A's challenge no try
    crossed = await exchange(b, challenge_a, code_a)
    assert crossed.status_code == 400, crossed.text
    assert crossed.json()["error"] == "invalid_grant" and "unknown" in crossed.json()["error_description"]
    token_a = (await exchange(a, challenge_a, code_a)).json()["access_token"]
    token_b = (await exchange(b, challenge_b, code_b)).json()["access_token"]
    token_default = (await auth(client, ZOE))["Authorization"].split()[1]

    assert claims(token_a)["iss"] == f"{BASE_URL}/t/{A}/mes"
    assert claims(token_b)["iss"] == f"{BASE_URL}/t/{B}/mes"
    assert claims(token_default)["iss"] == f"{BASE_URL}/mes"
    for http, token in ((a, token_a), (b, token_b), (client, token_default)):
        me = await http.get("/mes/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["person"]["ins"] == ZOE, me.text
    # each token is refused in every other tenant, the default one included
    for http, token in ((b, token_a), (client, token_a), (a, token_b), (a, token_default), (b, token_default)):
        refused_token(await http.get(f"/mes/api/v1/patients/{ZOE}/documents",
                                     headers={"Authorization": f"Bearer {token}"}), "MES:token-iss")

    # signing out in A revokes A's token only; B's token of the same person keeps working
    signed_out = await a.post("/mes/api/v1/sign-out", headers={"Authorization": f"Bearer {token_a}"})
    assert signed_out.status_code == 204
    refused_token(await a.get("/mes/api/v1/me", headers={"Authorization": f"Bearer {token_a}"}), "MES:token-revoked")
    assert (await b.get("/mes/api/v1/me", headers={"Authorization": f"Bearer {token_b}"})).status_code == 200


async def test_a_document_masked_in_a_stays_visible_in_the_same_dmp_of_b(tenants) -> None:
    a, b = tenants[A], tenants[B]
    zoe_a, zoe_b = await auth(a, ZOE), await auth(b, ZOE)
    docs = f"/mes/api/v1/patients/{ZOE}/documents"
    listed_a = {d["id"]: d for d in (await a.get(docs, headers=zoe_a)).json()}
    listed_b = {d["id"]: d for d in (await b.get(docs, headers=zoe_b)).json()}
    assert set(listed_a) == set(listed_b) and len(listed_a) == 5  # the fixtures: the same documents, the same ids
    # seeded documents FONTAINE (médecin traitant) did not write: masking hides them from FONTAINE
    others = sorted(i for i, d in listed_a.items() if d["author_rpps"] != FONTAINE[1:])
    first, second = others[0], others[1]
    assert {first, second} <= await iti67_ids(a, FONTAINE, ZOE) & await iti67_ids(b, FONTAINE, ZOE)

    masked = await a.put(f"{docs}/{first}/masked", json={"masked": True}, headers=zoe_a)
    assert masked.status_code == 200 and masked.json()["masked"] is True
    masked = await b.put(f"{docs}/{second}/masked", json={"masked": True}, headers=zoe_b)
    assert masked.status_code == 200 and masked.json()["masked"] is True

    seen_a, seen_b = await iti67_ids(a, FONTAINE, ZOE), await iti67_ids(b, FONTAINE, ZOE)
    assert first not in seen_a and second in seen_a
    assert first in seen_b and second not in seen_b
    now_a = {d["id"]: d["masked"] for d in (await a.get(docs, headers=zoe_a)).json()}
    now_b = {d["id"]: d["masked"] for d in (await b.get(docs, headers=zoe_b)).json()}
    assert now_a[first] and not now_a[second]
    assert now_b[second] and not now_b[first]


async def test_representations_and_notification_settings_are_the_tenants_own(client, tenants) -> None:
    a, b = tenants[A], tenants[B]
    pair = {"representative": THOMAS, "minor": JULES}
    added = await a.post("/sandbox/v1/mes/representations", json=pair)
    assert added.status_code == 201, added.text
    assert pair not in (await b.get("/sandbox/v1/mes/representations")).json()
    assert pair not in (await client.get("/sandbox/v1/mes/representations")).json()
    thomas_a, thomas_b = await auth(a, THOMAS), await auth(b, THOMAS)
    assert [p["ins"] for p in (await a.get("/mes/api/v1/me", headers=thomas_a)).json()["represented"]] == [JULES, LEA]
    assert [p["ins"] for p in (await b.get("/mes/api/v1/me", headers=thomas_b)).json()["represented"]] == [LEA]
    assert (await a.get(f"/mes/api/v1/patients/{JULES}", headers=thomas_a)).status_code == 200
    unknown = await b.get(f"/mes/api/v1/patients/{JULES}", headers=thomas_b)
    assert unknown.status_code == 404 and unknown.json()["rule"] == "MES:patient-unknown"
    # the same natural key in B is B's own (no conflict with A's); removing it in B leaves A's
    assert (await b.post("/sandbox/v1/mes/representations", json=pair)).status_code == 201
    assert (await b.delete(f"/sandbox/v1/mes/representations/{THOMAS}/{LEA}")).status_code == 204
    assert [p["ins"] for p in (await a.get("/mes/api/v1/me", headers=thomas_a)).json()["represented"]] == [JULES, LEA]
    assert [p["ins"] for p in (await b.get("/mes/api/v1/me", headers=thomas_b)).json()["represented"]] == [JULES]

    settings = f"/mes/api/v1/patients/{ZOE}/notification-settings"
    zoe_a, zoe_b = await auth(a, ZOE), await auth(b, ZOE)
    put = await a.put(settings, json={"email": MAILBOX}, headers=zoe_a)
    assert put.status_code == 200 and put.json()["email"] == MAILBOX, put.text
    assert (await b.get(settings, headers=zoe_b)).json() == {"email": None}
    assert (await b.put(settings, json={"email": MAILBOX}, headers=zoe_b)).status_code == 200  # same key, B's own
    assert (await b.put(settings, json={"email": None}, headers=zoe_b)).json() == {"email": None}
    assert (await a.get(settings, headers=zoe_a)).json() == {"email": MAILBOX}


async def test_notifications_and_their_mails_stay_in_their_tenant(client, tenants) -> None:
    a, b = tenants[A], tenants[B]
    zoe_a, zoe_b = await auth(a, ZOE), await auth(b, ZOE)
    base = f"/mes/api/v1/patients/{ZOE}"
    assert (await a.put(f"{base}/notification-settings", json={"email": MAILBOX}, headers=zoe_a)).status_code == 200
    filed_a = await file_document(a)
    filed_b = await file_document(b)
    dispatched = await a.post("/sandbox/v1/mes/notifications/dispatch", params={"ins": ZOE})
    assert dispatched.json() == {"notifications": 1}, dispatched.text

    found_a = (await a.get(f"{base}/notifications", headers=zoe_a)).json()
    found_b = (await b.get(f"{base}/notifications", headers=zoe_b)).json()
    assert [(n["kind"], n["document_ids"], n["mailed_to"]) for n in found_a] == [("new_document", [filed_a], MAILBOX)]
    assert [(n["kind"], n["document_ids"], n["mailed_to"]) for n in found_b] == [("new_document", [filed_b], None)]
    # the mail landed in A's mailbox of the patient, not in B's nor in the default tenant's
    mails_a = (await a.get(f"/sandbox/v1/mailboxes/{MAILBOX}/messages")).json()["items"]
    assert [m["subject"] for m in mails_a] == ["Mon espace santé : Nouveau document dans votre profil"]
    assert (await b.get(f"/sandbox/v1/mailboxes/{MAILBOX}/messages")).json()["items"] == []
    assert (await client.get(f"/sandbox/v1/mailboxes/{MAILBOX}/messages")).json()["items"] == []
    # read in A, still unread in B
    assert (await a.post(f"{base}/notifications/read", json={}, headers=zoe_a)).json() == {"marked": 1}
    assert (await b.get(base, headers=zoe_b)).json()["unread_notifications"] == 1


# --- the pages -----------------------------------------------------------------------------------------------

SITE_PATH = re.compile(r'(?:href|action|src)="(/[^"]*)"')


async def test_pages_their_paths_cookie_and_next_are_the_tenants(client, tenants) -> None:
    a, b = tenants[A], tenants[B]
    signed = await sign_in(a, ZOE)
    assert signed.status_code == 303 and signed.headers["location"] == f"/t/{A}/mes/patients/{ZOE}?ok=connecte"
    cookies = {c.name: c for c in a.cookies.jar}
    assert cookies["mes_session"].path == f"/t/{A}/mes" and cookies["mes_signin"].path == f"/t/{A}/mes"
    # every site path a page emits (links, forms, the stylesheet, a document's frame) is in the tenant
    for path in ("", "/documents", "/acces", "/historique", "/notifications", "/messages"):
        page = await a.get(f"/mes/patients/{ZOE}{path}")
        assert page.status_code == 200, page.text
        emitted = SITE_PATH.findall(page.text)
        assert emitted and all(p.startswith(f"/t/{A}/mes/") for p in emitted), emitted
    document_id = re.search(rf'href="/t/{A}/mes/patients/{ZOE}/documents/([0-9a-f-]+)"',
                            (await a.get(f"/mes/patients/{ZOE}/documents")).text)
    assert document_id
    page = await a.get(f"/mes/patients/{ZOE}/documents/{document_id.group(1)}")
    assert all(p.startswith(f"/t/{A}/mes/") for p in SITE_PATH.findall(page.text))
    # an action's redirect comes back into the tenant
    csrf = hidden((await a.get(f"/mes/patients/{ZOE}/acces")).text, "csrf_token")
    done = await a.post(f"/mes/patients/{ZOE}/acces/urgence", data={"csrf_token": csrf})
    assert done.status_code == 303 and done.headers["location"] == f"/t/{A}/mes/patients/{ZOE}/acces?ok=urgence"

    # B and the default tenant ask to sign in: the jar has no session for their paths...
    for http, prefix in ((b, f"/t/{B}"), (client, "")):
        asked = await http.get(f"/mes/patients/{ZOE}")
        assert asked.status_code == 303, asked.text
        assert asked.headers["location"] == f"{prefix}/mes/connexion?next={prefix}/mes/patients/{ZOE}"
    # ... and A's session cookie sent there on purpose is no session of theirs
    value = cookies["mes_session"].value
    for url in (f"/t/{B}/mes/patients/{ZOE}", f"/mes/patients/{ZOE}"):
        forced = await client.get(url, headers={"Cookie": f"mes_session={value}"})
        assert forced.status_code == 303 and "/mes/connexion" in forced.headers["location"]
    assert (await client.get(f"/t/{A}/mes/patients/{ZOE}", headers={"Cookie": f"mes_session={value}"})
            ).status_code == 200

    # next: the tenant's own paths only
    for foreign in (f"/t/{A}/mes/patients/{ZOE}", f"/mes/patients/{ZOE}", "//evil.example/mes",
                    f"/t/{B}/../{A}/mes/patients/{ZOE}"):
        page = await b.get("/mes/connexion", params={"next": foreign})
        assert hidden(page.text, "next") == "", foreign
    own = f"/t/{B}/mes/patients/{ZOE}/documents"
    landed = await sign_in(b, ZOE, next_path=own)
    assert landed.status_code == 303 and landed.headers["location"] == own
    assert (await b.get(f"/mes/patients/{ZOE}/documents")).status_code == 200

    # signing out in A ends A's session only
    csrf = hidden((await a.get(f"/mes/patients/{ZOE}/messages")).text, "csrf_token")
    out = await a.post("/mes/deconnexion", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == f"/t/{A}/mes/connexion"
    assert (await a.get(f"/mes/patients/{ZOE}")).status_code == 303
    assert (await b.get(f"/mes/patients/{ZOE}")).status_code == 200

    # a form posted without a session is kept across the sign-in, and resumed in the tenant
    kept = await a.post(f"/mes/patients/{ZOE}/acces/urgence", data={"csrf_token": csrf, "oppose_centre_15": "1"})
    assert kept.status_code == 401 and all(p.startswith(f"/t/{A}/mes/") for p in SITE_PATH.findall(kept.text))
    resumed = await sign_in_from(a, kept.text, ZOE)
    assert resumed.status_code == 200, resumed.text
    assert SITE_PATH.findall(resumed.text)[-1] == f"/t/{A}/mes/"  # "Abandonner"
    assert f'action="/t/{A}/mes/patients/{ZOE}/acces/urgence"' in resumed.text


# --- reset and deletion --------------------------------------------------------------------------------------

async def _patient_side(http: httpx.AsyncClient) -> dict[str, str]:
    """Some of every patient-side row in a tenant: a code, a token (then revoked), a page session, a representation,
    a notification setting, a notification. The headers of a live token."""
    headers = await auth(http, ZOE)
    revoked = await auth(http, ZOE)
    assert (await http.post("/mes/api/v1/sign-out", headers=revoked)).status_code == 204
    await start(http, ZOE)
    assert (await sign_in(http, ZOE)).status_code == 303
    assert (await http.post("/sandbox/v1/mes/representations",
                            json={"representative": THOMAS, "minor": JULES})).status_code == 201
    base = f"/mes/api/v1/patients/{ZOE}"
    put = await http.put(f"{base}/notification-settings", json={"email": MAILBOX}, headers=headers)
    assert put.status_code == 200, put.text
    await file_document(http)
    assert len((await http.get(f"{base}/notifications", headers=headers)).json()) == 1
    return headers


async def test_a_tenants_reset_and_deletion_leave_the_other(app, client, tenants) -> None:
    a, b = tenants[A], tenants[B]
    zoe_a = await _patient_side(a)
    zoe_b = await _patient_side(b)
    async with app.state.sessionmaker() as store:
        seeded = await count(store, MesRepresentation, B) - 1
        before = {model: await count(store, model, B) for model in MES_TABLES}
        assert all(before.values()), before
        assert {model: await count(store, model, A) for model in MES_TABLES} == before

    reset = await a.post("/sandbox/v1/reset")
    assert reset.status_code == 200, reset.text
    async with app.state.sessionmaker() as store:
        assert {model: await count(store, model, B) for model in MES_TABLES} == before
        after = {model: await count(store, model, A) for model in MES_TABLES}
        assert after == {**dict.fromkeys(MES_TABLES, 0), MesRepresentation: seeded}
        with use_tenant(A):  # what the ORM of tenant A reads: the fixtures' representations only
            pairs = (await store.execute(select(MesRepresentation.representative_ins, MesRepresentation.minor_ins))
                     ).all()
        assert (THOMAS, JULES) not in pairs and (THOMAS, LEA) in pairs
    assert (await b.get(f"/mes/api/v1/patients/{JULES}", headers=await auth(b, THOMAS))).status_code == 200
    assert (await b.get(f"/mes/patients/{ZOE}")).status_code == 200  # B's page session lives on
    assert (await b.get(f"/mes/api/v1/patients/{ZOE}/notification-settings", headers=zoe_b)).json() == {
        "email": MAILBOX}
    assert (await a.get(f"/mes/patients/{ZOE}")).status_code == 303  # A's is gone

    async with app.state.sessionmaker() as store:
        before = {model: await count(store, model, B) for model in MES_TABLES}  # B's own use since
    deleted = await client.delete(f"/sandbox/v1/tenants/{A}")
    assert deleted.status_code == 200, deleted.text
    async with app.state.sessionmaker() as store:
        assert {model: await count(store, model, A) for model in MES_TABLES} == dict.fromkeys(MES_TABLES, 0)
        assert {model: await count(store, model, B) for model in MES_TABLES} == before
    gone = await a.get(f"/mes/api/v1/patients/{ZOE}", headers=zoe_a)
    assert gone.status_code == 404 and gone.json()["rule"] == "sandbox:unknown-tenant"
    assert (await b.get(f"/mes/api/v1/patients/{ZOE}", headers=zoe_b)).status_code == 200
    assert len((await b.get(f"/mes/api/v1/patients/{ZOE}/notifications", headers=zoe_b)).json()) == 1


# --- in a browser ---------------------------------------------------------------------------------------------

async def test_a_browser_signed_in_at_one_tenant_is_asked_to_sign_in_at_another(page, tenants) -> None:  # type: ignore[no-untyped-def]
    from tests.browser import screenshot

    await page.goto(f"/t/{A}/mes/connexion")
    await page.select_option("#person", ZOE)
    await page.click("text=Recevoir un code")
    await page.fill("#code", await page.locator("#sms-code").inner_text())
    await page.click("button:has-text('Se connecter')")
    await page.wait_for_url(re.compile(rf"/t/{A}/mes/patients/{ZOE}\?ok=connecte$"))
    await page.click("nav >> text=Documents")  # the menu's links stay in the tenant
    await page.wait_for_url(re.compile(rf"/t/{A}/mes/patients/{ZOE}/documents$"))
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["mes_session"]["path"] == f"/t/{A}/mes"
    await screenshot(page, "mes-tenant-a-documents")

    await page.goto(f"/t/{B}/mes/patients/{ZOE}")
    assert re.search(rf"/t/{B}/mes/connexion\?next=/t/{B}/mes/patients/{ZOE}$", page.url), page.url
    assert await page.locator("h1").inner_text() == "Se connecter à Mon espace santé"
    await screenshot(page, "mes-tenant-b-asks-to-sign-in")
    await page.goto(f"/mes/patients/{ZOE}")
    assert re.search(r"^[^?]*//[^/]+/mes/connexion\?", page.url), page.url
    # A's session is still there
    await page.goto(f"/t/{A}/mes/patients/{ZOE}/acces")
    assert page.url.endswith(f"/t/{A}/mes/patients/{ZOE}/acces")
