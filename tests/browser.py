"""Pages tested the way a person uses them: the sandbox listening on a real port, driven by Debian's
Chromium through Playwright (its own browser download is not used: ``executable_path`` points at the system
Chromium, as the machine's registries allow).

The live server is the session's ``app`` itself, served by uvicorn on the test loop, so a test clicks in the
browser and then checks the professional side through ``client`` on the very same store. Pages do not depend
on the fast paths, so browser tests run on the ``fast`` leg of each engine only.

Screenshots go to ``var/test-artifacts/screenshots/`` (kept as CI artefacts) through :func:`screenshot`.
Without Chromium (``/usr/bin/chromium``) the browser tests skip, loudly; under CI (``CI=true``) that fails.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SEGUR_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "test-artifacts" / "screenshots"
# Flags the machine needs: no sandbox as root, no GPU, and no background calls to hosts a closed network
# refuses (each refused call slows the start).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def _no_browser_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian package chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (test extras)"
    return None


@pytest.fixture(scope="session")
async def live_url(app, fast_paths: bool) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """The session's app on a real port of 127.0.0.1 (``http://127.0.0.1:<port>``)."""
    import uvicorn

    if not fast_paths:
        pytest.skip("pages do not depend on the fast paths: browser tests run on the fast leg only")
    from tests.conftest import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                                           access_log=False))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        task.cancel()
        raise RuntimeError("the live server did not start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def browser(live_url: str) -> AsyncIterator[object]:
    """Debian's Chromium, headless, driven by Playwright's async API."""
    from tests.conftest import IN_CI

    reason = _no_browser_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"browser tests cannot run under CI: {reason}")
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    await chromium.close()
    await playwright.stop()


@pytest.fixture
async def page(browser, live_url: str, client) -> AsyncIterator[object]:  # type: ignore[no-untyped-def]
    """A fresh browser context (no cookies) on a freshly reset sandbox (``client`` resets it), French first."""
    context = await browser.new_context(base_url=live_url, locale="fr-FR")
    context.set_default_timeout(10_000)
    tab = await context.new_page()
    yield tab
    await context.close()


async def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Keep a full-page screenshot as a test artefact; the name says which page and which step."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") + ".png")
    await page.screenshot(path=str(path), full_page=True)
    return path
