"""The SMTP session: DATA read in bulk (dot-stuffing, long lines), the address fast path, lookups cached
per connection and forgotten when the store changes, the session's journal entry."""

from __future__ import annotations

import asyncio
import random
import smtplib

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
