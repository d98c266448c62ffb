"""Helpers of the fault-injection tests: create a rule, read the journal's entries of a rule."""

from __future__ import annotations

from typing import Any

import httpx

FAULTS = "/sandbox/v1/faults"


async def add_rule(http: httpx.AsyncClient, /, **rule: Any) -> int:
    response = await http.post(FAULTS, json=rule)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def injected_entries(client: httpx.AsyncClient, rule_id: int) -> list[dict[str, Any]]:
    """The journal's entries that name ``fault:<rule_id>`` or carry its injection facts."""
    response = await client.get("/sandbox/v1/journal", params={"limit": 200})
    assert response.status_code == 200, response.text
    return [e for e in response.json()["entries"]
            if e["rule"] == f"fault:{rule_id}" or (e.get("facts") or {}).get("fault") == rule_id]
