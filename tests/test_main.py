"""The application factory: what create_app wires (tags, docs)."""

from __future__ import annotations

import httpx


async def test_openapi_has_a_tag_per_service(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    names = {tag["name"] for tag in spec["tags"]}
    assert {"platform", "sandbox"} <= names
    assert "Ségur Sandbox" in spec["info"]["title"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
