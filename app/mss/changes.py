"""Mailbox change announcements: an IMAP session in IDLE (RFC 2177) learns that its mailbox changed.

Every write that adds, removes or re-flags the rows of a mailbox's folders calls
:func:`announce_after_commit` in its transaction: once that commits, :mod:`app.events` tells this worker's
subscribers at once and, on PostgreSQL, every other worker (``pg_notify``, topic :data:`TOPIC_MAILBOX`, key
:func:`mailbox_key`: the lower-cased address, after the tenant's name outside the default tenant, since one
address is a mailbox in each tenant); a rolled-back transaction announces nothing. A session in autocommit
mode (the SMTP listener's one-statement store) has no commit to wait for: it calls :func:`announce_now` after
the write.

:func:`wire_changes` links the store events to the application's :class:`MailboxChanges`, which hands each
subscriber (an IMAP session) a bounded queue: one pending wake-up is all a session needs, since it reads the
folder again when woken.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import events as store_events
from app.events import TOPIC_RESET, events_for, publish
from app.tenancy import DEFAULT_TENANT, current_tenant

TOPIC_MAILBOX = "mss.mailbox"
"""Store event topic: the key (:func:`mailbox_key`) names a mailbox whose folders changed."""


def mailbox_key(address: str, tenant: str | None = None) -> str:
    """The key of a mailbox's changes: its lower-cased address in the default tenant, ``<tenant> <address>`` in
    another (``tenant``: the current one when not given). A space is in no tenant's name nor in a mailbox
    address, so two tenants' keys never meet."""
    name = current_tenant() if tenant is None else tenant
    return address.lower() if name == DEFAULT_TENANT else f"{name} {address.lower()}"


def tenant_of_key(key: str) -> str:
    """The tenant of a :func:`mailbox_key`."""
    name, space, _ = key.partition(" ")
    return name if space else DEFAULT_TENANT


def reset_tenant(key: str) -> str:
    """The tenant a ``store.reset`` event names (``""`` from older publishers: the default tenant)."""
    return key or DEFAULT_TENANT


class MailboxChanges:
    """This application's subscribers to mailbox changes (one per application, see :func:`changes_of`)."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)

    def subscribe(self, address: str, tenant: str | None = None) -> asyncio.Queue[str]:
        """A queue that receives the mailbox's key after each change of the mailbox ``address`` of ``tenant``
        (the current one when not given)."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        self._queues[mailbox_key(address, tenant)].add(queue)
        return queue

    def unsubscribe(self, address: str, queue: asyncio.Queue[str], tenant: str | None = None) -> None:
        key = mailbox_key(address, tenant)
        queues = self._queues.get(key)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[key]

    def announce(self, key: str) -> None:
        """Wake the subscribers of the mailbox ``key`` (:func:`mailbox_key`); never blocks (a queue already
        holding a wake-up keeps it)."""
        key = key.lower()
        for queue in tuple(self._queues.get(key, ())):
            try:
                queue.put_nowait(key)
            except asyncio.QueueFull:
                pass

    def announce_all(self) -> None:
        """Every mailbox changed."""
        for key in tuple(self._queues):
            self.announce(key)

    def announce_tenant(self, tenant: str) -> None:
        """A tenant's world was reset or deleted: every mailbox of it changed (the others' did not)."""
        for key in tuple(self._queues):
            if tenant_of_key(key) == tenant:
                self.announce(key)

    def subscribers(self, address: str, tenant: str | None = None) -> int:
        return len(self._queues.get(mailbox_key(address, tenant), ()))


def changes_of(app: Any) -> MailboxChanges:
    """The application's :class:`MailboxChanges`, created on first use (on ``app.state``)."""
    changes = getattr(app.state, "mss_changes", None)
    if changes is None:
        changes = app.state.mss_changes = MailboxChanges()
    return changes


def wire_changes(app: Any) -> None:
    """Subscribe (weakly: a stopped application is not kept alive) the application's
    :class:`MailboxChanges` to the store events :data:`TOPIC_MAILBOX` (any worker) and the store reset (of
    one tenant: its mailboxes' subscribers are woken). Idempotent."""
    changes = changes_of(app)
    if getattr(app.state, "mss_changes_wired", False):
        return
    ref = weakref.ref(changes)

    def on_change(key: str) -> None:
        live = ref()
        if live is not None:
            live.announce(key)

    def on_reset(key: str) -> None:
        live = ref()
        if live is not None:
            live.announce_tenant(reset_tenant(key))

    events = events_for(app.state.settings.database_url)
    events.subscribe(TOPIC_MAILBOX, on_change)
    events.subscribe(TOPIC_RESET, on_reset)
    app.state.mss_changes_wired = True


def _keys(addresses: Iterable[str]) -> list[str]:
    """The keys of the current tenant's mailboxes ``addresses``."""
    tenant = current_tenant()
    return sorted({mailbox_key(address, tenant) for address in addresses if address})


async def announce_after_commit(session: AsyncSession, addresses: Iterable[str]) -> None:
    """Announce, once this session's transaction commits, that these mailboxes changed."""
    await publish(session, TOPIC_MAILBOX, _keys(addresses))


async def announce_now(session: AsyncSession, addresses: Iterable[str]) -> None:
    """Announce at once, from a session in autocommit mode whose write is already committed: ``pg_notify``
    (PostgreSQL; sent at once outside a transaction) and this worker's subscribers."""
    keys = _keys(addresses)
    if not keys:
        return
    await publish(session, TOPIC_MAILBOX, keys)  # its local delivery waits for a commit that never comes
    _dispatch_here(session, keys)


def notification(session: AsyncSession, addresses: Iterable[str]) -> tuple[str, str] | None:
    """The ``pg_notify`` ``(channel, payload)`` that tells the other workers these mailboxes changed, for a
    write that sends it itself (:meth:`app.mss.store.FastMessageStore.add_message_with_deliveries`): the
    payload :func:`app.events.publish` would send. None on SQLite, with no address, or when it does not fit
    one notification (then :func:`announce_now`)."""
    keys = _keys(addresses)
    if not keys or session.get_bind().dialect.name != "postgresql":
        return None
    chunks = list(store_events.payloads(TOPIC_MAILBOX, keys))
    return (store_events.CHANNEL, chunks[0]) if len(chunks) == 1 else None


def announce_here(session: AsyncSession, addresses: Iterable[str]) -> None:
    """This worker's subscribers told at once (the other workers were notified by the write itself)."""
    _dispatch_here(session, _keys(addresses))


def _dispatch_here(session: AsyncSession, keys: list[str]) -> None:
    events = events_for(session.get_bind().engine.url.render_as_string(hide_password=False))
    for key in keys:
        events.dispatch(TOPIC_MAILBOX, key)
