"""One read for many waiters (app/psc/singleflight.py): what keeps the PSC caches from reloading in a herd."""

from __future__ import annotations

import asyncio

import pytest

from app.psc.singleflight import SingleFlight


async def test_callers_that_come_during_a_read_share_it() -> None:
    flight: SingleFlight[int] = SingleFlight()
    reads = 0
    gate = asyncio.Event()

    async def read() -> int:
        nonlocal reads
        reads += 1
        await gate.wait()
        return reads

    waiting = [asyncio.ensure_future(flight.run("k", read)) for _ in range(32)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [1] * 32
    assert reads == 1


async def test_a_read_after_the_flight_landed_is_a_new_read() -> None:
    flight: SingleFlight[int] = SingleFlight()
    counter = iter(range(1, 10))

    async def read() -> int:
        return next(counter)

    assert await flight.run("k", read) == 1
    assert await flight.run("k", read) == 2


async def test_keys_fly_apart() -> None:
    flight: SingleFlight[str] = SingleFlight()
    gate = asyncio.Event()

    async def read(value: str) -> str:
        await gate.wait()
        return value

    a = asyncio.ensure_future(flight.run("a", lambda: read("a")))
    b = asyncio.ensure_future(flight.run("b", lambda: read("b")))
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(a, b) == ["a", "b"]


async def test_a_failed_read_is_its_callers_own_and_the_others_read_again() -> None:
    flight: SingleFlight[str] = SingleFlight()
    gate = asyncio.Event()
    calls: list[str] = []

    async def failing() -> str:
        calls.append("leader")
        await gate.wait()
        raise RuntimeError("store unreachable")

    async def working() -> str:
        calls.append("follower")
        return "fresh"

    leader = asyncio.ensure_future(flight.run("k", failing))
    await asyncio.sleep(0)
    follower = asyncio.ensure_future(flight.run("k", working))
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(RuntimeError, match="store unreachable"):
        await leader
    assert await follower == "fresh"
    assert calls == ["leader", "follower"]


async def test_a_cancelled_leader_does_not_cancel_the_followers() -> None:
    flight: SingleFlight[str] = SingleFlight()
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "never"

    async def quick() -> str:
        return "own read"

    leader = asyncio.ensure_future(flight.run("k", slow))
    await asyncio.sleep(0)
    follower = asyncio.ensure_future(flight.run("k", quick))
    await asyncio.sleep(0)
    leader.cancel()
    assert await follower == "own read"
    with pytest.raises(asyncio.CancelledError):
        await leader


async def test_forget_lets_later_callers_read_afresh() -> None:
    flight: SingleFlight[str] = SingleFlight()
    gate = asyncio.Event()

    async def old() -> str:
        await gate.wait()
        return "read before the change"

    async def new() -> str:
        return "read after the change"

    before = asyncio.ensure_future(flight.run("k", old))
    await asyncio.sleep(0)
    flight.forget()  # e.g. a client was changed meanwhile
    assert await flight.run("k", new) == "read after the change"
    gate.set()
    assert await before == "read before the change"
