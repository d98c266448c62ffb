"""The console's fault page in a real browser (tests/browser.py): a rule created with the keyboard only, listed,
then deleted (screenshots console-faults*.png)."""

from __future__ import annotations

import httpx

from tests.browser import screenshot


async def test_create_and_delete_a_rule_with_the_keyboard(page, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    response = await page.goto("/console/faults")
    assert response.status == 200 and "Pannes simulées" in await page.locator("h1").inner_text()
    await page.get_by_label("Cible").select_option("dmp.iti65")
    await page.get_by_label("Type").select_option("slow")
    await page.get_by_label("Délai en ms (slow)").fill("250")
    await page.get_by_label("Nombre d'appels").fill("3")
    await page.get_by_label("Nombre d'appels").press("Enter")  # submits the form
    await page.wait_for_url("**/console/faults")
    row = page.locator("section[aria-labelledby=rules] tbody tr")
    assert await row.count() == 1 and "dmp.iti65" in await row.inner_text()
    await screenshot(page, "console-faults")
    (rule,) = (await client.get("/sandbox/v1/faults")).json()
    assert (rule["target"], rule["kind"], rule["delay_ms"], rule["count"]) == ("dmp.iti65", "slow", 250, 3)
    await page.get_by_role("button", name=f"Supprimer la règle {rule['id']}").click()
    await page.wait_for_url("**/console/faults")
    assert "Aucune règle" in await page.locator("main").inner_text()
    assert (await client.get("/sandbox/v1/faults")).json() == []
