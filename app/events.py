"""Store events: changes that workers keep in memory, told to every worker of the same store.

Hot paths (the PSC token check above all) answer from memory: which tokens are revoked, who the
professionals are. A write that changes such a thing calls :func:`publish` inside its own transaction:

- once that transaction commits, the event is applied to this worker's subscribers at once (before the
  response is sent, so a client that revokes a token and uses it right away is refused);
- a rolled-back transaction publishes nothing;
- on PostgreSQL, ``pg_notify`` sent in the same transaction (PostgreSQL delivers it on commit) relays the
  event to every other worker's listener connection, within a millisecond on one machine (a worker skips
  its own notifications: it applied them already). While a worker's
  listener is down, :attr:`StoreEvents.relayed` is false and the subscribers must read the store instead;
  once it is back they are told to resynchronise.

SQLite stores are served by one process (``serve --workers`` is PostgreSQL-only), so local delivery is
all there is to do. Handlers are plain functions: they must be quick and must not raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

logger = logging.getLogger("segur.events")

CHANNEL = "segur_store_events"
MAX_PAYLOAD = 7900
"""pg_notify payloads are limited to 8000 bytes: longer key lists are sent in several notifications."""
RECONNECT_DELAY = 1.0
TOPIC_RESET = "store.reset"
"""Published by the store reset (``app.api.store.reset_store``): forget everything kept of the store."""

Handler = Callable[[str], None]
"""Called with the event's key (a jti, a SubjectNameID...); the topic is the subscription's."""
Resync = Callable[[], Awaitable[None]]

_PENDING = "segur.events.pending"
ORIGIN = uuid.uuid4().hex[:12]
"""This process, in every notification it sends: its own events come back through the listener, later
than it applied them (they would undo newer local events, e.g. a reset after a revocation), so they
are skipped."""
NOTIFY = text("SELECT pg_notify(:channel, :payload)")
"""The statement that sends one notification; a write may also send it itself (``RETURNING pg_notify``)."""


def _new_origin() -> None:
    """A forked worker (gunicorn ``--preload``, ``os.fork``) is another process: were it to keep its
    parent's origin, it would skip every event of its sibling workers."""
    global ORIGIN
    ORIGIN = uuid.uuid4().hex[:12]


os.register_at_fork(after_in_child=_new_origin)


def store_key(database_url: str) -> str:
    """The identity of a store, the same whichever spelling of its URL (driver, password) is at hand."""
    url = make_url(database_url)
    return f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"


class StoreEvents:
    """This process's subscribers to one store's events, and its PostgreSQL listener."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.is_postgresql = key.startswith("postgresql")
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._resyncs: list[Resync] = []
        self._connection: Any = None
        self._dsn: str | None = None
        self._ssl: bool | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self._listeners = 0

    @property
    def relayed(self) -> bool:
        """True when every change to the store, from any process, reaches this worker's subscribers."""
        return not self.is_postgresql or self._connection is not None

    def subscribe(self, topic: str, handler: Handler) -> None:
        if handler not in self._handlers[topic]:
            self._handlers[topic].append(handler)

    def on_resync(self, callback: Resync) -> None:
        """``callback`` reloads what a subscriber keeps, after the listener (re)connects."""
        if callback not in self._resyncs:
            self._resyncs.append(callback)

    def dispatch(self, topic: str, key: str) -> None:
        for handler in self._handlers.get(topic, ()):
            try:
                handler(key)
            except Exception:  # a subscriber's bug must not fail the request that committed
                logger.exception("store event handler failed for %s", topic)

    # --- the PostgreSQL listener ------------------------------------------------------------------

    async def start(self, database_url: str) -> None:
        """Listen for other workers' events (PostgreSQL; nothing to do on SQLite). Reference-counted:
        several apps of one process on the same store share one listener."""
        self._listeners += 1
        if not self.is_postgresql or self._listeners > 1:
            return
        from app.db import _is_local_without_tls_choice

        url = make_url(database_url)
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._ssl = False if _is_local_without_tls_choice(database_url) else None
        try:
            await self._connect()
        except BaseException:
            self._listeners -= 1  # the app failed to start: it will not stop this listener
            raise

    async def _connect(self) -> None:
        import asyncpg

        kwargs: dict[str, Any] = {"server_settings": {"application_name": "segur-sandbox-events"}}
        if self._ssl is not None:
            kwargs["ssl"] = self._ssl
        connection = await asyncpg.connect(self._dsn, **kwargs)
        try:
            await connection.add_listener(CHANNEL, self._notified)
            # listening first, then reloading: a change made meanwhile is either in the reload or notified
            for resync in self._resyncs:
                await resync()
        except BaseException:
            await connection.close(timeout=2)
            raise  # not relayed until a reload has succeeded: the subscribers keep reading the store
        connection.add_termination_listener(self._lost)
        self._connection = connection

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        origin, _, payload = payload.partition(" ")
        if origin == ORIGIN:
            return
        topic, _, keys = payload.partition(" ")
        for key in keys.split("\n") if keys else [""]:
            self.dispatch(topic, key)

    def _lost(self, _connection: Any) -> None:
        if self._connection is None:
            return
        logger.warning("store event listener lost; reading the store until it is back")
        self._connection = None
        self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        while self._connection is None and self._listeners > 0:
            await asyncio.sleep(RECONNECT_DELAY)
            try:
                await self._connect()
            except Exception as exc:
                logger.warning("store event listener: reconnect failed (%s)", type(exc).__name__)
        if self._connection is not None:
            logger.info("store event listener back")

    async def stop(self) -> None:
        self._listeners = max(0, self._listeners - 1)
        if self._listeners:
            return
        if self._reconnect is not None:
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reconnect
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)


_STORES: dict[str, StoreEvents] = {}


def events_for(database_url: str) -> StoreEvents:
    key = store_key(database_url)
    store = _STORES.get(key)
    if store is None:
        store = _STORES[key] = StoreEvents(key)
    return store


_Pending = tuple[tuple[SessionTransaction, ...], StoreEvents, str, str]
"""An event waiting for its commit: the savepoints it was published in, its store, topic and key."""


async def publish(session: AsyncSession, topic: str, keys: str | Iterable[str] = "") -> None:
    """Tell every worker, once this session's transaction commits, that ``keys`` changed under ``topic``."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    if not keys:
        return
    store = events_for(session.get_bind().engine.url.render_as_string(hide_password=False))
    sync = session.sync_session
    savepoints = _savepoints(sync)
    pending: list[_Pending] = sync.info.setdefault(_PENDING, [])
    pending.extend((savepoints, store, topic, key) for key in keys)
    if store.is_postgresql:
        for payload in payloads(topic, keys):
            await session.execute(NOTIFY, {"channel": CHANNEL, "payload": payload})


def payloads(topic: str, keys: list[str]) -> Iterable[str]:
    """``<origin> <topic> <key>\\n<key>...``, each within pg_notify's limit."""
    head = f"{ORIGIN} {topic} "
    chunk: list[str] = []
    size = len(head)
    for key in keys:
        if chunk and size + len(key) + 1 > MAX_PAYLOAD:
            yield head + "\n".join(chunk)
            chunk, size = [], len(head)
        chunk.append(key)
        size += len(key) + 1
    yield head + "\n".join(chunk)


def _savepoints(session: Session) -> tuple[SessionTransaction, ...]:
    """The savepoints (``begin_nested``) open in ``session``, innermost first: an event published inside
    one is dropped if it rolls back."""
    found: list[SessionTransaction] = []
    transaction = session.get_nested_transaction()
    while transaction is not None:
        if transaction.nested:
            found.append(transaction)
        transaction = transaction.parent
    return tuple(found)


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: nothing is committed until the transaction itself is
    for _, store, topic, key in session.info.pop(_PENDING, ()):
        store.dispatch(topic, key)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    if savepoint is None:  # the transaction itself
        session.info.pop(_PENDING, None)
    elif session.info.get(_PENDING):  # a savepoint: only what was published inside it
        session.info[_PENDING] = [entry for entry in session.info[_PENDING] if savepoint not in entry[0]]


@event.listens_for(Session, "after_transaction_end")
def _forget_at_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # ended without a commit (closed): what it published never happened
        session.info.pop(_PENDING, None)
