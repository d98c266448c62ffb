"""Messages over IMAP (RFC 3501 §6.4 with imaplib), on mail delivered over SMTP: FETCH items and sections,
``\\Seen`` set by a body fetch and visible over HTTP with the MDN sent once (RFC 8098), flags set over HTTP
and by another session reported as untagged FETCH, no EXPUNGE while answering FETCH (§7.4.1), STORE, SEARCH,
COPY and MOVE with COPYUID (RFC 4315, RFC 6851), EXPUNGE, UID EXPUNGE, CLOSE, UNSELECT, read-only EXAMINE,
and IDLE (RFC 2177) woken by an SMTP delivery."""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
from email import message_from_bytes

from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import build_message, sample_xdm
from tests.mss.imap.server_helpers import code_of, command, connect

BOX = f"/sandbox/v1/mailboxes/{HOSPITAL_DOCTOR}/messages"


async def deliver(smtp_call, count: int = 1, **options) -> list[bytes]:  # type: ignore[no-untyped-def]
    """``count`` messages from DOCTOR to HOSPITAL_DOCTOR over SMTP (STARTTLS, AUTH PLAIN)."""
    raws = [build_message(sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR,
                          subject=f"Compte rendu {index}", **options) for index in range(count)]

    def send(smtp):  # type: ignore[no-untyped-def]
        smtp.login(DOCTOR, PASSWORD)
        for raw in raws:
            assert smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw) == {}

    await smtp_call(send)
    return raws


async def messages(client, address: str = HOSPITAL_DOCTOR, **params) -> list[dict]:  # type: ignore[no-untyped-def]
    response = await client.get(f"/sandbox/v1/mailboxes/{address}/messages", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def login() -> tuple[str, str]:
    return HOSPITAL_DOCTOR, PASSWORD


async def test_fetch_items_seen_and_mdn_once(app, client, smtp_call):
    xdm = sample_xdm()
    await deliver(smtp_call, xdm_bytes=xdm, headers={"Disposition-Notification-To": DOCTOR})
    await deliver(smtp_call)

    def peek() -> dict[str, object]:
        seen: dict[str, object] = {}
        imap = connect(app, login=login())
        imap.select("INBOX")
        seen["meta"] = imap.fetch("1", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)")[1][0]
        seen["peek"] = imap.fetch("1", "(BODY.PEEK[])")[1][0]
        seen["part"] = imap.fetch("1", "(BODY.PEEK[2])")[1][0]
        seen["partial"] = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.12>)")[1][0]
        seen["flags"] = imap.fetch("1", "FLAGS")[1][0]
        seen["no-such"] = command(imap, "FETCH 3 FLAGS")[-1]
        seen["bad-item"] = command(imap, "FETCH 1 (BODY[9.Q])")[-1]
        imap.logout()
        return seen

    seen = await asyncio.to_thread(peek)
    meta = seen["meta"]
    assert isinstance(meta, bytes)
    assert re.search(rb"RFC822\.SIZE \d+", meta) and b'INTERNALDATE "' in meta and b"FLAGS ()" in meta
    assert b'"Compte rendu 0"' in meta and b'"claire.fontaine" "medecin.mssante.fr"' in meta  # ENVELOPE
    assert b'("APPLICATION" "ZIP"' in meta.upper() and b'"MIXED"' in meta.upper()  # BODYSTRUCTURE
    header, raw = seen["peek"]  # type: ignore[misc]
    assert message_from_bytes(raw)["Subject"] == "Compte rendu 0"
    _, part = seen["part"]  # type: ignore[misc]
    assert base64.b64decode(part) == xdm  # the IHE_XDM.ZIP attachment, byte for byte
    label, partial = seen["partial"]  # type: ignore[misc]
    assert b"BODY[HEADER.FIELDS (SUBJECT)]<0>" in label and partial == b"Subject: Com"
    assert b"FLAGS ()" in seen["flags"]  # type: ignore[operator]  # PEEK set nothing
    assert b" BAD " in seen["no-such"] and b" BAD " in seen["bad-item"]  # type: ignore[operator]
    assert [m["seen"] for m in await messages(client)] == [False, False]
    assert await messages(client, DOCTOR, kind="mdn") == []

    def read() -> dict[str, object]:
        seen: dict[str, object] = {}
        imap = connect(app, login=login())
        imap.select("INBOX")
        first_uid = imap.fetch("1", "(UID)")[1][0].split()[-1].rstrip(b")")
        seen["body"] = imap.uid("FETCH", first_uid, "(BODY[TEXT])")[1]
        seen["again"] = imap.fetch("1", "(RFC822)")[1][0]
        seen["clear"] = imap.store("1", "-FLAGS", "(\\Seen)")[1]
        seen["set"] = imap.store("1", "+FLAGS", "(\\Seen)")[1]
        imap.logout()
        imap = connect(app, login=login())
        imap.select("INBOX", readonly=True)
        imap.fetch("2", "(BODY[])")
        seen["examine"] = imap.fetch("2", "(FLAGS)")[1][0]
        imap.logout()
        return seen

    seen = await asyncio.to_thread(read)
    body = seen["body"]
    assert isinstance(body, list)
    assert b"UID " in body[0][0] and b"FLAGS (\\Seen)" in body[1]  # the implicit \Seen reported (§6.4.5)
    assert b"FLAGS" not in seen["again"][0]  # type: ignore[index]  # seen already: no change to report
    assert seen["clear"] == [b"1 (FLAGS ())"] and seen["set"] == [b"1 (FLAGS (\\Seen))"]
    listed = sorted(await messages(client), key=lambda m: m["received_at"])
    assert [m["seen"] for m in listed] == [True, False]  # \Seen over IMAP is the HTTP API's "read"; EXAMINE sets none
    assert len(await messages(client, DOCTOR, kind="mdn")) == 1  # the MDN asked for, sent once (RFC 8098)
    assert b"FLAGS ()" in seen["examine"]  # type: ignore[operator]


async def test_flags_and_changes_between_sessions_and_http(app, client, smtp_call):
    await deliver(smtp_call, 3)
    items = await messages(client)
    oldest = min(items, key=lambda m: m["received_at"])
    loop = asyncio.get_running_loop()

    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        watcher = connect(app, login=login())
        watcher.select("INBOX")
        seen["uids"] = [int(u) for u in watcher.uid("SEARCH", "ALL")[1][0].split()]
        other = connect(app, login=login())
        other.select("INBOX")
        # a flag set over HTTP ("mark read") reaches the IMAP session at its next command
        marked = asyncio.run_coroutine_threadsafe(client.post(f"{BOX}/{oldest['uid']}/read"), loop).result(20)
        assert marked.status_code == 200, marked.text
        seen["after-http"] = command(watcher, "NOOP")
        # another session's STORE, then its EXPUNGE
        other.store("2", "+FLAGS", "(\\Flagged $Important)")
        seen["after-store"] = command(watcher, "NOOP")
        other.store("2", "+FLAGS.SILENT", "(\\Deleted)")
        seen["expunged"] = other.expunge()[1]
        seen["during-fetch"] = command(watcher, "FETCH 1:3 (FLAGS)")  # no EXPUNGE while answering FETCH
        seen["ghost"] = command(watcher, "FETCH 2 (BODY.PEEK[])")[-1]
        seen["after-noop"] = command(watcher, "NOOP")
        seen["count"] = command(watcher, "FETCH 1:* (UID)")
        watcher.logout()
        other.logout()
        return seen

    seen = await asyncio.to_thread(work)
    assert seen["uids"] == sorted(m["imap_uid"] for m in items)  # one UID whichever interface reads it
    assert any(re.match(rb"\* 1 FETCH \(UID \d+ FLAGS \(\\Seen\)\)", line) for line in seen["after-http"])  # type: ignore[attr-defined]
    after_store = b"\n".join(seen["after-store"])  # type: ignore[arg-type]
    assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important)" in after_store
    assert re.search(rb"\* 2 FETCH \(UID \d+ FLAGS \((\$Important \\Flagged|\\Flagged \$Important)\)\)", after_store)
    assert seen["expunged"] == [b"2"]
    during = b"\n".join(seen["during-fetch"])  # type: ignore[arg-type]
    assert b" EXPUNGE" not in during and during.count(b" FETCH (FLAGS") == 3 and during.endswith(b"OK FETCH completed")
    assert b"NO [EXPUNGEISSUED]" in seen["ghost"]  # type: ignore[operator]  # RFC 5530, RFC 2180 §4.1.2
    assert b"* 2 EXPUNGE" in seen["after-noop"]  # type: ignore[operator]
    assert sum(line.startswith(b"* ") for line in seen["count"]) == 2  # type: ignore[union-attr]


async def test_search_store_copy_move_expunge_close(app, client, smtp_call):
    await deliver(smtp_call, 4)

    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        imap = connect(app, login=login())
        imap.select("INBOX")
        uids = [int(u) for u in imap.uid("SEARCH", "ALL")[1][0].split()]
        seen["uids"] = uids
        seen["subject"] = imap.search(None, "SUBJECT", '"rendu 2"')[1]
        seen["charset"] = command(imap, "SEARCH CHARSET KOI8-R ALL")[-1]
        seen["utf8"] = imap.search("UTF-8", "FROM", "fontaine")[1]
        seen["silent"] = command(imap, "STORE 1 +FLAGS.SILENT (\\Flagged)")
        seen["flagged"] = imap.search(None, "FLAGGED")[1]
        seen["uid-store"] = command(imap, f"UID STORE {uids[1]} +FLAGS (\\Answered)")
        seen["recent"] = command(imap, "STORE 1 +FLAGS (\\Recent)")[-1]
        seen["copy"] = imap.copy("1:2", "Trash")[1][0]
        seen["trycreate"] = imap.copy("1", "Nope")[1][0]
        seen["move"] = command(imap, f"UID MOVE {uids[0]} Trash")
        imap.store("1", "+FLAGS", "(\\Deleted)")
        seen["check"] = imap.check()[0]
        seen["uid-expunge"] = command(imap, f"UID EXPUNGE {uids[1]}")
        seen["left"] = imap.uid("SEARCH", "ALL")[1]
        imap.store("2", "+FLAGS", "(\\Deleted)")
        seen["close"] = command(imap, "CLOSE")
        seen["status"] = imap.status("INBOX", "(MESSAGES)")[1]
        imap.select("Trash")
        seen["trash"] = imap.fetch("1:*", "(UID FLAGS)")[1]
        seen["unselect"] = command(imap, "UNSELECT")[-1]
        imap.select("Trash", readonly=True)
        seen["ro-store"] = command(imap, "STORE 1 +FLAGS (\\Deleted)")[-1]
        seen["ro-expunge"] = command(imap, "EXPUNGE")[-1]
        seen["ro-move"] = command(imap, "MOVE 1 INBOX")[-1]
        imap.logout()
        return seen

    seen = await asyncio.to_thread(work)
    uids = seen["uids"]
    assert isinstance(uids, list) and len(uids) == 4 and uids == sorted(uids)
    assert seen["subject"] == [b"3"]
    assert b"NO [BADCHARSET (US-ASCII UTF-8)]" in seen["charset"]  # type: ignore[operator]
    assert seen["utf8"] == [b"1 2 3 4"]
    assert len(seen["silent"]) == 1 and seen["flagged"] == [b"1"]  # type: ignore[arg-type]
    assert re.match(rb"\* 2 FETCH \(UID %d FLAGS \(\\Answered\)\)" % uids[1], seen["uid-store"][0])  # type: ignore[index]
    assert b" BAD " in seen["recent"]  # type: ignore[operator]
    copyuid = code_of(seen["copy"])  # type: ignore[arg-type]
    assert copyuid is not None and re.fullmatch(rf"COPYUID \d+ {uids[0]}:{uids[1]} \d+:\d+", copyuid)
    assert code_of(seen["trycreate"]) == "TRYCREATE"  # type: ignore[arg-type]
    move = seen["move"]
    assert isinstance(move, list) and move[0].startswith(b"* OK [COPYUID ")  # RFC 6851 §3.3
    assert move[1] == b"* 1 EXPUNGE" and move[2].endswith(b"OK UID MOVE completed")
    assert seen["check"] == "OK" and seen["uid-expunge"][:1] == [b"* 1 EXPUNGE"]  # type: ignore[index]
    assert seen["left"] == [f"{uids[2]} {uids[3]}".encode()]
    assert seen["close"] == [seen["close"][-1]]  # type: ignore[index]  # CLOSE expunges silently
    assert b"MESSAGES 1" in seen["status"][0]  # type: ignore[index]
    assert len(seen["trash"]) == 3  # type: ignore[arg-type]  # two copies and one moved
    assert b"OK UNSELECT completed" in seen["unselect"]  # type: ignore[operator]
    for key in ("ro-store", "ro-expunge", "ro-move"):
        assert b"NO [READ-ONLY]" in seen[key], key  # type: ignore[operator]


async def test_idle_woken_by_an_smtp_delivery(app, client, smtp_call):
    """RFC 2177: a delivery over SMTP shows as ``* n EXISTS`` in a session in IDLE right after it is stored."""
    loop = asyncio.get_running_loop()

    def work() -> tuple[bytes, bytes, float, bytes]:
        imap = connect(app, login=login())
        imap.select("INBOX")
        tag = imap._new_tag()  # type: ignore[attr-defined]
        imap.send(tag + b" IDLE\r\n")
        continuation = imap.readline()
        delivered = threading.Event()
        stored_at: list[float] = []

        def deliver_now() -> None:
            asyncio.run_coroutine_threadsafe(deliver(smtp_call), loop).result(20)
            stored_at.append(time.monotonic())
            delivered.set()

        threading.Thread(target=deliver_now).start()
        exists = imap.readline()
        woken_at = time.monotonic()
        delivered.wait(20)
        imap.send(b"DONE\r\n")
        done = imap.readline()
        imap.logout()
        return continuation, exists, woken_at - stored_at[0], done

    continuation, exists, lag, done = await asyncio.to_thread(work)
    assert continuation.startswith(b"+ ")
    assert exists == b"* 1 EXISTS\r\n"
    assert lag < 1.0  # woken before (or within a second of) smtplib returning from the delivery
    assert done.endswith(b"OK IDLE terminated\r\n")


async def test_sessions_woken_together_share_one_folder_read(app, client, session):
    """A change wakes every session of the mailbox: reads started after it are shared (one store read for
    all of them); a later change makes the next read a new one."""
    from app.mss import service

    server = app.state.imap_server
    mailbox = await service.get_mailbox(session, HOSPITAL_DOCTOR)
    assert mailbox is not None
    server.generations[HOSPITAL_DOCTOR] = server.generations.get(HOSPITAL_DOCTOR, 0) + 1  # as a change announces

    async def read() -> list:  # type: ignore[type-arg]
        return await server.folder_entries(mailbox_id=mailbox.id, address=HOSPITAL_DOCTOR, folder="INBOX")

    together = await asyncio.gather(*(read() for _ in range(20)))
    assert all(result[1] is together[0][1] for result in together)
    assert (await read())[1] is together[0][1]  # nothing announced since: still current
    server.generations[HOSPITAL_DOCTOR] += 1
    assert (await read())[1] is not together[0][1]


async def test_large_messages_are_rendered_and_searched_off_the_event_loop(app, client, threads):
    """A message above ``INLINE_MESSAGE_BYTES`` whose structure is walked (ENVELOPE) or whose text is searched is
    handled in a worker thread, as the parser does; a whole body (BODY[]) and small messages stay inline."""
    from app.mss.parser import INLINE_MESSAGE_BYTES

    line = b"z" * 998 + b"\r\n"
    big = (b"From: <" + DOCTOR.encode() + b">\r\nSubject: grand\r\n\r\n"
           + line * (INLINE_MESSAGE_BYTES // len(line) + 10))
    small = b"From: <" + DOCTOR.encode() + b">\r\nSubject: petit\r\n\r\nzzz\r\n"

    def work() -> tuple[list, list]:  # type: ignore[type-arg]
        imap = connect(app, login=login())
        assert imap.append("INBOX", None, None, big)[0] == imap.append("INBOX", None, None, small)[0] == "OK"
        imap.select("INBOX")
        threads.clear()
        envelopes = imap.fetch("1:2", "(ENVELOPE)")[1]
        imap.fetch("1", "(BODY.PEEK[])")
        hits = imap.search(None, "BODY", "zzz")[1]
        imap.logout()
        return envelopes, hits

    envelopes, hits = await asyncio.to_thread(work)
    assert b'"grand"' in envelopes[0] and b'"petit"' in envelopes[1]
    assert hits == [b"1 2"]
    assert threads.count("_render_fetch") == 1 and threads.count("_search_match") == 1
