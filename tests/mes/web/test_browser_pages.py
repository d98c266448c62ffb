"""The patient's pages in a real browser (Debian's Chromium driven by Playwright, tests/browser.py), each action
checked on the professional side through the real protocol (FHIR ITI-65 / ITI-67 with ``client``, on the same
store). Few and meaningful: each costs seconds; they run on the fast leg of each engine only."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from app.db import utcnow
from app.mes.models import MesWebSession
from tests.browser import screenshot
from tests.dmp.builders import filed_ids, provide_bundle
from tests.mes.helpers import ZOE
from tests.mes.helpers import auth as patient_auth
from tests.mss.asking import auth as mss_auth
from tests.mss.asking import box
from tests.mss.conftest import DOCTOR, DOCTOR_SNI
from tests.psc.helpers import access_token_for

FONTAINE = "810001000016"  # médecin traitant of every seeded DMP (VALIDE)
LEFEVRE = "810001000024"  # no authorisation on the seeded DMPs
BERNARD = "810001000032"
SEARCH = f"/dmp/fhir/DocumentReference?patient.identifier=urn:oid:1.2.250.1.213.1.4.8|{ZOE}&status=current&_count=200"


def professional(client):  # type: ignore[no-untyped-def]
    """FHIR headers for a professional (a PSC access token from the sandbox's own provider)."""

    async def headers(subject: str) -> dict[str, str]:
        token = await access_token_for(client, subject)
        return {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}

    return headers


async def _titles(client, headers: dict[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    response = await client.get(SEARCH, headers=headers)
    assert response.status_code == 200, response.text
    return [entry["resource"]["content"][0]["attachment"].get("title", "")
            for entry in response.json().get("entry", []) if entry["resource"]["resourceType"] == "DocumentReference"]


async def sign_in(page, ins: str = ZOE) -> None:  # type: ignore[no-untyped-def]
    await page.goto("/mes/connexion")
    await page.select_option("#person", ins)
    await page.click("text=Recevoir un code")
    code = await page.locator("#sms-code").inner_text()
    await page.fill("#code", code)
    await page.click("button:has-text('Se connecter')")
    await page.wait_for_url(re.compile(rf"/mes/patients/{ins}"))


async def test_keyboard_only_sign_in(page) -> None:  # type: ignore[no-untyped-def]
    await page.goto("/mes/connexion")
    await screenshot(page, "mes-signin")

    async def tab_to(element_id: str) -> None:
        for _ in range(12):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
                return
        raise AssertionError(f"#{element_id} is not reachable with Tab")

    await tab_to("ins")
    await page.keyboard.type(ZOE)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#sms-code")
    assert "SMS simulé" in await page.locator(".sms").inner_text()
    await screenshot(page, "mes-code")
    code = await page.locator("#sms-code").inner_text()
    if await page.evaluate("document.activeElement && document.activeElement.id") != "code":
        await tab_to("code")
    await page.keyboard.type(code)
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(rf"/mes/patients/{ZOE}\?ok=connecte$"))
    assert "Vous êtes connecté(e)" in await page.locator("main").inner_text()
    await screenshot(page, "mes-home")


async def test_masking_a_document_hides_it_from_another_professionals_search(page, client) -> None:  # type: ignore[no-untyped-def]
    headers = professional(client)
    title = "Échographie abdominale (test de masquage)"
    await filed_ids(client, lambda: headers(BERNARD),
                    provide_bundle(ZOE, rpps=BERNARD[1:], given="Sophie", family="Bernard", title=title))
    fontaine = await headers(FONTAINE)
    assert title in await _titles(client, fontaine)
    # the author may consult too (authorised through the patient API, as a harness arranges it)
    authorised = await client.post(f"/mes/api/v1/patients/{ZOE}/access/authorised", json={"rpps": BERNARD[1:]},
                                   headers=await patient_auth(client, ZOE))
    assert authorised.status_code == 200, authorised.text

    await sign_in(page)
    await page.click("nav >> text=Documents")
    await screenshot(page, "mes-documents")
    await page.click(f"text={title}")
    await page.wait_for_selector("#doc-state")
    assert await page.locator("iframe.document").count() == 1  # the PDF shown inline from the content route
    await screenshot(page, "mes-document")
    await page.click("button:has-text('Masquer aux professionnels')")
    await page.wait_for_selector("text=masqué aux professionnels")

    assert title not in await _titles(client, fontaine)  # ITI-67 of another professional: gone
    assert title in await _titles(client, await headers(BERNARD))  # its author still sees it (dmp.md §2.4)


async def test_a_blocked_professional_is_refused_over_fhir(page, client) -> None:  # type: ignore[no-untyped-def]
    lefevre = await professional(client)(LEFEVRE)
    before = await client.get(SEARCH, headers=lefevre)
    assert before.status_code == 403, before.text  # not authorised yet

    await sign_in(page)
    await page.goto(f"/mes/patients/{ZOE}/acces")
    await page.fill("#rpps-authorise", LEFEVRE[1:])
    await page.click("button:has-text('Autoriser')")
    await page.wait_for_selector("text=Le professionnel est autorisé")
    assert (await client.get(SEARCH, headers=lefevre)).status_code == 200

    await page.fill("#rpps-block", LEFEVRE[1:])
    await page.locator("#rpps-block").press("Enter")
    await page.wait_for_selector("text=Le professionnel est bloqué")
    await screenshot(page, "mes-access")
    refused = await client.get(SEARCH, headers=lefevre)
    assert refused.status_code == 403, refused.text


async def test_history_shows_a_professionals_access(page, client) -> None:  # type: ignore[no-untyped-def]
    fontaine = await professional(client)(FONTAINE)
    assert (await client.get(SEARCH, headers=fontaine)).status_code == 200

    await sign_in(page)
    await page.click("nav >> text=Historique")
    table = await page.locator("main table").inner_text()
    assert "Fontaine" in table or "FONTAINE" in table, table
    assert "10001000016" in table and "accès normal" in table.lower()
    await page.select_option("#mode", "bris_de_glace")
    await page.click("button:has-text('Filtrer')")
    assert "10001000016" not in await page.locator("main table").inner_text()
    await page.goto(f"/mes/patients/{ZOE}/historique")
    await screenshot(page, "mes-history")
    await page.click("nav >> text=Notifications")
    await page.wait_for_selector("h1:has-text('Notifications')")
    await screenshot(page, "mes-notifications")


async def test_reply_to_a_professionals_message_reaches_their_mailbox(page, client) -> None:  # type: ignore[no-untyped-def]
    doctor = await mss_auth(client, DOCTOR_SNI)
    sent = await client.post(box(DOCTOR), headers=doctor, json={
        "to": [f"{ZOE}@patient.mssante.fr"], "subject": "Vos résultats d'analyses",
        "body": "Bonjour, vos résultats sont normaux.", "headers": {"X-MSS-NIL": "NIL-TEST"}})
    assert sent.status_code == 202, sent.text

    await sign_in(page)
    await page.click("nav >> text=Messagerie")
    await screenshot(page, "mes-messages")
    await page.click("text=Vos résultats d'analyses")
    assert "vos résultats sont normaux" in await page.locator("#message-text").inner_text()
    await page.fill("#text", "Merci docteur, à bientôt.")
    await screenshot(page, "mes-message")
    await page.click("button:has-text('Envoyer la réponse')")
    await page.wait_for_selector("text=Votre réponse est envoyée")

    listed = (await client.get(box(DOCTOR), params={"kind": "message"}, headers=doctor)).json()
    replies = [item for item in listed["items"] if item["sender"] == f"{ZOE}@patient.mssante.fr"]
    assert len(replies) == 1 and replies[0]["subject"] == "Re: Vos résultats d'analyses", listed


async def test_an_expired_session_keeps_the_form_in_the_browser(page, client, session) -> None:  # type: ignore[no-untyped-def]
    await sign_in(page)
    await page.goto(f"/mes/patients/{ZOE}/acces")
    await page.fill("#rpps-authorise", LEFEVRE[1:])
    await session.execute(update(MesWebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    await session.commit()
    await page.click("button:has-text('Autoriser')")
    await page.wait_for_selector("text=Votre session a expiré")
    await screenshot(page, "mes-expired")
    await page.select_option("#person", ZOE)
    await page.click("text=Recevoir un code")
    await page.fill("#code", await page.locator("#sms-code").inner_text())
    await page.click("button:has-text('Se connecter')")
    await page.wait_for_selector("h1:has-text('Reprendre votre action')")
    assert LEFEVRE[1:] in await page.locator("main table").inner_text()
    await screenshot(page, "mes-resume")
    await page.click("button:has-text('Confirmer')")
    await page.wait_for_selector("text=Le professionnel est autorisé")
    lefevre = await professional(client)(LEFEVRE)
    assert (await client.get(SEARCH, headers=lefevre)).status_code == 200
    # the other pages, for the record
    await page.goto(f"/mes/patients/{ZOE}/messages/pharmacie")
    await screenshot(page, "mes-pharmacy")
    await page.goto(f"/mes/patients/{ZOE}/documents")
    await page.click("text=Note de vaccination")
    await page.click("text=Supprimer…")
    await page.wait_for_selector("h1:has-text('Supprimer')")
    await screenshot(page, "mes-delete")
    response = await page.goto("/mes/patients/199999999999999/documents")
    assert response is not None and response.status == 404
    await screenshot(page, "mes-error")
