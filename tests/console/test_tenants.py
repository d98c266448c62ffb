"""The console per tenant: every page at ``/t/{tenant}/...`` links, posts, polls and redirects within the tenant; the
overview lists the tenants (links to their consoles, base URLs) with create and delete forms; the fault page, the
journal and the reset button are the tenant's."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.console.helpers import csrf, csrf_of
from tests.tenants import TENANTS, make_tenant, unique_name

__all__ = ["make_tenant"]

URL = re.compile(r'(?:href|action|src|data-live)="(/[^"]*)"')
PAGES = ("/", "/console/psc", "/console/ins", "/console/dmp", "/console/mss", "/console/faults", "/console/journal",
         "/console/reports")


def _tenants_section(html: str) -> str:
    start = html.index('id="tenants-section"')
    return html[start:html.index("</section>", start)]


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_of_a_tenant_stays_in_it(client: httpx.AsyncClient, make_tenant, path: str) -> None:  # type: ignore[no-untyped-def]
    name = await make_tenant("pages")
    response = await client.get(f"/t/{name}{path}")
    assert response.status_code == 200, response.text
    html = response.text
    if path == "/":  # the list of tenants links to every console, the default one's too
        html = html.replace(_tenants_section(html), "").replace('<a href="/">Console du tenant par défaut</a>', "")
    urls = URL.findall(html)
    assert urls, path
    outside = [url for url in urls if not url.startswith(f"/t/{name}/")]
    assert outside == [], (path, outside)
    assert f"tenant <span data-tenant-name>{name}</span>" in response.text


async def test_the_default_consoles_urls_have_no_prefix(client: httpx.AsyncClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    await make_tenant("bystander", seed="empty")
    for path in PAGES:
        html = (await client.get(path)).text
        if path == "/":
            html = html.replace(_tenants_section(html), "")
        assert not [url for url in URL.findall(html) if url.startswith("/t/")], path


async def test_the_overview_lists_the_tenants_and_their_base_urls(client: httpx.AsyncClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = await make_tenant("ov-a"), await make_tenant("ov-b", seed="empty")
    section = _tenants_section((await client.get("/")).text)
    for name, seeded in ((a, "fixtures"), (b, "empty")):
        assert f'<a href="/t/{name}/">{name}</a>' in section
        assert f"http://sandbox.test/t/{name}</code>" in section
        assert seeded in section
    assert '<a href="/">default</a>' in section
    # a tenant's own overview: its base URLs and its mail login prefix
    html = (await client.get(f"/t/{a}/")).text
    for url in (f"http://sandbox.test/t/{a}/lps", f"http://sandbox.test/t/{a}/dmp/fhir",
                f"http://sandbox.test/t/{a}/sandbox/v1", f"{a}/&lt;login&gt;"):
        assert url in html, url


async def test_create_and_delete_a_tenant_with_the_forms(client: httpx.AsyncClient) -> None:
    name = unique_name("form")
    token = await csrf(client, "/")
    try:
        created = await client.post("/console/tenants", data={"csrf": token, "name": name, "seed": "empty"})
        assert created.status_code == 303 and created.headers["location"] == "/#tenants"
        assert (await client.get(f"{TENANTS}/{name}")).json()["seeded"] == "empty"
        again = await client.post("/console/tenants", data={"csrf": token, "name": name, "seed": "empty"})
        assert again.status_code == 409 and "sandbox:tenant-exists" in again.text
        bad = await client.post("/console/tenants", data={"csrf": token, "name": "Bad Name", "seed": "empty"})
        assert bad.status_code == 422 and "sandbox:tenant-name" in bad.text
        no_csrf = await client.post("/console/tenants", data={"name": unique_name("x")})
        assert no_csrf.status_code == 403
        unconfirmed = await client.post("/console/tenants/delete", data={"csrf": token, "name": name})
        assert unconfirmed.status_code == 400 and (await client.get(f"{TENANTS}/{name}")).status_code == 200
        deleted = await client.post(f"/t/{name}/console/tenants/delete",  # from the tenant's own console
                                    data={"csrf": token, "name": name, "confirm": "yes"})
        assert deleted.status_code == 303 and deleted.headers["location"] == "/#tenants"
        assert (await client.get(f"{TENANTS}/{name}")).status_code == 404
        assert (await client.post("/console/tenants/delete", data={"csrf": token, "name": "default",
                                                                   "confirm": "yes"})).status_code == 409
    finally:
        await client.delete(f"{TENANTS}/{name}")


async def test_the_fault_page_is_the_tenants(client: httpx.AsyncClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = await make_tenant("cf-a", seed="empty"), await make_tenant("cf-b", seed="empty")
    token = await csrf(client, f"/t/{a}/console/faults")
    made = await client.post(f"/t/{a}/console/faults", data={"csrf": token, "target": "dmp.iti67",
                                                               "kind": "unavailable", "count": "3"})
    assert made.status_code == 303 and made.headers["location"] == f"/t/{a}/console/faults"
    (rule,) = (await client.get(f"/t/{a}/sandbox/v1/faults")).json()
    assert rule["target"] == "dmp.iti67"
    assert "dmp.iti67" in (await client.get(f"/t/{a}/console/faults")).text
    for other in (f"/t/{b}/console/faults", "/console/faults"):
        assert f'name="id" value="{rule["id"]}"' not in (await client.get(other)).text
    # b's delete-all form leaves a's rule; deleting it by id from b does nothing either
    await client.post(f"/t/{b}/console/faults/delete", data={"csrf": token, "id": str(rule["id"])})
    await client.post(f"/t/{b}/console/faults/delete", data={"csrf": token, "all": "yes"})
    assert len((await client.get(f"/t/{a}/sandbox/v1/faults")).json()) == 1
    await client.post(f"/t/{a}/console/faults/delete", data={"csrf": token, "id": str(rule["id"])})
    assert (await client.get(f"/t/{a}/sandbox/v1/faults")).json() == []


async def test_the_journal_and_reset_are_the_tenants(client: httpx.AsyncClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = await make_tenant("cj-a", seed="empty"), await make_tenant("cj-b", seed="empty")
    await client.get(f"/t/{a}/missing-in-a")
    await client.get(f"/t/{b}/missing-in-b")
    page_a = (await client.get(f"/t/{a}/console/journal")).text
    assert "/missing-in-a" in page_a and "/missing-in-b" not in page_a
    assert "/missing-in-a" not in (await client.get("/console/journal")).text
    live = await client.get(f"/t/{b}/console/live/journal", params={"after": 0})
    assert "/missing-in-b" in live.text and "/missing-in-a" not in live.text
    assert f'data-live="/t/{a}/console/live/journal?' in page_a
    token = csrf_of(page_a)
    reset = await client.post(f"/t/{a}/console/reset", data={"csrf": token, "confirm": "yes"})
    assert reset.status_code == 303 and reset.headers["location"] == f"/t/{a}/console/journal?reset=1"
    assert "/missing-in-a" not in (await client.get(f"/t/{a}/console/journal")).text
    assert "/missing-in-b" in (await client.get(f"/t/{b}/console/journal")).text


async def test_sign_in_redirects_stay_in_the_tenant(client: httpx.AsyncClient, protected: str) -> None:
    name = unique_name("signin")
    control = {"Authorization": f"Bearer {protected}"}
    assert (await client.post(TENANTS, json={"name": name, "seed": "empty"}, headers=control)).status_code == 201
    try:
        await _sign_in_in(client, name, protected)
    finally:
        await client.delete(f"{TENANTS}/{name}", headers=control)


async def _sign_in_in(client: httpx.AsyncClient, name: str, protected: str) -> None:
    asked = await client.get(f"/t/{name}/console/faults")
    assert asked.status_code == 303
    assert asked.headers["location"] == f"/t/{name}/console/login?next=%2Ft%2F{name}%2Fconsole%2Ffaults"
    form = await client.get(asked.headers["location"])
    assert f'action="/t/{name}/console/login"' in form.text
    signed = await client.post(f"/t/{name}/console/login", data={"csrf": csrf_of(form.text), "token": protected,
                                                                  "next": f"/t/{name}/console/faults"})
    assert signed.status_code == 303 and signed.headers["location"] == f"/t/{name}/console/faults"
    cookie = signed.headers["set-cookie"]
    assert "Path=/;" in cookie or cookie.endswith("Path=/")  # one sign-in for every tenant's console
    assert (await client.get(f"/t/{name}/console/faults")).status_code == 200
    assert (await client.get("/console/faults")).status_code == 200
