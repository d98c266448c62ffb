"""How an accepted SMTP message is stored: once, with one delivery row per recipient, all or nothing."""

from __future__ import annotations

from sqlalchemy import func, select, text

from app.mss import service
from app.mss.models import MssDelivery, MssMessage
from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import build_message, sample_xdm

SECRETARIAT = "secretariat.cardiologie@hopital-a.mssante.fr"
EXTERNAL = "someone@test-ci-sis.mssante.fr"


async def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_raw_message_stored_once_for_several_recipients(smtp_call, session):
    raw = build_message(sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR, xdm_bytes=sample_xdm())

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR, SECRETARIAT, EXTERNAL], raw)

    assert await smtp_call(fn) == {}
    message = (await session.scalars(select(MssMessage).where(MssMessage.kind == "message"))).one()
    assert message.raw.endswith(raw) and message.raw.startswith(b"Received: ")
    assert message.size == len(message.raw) and message.has_xdm
    deliveries = (await session.scalars(select(MssDelivery).order_by(MssDelivery.id))).all()
    assert [(d.message_id, d.recipient, d.status) for d in deliveries] == [
        (message.id, HOSPITAL_DOCTOR, "delivered"), (message.id, SECRETARIAT, "delivered"),
        (message.id, EXTERNAL, "relayed"),
    ]
    assert deliveries[0].mailbox_id is not None and deliveries[2].mailbox_id is None
    assert not any(d.seen for d in deliveries)
    assert {f["id"] for f in message.report["findings"]} and message.headers and message.parts


async def test_failed_store_leaves_nothing(smtp_call, session, monkeypatch):
    """A delivery row that cannot be written (here: a mailbox id that does not exist) fails the whole
    store, whichever way it is written (one statement on PostgreSQL, a transaction on SQLite)."""
    original = service._plan

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        plan = original(*args, **kwargs)
        plan.deliveries[-1]["mailbox_id"] = 987654321
        return plan

    monkeypatch.setattr(service, "_plan", broken)
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR)

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        smtp.rcpt(SECRETARIAT)
        code, text_ = smtp.data(raw)
        smtp.rset()
        return code, text_, smtp.noop()[0]

    code, reply, noop = await smtp_call(fn)
    assert code == 451 and b"nothing was stored" in reply
    assert noop == 250  # the session goes on
    assert await count(session, MssMessage) == 0
    assert await count(session, MssDelivery) == 0


async def test_notifications_still_stored_with_the_message(smtp_call, session):
    """NOTIFY=SUCCESS and Return-Receipt-To need more than one statement: they are stored with the
    message in one transaction."""
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR, headers={"Return-Receipt-To": DOCTOR})

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR, SECRETARIAT], raw,
                             rcpt_options=["NOTIFY=SUCCESS"])

    assert await smtp_call(fn) == {}
    kinds = (await session.scalars(select(MssMessage.kind).order_by(MssMessage.id))).all()
    assert kinds == ["message", "dsn"]  # NOTIFY=SUCCESS reported both: no Return-Receipt-To DSN on top


async def test_raw_column_not_compressed_on_postgresql(session):
    if session.get_bind().dialect.name != "postgresql":
        return
    storage = await session.scalar(text(
        "SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'mss_message'::regclass AND attname = 'raw'"))
    assert storage == "e"  # EXTERNAL: out of line, no pglz attempt (migration mss_0002)


async def test_parse_runs_on_the_loop_only_when_small_and_bounded(monkeypatch):
    """The parse and the XDM read run on the event loop for ordinary messages; a large message, or an XDM
    announcing a large inflated size (a zip bomb within the limits), goes to a worker thread."""
    import asyncio

    from app.mss import xdm
    from tests.mss.helpers import make_zip

    threads: list[str] = []
    real = asyncio.to_thread

    async def spy(fn, *args):  # type: ignore[no-untyped-def]
        threads.append(fn.__name__)
        return await real(fn, *args)

    monkeypatch.setattr(service.asyncio, "to_thread", spy)
    ordinary = build_message(xdm_bytes=sample_xdm())
    parsed, attachments = await service.parse_and_read_xdm(ordinary)
    assert threads == [] and attachments and attachments[0].package is not None

    bomb = make_zip({f"IHE_XDM/SUBSET01/F{i}.BIN": b"\0" * (1024 * 1024) for i in range(9)})
    assert len(bomb) < 100_000 and xdm.declared_inflated_size(bomb) == 9 * 1024 * 1024
    parsed, attachments = await service.parse_and_read_xdm(build_message(xdm_bytes=bomb, auto_headers=False))
    assert threads == ["read_xdm_attachments"] and attachments[0].error is not None  # no METADATA.XML

    big = build_message(body="Lorem ipsum dolor sit amet.\n" * 20000)
    assert len(big) > service.INLINE_MESSAGE_BYTES
    parsed, _ = await service.parse_and_read_xdm(big)
    assert threads[-1] == "_parse_and_read_xdm" and parsed.text_body

    assert xdm.declared_inflated_size(b"not a zip") is None


async def test_reset_forgets_the_lookups_cached_by_open_connections(smtp_call, client, session):
    """A connection caches its trust-space and mailbox lookups; a store reset (mailboxes seeded again,
    with new ids) makes every open connection look them up again."""
    import asyncio

    from tests.mss.test_smtp import deliveries_to

    loop = asyncio.get_running_loop()
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR)

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        first = smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)
        reset = asyncio.run_coroutine_threadsafe(client.post("/sandbox/v1/reset"), loop).result(60)
        assert reset.status_code == 200
        return first, smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == ({}, {})
    assert len(await deliveries_to(session, HOSPITAL_DOCTOR)) == 1  # the one sent after the reset
