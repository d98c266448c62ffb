"""Writing a message and its deliveries: one small interface, a fast and a plain implementation.

The three paths that write ``mss_message`` and ``mss_delivery`` rows go through :class:`MessageStore`:
storing an accepted message with one delivery per recipient (:func:`app.mss.deliveries.store`), the same in
one statement (:func:`app.mss.deliveries.store_at_once`, the SMTP listener on PostgreSQL), and delivering a
DSN or an MDN the operator writes itself (:func:`app.mss.deliveries.deliver_local`).

- :class:`FastMessageStore` (``SEGUR_FAST_PATHS=true``): Core ``INSERT`` statements (the ORM's unit of work
  costs more than the insert, for rows written once and never updated on these paths), and the message with
  its deliveries as one data-modifying CTE (PostgreSQL), which a session in autocommit mode runs atomically
  without the BEGIN and COMMIT round trips.
- :class:`PlainMessageStore`: the ORM through the ``AsyncSession`` (``session.add``, ``flush``); the message
  and its deliveries are then written in the caller's transaction.

Both write the same rows from the same column values; :func:`message_store` picks one by the setting.
Both write the current tenant (:func:`app.tenancy.current_tenant`) into every row explicitly: a column's
Python default is not applied to ``INSERT ... SELECT`` (the one-statement store), and the engine's tenant
guard wants every statement on these tables to name the tenant.

UIDs ascend in commit order (RFC 3501 §2.3.1.1): a delivery's id is its IMAP UID, drawn from a sequence when
the row is inserted, but on PostgreSQL the row only appears when its transaction commits. Were two
transactions to write into one mailbox at once, the one that drew the lower id could commit last: a client
that saw the higher UID (and the UIDNEXT above it) would never be shown the lower one. So every write that
draws delivery ids for a mailbox first takes :func:`lock_mailboxes`, a transaction-level advisory lock per
mailbox, held until commit: the writers of one mailbox draw and commit one after the other. The one-statement
store takes it inside its statement (the lock subquery runs before any id is drawn); the others call
:func:`lock_mailboxes` before their INSERT. Writers of different mailboxes never wait for each other.
A transaction that writes into several mailboxes takes their locks together, in ascending id order (no
deadlock between two such transactions), and after the row locks it needs (``SELECT ... FOR UPDATE``).

Why not draw the UID at commit instead (a counter per folder, set by a deferred trigger): the IMAP commands
that add a message answer its UID before the commit (APPENDUID, COPYUID, RFC 4315), the contract is
UID = ``mss_delivery.id``, and two commits drawing at once would still need the same lock to keep the order
of drawing the order of visibility. SQLite needs nothing: a write transaction holds the database's write lock
from its first INSERT to its commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Integer, String, Text, bindparam, func, insert, literal, select, true, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.events import NOTIFY
from app.mss.models import MssDelivery, MssMessage
from app.tenancy import current_tenant

if TYPE_CHECKING:
    from app.config import Settings


@dataclass(frozen=True)
class StoredMessage:
    """What the writer of an ``mss_message`` row keeps of it."""

    id: int
    uid: str
    message_id: str | None
    received_at: datetime


def _stored(message_id: int, values: dict[str, Any]) -> StoredMessage:
    return StoredMessage(id=message_id, uid=values["uid"], message_id=values["message_id"],
                         received_at=values["received_at"])


class MessageStore(Protocol):
    """Writes one message row and its delivery rows (column values as dicts, ``message_id`` of the delivery
    rows filled in by the store)."""

    async def add_message(self, session: AsyncSession, values: dict[str, Any]) -> StoredMessage: ...

    async def add_deliveries(self, session: AsyncSession, message: StoredMessage,
                             rows: list[dict[str, Any]]) -> None: ...

    async def add_message_with_deliveries(self, session: AsyncSession, values: dict[str, Any],
                                          rows: list[dict[str, Any]],
                                          notify: tuple[str, str] | None = None) -> StoredMessage: ...
    """``notify``: a PostgreSQL notification ``(channel, payload)`` sent with the write."""


_DELIVERY_COLUMNS = ("mailbox_id", "recipient", "status", "notify", "seen", "seen_at", "mdn_id", "delivered_at",
                     "tenant")
_INSERT_MESSAGE = insert(MssMessage.__table__)  # type: ignore[arg-type]  # a Table, typed as FromClause
_INSERT_DELIVERY = insert(MssDelivery.__table__)  # type: ignore[arg-type]



UID_LOCK = 0x4D5355  # "MSU": the first key of the mailbox advisory locks, the mailbox id the second
_LOCKED = "segur.mss.uid_locks"


def _lock_query(ids: Any) -> Any:
    """``SELECT count(pg_advisory_xact_lock(UID_LOCK, id)) FROM unnest(ids) AS id``: the locks taken in the
    array's order (sorted by the callers), one row whatever their number (none: 0)."""
    mailbox_id = func.unnest(ids).column_valued("lock_mailbox_id")
    return select(func.count(func.pg_advisory_xact_lock(literal(UID_LOCK, Integer()), mailbox_id)).label("locks"))


def mailbox_ids(rows: list[dict[str, Any]]) -> list[int]:
    """The mailboxes ``rows`` deliver into, ascending (the order their locks are taken in)."""
    return sorted({row["mailbox_id"] for row in rows if row.get("mailbox_id") is not None})


async def lock_mailboxes(session: AsyncSession, ids: Any) -> None:
    """PostgreSQL: wait for, then hold until this transaction ends, the lock of each mailbox of ``ids`` on
    drawing delivery ids (see the module's docstring: UIDs ascend in commit order). Taken together, in
    ascending order; a lock this transaction holds already is not asked again. Nothing on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return
    sync = session.sync_session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    held = sync.info.get(_LOCKED)
    if held is None or held[0] is not transaction:  # a new transaction (or savepoint): nothing known held
        held = sync.info[_LOCKED] = (transaction, set())
    wanted = sorted({i for i in ids if i is not None} - held[1])
    if wanted:
        await session.execute(_lock_query(bindparam("ids", wanted, type_=ARRAY(Integer()))))
        held[1].update(wanted)


@cache
def _store_statement(recipients: int, notify: bool = False) -> Any:
    """``WITH m AS (INSERT INTO mss_message ... RETURNING id) INSERT INTO mss_delivery ... SELECT m.id, ...
    FROM m [UNION ALL SELECT m.id, ... FROM m]... RETURNING message_id`` for this many recipients (at most
    100 per transaction: a few statements, built once). ``notify``: ``RETURNING`` also calls
    ``pg_notify(:n_channel, :n_payload)`` (once per row, but PostgreSQL delivers identical notifications of
    one transaction once), so announcing the change costs no round trip of its own.

    The delivery rows are selected from ``m JOIN l ON true``, ``l`` the locks of the mailboxes ``:lock_ids``
    (:func:`lock_mailboxes`): no row reaches the INSERT, which draws its id, before every lock is held, and the
    locks are held until the statement's own commit."""
    messages, deliveries = MssMessage.__table__, MssDelivery.__table__
    inserted = insert(messages).values(  # type: ignore[arg-type]
        {c.name: bindparam(f"m_{c.name}", type_=c.type) for c in messages.columns if c.name != "id"}
    ).returning(messages.c.id).cte("m")
    locks = _lock_query(bindparam("lock_ids", type_=ARRAY(Integer()))).cte("l")
    rows = [select(inserted.c.id, *[bindparam(f"d{n}_{name}", type_=deliveries.c[name].type)
                                    for name in _DELIVERY_COLUMNS]).select_from(inserted.join(locks, true()))
            for n in range(recipients)]
    source = rows[0] if recipients == 1 else union_all(*rows)
    returning: list[Any] = [deliveries.c.message_id]
    if notify:
        returning.append(func.pg_notify(bindparam("n_channel", type_=String()), bindparam("n_payload", type_=Text())))
    return (insert(deliveries).from_select(["message_id", *_DELIVERY_COLUMNS], source)  # type: ignore[arg-type]
            .returning(*returning).add_cte(inserted))


class FastMessageStore:
    """Core statements; :meth:`add_message_with_deliveries` is one statement (PostgreSQL only: SQLite has no
    data-modifying CTE)."""

    async def add_message(self, session: AsyncSession, values: dict[str, Any]) -> StoredMessage:
        values["tenant"] = current_tenant()
        result = await session.execute(_INSERT_MESSAGE, values)
        return _stored(result.inserted_primary_key[0], values)  # type: ignore[attr-defined]  # a CursorResult

    async def add_deliveries(self, session: AsyncSession, message: StoredMessage,
                             rows: list[dict[str, Any]]) -> None:
        tenant = current_tenant()
        for row in rows:
            row["message_id"], row["tenant"] = message.id, tenant
        await lock_mailboxes(session, mailbox_ids(rows))
        # One row per recipient, each pointing at the one stored message (the raw bytes are stored once).
        await session.execute(_INSERT_DELIVERY, rows if len(rows) > 1 else rows[0])

    async def add_message_with_deliveries(self, session: AsyncSession, values: dict[str, Any],
                                          rows: list[dict[str, Any]],
                                          notify: tuple[str, str] | None = None) -> StoredMessage:
        tenant = values["tenant"] = current_tenant()
        params = {f"m_{name}": value for name, value in values.items()}
        params["lock_ids"] = mailbox_ids(rows)
        for number, row in enumerate(rows):
            row["tenant"] = tenant
            params.update({f"d{number}_{name}": value for name, value in row.items() if name != "message_id"})
        if notify is not None:
            params["n_channel"], params["n_payload"] = notify
        result = await session.execute(_store_statement(len(rows), notify is not None), params)
        message_id = result.scalars().all()[0]  # one row per delivery, all with the message's id
        for row in rows:
            row["message_id"] = message_id
        return _stored(message_id, values)


class PlainMessageStore:
    """The ORM's unit of work: ``session.add`` and ``flush`` (the plain path of every fast one above)."""

    async def add_message(self, session: AsyncSession, values: dict[str, Any]) -> StoredMessage:
        values["tenant"] = current_tenant()
        row = MssMessage(**values)
        session.add(row)
        await session.flush()
        return _stored(row.id, values)

    async def add_deliveries(self, session: AsyncSession, message: StoredMessage,
                             rows: list[dict[str, Any]]) -> None:
        tenant = current_tenant()
        for row in rows:
            row["message_id"], row["tenant"] = message.id, tenant
        await lock_mailboxes(session, mailbox_ids(rows))
        session.add_all([MssDelivery(**row) for row in rows])
        await session.flush()

    async def add_message_with_deliveries(self, session: AsyncSession, values: dict[str, Any],
                                          rows: list[dict[str, Any]],
                                          notify: tuple[str, str] | None = None) -> StoredMessage:
        message = await self.add_message(session, values)
        await self.add_deliveries(session, message, rows)
        if notify is not None:
            await session.execute(NOTIFY, {"channel": notify[0], "payload": notify[1]})
        return message


FAST_STORE, PLAIN_STORE = FastMessageStore(), PlainMessageStore()


def message_store(settings: Settings) -> MessageStore:
    """The store of ``settings``: fast unless ``SEGUR_FAST_PATHS=false``."""
    return FAST_STORE if settings.fast_paths else PLAIN_STORE
