"""/livez and /readyz: open, and meaning what they say."""

from __future__ import annotations

import httpx
import pytest


async def test_livez_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/livez")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
async def test_health_is_not_behind_auth(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200
