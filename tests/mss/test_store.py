"""The message store: the raw message stored uncompressed; the fast and the plain store write the same rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from app.config import Settings
from app.mss import deliveries, mime, notifications, service, store
from app.mss.models import MssDelivery, MssMessage
from app.tenancy import ALL_TENANTS
from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR
from tests.mss.helpers import build_message, sample_xdm

SECRETARIAT = "secretariat.cardiologie@hopital-a.mssante.fr"
EXTERNAL = "someone@test-ci-sis.mssante.fr"
CLOSED = "ancien.secretariat@hopital-a.mssante.fr"


async def test_raw_column_not_compressed_on_postgresql(session):
    if session.get_bind().dialect.name != "postgresql":
        return
    storage = await session.scalar(text(  # the catalog, not the rows: no tenant to name
        "SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'mss_message'::regclass AND attname = 'raw'"),
        execution_options={ALL_TENANTS: True})
    assert storage == "e"  # EXTERNAL: out of line, no pglz attempt (migration mss_0002)


# --- the fast store and the plain one write the same rows -----------------------------------------

UNSTABLE = {"id", "uid", "received_at", "delivered_at"}
"""Columns that differ between two writes of the same message whatever the store (keys, random ids, clocks)."""


async def _written(db, since: tuple[int, int]) -> dict[str, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """The message and delivery rows written since ``since`` (max ids before), their keys replaced by the
    order the messages were written in, so two runs compare."""
    messages = (await db.execute(select(MssMessage.__table__).where(MssMessage.id > since[0])
                                 .order_by(MssMessage.id))).mappings().all()
    order = {row["id"]: n for n, row in enumerate(messages)}
    deliveries = (await db.execute(select(MssDelivery.__table__).where(MssDelivery.id > since[1])
                                   .order_by(MssDelivery.id))).mappings().all()

    def key(value: int | None) -> object:
        return order.get(value, value) if value is not None else None

    return {
        "messages": [{**{k: v for k, v in row.items() if k not in UNSTABLE}, "related_id": key(row["related_id"])}
                     for row in messages],
        "deliveries": [{**{k: v for k, v in row.items() if k not in UNSTABLE}, "message_id": key(row["message_id"]),
                        "mdn_id": key(row["mdn_id"])} for row in deliveries],
    }


async def _run(app, settings: Settings, write) -> dict[str, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """``write(db, settings)`` in a transaction rolled back; the rows it wrote."""
    async with app.state.sessionmaker() as db:
        await db.begin()
        since = (await db.scalar(select(func.coalesce(func.max(MssMessage.id), 0))),
                 await db.scalar(select(func.coalesce(func.max(MssDelivery.id), 0))))
        await write(db, settings)
        rows = await _written(db, since)
        await db.rollback()
    return rows


async def _both(app, settings, write) -> None:  # type: ignore[no-untyped-def]
    fast = await _run(app, settings.model_copy(update={"fast_paths": True}), write)
    plain = await _run(app, settings.model_copy(update={"fast_paths": False}), write)
    assert fast["messages"] and fast["deliveries"]
    assert fast == plain


def _envelope(*recipients: str, notify: str = "NEVER") -> service.Envelope:
    return service.Envelope(mail_from=DOCTOR, recipients=[(r, notify) for r in recipients], auth_identity=DOCTOR)


async def test_fast_and_plain_store_a_message_with_an_xdm_alike(app, client, settings):
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR, xdm_bytes=sample_xdm())

    async def write(db, settings):  # type: ignore[no-untyped-def]
        envelope = _envelope(HOSPITAL_DOCTOR)
        analysis = await service.analyse(db, settings, raw, envelope)
        assert analysis.attachments and analysis.refused is None
        await service.store(db, settings, raw, envelope, analysis)

    await _both(app, settings, write)


async def test_fast_and_plain_store_a_multi_recipient_delivery_alike(app, client, settings):
    """Delivered and relayed recipients of one message (one raw message, one delivery row each); and, on
    PostgreSQL, the one-statement store."""
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR)
    recipients = (HOSPITAL_DOCTOR, SECRETARIAT, EXTERNAL)

    async def write(db, settings):  # type: ignore[no-untyped-def]
        envelope = _envelope(*recipients)
        analysis = await service.analyse(db, settings, raw, envelope)
        await service.store(db, settings, raw, envelope, analysis)

    await _both(app, settings, write)

    async def at_once(db, settings):  # type: ignore[no-untyped-def]
        envelope = _envelope(*recipients)
        analysis = await service.analyse(db, settings, raw, envelope)
        assert await service.store_at_once(db, settings, raw, envelope, analysis) is not None

    if app.state.engine.dialect.name == "postgresql":  # SQLite has no data-modifying CTE
        await _both(app, settings, at_once)


async def test_fast_and_plain_deliver_a_bounce_alike(app, client, settings):
    """A DSN the operator writes (a failure for a closed mailbox): the same raw bounce delivered to the
    sender's mailbox by both stores."""
    raw = build_message(sender=DOCTOR, to=CLOSED)
    parsed = mime.parse_message(raw)
    bounce = notifications.build_dsn(
        hostname=settings.mss_smtp_hostname, original_sender=DOCTOR, original=parsed,
        recipients=[notifications.DsnRecipient(CLOSED, "failed", "5.2.1", f"550 5.2.1 <{CLOSED}>: mailbox disabled")],
    )

    async def write(db, settings):  # type: ignore[no-untyped-def]
        envelope = _envelope(CLOSED, notify="FAILURE")
        analysis = await service.analyse(db, settings, raw, envelope)
        original = await service.message_store(settings).add_message(
            db, deliveries.plan_delivery(raw, envelope, analysis).message)
        await service.deliver_local(db, settings, raw=bounce, kind="dsn", to=DOCTOR, mail_from="",
                                    related_id=original.id, transport="dsn")

    await _both(app, settings, write)


async def test_the_setting_picks_the_store(settings) -> None:  # type: ignore[no-untyped-def]
    assert store.message_store(settings.model_copy(update={"fast_paths": True})) is store.FAST_STORE
    assert store.message_store(settings.model_copy(update={"fast_paths": False})) is store.PLAIN_STORE
