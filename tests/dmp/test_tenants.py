from __future__ import annotations


async def test_probe(client):  # type: ignore[no-untyped-def]
    for name in ("ta", "tb"):
        r = await client.post("/sandbox/v1/tenants", json={"name": name, "seed": "fixtures"})
        assert r.status_code == 201, r.text
