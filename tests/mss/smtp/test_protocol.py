"""The SMTP session: DATA read in bulk (dot-stuffing, long lines), the address fast path, lookups cached
per connection and forgotten when the store changes, the session's journal entry."""

from __future__ import annotations

import asyncio
import random
import smtplib
from types import SimpleNamespace
from typing import Any

import pytest

from tests.mss.asking import deliveries_to
from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import build_message


def test_address_fast_path_matches_aiosmtpd() -> None:
    from aiosmtpd.smtp import SMTP

    from app.mss.smtp import MssSMTP

    server = MssSMTP.__new__(MssSMTP)  # the parser only reads local_part_limit and fast_paths
    server.local_part_limit = 0
    server.fast_paths = True  # the fast path, compared with aiosmtpd's own parser
    reference = SMTP.__new__(SMTP)
    reference.local_part_limit = 0
    rng = random.Random(11)
    cases = ["", "<>", "<a@b.c>", "<a.b@c.d> SIZE=100", "<a@b.c>  X", "<a@b.c>X", "<a@b.c>(comment) X",
             "<a@b.c> (comment) X", "<A.B@C.D>", "<a@b.c>\t", "<a@b.c> \x0c X", "<a@[1.2.3.4]>", "<a..b@c.d>",
             "<.a@c.d>", "<a.@c.d>", "<a@c..d>", "<a@c.d.>", "<a@-c.d>", "<@x:a@b.c>", '<"a b"@c.d>', "<a@b.c",
             "a@b.c", " <a@b.c>", "<é@b.c>", "<a@b.c> NOTIFY=SUCCESS ORCPT=rfc822;a@b.c", "<a+tag@b-c.d>",
             # RFC 2047 encoded words, which the stdlib parser decodes in a local part
             "<=?utf-8?q?foo?=@b.c>", "<=?utf-8?q?a=40b?=@c.d>", "<=?utf-8?b?YSBi?=@c.d> SIZE=1",
             "<=?us-ascii?q?a.b?=@c.d>", "<=?x?q?y?=@b.c> (c)", "<a=?utf-8?q?x?=@b.c>", "<=?@b.c>",
             "<a@=?utf-8?q?x?=.c>"]
    alphabet = "ab.@<>()\" \t-+[]:\\,;é"
    cases += ["<" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(3000)]
    cases += ["<a" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) + "@b.c>" for _ in range(500)]
    def outcome(parser: SMTP, arg: str) -> object:
        try:
            return parser._getaddr(arg)
        except Exception as exc:  # aiosmtpd's parser raises on a few inputs (e.g. a lone "<")
            return type(exc)

    for arg in cases:
        assert outcome(server, arg) == outcome(reference, arg), arg
    server.local_part_limit = reference.local_part_limit = 3
    for arg in ["<abc@d.e>", "<abcd@d.e>", "<a.bc@d.e> X"]:
        assert server._getaddr(arg) == reference._getaddr(arg), arg


async def test_sessions_are_journaled(smtp_call, app, client):
    await smtp_call(lambda smtp: smtp.mail(DOCTOR))
    for _ in range(50):  # the session entry is written when the connection closes
        response = await client.get("/sandbox/v1/journal", params={"service": "mss", "protocol": "smtp"})
        operations = {(e["operation"], e["rule"]) for e in response.json()["entries"]}
        if ("mss.smtp.session", "MSS:auth.required") in operations:
            break
        await asyncio.sleep(0.05)
    assert ("mss.smtp.mail", "MSS:auth.required") in operations
    assert ("mss.smtp.session", "MSS:auth.required") in operations


async def test_dot_stuffing_round_trip_and_long_lines(smtp_call, session):
    raw = (f"From: Dr Claire FONTAINE <{DOCTOR}>\r\nTo: {HOSPITAL_DOCTOR}\r\nSubject: dots\r\nX-MSS-NIL: x\r\n\r\n"
           ".first line starts with a dot\r\n..two dots\r\n.\r\nend\r\n").encode()

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == {}
    (_, message), = await deliveries_to(session, HOSPITAL_DOCTOR)
    assert message.raw.endswith(raw)

    def long_line(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        return smtp.data(b"Subject: x\r\n\r\n" + b"A" * 1200 + b"\r\n")

    code, _ = await smtp_call(long_line)
    assert code == 500

    def longest_lines(smtp):  # smtplib dot-stuffs: the first line travels as 999 octets + CRLF
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        accepted = smtp.data(b"Subject: x\r\n\r\n." + b"A" * 997 + b"\r\n" + b"B" * 998 + b"\r\n")
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        return accepted[0], smtp.data(b"Subject: x\r\n\r\n" + b"C" * 999 + b"\r\n")[0]

    assert await smtp_call(longest_lines) == (250, 500)


async def test_empty_message_body(smtp_call):
    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        return smtp.data(b"")

    code, _ = await smtp_call(fn)
    assert code == 250


async def test_reset_forgets_the_lookups_cached_by_open_connections(smtp_call, client, session):
    """A connection caches its trust-space and mailbox lookups; a store reset (mailboxes seeded again,
    with new ids) makes every open connection look them up again."""
    from tests.mss.asking import deliveries_to

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


async def test_open_connections_see_mailboxes_created_and_faults_scripted_meanwhile(smtp_call, client):
    """The lookups a connection caches (LOOKUP_TTL) are forgotten when the control API creates a mailbox
    or scripts a fault (store event ``mss.lookups``, relayed to every worker): a client that sets up a
    test through the control API sees it on its open connection at once."""

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


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def write(self, data: bytes) -> None:
        self.out += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None


async def _data(chunks: list[bytes], *, fast: bool, limit: int) -> tuple[bytes, list[bytes], bytes, list[Any]]:
    """DATA read by one reader (``fast``: in bulk; else aiosmtpd's own), ``chunks`` arriving one by one:
    the replies, what the handler received, the bytes left for the next command, the refusals noted."""
    from app.mss.smtp.protocol import MssSMTP

    received: list[bytes] = []

    async def handle_DATA(server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        received.append(envelope.content)
        return "250 2.0.0 Ok: queued"

    handler = SimpleNamespace(app=None, settings=SimpleNamespace(fast_paths=fast), generation=0,
                              handle_DATA=handle_DATA)
    server = MssSMTP(handler, data_size_limit=limit)
    server.session = server._create_session()
    server.session.host_name = "lps.test"
    server.envelope = server._create_envelope()
    server.envelope.rcpt_tos.append(HOSPITAL_DOCTOR)
    reader, writer = asyncio.StreamReader(limit=12288 + 2), _Writer()
    server._reader, server._writer, server.transport = reader, writer, object()  # type: ignore[assignment]
    task = asyncio.create_task(server.smtp_DATA(""))
    for chunk in chunks:
        reader.feed_data(chunk)
        for _ in range(5):  # the reader takes this chunk before the next one arrives
            await asyncio.sleep(0)
    await asyncio.wait_for(task, 10)
    return bytes(writer.out), received, bytes(reader._buffer), server.refusals  # type: ignore[attr-defined]


def _exactly(size: int) -> bytes:
    """A message of ``size`` octets (CRLFs included) in lines of at most 100."""
    lines, left = [], size
    while left:
        take = min(100, left)
        lines.append(b"m" * (take - 2) + b"\r\n")
        left -= take
    return b"".join(lines)


async def test_data_in_bulk_answers_as_aiosmtpds_own_data() -> None:
    """The fast DATA reader and the plain one (aiosmtpd's, ``SEGUR_FAST_PATHS=false``) on the same inputs:
    same replies (MSSanté's texts), same message, same refusal rules, same bytes left for the next command."""
    limit = 4096
    cases: list[list[bytes]] = [
        [b"Subject: x\r\n\r\nhello\r\n.\r\n"],
        [b".\r\n"],  # empty message
        [b"..two dots\r\n.one\r\n...\r\nend\r\n.\r\n"],  # dot-stuffed lines (RFC 5321 §4.5.2)
        [b"." + b"A" * 998 + b"\r\n" + b"B" * 998 + b"\r\n.\r\n"],  # 998 octets once unstuffed: accepted
        [b"C" * 999 + b"\r\n.\r\n"],  # 999 octets: 500 (§4.5.3.1.6), the handler not called
        [b"a" * 600 + b"\n" + b"b" * 600 + b"\r\n.\r\n"],  # a bare LF ends a line for the rule
        [_exactly(limit) + b".\r\n"],  # exactly the SIZE limit
        [_exactly(limit + 1) + b".\r\n"],  # one octet over: 552 MSS:size
        [_exactly(limit) + b".\r", b"\n"],  # at the limit, the terminator split
        [_exactly(limit - 1) + b".", b"\r\n"],
        [_exactly(3 * limit), b".\r\n"],
        [b"hi\r\n.\r\nRSET\r\n"],  # pipelined after the terminator: left for the next command
        [b"ab\r", b"\n.", b"x\r\n", b".", b"\r", b"\n"],  # every split of the terminator and of a stuffed dot
    ]
    rng = random.Random(17)
    message = b"".join(rng.choice([b".", b"..", b"", b"x"]) + b"y" * rng.randint(0, 80) + b"\r\n" for _ in range(80))
    for _ in range(10):
        cuts = sorted(rng.sample(range(1, len(message)), 6))
        whole = message + b".\r\n"
        cases.append([whole[i:j] for i, j in zip([0, *cuts], [*cuts, len(whole)], strict=True)])
    for chunks in cases:
        fast = await _data(chunks, fast=True, limit=limit)
        plain = await _data(chunks, fast=False, limit=limit)
        assert fast == plain, chunks[0][:40]
        assert fast[0].startswith(b"354 ")
    replies = [(await _data(chunks, fast=False, limit=limit))[0].split(b"\r\n")[1][:3] for chunks in cases[:12]]
    assert replies == [b"250", b"250", b"250", b"250", b"500", b"250", b"250", b"552", b"250", b"250", b"552",
                       b"250"]
    over_the_reader = [b"x\r\n" + b"L" * 13000 + b"\r\n.\r\n"]  # a line longer than the reader's limit: 500
    fast = await _data(over_the_reader, fast=True, limit=100000)
    assert fast == await _data(over_the_reader, fast=False, limit=100000)
    assert fast[0].split(b"\r\n")[1].startswith(b"500 5.5.2") and fast[1] == []


async def test_a_line_over_the_readers_limit_in_a_message_over_the_size_limit() -> None:
    """A line longer than the reader's 12,290 octets, starting within the SIZE limit of a message over it:
    aiosmtpd's DATA marks it "Line too long" and stops counting the size; both readers answer 552 (the
    size is checked first), the plain one by the octets it took."""
    for chunks in ([b"x" * 13000 + b"\r\n" + b"y" * 9000 + b"\r\n.\r\n"],
                   [b"x" * 13000 + b"\r\n" + b"y" * 6000 + b"\r\n.\r\n"]):
        fast = await _data(chunks, fast=True, limit=20000)
        assert fast == await _data(chunks, fast=False, limit=20000)
        assert fast[1] == [] and fast[2] == b""
    assert fast[0].split(b"\r\n")[1].startswith(b"500 5.5.2") and fast[3][-1][1] is None
    too_big = await _data([b"x" * 13000 + b"\r\n" + b"y" * 9000 + b"\r\n.\r\n"], fast=False, limit=20000)
    assert too_big[0].split(b"\r\n")[1].startswith(b"552 5.3.4") and too_big[3][-1][1] == "MSS:size"
