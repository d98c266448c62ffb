"""app.ins.readpool.ReadPool: the connection lender of the INS search hot path (PostgreSQL only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import asyncpg
import pytest

from app.ins.readpool import ReadPool, lifespan

pytestmark = pytest.mark.postgresql


@pytest.fixture
async def pools(postgresql_url: str) -> AsyncIterator[tuple[asyncpg.Pool, ReadPool]]:
    pool = await asyncpg.create_pool(postgresql_url, min_size=1, max_size=2)
    reads = ReadPool(pool, 2)
    try:
        yield pool, reads
    finally:
        await reads.close()
        await asyncio.wait_for(pool.close(), 10)


async def test_fetch_lends_and_keeps_connections(pools) -> None:
    _, reads = pools
    assert (await reads.fetch("SELECT $1::int AS n", 7))[0]["n"] == 7
    assert reads.size == 1
    await reads.fetch("SELECT 1")
    assert reads.size == 1  # the same connection, lent again


async def test_callers_beyond_max_size_wait_in_turn(pools) -> None:
    _, reads = pools
    results = await asyncio.gather(*(reads.fetch("SELECT pg_sleep(0.02), $1::int AS n", i) for i in range(6)))
    assert [r[0]["n"] for r in results] == list(range(6))
    assert reads.size == 2 and reads.waits >= 4


async def test_a_failed_query_gives_its_connection_back_to_asyncpg(pools) -> None:
    pool, reads = pools
    with pytest.raises(asyncpg.PostgresError):
        await reads.fetch("SELECT 1/0")
    assert reads.size == 0
    await asyncio.sleep(0.05)  # the release runs in the background
    assert pool.get_idle_size() >= 1
    assert (await reads.fetch("SELECT 2 AS n"))[0]["n"] == 2


async def test_cancelled_fetch_and_cancelled_waiter(pools) -> None:
    _, reads = pools
    slow = [asyncio.ensure_future(reads.fetch("SELECT pg_sleep(5)")) for _ in range(2)]
    await asyncio.sleep(0.2)
    waiting = asyncio.ensure_future(reads.fetch("SELECT 1"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    for task in slow:
        task.cancel()
    for task in [*slow, waiting]:
        with pytest.raises(asyncio.CancelledError):
            await task
    # both connections went back to asyncpg (which waits for the cancellation); new calls still work
    results = await asyncio.wait_for(asyncio.gather(*(reads.fetch("SELECT $1::int AS n", i) for i in range(3))), 10)
    assert [r[0]["n"] for r in results] == [0, 1, 2]


async def test_a_connection_closed_while_idle_is_replaced(pools, postgresql_url: str) -> None:
    _, reads = pools
    pid = (await reads.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"]
    admin = await asyncpg.connect(postgresql_url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    await asyncio.sleep(0.3)  # the client notices the server closed the socket
    new_pid = (await reads.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"]
    assert new_pid != pid


async def test_close_gives_everything_back(postgresql_url: str) -> None:
    pool = await asyncpg.create_pool(postgresql_url, min_size=1, max_size=3)
    reads = ReadPool(pool, 3)
    await asyncio.gather(*(reads.fetch("SELECT pg_sleep(0.01)") for _ in range(3)))
    assert reads.size == 3
    await reads.close()
    assert reads.size == 0
    await asyncio.wait_for(pool.close(), 5)  # would wait forever for a connection still lent


async def test_trim_gives_back_what_an_interval_did_not_need(postgresql_url: str) -> None:
    pool = await asyncpg.create_pool(postgresql_url, min_size=1, max_size=3)
    reads = ReadPool(pool, 3, trim_interval=3600)  # trimmed by hand below, never by the timer
    try:
        await asyncio.gather(*(reads.fetch("SELECT pg_sleep(0.01)") for _ in range(3)))
        assert reads.size == 3
        assert reads.trim() == 0  # the first interval saw every connection busy
        await reads.fetch("SELECT 1")  # one connection is enough for this interval
        assert reads.trim() == 2 and reads.size == 1
        await asyncio.sleep(0.05)  # the releases run in the background
        assert pool.get_idle_size() >= 2
        assert reads.trim() == 0 and reads.size == 1  # one is always kept
        assert (await reads.fetch("SELECT 5 AS n"))[0]["n"] == 5
    finally:
        await reads.close()
        await asyncio.wait_for(pool.close(), 5)


async def test_a_slot_freed_by_a_cancelled_query_goes_to_the_first_waiter(postgresql_url: str) -> None:
    """A connection given up (cancelled or failed query) frees its slot for the caller that has waited longest:
    a caller arriving at that moment must not take it and send the waiter back to the end of the queue."""
    pool = await asyncpg.create_pool(postgresql_url, min_size=1, max_size=2)
    reads = ReadPool(pool, 1)
    order: list[str] = []

    async def search(name: str) -> None:
        await reads.fetch("SELECT 1")
        order.append(name)

    try:
        holder = asyncio.ensure_future(reads.fetch("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.2)
        waiter = asyncio.ensure_future(search("waiter"))
        await asyncio.sleep(0.05)
        holder.cancel()  # the client went away: its connection goes back to asyncpg, its slot is free
        newcomer = asyncio.ensure_future(search("newcomer"))  # arrives in the same turn of the loop
        await asyncio.wait_for(asyncio.gather(waiter, newcomer), 10)
        with pytest.raises(asyncio.CancelledError):
            await holder
        assert order == ["waiter", "newcomer"]
        assert reads.waits == 2  # each waited once: nobody went back to the end of the queue
    finally:
        await reads.close()
        await asyncio.wait_for(pool.close(), 10)


@pytest.mark.parametrize("fast_paths", [True, False])
async def test_the_lifespan_opens_the_pool_only_with_fast_paths(postgresql_url: str, fast_paths: bool) -> None:
    """With fast paths off, no pool: the INS search takes the application's AsyncSession (tests/ins/test_searches.py
    compares both paths)."""
    settings = SimpleNamespace(fast_paths=fast_paths, database_url=postgresql_url, database_pool_size=2)
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    async with lifespan(app):
        pool = getattr(app.state, "ins_pg_pool", None)
        assert (pool is not None) == fast_paths
        if pool is not None:
            assert (await pool.fetch("SELECT 1 AS one"))[0]["one"] == 1
    assert getattr(app.state, "ins_pg_pool", None) is None
