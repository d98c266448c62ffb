"""How an accepted SMTP message is stored: once, with one delivery row per recipient, all or nothing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text

from app.mss import deliveries, parser
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
    original = deliveries.plan_delivery

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        plan = original(*args, **kwargs)
        plan.deliveries[-1]["mailbox_id"] = 987654321
        return plan

    monkeypatch.setattr(deliveries, "plan_delivery", broken)
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


@pytest.fixture
def threads(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """The names of the functions ``service`` hands to a worker thread."""
    names: list[str] = []
    real = asyncio.to_thread

    async def spy(fn, *args):  # type: ignore[no-untyped-def]
        names.append(fn.__name__)
        return await real(fn, *args)

    monkeypatch.setattr(parser.asyncio, "to_thread", spy)
    return names


async def test_parse_runs_on_the_loop_only_when_small_and_bounded(threads):
    """The parse and the XDM read run on the event loop for ordinary messages; a large message, or an XDM
    announcing a large inflated size (a zip bomb within the limits), goes to a worker thread."""
    from app.mss import xdm
    from tests.mss.helpers import make_zip

    ordinary = build_message(xdm_bytes=sample_xdm())
    parsed, attachments = await parser.parse_and_read_xdm(ordinary, parser.SKELETON)
    assert threads == [] and attachments and attachments[0].package is not None

    bomb = make_zip({f"IHE_XDM/SUBSET01/F{i}.BIN": b"\0" * (1024 * 1024) for i in range(9)})
    assert len(bomb) < 100_000 and xdm.declared_sizes(bomb) == (9 * 1024 * 1024, 0)
    bombed = build_message(xdm_bytes=bomb, auto_headers=False)
    parsed, attachments = await parser.parse_and_read_xdm(bombed, parser.SKELETON)
    assert threads == ["read_xdm_attachments"] and attachments[0].error is not None  # no METADATA.XML

    big = build_message(body="Lorem ipsum dolor sit amet.\n" * 20000)
    assert len(big) > parser.INLINE_MESSAGE_BYTES
    parsed, _ = await parser.parse_and_read_xdm(big, parser.SKELETON)
    assert threads[-1] == "parse_message" and parsed.text_body

    assert xdm.declared_sizes(b"not a zip") is None


async def test_reset_forgets_the_lookups_cached_by_open_connections(smtp_call, client, session):
    """A connection caches its trust-space and mailbox lookups; a store reset (mailboxes seeded again,
    with new ids) makes every open connection look them up again."""
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


async def test_parse_goes_to_a_thread_when_its_line_by_line_work_is_large(threads):
    """What the stdlib reads line by line (headers, small parts: not the large bodies) is bounded on the
    event loop: a 400 KB message of tiny parts, or one whose skeleton the stdlib reads differently (so
    that the whole message is parsed), cost up to a second there."""
    from email import policy
    from email.parser import BytesParser

    from app.mss import mime, skeleton, xdm
    from tests.mss.helpers import rezip

    parts = (b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
             + b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 10_000 + b"--b--\r\n")
    assert len(parts) < parser.INLINE_MESSAGE_BYTES
    parsed, _ = await parser.parse_and_read_xdm(parts, parser.SKELETON)
    assert threads == ["parse_message"] and len(parsed.parts) == mime.MAX_PARTS

    # A Content-Type folded with a bare LF: the planner takes the part for a leaf and leaves its body out,
    # the stdlib reads a multipart: the skeleton is small, the tree it gives is not kept.
    inner = b"--z\r\nContent-Type: text/plain\r\n\r\ny\r\n" * 3000 + b"--z--"
    crafted = (b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n"
               b"Content-Type:\n multipart/mixed; boundary=z\r\n\r\n" + inner + b"\r\n--outer--\r\n")
    plan = skeleton.plan_structure(crafted)
    assert plan.line_chars < parser.INLINE_LINE_CHARS < len(crafted)
    assert skeleton.parse_message_within(plan, parser.INLINE_LINE_CHARS) is None
    threads.clear()
    parsed, _ = await parser.parse_and_read_xdm(crafted, parser.SKELETON)
    assert threads == ["parse_message"]
    reference = BytesParser(policy=policy.compat32).parsebytes(crafted)
    assert parsed.message.as_bytes() == reference.as_bytes() and len(parsed.parts) == mime.MAX_PARTS

    # METADATA.XML over INLINE_METADATA_BYTES: its elements are walked in Python.
    base = sample_xdm()
    files = xdm.read_zip_entries(base)
    padded = files[xdm.METADATA_PATH].replace(b"</rim:RegistryObjectList>",
                                              b"<rim:ExtrinsicObject/>" * 4000 + b"</rim:RegistryObjectList>")
    metadata = rezip(base, replace={xdm.METADATA_PATH: padded})
    assert len(padded) > parser.INLINE_METADATA_BYTES and len(metadata) < 50_000
    threads.clear()
    padded_message = build_message(xdm_bytes=metadata, auto_headers=False)
    parsed, attachments = await parser.parse_and_read_xdm(padded_message, parser.SKELETON)
    assert threads == ["read_xdm_attachments"] and attachments[0].package is not None

    threads.clear()
    parsed, attachments = await parser.parse_and_read_xdm(build_message(xdm_bytes=base), parser.SKELETON)
    assert threads == [] and attachments[0].package is not None


async def test_open_connections_see_mailboxes_created_and_faults_scripted_meanwhile(smtp_call, client):
    """The lookups a connection caches (LOOKUP_TTL) are forgotten when the control API creates a mailbox
    or scripts a fault (store event ``mss.lookups``, relayed to every worker): a client that sets up a
    test through the control API sees it on its open connection at once."""
    import smtplib

    loop = asyncio.get_running_loop()
    new = "secretariat.pediatrie@hopital-a.mssante.fr"
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR)

    def control(method: str, url: str, body: dict) -> int:
        call = client.post(url, json=body) if method == "POST" else client.delete(url)
        return asyncio.run_coroutine_threadsafe(call, loop).result(60).status_code

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail(DOCTOR, [new], raw)
        assert control("POST", "/sandbox/v1/mailboxes",
                       {"address": new, "type": "ORG", "display_name": "Pédiatrie"}) == 201
        first = smtp.sendmail(DOCTOR, [new], raw)
        assert smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw) == {}  # no fault pending: cached
        assert control("POST", f"/sandbox/v1/mailboxes/{HOSPITAL_DOCTOR}/faults",
                       {"stage": "DATA", "reply": "451 4.3.0 scripted", "count": 1}) == 201
        with pytest.raises(smtplib.SMTPDataError) as scripted:
            smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)
        return first, scripted.value.smtp_code

    assert await smtp_call(fn) == ({}, 451)


async def test_reading_a_crafted_message_over_http_parses_it_in_a_thread(smtp_call, client, threads):
    """The HTTP API parses a stored message to show it: the same bounds as at reception apply."""
    body = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(3000)) + "--b--\r\n"
    raw = (f"From: {DOCTOR}\r\nTo: {HOSPITAL_DOCTOR}\r\nSubject: parts\r\nX-MSS-NIL: x\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: multipart/mixed; boundary=b\r\n\r\n{body}").encode()

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == {}
    threads.clear()
    latest = await client.get(f"/sandbox/v1/mailboxes/{HOSPITAL_DOCTOR}/messages/latest")
    assert latest.status_code == 200 and threads == ["parse_message"]
