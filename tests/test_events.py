"""Store events (app/events.py): delivered on commit only, through savepoints, relayed between workers by
PostgreSQL LISTEN/NOTIFY within its payload limit, each worker with an origin of its own."""

from __future__ import annotations

import os

import pytest

from app.events import events_for, publish
from tests.conftest import free_port


async def test_store_events_reach_subscribers_only_on_commit(app, client) -> None:  # type: ignore[no-untyped-def]
    store = events_for(app.state.settings.database_url)
    seen: list[str] = []

    def handler(key: str) -> None:
        seen.append(key)

    store.subscribe("test.topic", handler)
    async with app.state.sessionmaker() as session:
        await publish(session, "test.topic", ["a", "b"])
        assert seen == []
        await session.commit()
    assert seen[:2] == ["a", "b"]


async def test_store_events_follow_savepoints_and_die_with_a_closed_transaction(app, client) -> None:  # type: ignore[no-untyped-def]
    store = events_for(app.state.settings.database_url)
    seen: list[str] = []
    store.subscribe("test.savepoint", seen.append)
    async with app.state.sessionmaker() as session:
        await session.begin()
        await publish(session, "test.savepoint", "outer")
        async with session.begin_nested():
            await publish(session, "test.savepoint", "released")
        assert seen == []  # a released savepoint commits nothing yet
        savepoint = await session.begin_nested()
        await publish(session, "test.savepoint", "rolled-back")
        await savepoint.rollback()  # drops what it published, not what the transaction did before it
        await session.commit()
    assert seen == ["outer", "released"]
    async with app.state.sessionmaker() as session:
        await session.begin()
        await publish(session, "test.savepoint", "closed")
        await session.close()  # neither committed nor rolled back: it never happened
        async with session.begin():  # the same session, a new transaction
            pass
    assert seen == ["outer", "released"]


@pytest.mark.postgresql
async def test_a_listener_that_failed_to_start_is_started_by_the_next_app(database_url) -> None:  # type: ignore[no-untyped-def]
    if not database_url.startswith("postgresql"):
        pytest.skip("the relay is PostgreSQL's LISTEN/NOTIFY")
    from sqlalchemy.engine import make_url

    from app.events import StoreEvents, store_key

    store = StoreEvents(store_key(database_url))  # not the one the running app uses
    unreachable = make_url(database_url).set(port=free_port()).render_as_string(hide_password=False)
    with pytest.raises(OSError):
        await store.start(unreachable)  # that app fails to start, and will never stop the listener
    await store.start(database_url)
    try:
        assert store.relayed
    finally:
        await store.stop()
    assert not store.relayed


def test_a_forked_worker_has_an_origin_of_its_own() -> None:
    # workers forked from one parent skip their own notifications by origin: sharing the parent's, each
    # would skip the revocations of all the others
    from app import events

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.write(write, events.ORIGIN.encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child and child != events.ORIGIN


def test_notifications_stay_within_pg_notify_limits_and_name_their_origin() -> None:
    from app.events import MAX_PAYLOAD, ORIGIN, payloads

    keys = [f"{i:08d}-0000-4000-8000-000000000000 1800000000.0" for i in range(1000)]
    chunks = list(payloads("psc.revoked", keys))
    assert len(chunks) > 1 and all(len(p.encode()) <= MAX_PAYLOAD for p in chunks)
    received: list[str] = []
    for payload in chunks:
        origin, topic, body = payload.split(" ", 2)
        assert (origin, topic) == (ORIGIN, "psc.revoked")
        received.extend(body.split("\n"))
    assert received == keys
