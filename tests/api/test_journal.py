"""The journal writer: batches written whole (binary COPY on PostgreSQL, executemany on SQLite), and a
flush writes what was buffered when it started, not one row per request under load."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from app.api.journal import COLUMNS, JournalWriter
from app.api.models import JournalEntry
from app.db import as_utc, utcnow


def _row(request_id: str, status: int = 200) -> tuple:
    values = {
        "at": utcnow(), "request_id": request_id, "protocol": "http", "client": "127.0.0.1", "method": "GET",
        "path": "/test/journal", "query": "a=1", "operation": "test_op", "service": "platform", "status": status,
        "outcome": "ok", "rule": None, "detail": "détail", "duration_ms": 0.5, "actor": "psc:test-client",
        "facts": '{"acr_values":"eidas1"}', "tenant": "default",
    }
    return tuple(values[column] for column in COLUMNS)


async def _count(app, marker: str) -> int:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(
            select(func.count()).select_from(JournalEntry).where(JournalEntry.request_id.startswith(marker))
        ) or 0)


async def test_a_flush_writes_every_buffered_batch_and_leaves_later_entries(app, client) -> None:  # type: ignore[no-untyped-def]
    writer = JournalWriter(app.state.engine, batch_size=500)
    marker = uuid.uuid4().hex
    for i in range(1200):
        writer.add_row(_row(f"{marker}-{i}"))
    writes: list[int] = []
    original = writer._write

    async def write_while_requests_arrive(batch: list) -> None:
        writes.append(len(batch))
        writer.add_row(_row(f"{marker}-late-{len(writes)}"))  # a request answered during the write
        await original(batch)

    writer._write = write_while_requests_arrive  # type: ignore[method-assign]
    await writer.flush()
    assert writes == [500, 500, 200]  # three statements, not one per row
    assert await _count(app, marker) == 1200
    writer._write = original  # type: ignore[method-assign]
    await writer.flush()
    assert await _count(app, marker) == 1203

    async with app.state.sessionmaker() as session:
        entry = (await session.scalars(select(JournalEntry).where(JournalEntry.request_id == f"{marker}-7"))).one()
    assert (entry.status, entry.duration_ms, entry.detail, entry.query) == (200, 0.5, "détail", "a=1")
    assert abs((as_utc(entry.at) - utcnow()).total_seconds()) < 60


@pytest.mark.parametrize("fast", [True, False], ids=["copy", "executemany"])
async def test_both_writers_store_the_same_row(app, client, fast: bool) -> None:  # type: ignore[no-untyped-def]
    """The PostgreSQL binary COPY (a fast path) and the Core executemany it shortcuts store the same values."""
    writer = JournalWriter(app.state.engine, fast_paths=fast)
    assert writer._copy is (fast and app.state.engine.dialect.name == "postgresql")
    marker = uuid.uuid4().hex
    row = _row(marker)
    writer.add_row(row)
    await writer.flush()
    async with app.state.sessionmaker() as session:
        entry = (await session.scalars(select(JournalEntry).where(JournalEntry.request_id == marker))).one()
    stored = tuple(getattr(entry, column) for column in COLUMNS)
    assert stored[1:] == row[1:]
    assert as_utc(stored[0]) == row[0]


async def test_a_nul_in_a_path_neither_fails_its_batch_nor_is_lost(client) -> None:  # type: ignore[no-untyped-def]
    # /a%00b reaches the app as a path holding NUL, which PostgreSQL text refuses: one such row used to
    # fail the whole batch, losing the entries of every request around it
    await client.get("/no/such%00route", headers={"X-Request-ID": "journal-nul-1"})
    await client.get("/no/such/route", headers={"X-Request-ID": "journal-nul-2"})
    for request_id, path in (("journal-nul-1", "/no/such\\0route"), ("journal-nul-2", "/no/such/route")):
        page = (await client.get("/sandbox/v1/journal", params={"request_id": request_id})).json()
        assert [entry["path"] for entry in page["entries"]] == [path], request_id


async def test_nuls_escaped_past_the_column_size_fail_no_batch(client) -> None:  # type: ignore[no-untyped-def]
    # 1,500 NULs fit the path column (2,048); written as \0 they would not, and PostgreSQL would refuse
    # the whole batch: the entry is cut to its column after the escape
    await client.get("/no/" + "%00" * 1500, headers={"X-Request-ID": "journal-nul-long-1"})
    await client.get("/no/such/route", headers={"X-Request-ID": "journal-nul-long-2"})
    long = (await client.get("/sandbox/v1/journal", params={"request_id": "journal-nul-long-1"})).json()
    assert [entry["path"] for entry in long["entries"]] == [("/no/" + "\\0" * 1500)[:2048]]
    other = (await client.get("/sandbox/v1/journal", params={"request_id": "journal-nul-long-2"})).json()
    assert [entry["path"] for entry in other["entries"]] == ["/no/such/route"]


async def test_journal_records_requests_with_outcome_and_rule(client: httpx.AsyncClient) -> None:
    await client.get("/no/such/route", headers={"X-Request-ID": "journal-test-1"})
    await client.get("/livez")
    page = (await client.get("/sandbox/v1/journal", params={"request_id": "journal-test-1"})).json()
    assert page["total"] == 1
    entry = page["entries"][0]
    assert entry["outcome"] == "refused" and entry["status"] == 404
    assert entry["rule"] == "platform:route" and entry["method"] == "GET"
    assert entry["at"].endswith("+00:00") or entry["at"].endswith("Z")
    refused = (await client.get("/sandbox/v1/journal", params={"outcome": "refused"})).json()
    assert all(e["outcome"] == "refused" for e in refused["entries"])
    # health probes are not journaled: they would drown everything else
    livez = (await client.get("/sandbox/v1/journal", params={"path": "/livez"})).json()
    assert livez["total"] == 0


async def test_journal_redacts_secrets_in_queries(client: httpx.AsyncClient) -> None:
    await client.get("/nowhere", params={"code": "s3cr3t-code", "client_secret": "hunter2", "state": "abc"})
    entries = (await client.get("/sandbox/v1/journal", params={"path": "/nowhere"})).json()["entries"]
    assert entries
    text = json.dumps(entries)
    assert "s3cr3t-code" not in text and "hunter2" not in text
    assert "state=abc" in entries[0]["query"]


def _message_facts(codecda: str) -> dict:
    return {"recipients": ["sophie.bernard@hopital-a.mssante.fr"],
            "x_mss": {"INS": "O", "CODECDA": codecda, "NIL": "NIL-1", "MES": None}, "xdm": 1,
            "xdm_patients": ["275126322074974^^^&1.2.250.1.213.1.4.8&ISO"],
            "checks": {"MSS.CODECDA": "fail", "MSG.MESSAGE_ID": "pass", "MSS.NIL": "pass"}}


def test_long_facts_are_cut_inside_and_keep_what_the_rules_read() -> None:
    """A 4,800-character X-MSS-CODECDA once emptied the facts to ``{"truncated": true}``: the message dropped out of
    its report. Now the long string is cut; the checks, recipients and patients stay."""
    from app.api.journal import MAX_FACTS_CHARS, facts_text

    text = facts_text(_message_facts("11488-4," * 600))
    assert text is not None and len(text) <= MAX_FACTS_CHARS
    facts = json.loads(text)
    assert facts["truncated"] is True and facts["checks"] == _message_facts("")["checks"]
    assert facts["recipients"] == ["sophie.bernard@hopital-a.mssante.fr"] and facts["xdm_patients"]
    assert facts["x_mss"]["CODECDA"].startswith("11488-4,") and facts["x_mss"]["NIL"] == "NIL-1"
    small = facts_text(_message_facts("11488-4"))
    assert small is not None and "truncated" not in json.loads(small)


def test_facts_too_many_to_cut_keep_the_smallest_keys() -> None:
    from app.api.journal import MAX_FACTS_CHARS, facts_text

    many = {f"header_{i}": "x" * 40 for i in range(2000)} | {"flow": "code", "transaction": "TD0.2"}
    text = facts_text(many)
    assert text is not None and len(text) <= MAX_FACTS_CHARS
    facts = json.loads(text)
    assert facts["flow"] == "code" and facts["transaction"] == "TD0.2" and facts["truncated"] is True
