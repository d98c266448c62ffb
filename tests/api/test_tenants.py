"""The tenants' control API (``/sandbox/v1/tenants``), the ``/t/{tenant}`` prefix of an unknown tenant in each
protocol's shape, deleting a tenant (every row of it, in every tenant-owned table, and nothing else) and the
resets (a tenant's, and the default tenant's while other tenants exist)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import event

from app.api.models import Tenant
from tests.tenants import TENANTS, delete_every_tenant, make_tenant, row_counts, unique_name

__all__ = ["make_tenant"]

PROBLEM = "application/problem+json"


async def test_create_read_list_delete(client: httpx.AsyncClient, settings) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("ci")
    created = await client.post(TENANTS, json={"name": name, "seed": "empty"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == name and body["seeded"] == "empty"
    assert body["base_url"] == f"http://sandbox.test/t/{name}"
    assert body["mail_login_prefix"] == f"{name}/"
    assert created.headers["location"] == f"http://sandbox.test/sandbox/v1/tenants/{name}"
    assert (await client.get(f"{TENANTS}/{name}")).json()["name"] == name
    assert name in [row["name"] for row in (await client.get(TENANTS)).json()]
    assert "default" not in [row["name"] for row in (await client.get(TENANTS)).json()]
    # the new tenant answers at its prefix, the default one without it
    assert (await client.get(f"/t/{name}/sandbox/v1/faults")).status_code == 200
    deleted = await client.delete(f"{TENANTS}/{name}")
    assert deleted.status_code == 200 and deleted.json()["name"] == name
    assert (await client.get(f"{TENANTS}/{name}")).status_code == 404
    gone = await client.get(f"/t/{name}/sandbox/v1/faults")
    assert gone.status_code == 404 and gone.json()["rule"] == "sandbox:unknown-tenant"


async def test_seed_fixtures_or_empty(client: httpx.AsyncClient, make_tenant, app) -> None:  # type: ignore[no-untyped-def]
    full = await make_tenant("full", seed="fixtures")
    empty = await make_tenant("empty", seed="empty")
    default_counts = await row_counts(app.state.sessionmaker, "default")
    full_counts = await row_counts(app.state.sessionmaker, full)
    seeded = {table for table, count in default_counts.items() if count and table != "sandbox_journal_entry"}
    assert seeded, "the default tenant holds fixtures"
    # every table the fixtures fill in the default tenant is filled the same in a tenant seeded with them
    assert {table: full_counts[table] for table in seeded} == {table: default_counts[table] for table in seeded}
    assert not any(count for table, count in (await row_counts(app.state.sessionmaker, empty)).items()
                   if table != "sandbox_journal_entry")
    # the same natural keys in both: a fixture professional's userinfo name, an INS test identity
    pros = (await client.get(f"/t/{full}/sandbox/v1/professionals")).json()
    default_pros = (await client.get("/sandbox/v1/professionals")).json()
    assert pros and sorted(str(p) for p in pros) == sorted(str(p) for p in default_pros)


async def test_duplicate_reserved_and_bad_names(client: httpx.AsyncClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    name = await make_tenant("dup", seed="empty")
    again = await client.post(TENANTS, json={"name": name, "seed": "empty"})
    assert again.status_code == 409 and again.json()["rule"] == "sandbox:tenant-exists"
    assert again.headers["content-type"].startswith(PROBLEM)
    reserved = await client.post(TENANTS, json={"name": "default"})
    assert reserved.status_code == 409 and reserved.json()["rule"] == "sandbox:tenant-reserved"
    assert (await client.delete(f"{TENANTS}/default")).status_code == 409
    for bad in ("Upper", "-lead", "trail-", "under_score", "a" * 41, "", "é", "a.b"):
        response = await client.post(TENANTS, json={"name": bad, "seed": "empty"})
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
    assert (await client.post(TENANTS, json={"name": unique_name("s"), "seed": "some"})).status_code == 422
    # the longest name allowed
    longest = "b" * 32 + unique_name("")[-8:]
    assert (await client.post(TENANTS, json={"name": longest, "seed": "empty"})).status_code == 201
    assert (await client.delete(f"{TENANTS}/{longest}")).status_code == 200


async def test_unknown_tenant_read_and_delete_404(client: httpx.AsyncClient) -> None:
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"{TENANTS}/nobody-here")
        assert response.status_code == 404, (method, response.text)
        assert response.json()["rule"] == "sandbox:unknown-tenant"
    assert (await client.get(f"{TENANTS}/Not_A_Name")).status_code == 404
    refused = await client.delete(f"{TENANTS}/Not_A_Name")  # a name no tenant can have: the name is refused
    assert refused.status_code == 422 and refused.json()["rule"] == "sandbox:tenant-name"


@pytest.mark.parametrize("name", ["zz", "ZZ", "a_b"])
async def test_unknown_tenant_prefix_404_in_each_protocol_shape(client: httpx.AsyncClient, name: str) -> None:
    fhir = await client.get(f"/t/{name}/dmp/fhir/DocumentReference", params={"status": "current"})
    assert fhir.status_code == 404 and fhir.headers["content-type"].startswith("application/fhir+json")
    assert fhir.json()["resourceType"] == "OperationOutcome"
    assert fhir.json()["issue"][0]["code"] == "not-found"
    annuaire = await client.get(f"/t/{name}/fhir/v2/Practitioner")
    assert annuaire.status_code == 404 and annuaire.json()["resourceType"] == "OperationOutcome"
    soap = await client.post(f"/t/{name}/lps", content=b"<x/>",
                             headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    assert soap.status_code == 404 and soap.headers["content-type"].startswith("application/soap+xml")
    assert b"Envelope" in soap.content and b"Fault" in soap.content
    token = await client.post(f"/t/{name}/auth/realms/esante-wallet/protocol/openid-connect/token",
                              data={"grant_type": "client_credentials"})
    assert token.status_code == 404 and set(token.json()) >= {"error", "error_description"}
    discovery = await client.get(f"/t/{name}/auth/realms/esante-wallet/.well-known/openid-configuration")
    assert discovery.status_code == 404 and "error" in discovery.json()
    for path in ("/sandbox/v1/faults", "/insi/v1/nir/check", "/mss/v1/mailboxes", "/"):
        other = await client.get(f"/t/{name}{path}")
        assert other.status_code == 404 and other.headers["content-type"].startswith(PROBLEM), path
        assert other.json()["rule"] == "sandbox:unknown-tenant"


async def test_known_tenant_prefix_without_a_path(client: httpx.AsyncClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    name = await make_tenant("bare", seed="empty")
    for path in (f"/t/{name}", f"/t/{name}/"):
        response = await client.get(path)
        assert response.status_code == 200, path  # the tenant's console overview


async def test_delete_removes_every_row_of_the_tenant_and_no_other(client: httpx.AsyncClient, make_tenant,  # type: ignore[no-untyped-def]
                                                                   app) -> None:
    doomed = await make_tenant("doomed", seed="fixtures")
    kept = await make_tenant("kept", seed="fixtures")
    for name in (doomed, kept):  # a journal and a fault rule of each
        assert (await client.get(f"/t/{name}/sandbox/v1/journal")).status_code == 200
        assert (await client.post(f"/t/{name}/sandbox/v1/faults",
                                  json={"target": "psc.token", "kind": "unavailable"})).status_code == 201
    await client.get(f"/t/{doomed}/missing")  # an entry of the doomed tenant's journal
    writer = app.state.journal
    await writer.flush()
    sessionmaker = app.state.sessionmaker
    before = await row_counts(sessionmaker, doomed)
    kept_before = await row_counts(sessionmaker, kept)
    default_before = await row_counts(sessionmaker, "default")
    assert before["sandbox_fault_rule"] == 1 and before["sandbox_journal_entry"] >= 1
    assert sum(before.values()) > 10
    response = await client.delete(f"{TENANTS}/{doomed}")
    assert response.status_code == 200
    assert response.json()["rows_deleted"] >= sum(before.values())
    assert await row_counts(sessionmaker, doomed) == dict.fromkeys(before, 0)
    assert await row_counts(sessionmaker, kept) == kept_before
    default_after = await row_counts(sessionmaker, "default")
    default_after.pop("sandbox_journal_entry"), default_before.pop("sandbox_journal_entry")  # this test's calls
    assert default_after == default_before
    async with sessionmaker() as session:
        assert await session.get(Tenant, doomed) is None and await session.get(Tenant, kept) is not None


async def test_a_tenants_reset_leaves_the_others(client: httpx.AsyncClient, make_tenant, app) -> None:  # type: ignore[no-untyped-def]
    a = await make_tenant("reset-a", seed="fixtures")
    b = await make_tenant("reset-b", seed="fixtures")
    for name in (a, b):
        assert (await client.post(f"/t/{name}/sandbox/v1/faults",
                                  json={"target": "psc.token", "kind": "unavailable"})).status_code == 201
    assert (await client.post("/sandbox/v1/faults", json={"target": "psc.token", "kind": "slow",
                                                          "delay_ms": 1})).status_code == 201
    await app.state.journal.flush()
    sessionmaker = app.state.sessionmaker
    b_before = await row_counts(sessionmaker, b)
    default_rules = (await client.get("/sandbox/v1/faults")).json()
    reset = await client.post(f"/t/{a}/sandbox/v1/reset")
    assert reset.status_code == 200 and reset.json()["status"] == "reset"
    assert (await client.get(f"/t/{a}/sandbox/v1/faults")).json() == []
    assert (await row_counts(sessionmaker, a))["sandbox_fault_rule"] == 0
    assert await row_counts(sessionmaker, b) == b_before
    assert (await client.get("/sandbox/v1/faults")).json() == default_rules


async def test_the_default_reset_leaves_the_tenants_and_truncates_when_alone(  # type: ignore[no-untyped-def]
        client: httpx.AsyncClient, make_tenant, app) -> None:
    sessionmaker = app.state.sessionmaker
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.lstrip()[:8].upper())

    engine = app.state.engine.sync_engine
    postgresql = engine.dialect.name == "postgresql"
    await delete_every_tenant(client)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert (await client.post("/sandbox/v1/reset")).status_code == 200
        alone = list(statements)
        name = await make_tenant("bystander", seed="fixtures")
        assert (await client.post(f"/t/{name}/sandbox/v1/faults",
                                  json={"target": "psc.token", "kind": "unavailable"})).status_code == 201
        await app.state.journal.flush()
        before = await row_counts(sessionmaker, name)
        statements.clear()
        assert (await client.post("/sandbox/v1/reset")).status_code == 200
        shared = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert await row_counts(sessionmaker, name) == before
    assert (await client.get(f"/t/{name}/sandbox/v1/faults")).json()[0]["target"] == "psc.token"
    assert not any(s.startswith("TRUNCATE") for s in shared)
    if postgresql:  # the whole store at once while the default tenant is alone (README "Performance decisions")
        assert any(s.startswith("TRUNCATE") for s in alone)
