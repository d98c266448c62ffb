"""A lean lender of PostgreSQL connections for the INS search hot path (one read-only statement per call).

asyncpg's :class:`~asyncpg.pool.Pool` does a lot per ``fetch``: a queue get, a holder, a proxy object, a future,
the release checks and the reset call; that is about 15 µs of CPU per query here, as much as the query itself
(measured, see docs/ins.md). :class:`ReadPool` keeps the connections it has acquired from that pool and lends
them straight from a list: on the happy path a ``fetch`` is a list pop, the query and a list append.

Everything unusual goes back to asyncpg, which knows how to clean up: a connection whose query raised or was
cancelled (the cancellation may still be in flight), or that was closed while idle, is released to the asyncpg
pool (which waits for the cancellation, resets or terminates it; a connection the server closed it has already
taken back) and the next call acquires a fresh one.
Callers beyond ``max_size`` wait in FIFO order for the next connection given back, or for a slot freed by a
connection given up (which the first waiter then fills itself, before any later caller). Connections that stay idle
through a whole ``trim_interval`` go back to asyncpg (which closes them once inactive), one is kept.

A fast path (``settings.fast_paths``): :func:`lifespan` opens it only on PostgreSQL with fast paths on, as
``app.state.ins_pg_pool``; without it, :func:`app.ins.searches.search_by_traits_fast` takes the plain path (the
same statement through the application's AsyncSession and engine).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

_SLOT = object()  # what a waiter is handed instead of a connection: a free slot, to acquire one from asyncpg


def _usable(con: Any) -> bool:
    try:
        return not con.is_closed()
    except Exception as exc:
        from asyncpg import InterfaceError  # asyncpg is imported only where the pool opens (see lifespan)

        if isinstance(exc, InterfaceError):  # closed under us, and asyncpg has already taken it back
            return False
        raise


class ReadPool:
    def __init__(self, pool: Any, max_size: int, *, trim_interval: float = 60.0) -> None:
        self._pool = pool  # an asyncpg Pool: opens, resets and closes the connections
        self._max = max_size
        self._idle: list[Any] = []
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._lent = 0  # slots taken: connections acquired (or being acquired) from asyncpg, not given back
        self._returning: set[asyncio.Task[None]] = set()
        self._trim_interval = trim_interval
        self._trim_timer: asyncio.TimerHandle | None = None
        self._low = 0  # fewest idle connections since the last trim: that many were not needed
        self.waits = 0  # how many calls had to wait for a connection (diagnostics, docs/ins.md)

    @property
    def size(self) -> int:
        """Connections held (idle or in use)."""
        return self._lent

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        idle = self._idle
        if idle:
            con = idle.pop()
            if len(idle) < self._low:
                self._low = len(idle)
        else:
            self._low = 0
            con = await self._take()
        if not _usable(con):  # the server went away while it was idle: a fresh one in the same slot
            self._discard(con)
            con = await self._open()
        try:
            rows = await con.fetch(query, *args)
        except BaseException:
            self._give_up(con)
            raise
        self._give_back(con)
        return rows

    def _first_waiter(self) -> asyncio.Future[Any] | None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # a cancelled caller's future stays in the queue until here
                return waiter
        return None

    def _give_back(self, con: Any) -> None:
        waiter = self._first_waiter()
        if waiter is not None:
            waiter.set_result(con)
        else:
            self._idle.append(con)

    def _free_slot(self) -> None:
        """A slot freed without a connection: it passes to the first waiter (which acquires one itself, ahead of
        any caller arriving meanwhile), else it is counted out."""
        waiter = self._first_waiter()
        if waiter is not None:
            waiter.set_result(_SLOT)
        else:
            self._lent -= 1

    def _discard(self, con: Any) -> None:
        """Hand a connection in an unknown state back to asyncpg, in the background: it may have to wait for a
        cancellation to finish."""
        task = asyncio.ensure_future(self._release(con))
        self._returning.add(task)
        task.add_done_callback(self._returning.discard)

    def _give_up(self, con: Any) -> None:
        self._discard(con)
        self._free_slot()

    async def _release(self, con: Any) -> None:
        try:
            await self._pool.release(con)
        except Exception:  # noqa: S110 - asyncpg terminates what it cannot reset; nothing left to do here
            pass

    async def _open(self) -> Any:
        """A connection from asyncpg for a slot already counted in ``_lent``."""
        if self._trim_timer is None:
            self._schedule_trim()
        try:
            return await self._pool.acquire()
        except BaseException:
            self._free_slot()
            raise

    async def _take(self) -> Any:
        idle = self._idle
        while idle:
            con = idle.pop()
            if _usable(con):
                return con
            self._give_up(con)
        if self._lent < self._max:
            self._lent += 1
            return await self._open()
        self.waits += 1
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            con = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed over just as we were cancelled: pass it on
                if waiter.result() is _SLOT:
                    self._free_slot()
                else:
                    self._give_back(waiter.result())
            raise
        if con is _SLOT:
            return await self._open()
        return con

    def _schedule_trim(self) -> None:
        self._trim_timer = asyncio.get_running_loop().call_later(self._trim_interval, self.trim)

    def trim(self) -> int:
        """Give back to asyncpg the connections that stayed idle through a whole interval (keeping one), so an
        idle sandbox holds as few connections as asyncpg's own pool would (it closes them once inactive).
        Runs every ``trim_interval`` seconds while connections are held; returns how many were given back."""
        spare = min(self._low, len(self._idle), self._lent - 1)
        for _ in range(max(spare, 0)):
            self._give_up(self._idle.pop(0))  # the least recently used
        self._low = len(self._idle)
        self._trim_timer = None
        if self._lent:
            self._schedule_trim()
        return max(spare, 0)

    async def close(self) -> None:
        """Give every connection back to the asyncpg pool (call before closing that pool)."""
        if self._trim_timer is not None:
            self._trim_timer.cancel()
            self._trim_timer = None
        idle, self._idle = self._idle, []
        for con in idle:
            self._lent -= 1
            await self._release(con)
        if self._returning:
            await asyncio.gather(*self._returning, return_exceptions=True)


async def _keep_session(connection: Any) -> None:
    """Only single read-only statements run on the INS pool: no session state to reset, so skip asyncpg's
    default reset query (a round trip on every release)."""


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The INS domain's lifespan: on PostgreSQL with ``settings.fast_paths``, open the read pool (a few
    connections, read-only statements, no transactions) as ``app.state.ins_pg_pool``; otherwise nothing."""
    settings = app.state.settings
    if not (settings.fast_paths and settings.database_url.startswith("postgresql")):
        yield
        return
    import asyncpg  # here, not at import: ~50 ms of start-up that a SQLite sandbox (make serve) does not need

    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    size = max(2, min(settings.database_pool_size, 10))
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size, reset=_keep_session,
                                     server_settings={"application_name": "segur-sandbox-ins"})
    reads = ReadPool(pool, size)
    app.state.ins_pg_pool = reads
    try:
        yield
    finally:
        app.state.ins_pg_pool = None
        await reads.close()
        if reads.size:  # a connection still out (a request cut short at shutdown): do not wait for it
            pool.terminate()
        else:
            await pool.close()
