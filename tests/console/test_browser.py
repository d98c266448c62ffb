"""The console in a real browser (Debian's Chromium through Playwright, tests/browser.py): every page renders
(a screenshot of each under var/test-artifacts/screenshots/console-*.png), the forms work, the copy buttons
appear with JavaScript, and the journal shows a request made meanwhile with ``client`` without a reload."""

from __future__ import annotations

import re

import httpx

from tests.browser import screenshot
from tests.console.helpers import HOSPITAL_DOCTOR, send_mail, start_ciba
from tests.mss.helpers import build_message, sample_xdm


async def test_every_page_renders(page, client: httpx.AsyncClient, app) -> None:  # type: ignore[no-untyped-def]
    await send_mail(app, build_message(to=HOSPITAL_DOCTOR, xdm_bytes=sample_xdm(), pdf=True,
                                       sender="Dr Claire FONTAINE <claire.fontaine@medecin.mssante.fr>"))
    await start_ciba(client)
    response = await page.goto("/")
    assert response.status == 200
    assert await page.locator("h1").inner_text() == "Vue d'ensemble"
    copy = page.locator("button[data-copy]").first
    assert await copy.is_visible()  # shown by the script
    await screenshot(page, "console-overview")
    for path, name, heading in (
        ("/console/psc", "psc", "Pro Santé Connect"), ("/console/ins", "ins", "INS"), ("/console/dmp", "dmp", "DMP"),
        ("/console/mss", "mss", "MSSanté"), ("/console/journal", "journal", "Journal"),
        ("/console/reports", "reports", "Rapports"),
    ):
        response = await page.goto(path)
        assert response.status == 200, path
        assert heading in await page.locator("h1").inner_text()
        await screenshot(page, f"console-{name}")
    await page.goto("/console/dmp")
    await page.locator("tbody a").first.click()
    await page.wait_for_url(re.compile(r"/console/dmp/[0-9A-Z]{15}$"))
    await screenshot(page, "console-dmp-record")
    await page.locator("section[aria-labelledby=docs] tbody a").first.click()
    await page.wait_for_url(re.compile(r"/console/dmp/documents/"))
    assert await page.locator("object.pdf").count() == 1
    await screenshot(page, "console-dmp-document")
    await page.goto(f"/console/mss/{HOSPITAL_DOCTOR}")
    await screenshot(page, "console-mss-mailbox")
    await page.locator("tbody a").first.click()
    await page.wait_for_url(re.compile(r"/console/mss/[^/]+/[0-9a-f]{32}$"))
    assert "IHE_XDM.ZIP" in await page.locator("#xdm").inner_text()
    await screenshot(page, "console-mss-message")


async def test_new_mail_appears_live(page, client: httpx.AsyncClient, app) -> None:  # type: ignore[no-untyped-def]
    await page.goto(f"/console/mss/{HOSPITAL_DOCTOR}")
    await page.wait_for_selector("#live-status:has-text('en direct')")
    await send_mail(app, build_message(to=HOSPITAL_DOCTOR, subject="Arrivé pendant que la page était ouverte",
                                       sender="Dr Claire FONTAINE <claire.fontaine@medecin.mssante.fr>"))
    await page.locator("#live-rows tr", has_text="Arrivé pendant que la page était ouverte").wait_for(timeout=5_000)
    await screenshot(page, "console-mss-live")


async def test_create_a_psc_client(page, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    await page.goto("/console/psc")
    await page.get_by_label("client_id (facultatif)").fill("browser-made")
    await page.get_by_label("Nom (client_name)").fill("Créé dans le navigateur")
    await page.get_by_label("redirect_uris (une par ligne)").fill("http://localhost:7000/cb")
    await page.get_by_role("button", name="Créer le client").click()
    await page.wait_for_selector("text=Client créé")
    await screenshot(page, "console-psc-client-created")
    made = await client.get("/sandbox/v1/clients/browser-made")
    assert made.status_code == 200 and made.json()["redirect_uris"] == ["http://localhost:7000/cb"]


async def test_approve_a_ciba_request(page, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    auth_req_id = await start_ciba(client, "77")
    await page.goto("/console/psc")
    row = page.locator("tr", has_text=auth_req_id)
    await row.get_by_role("button", name="Approuver").click()
    await page.wait_for_url(re.compile(r"/console/psc"))
    await screenshot(page, "console-psc-ciba-approved")
    statuses = {r["auth_req_id"]: r["status"] for r in (await client.get("/sandbox/v1/ciba")).json()}
    assert statuses[auth_req_id] == "approved"


async def test_ins_trial_search(page) -> None:  # type: ignore[no-untyped-def]
    await page.goto("/console/ins")
    await page.get_by_label("Nom de naissance").first.fill("ADRUN")
    await page.get_by_label("Prénom").fill("ZOE")
    await page.get_by_label("Sexe").select_option("F")
    await page.get_by_label("Date de naissance").fill("1975-12-31")
    await page.get_by_role("button", name="Rechercher").click()
    answer = page.locator("#answer")
    await answer.wait_for()
    assert "CodeCR 00" in await answer.inner_text()
    await screenshot(page, "console-ins-search")


async def test_journal_updates_live_and_reset(page, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    await page.goto("/console/journal")
    await page.wait_for_selector("#live-status:has-text('en direct')")
    await client.get("/sandbox/v1/persons/NOT-A-PERSON-XYZ")  # made elsewhere, after the page loaded
    row = page.locator("#live-rows tr", has_text="/sandbox/v1/persons/NOT-A-PERSON-XYZ")
    await row.wait_for(timeout=5_000)
    assert "refused" in await row.inner_text()
    assert await row.locator("a").get_attribute("href") == "/console/ins"
    await screenshot(page, "console-journal-live")
    await client.post("/sandbox/v1/clients", json={"client_id": "gone-after-reset", "client_secret": "s" * 12})
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_label("Je confirme : tout effacer").check()
    await page.get_by_role("button", name="Remettre à zéro").click()
    await page.wait_for_url(re.compile(r"/console/journal\?reset=1"))
    await screenshot(page, "console-journal-after-reset")
    assert (await client.get("/sandbox/v1/clients/gone-after-reset")).status_code == 404


async def test_sign_in_with_the_control_token(page, protected: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto("/console/journal")
    await page.wait_for_url(re.compile(r"/console/login\?next="))
    await screenshot(page, "console-login")
    await page.get_by_label("Jeton (control token)").fill("wrong-token-wrong-token")
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_selector("text=Jeton refusé")
    await page.get_by_label("Jeton (control token)").fill(protected)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(re.compile(r"/console/journal$"))
    await page.get_by_role("button", name="Se déconnecter").click()
    await page.wait_for_url(re.compile(r"/console/login"))
