"""One read for many waiters: requests that find a per-worker cache stale at the same moment share one read.

The PSC caches (the key ring, the token endpoint's clients) expire after a few seconds. Under load every
request in flight found them stale at the same instant, and each one read the store again (and, for the key
ring, parsed every key: about 70 ms of CPU each, on the event loop): 32 connections made 32 reads where one
would do, and the requests behind them waited up to a second and a half (issue 16: the token endpoint's p99
grew run after run, 76, 402 then 1,460 ms, as the reloads of the two caches met).

:class:`SingleFlight` makes the first caller for a key do the read while the others wait for its outcome.
If the read fails or is cancelled, each waiter does its own read, so one request's failure is never another's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """``read()``'s outcome, shared with the callers of the same ``key`` that come while it runs."""
        loop = asyncio.get_running_loop()
        flight = self._flights.get(key)
        if flight is not None and flight.get_loop() is loop:  # a flight of another loop (a finished test) is stale
            await asyncio.wait([flight])
            if flight.cancelled():  # the leader failed: its error is its own, this caller reads for itself
                return await read()
            return flight.result()
        flight = loop.create_future()
        self._flights[key] = flight
        try:
            result = await read()
        except BaseException:
            flight.cancel()
            raise
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.set_result(result)
        return result

    def forget(self) -> None:
        """Let later callers start a read of their own (what is cached changed: a read under way may be older);
        those already waiting still get its outcome."""
        self._flights.clear()
