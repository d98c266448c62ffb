"""Tenants in a real browser (Debian's Chromium, tests/browser.py): create a tenant from the console's overview, open
its console from the list, move between its pages (the links stay in the tenant), delete it with the confirmation."""

from __future__ import annotations

import re

import httpx

from tests.browser import screenshot
from tests.tenants import TENANTS, unique_name


async def test_create_a_tenant_open_its_console_and_delete_it(page, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("browser")
    try:
        await page.goto("/")
        await page.fill("#tenant-name", name)
        await page.select_option("#tenant-seed", "fixtures")
        await page.get_by_role("button", name="Créer").click()
        await page.wait_for_url(re.compile(r"/#tenants$"))
        row = page.locator(f'tr[data-tenant="{name}"]')
        assert await row.count() == 1
        assert f"/t/{name}" in await row.locator("code").first.inner_text()
        await screenshot(page, "console-tenants")
        await row.get_by_role("link", name=name).click()
        await page.wait_for_url(re.compile(rf"/t/{name}/$"))
        assert name in await page.locator("h1").inner_text()
        assert f"/t/{name}/lps" in await page.locator("section[aria-labelledby=urls]").inner_text()
        await screenshot(page, "console-tenant-overview")
        # its pages, through the navigation: every one within the tenant, with the tenant's fixtures
        await page.get_by_role("link", name="Pannes").click()
        await page.wait_for_url(re.compile(rf"/t/{name}/console/faults$"))
        await page.get_by_role("link", name="DMP").click()
        await page.wait_for_url(re.compile(rf"/t/{name}/console/dmp$"))
        await page.locator("tbody a").first.click()
        await page.wait_for_url(re.compile(rf"/t/{name}/console/dmp/[0-9A-Z]{{15}}$"))
        await page.get_by_role("link", name="Journal").click()
        await page.wait_for_url(re.compile(rf"/t/{name}/console/journal$"))
        assert f"/t/{name}/console/live/journal" in (await page.locator("#live-rows").get_attribute("data-live") or "")
        # the default tenant's journal has none of this browsing
        default_journal = (await client.get("/sandbox/v1/journal", params={"path": "/console/dmp"})).json()
        tenant_journal = (await client.get(f"/t/{name}/sandbox/v1/journal", params={"path": "/console/dmp"})).json()
        assert tenant_journal["total"] >= 2 and default_journal["total"] == 0
        # delete it from its own overview: the box ticked, the dialog accepted; back to the default console
        await page.get_by_role("link", name="Vue d'ensemble").click()
        await page.wait_for_url(re.compile(rf"/t/{name}/$"))
        page.once("dialog", lambda dialog: dialog.accept())
        own = page.locator(f'tr[data-tenant="{name}"]')
        await own.locator("input[name=confirm]").check()
        await own.get_by_role("button", name="Supprimer").click()
        await page.wait_for_url(re.compile(r"/#tenants$"))
        assert f"/t/{name}/" not in page.url
        assert await page.locator(f'tr[data-tenant="{name}"]').count() == 0
        assert (await client.get(f"{TENANTS}/{name}")).status_code == 404
    finally:
        await client.delete(f"{TENANTS}/{name}")
