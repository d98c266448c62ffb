"""The control API of fault injection: create, list, read, delete, refusals, reset."""

from __future__ import annotations

import pytest

FAULTS = "/sandbox/v1/faults"


async def test_create_list_read_delete(client) -> None:
    created = await client.post(FAULTS, json={"target": "ins.search_traits", "kind": "unavailable", "count": 2})
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["target"] == "ins.search_traits" and rule["count"] == 2 and rule["calls"] == 0
    assert rule["from"] is None and "from_" not in rule
    listed = (await client.get(FAULTS)).json()
    assert [r["id"] for r in listed] == [rule["id"]]
    assert (await client.get(f"{FAULTS}/{rule['id']}")).json()["kind"] == "unavailable"
    assert (await client.delete(f"{FAULTS}/{rule['id']}")).status_code == 204
    missing = await client.get(f"{FAULTS}/{rule['id']}")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(FAULTS)).json() == []


async def test_window_is_kept(client) -> None:
    body = {"target": "dmp.iti65", "kind": "unavailable", "from": "2026-01-01T00:00:00Z",
            "until": "2026-01-01T00:05:00+00:00"}
    rule = (await client.post(FAULTS, json=body)).json()
    assert rule["from"].startswith("2026-01-01T00:00:00") and rule["until"].startswith("2026-01-01T00:05:00")


async def test_delete_all(client) -> None:
    for target in ("psc.token", "mss.smtp.rcpt"):
        assert (await client.post(FAULTS, json={"target": target, "kind": "unavailable"})).status_code == 201
    assert (await client.delete(FAULTS)).json() == {"deleted": 2}
    assert (await client.get(FAULTS)).json() == []


async def test_reset_clears_rules(client) -> None:
    await client.post(FAULTS, json={"target": "psc.token", "kind": "unavailable"})
    assert (await client.post("/sandbox/v1/reset")).status_code == 200
    assert (await client.get(FAULTS)).json() == []


@pytest.mark.parametrize(("body", "field"), [
    ({"target": "ins.nothing", "kind": "unavailable"}, "target"),
    ({"target": "psc.token", "kind": "wrong_answer", "answer": "02"}, "kind"),
    ({"target": "mss.smtp.data", "kind": "expired_token"}, "kind"),
    ({"target": "dmp.iti65", "kind": "slow"}, "delay_ms"),
    ({"target": "dmp.iti65", "kind": "unavailable", "delay_ms": 10}, "delay_ms"),
    ({"target": "ins.search_traits", "kind": "wrong_answer"}, "answer"),
    ({"target": "ins.search_traits", "kind": "unavailable", "answer": "01"}, "answer"),
    ({"target": "dmp.iti65", "kind": "unavailable", "probability": 0.5}, "seed"),
    ({"target": "dmp.iti65", "kind": "unavailable", "seed": "x"}, "seed"),
    ({"target": "dmp.iti65", "kind": "unavailable", "from": "2026-01-02T00:00:00Z",
      "until": "2026-01-01T00:00:00Z"}, "until"),
])
async def test_bad_rules_refused(client, body, field) -> None:
    response = await client.post(FAULTS, json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem.get("field") == field or field in problem["detail"], problem


@pytest.mark.parametrize("body", [
    {"target": "dmp.iti65", "kind": "broken"},
    {"target": "dmp.iti65", "kind": "unavailable", "count": 0},
    {"target": "dmp.iti65", "kind": "unavailable", "probability": 1.5, "seed": "s"},
    {"target": "dmp.iti65", "kind": "unavailable", "from": "2026-01-01T00:00:00"},
    {"target": "dmp.iti65", "kind": "unavailable", "from_": "2026-01-01T00:00:00Z"},
])
async def test_malformed_rules_refused(client, body) -> None:
    response = await client.post(FAULTS, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("body", [
    {"target": "dmp.iti65", "kind": "unavailable", "from": "0001-01-01T00:00:00+14:00"},
    {"target": "dmp.iti65", "kind": "unavailable", "until": "9999-12-31T23:59:59-14:00"},
])
async def test_instants_without_a_utc_equivalent_refused(client, body) -> None:
    # they parse, but have no UTC datetime: the store (PostgreSQL) failed on them with a 500
    response = await client.post(FAULTS, json=body)
    assert response.status_code == 422, response.text
    assert "UTC" in response.text
    assert (await client.get(FAULTS)).json() == []
