"""Mailbox change announcements (for IMAP IDLE, RFC 2177): the subscribers' queues, then what reaches them
after an SMTP delivery (the autocommit one-statement store on PostgreSQL included), an HTTP mark-read, and
nothing after a rolled-back transaction."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.engine import make_url

from app import events
from app.mss import changes, service
from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import build_message


def _drain(queue: asyncio.Queue[str]) -> list[str]:
    got = []
    while not queue.empty():
        got.append(queue.get_nowait())
    return got


async def test_queues_are_bounded_and_per_address() -> None:
    hub = changes.MailboxChanges()
    first, second = hub.subscribe("Sophie.Bernard@hopital-a.mssante.fr"), hub.subscribe(HOSPITAL_DOCTOR)
    other = hub.subscribe(DOCTOR)
    for _ in range(3):
        hub.announce(HOSPITAL_DOCTOR.upper())  # never blocks: one pending wake-up is enough
    assert _drain(first) == _drain(second) == [HOSPITAL_DOCTOR] and _drain(other) == []
    hub.unsubscribe(HOSPITAL_DOCTOR, first)
    hub.announce(HOSPITAL_DOCTOR)
    assert _drain(first) == [] and _drain(second) == [HOSPITAL_DOCTOR]
    hub.announce_all()
    assert _drain(second) == [HOSPITAL_DOCTOR] and _drain(other) == [DOCTOR]
    hub.unsubscribe(HOSPITAL_DOCTOR, second)
    hub.unsubscribe(HOSPITAL_DOCTOR, second)  # twice: harmless
    assert hub.subscribers(HOSPITAL_DOCTOR) == 0 and hub.subscribers(DOCTOR) == 1


async def _next(queue: asyncio.Queue[str]) -> str:
    return await asyncio.wait_for(queue.get(), timeout=10)


async def test_announced_after_smtp_delivery_and_http_mark_read_not_after_rollback(app, client, session, settings,
                                                                                     smtp_call):
    changes.wire_changes(app)
    changes.wire_changes(app)  # idempotent
    hub = changes.changes_of(app)
    assert changes.changes_of(app) is hub
    queue = hub.subscribe(HOSPITAL_DOCTOR)
    other_worker, notified = None, asyncio.Queue()  # what another worker's listener receives (PostgreSQL)
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        import asyncpg

        url = make_url(settings.database_url).set(drivername="postgresql")
        other_worker = await asyncpg.connect(url.render_as_string(hide_password=False))
        await other_worker.add_listener(events.CHANNEL, lambda *args: notified.put_nowait(args[-1]))
        assert changes.notification(session, [HOSPITAL_DOCTOR.upper()]) == (
            events.CHANNEL, next(iter(events.payloads(changes.TOPIC_MAILBOX, [HOSPITAL_DOCTOR]))))
    else:
        assert changes.notification(session, [HOSPITAL_DOCTOR]) is None
    try:
        _drain(queue)

        def send(smtp):  # type: ignore[no-untyped-def]
            smtp.login(DOCTOR, PASSWORD)
            return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR))

        assert await smtp_call(send) == {}  # on PostgreSQL (fast): the autocommit one-statement store
        assert await _next(queue) == HOSPITAL_DOCTOR
        if other_worker is not None:
            payload = await _next(notified)
            while f" {changes.TOPIC_MAILBOX} " not in payload:  # other topics (a lookup cache) may come first
                payload = await _next(notified)
            assert payload == f"{events.ORIGIN} {changes.TOPIC_MAILBOX} {HOSPITAL_DOCTOR}"

        latest = (await client.get(f"/sandbox/v1/mailboxes/{HOSPITAL_DOCTOR}/messages/latest")).json()
        read = await client.post(f"/sandbox/v1/mailboxes/{HOSPITAL_DOCTOR}/messages/{latest['uid']}/read")
        assert read.status_code == 200
        assert await _next(queue) == HOSPITAL_DOCTOR

        # a transaction that re-flags then rolls back announces nothing
        mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
        [entry] = await service.entries(session, mailbox, "INBOX")
        await service.store_flags(session, settings, mailbox, "INBOX", [entry.uid], ["\\Flagged"], "add")
        await session.rollback()
        await asyncio.sleep(0.2)
        assert queue.empty()
        # the same committed does (a rollback expires what the session loaded: the mailbox read again)
        mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
        await service.store_flags(session, settings, mailbox, "INBOX", [entry.uid], ["\\Flagged"], "add")
        await session.commit()
        assert await _next(queue) == HOSPITAL_DOCTOR
    finally:
        hub.unsubscribe(HOSPITAL_DOCTOR, queue)
        if other_worker is not None:
            await other_worker.close()
        with contextlib.suppress(Exception):
            await session.rollback()
