"""The browser harness itself: Debian's Chromium reaches the live sandbox and keeps a screenshot."""

from __future__ import annotations

import json

from tests.browser import screenshot


async def test_chromium_reads_the_live_sandbox(page) -> None:  # type: ignore[no-untyped-def]
    response = await page.goto("/readyz")
    assert response is not None and response.status == 200
    body = json.loads(await page.locator("body").inner_text())
    assert body["status"] == "ok" and body["checks"]["database"] == "ok", body
    path = await screenshot(page, "harness-readyz")
    assert path.stat().st_size > 0
