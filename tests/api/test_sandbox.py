"""The platform control API: the journal as a harness reads it, and reset."""

from __future__ import annotations

import httpx


async def test_journal_paging_and_rule_prefix(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await client.get(f"/missing/{i}")
    first = (await client.get("/sandbox/v1/journal", params={"limit": 2, "rule": "platform:*"})).json()
    assert len(first["entries"]) == 2 and first["total"] >= 5
    assert first["next"].startswith("http://sandbox.test/sandbox/v1/journal?")
    second = (await client.get(first["next"])).json()
    assert second["entries"][0]["id"] < first["entries"][-1]["id"]


async def test_journal_rejects_inverted_range(client: httpx.AsyncClient) -> None:
    response = await client.get("/sandbox/v1/journal", params={
        "since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"})
    assert response.status_code == 400
    assert response.json()["rule"] == "sandbox:journal-range"


async def test_journal_dates_are_iso_8601_not_numbers(client: httpx.AsyncClient) -> None:
    """The OpenAPI document says ``date-time``; pydantic alone would read ``10.0`` as Unix seconds."""
    for value in ("10.0", "1700000000", "-5"):
        response = await client.get("/sandbox/v1/journal", params={"since": value})
        assert response.status_code == 422, value
        assert "ISO 8601" in response.text
    assert (await client.get("/sandbox/v1/journal", params={"since": "2026-01-01T00:00:00Z"})).status_code == 200


async def test_reset_empties_the_journal(client: httpx.AsyncClient) -> None:
    await client.get("/before-reset")
    assert (await client.post("/sandbox/v1/reset")).json()["status"] == "reset"
    page = (await client.get("/sandbox/v1/journal", params={"path": "/before-reset"})).json()
    assert page["total"] == 0
