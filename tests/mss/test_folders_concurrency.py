"""Two sessions on one mailbox at once (PostgreSQL, READ COMMITTED; SQLite serialises its writers by itself).

Each test holds a first transaction open after its write, starts the second writer, waits until PostgreSQL
shows that writer waiting on a lock (``pg_stat_activity``: observed, not guessed with a sleep), then
commits the first and checks what the second did after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.mss import service
from app.mss.exceptions import FolderExists
from app.mss.models import MssDelivery, MssMessage
from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import build_message

_WAITING = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")


@pytest.fixture
def postgresql(session) -> None:  # type: ignore[no-untyped-def]
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite: a write transaction holds the database's write lock from its first write to its commit")


async def _blocked(app: Any, task: asyncio.Task[Any]) -> bool:
    """True once a session of the test database waits on a lock while ``task`` runs; False if ``task``
    finished first (it did not wait)."""
    engine = app.state.engine.execution_options(isolation_level="AUTOCOMMIT")  # each probe a fresh snapshot
    async with engine.connect() as probe:
        for _ in range(2000):
            if task.done():
                return False
            if await probe.scalar(_WAITING):
                return not task.done()
            await asyncio.sleep(0.005)
    raise AssertionError("the second writer neither waited nor finished within 10 s")


async def _in_second_session(app: Any, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """``work(db)`` in a session of its own, committed."""
    async with app.state.sessionmaker() as db:
        result = await work(db)
        await db.commit()
        return result


async def _deliver(session, settings, *, headers: dict[str, str] | None = None) -> int:  # type: ignore[no-untyped-def]
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR, headers=headers)
    await service.submit(session, settings, raw=raw, mail_from=DOCTOR, recipients=[HOSPITAL_DOCTOR], notify="NEVER")
    await session.commit()
    mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
    uid = (await service.entries(session, mailbox, "INBOX"))[-1].uid
    await session.commit()  # the standard folders it created: another session would wait for them
    return uid


async def test_uids_ascend_in_commit_order(postgresql, app, session, settings, smtp_call):
    """RFC 3501 §2.3.1.1: a message added gets a higher UID than those added before it. A transaction that
    drew a UID in an INBOX (IMAP APPEND, COPY, an HTTP send, the MDN a read sends) and has not committed holds
    back an SMTP delivery into the same mailbox (the one-statement store on the fast leg, a transaction on the
    plain one), which then gets the higher UID: no client sees a UID appear below one it was shown."""
    source = await _deliver(session, settings)
    asking = await _deliver(session, settings, headers={"Disposition-Notification-To": DOCTOR})

    async def append(db, box) -> tuple[str, int]:  # type: ignore[no-untyped-def]
        raw = build_message(sender=HOSPITAL_DOCTOR, to=DOCTOR)
        return HOSPITAL_DOCTOR, (await service.append(db, settings, box, "INBOX", raw))[1]

    async def copy(db, box) -> tuple[str, int]:  # type: ignore[no-untyped-def]
        return HOSPITAL_DOCTOR, (await service.copy_entries(db, box, "INBOX", [source], "INBOX"))[1][0][1]

    async def send(db, box) -> tuple[str, int]:  # type: ignore[no-untyped-def]
        await service.submit(db, settings, raw=build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR), mail_from=DOCTOR,
                             recipients=[HOSPITAL_DOCTOR], notify="NEVER")
        return HOSPITAL_DOCTOR, (await service.entries(db, box, "INBOX"))[-1].uid

    async def read(db, box) -> tuple[str, int]:  # type: ignore[no-untyped-def]
        [(_, message)] = await service.load_entries(db, box, "INBOX", [asking])
        delivery = await db.get(MssDelivery, asking)
        assert await service.mark_read(db, settings, mailbox=box, delivery=delivery, message=message) is not None
        return DOCTOR, (await service.entries(db, await service.load_mailbox(db, DOCTOR), "INBOX"))[-1].uid

    for first in (append, copy, send, read):
        async with app.state.sessionmaker() as db:
            address, drawn = await first(db, await service.load_mailbox(db, HOSPITAL_DOCTOR))

            def smtp_send(smtp):  # type: ignore[no-untyped-def]
                smtp.login(DOCTOR, PASSWORD)
                return smtp.sendmail(DOCTOR, [address], build_message(sender=DOCTOR, to=address))  # noqa: B023

            second = asyncio.create_task(smtp_call(smtp_send))
            assert await _blocked(app, second), f"an SMTP delivery did not wait for an open {first.__name__}"
            await db.commit()
        assert await second == {}
        uids = [e.uid for e in await service.entries(session, await service.load_mailbox(session, address), "INBOX")]
        assert uids[-2:] == [drawn, max(uids)] and max(uids) > drawn, first.__name__
        await session.commit()


async def test_concurrent_flag_changes_add_up_and_a_message_moves_once(postgresql, app, session, settings):
    """RFC 3501 §6.4.6: ``+FLAGS`` adds to what another session just set (no lost update); RFC 6851 §3.1:
    two sessions moving one message: the second waits, then finds it gone and moves nothing."""
    uid = await _deliver(session, settings)
    async with app.state.sessionmaker() as db:
        box = await service.load_mailbox(db, HOSPITAL_DOCTOR)
        await service.store_flags(db, settings, box, "INBOX", [uid], ["\\Flagged"], "add")

        async def label(other):  # type: ignore[no-untyped-def]
            mine = await service.load_mailbox(other, HOSPITAL_DOCTOR)
            return await service.store_flags(other, settings, mine, "INBOX", [uid], ["$Suivi"], "add")

        second = asyncio.create_task(_in_second_session(app, label))
        assert await _blocked(app, second)
        await db.commit()
    [entry] = await second
    assert entry.flags == ("$Suivi", "\\Flagged")

    await service.create_folder(session, await service.load_mailbox(session, HOSPITAL_DOCTOR), "Archive")
    await session.commit()
    async with app.state.sessionmaker() as db:
        box = await service.load_mailbox(db, HOSPITAL_DOCTOR)
        _, [(_, moved)] = await service.move_entries(db, box, "INBOX", [uid], "Trash")

        async def archive(other):  # type: ignore[no-untyped-def]
            mine = await service.load_mailbox(other, HOSPITAL_DOCTOR)
            return await service.move_entries(other, mine, "INBOX", [uid], "Archive")

        second = asyncio.create_task(_in_second_session(app, archive))
        assert await _blocked(app, second)
        await db.commit()
    assert (await second)[1] == []
    mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
    assert [e.uid for e in await service.entries(session, mailbox, "Trash")] == [moved]
    assert await service.entries(session, mailbox, "Archive") == []
    assert uid not in [e.uid for e in await service.entries(session, mailbox, "INBOX")]
    await session.rollback()


async def test_concurrent_reads_of_a_message_and_its_copy_send_one_mdn(postgresql, app, session, settings):
    """RFC 8098 §2.1: IMAP ``\\Seen`` on a message's copy in another folder and the HTTP "mark read" of the
    message at the same moment: the second waits for the first, then finds the MDN sent and sends none. And two
    sessions creating one folder at once: the second is told it exists (``[ALREADYEXISTS]``), not a crash."""
    uid = await _deliver(session, settings, headers={"Disposition-Notification-To": DOCTOR})
    mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
    _, [(_, copy)] = await service.copy_entries(session, mailbox, "INBOX", [uid], "Trash")
    await session.commit()
    mdns = select(func.count()).select_from(MssMessage).where(MssMessage.kind == "mdn")
    before = await session.scalar(mdns)
    await session.commit()

    async with app.state.sessionmaker() as db:
        box = await service.load_mailbox(db, HOSPITAL_DOCTOR)
        [read] = await service.store_flags(db, settings, box, "Trash", [copy], ["\\Seen"], "add")

        async def read_message(other):  # type: ignore[no-untyped-def]
            mine = await service.load_mailbox(other, HOSPITAL_DOCTOR)
            [(_, message)] = await service.load_entries(other, mine, "INBOX", [uid])
            delivery = await other.get(MssDelivery, uid)
            return await service.mark_read(other, settings, mailbox=mine, delivery=delivery, message=message)

        second = asyncio.create_task(_in_second_session(app, read_message))
        assert await _blocked(app, second)
        await db.commit()
    assert await second is None  # sent already
    assert read.flags == ("\\Seen",)
    assert await session.scalar(mdns) == before + 1
    await session.commit()

    async with app.state.sessionmaker() as db:
        box = await service.load_mailbox(db, HOSPITAL_DOCTOR)
        await service.create_folder(db, box, "Projets")

        async def create(other):  # type: ignore[no-untyped-def]
            await service.create_folder(other, await service.load_mailbox(other, HOSPITAL_DOCTOR), "Projets")

        second = asyncio.create_task(_in_second_session(app, create))
        assert await _blocked(app, second)
        await db.commit()
    with pytest.raises(FolderExists):
        await second
