"""Folders over IMAP (RFC 3501 §6.3 with imaplib): LIST and LSUB with wildcards, CHILDREN and SPECIAL-USE
attributes, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE with their refusal codes (RFC 5530), SELECT and
EXAMINE with their response codes, STATUS, APPEND with flags, date, literal and LITERAL+ (APPENDUID,
RFC 4315)."""

from __future__ import annotations

import asyncio
import imaplib
import re

from tests.mss.conftest import DOCTOR
from tests.mss.imap.server_helpers import code_of, command, connect


def listed(data: list[bytes]) -> dict[str, str]:
    """LIST/LSUB data -> {name: attributes}."""
    out = {}
    for line in data:
        if line is None:  # imaplib's "nothing listed"
            continue
        match = re.match(rb'\(([^)]*)\) "/" (.+)', line)
        assert match, line
        out[match.group(2).decode().strip('"')] = match.group(1).decode()
    return out


async def test_folders_list_create_delete_rename_subscribe(app, client):
    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        imap = connect(app)
        seen["all"] = listed(imap.list()[1])
        seen["root"] = imap.list('""', '""')[1]
        assert imap.create("Projets/2026/Q1")[0] == "OK"
        assert imap.create("R&AOk-sultats")[0] == "OK"  # "Résultats" in modified UTF-7 (RFC 3501 §5.1.3)
        seen["top"] = listed(imap.list('""', "%")[1])
        seen["level"] = listed(imap.list("Projets/", "%")[1])
        seen["inbox-any-case"] = listed(imap.list('""', "inBox")[1])
        seen["exists"] = [imap.create("INBOX")[1][0], imap.create("Sent")[1][0]]
        seen["delete-inbox"] = imap.delete("INBOX")[1][0]
        seen["delete-sent"] = imap.delete("Sent")[1][0]
        seen["delete-unknown"] = imap.delete("Nope")[1][0]
        seen["rename"] = imap.rename("Projets/2026/Q1", "Archives")[0]
        seen["rename-unknown"] = imap.rename("Nope", "Other")[1][0]
        seen["rename-taken"] = imap.rename("Archives", "Sent")[1][0]
        seen["create-bad"] = command(imap, 'CREATE "a%b"')[-1]
        assert imap.subscribe("Archives")[0] == "OK"
        seen["lsub"] = listed(imap.lsub()[1])
        assert imap.unsubscribe("Archives")[0] == "OK"
        seen["lsub-after"] = listed(imap.lsub('""', "Arch*")[1])
        seen["subscribe-unknown"] = imap.subscribe("Nope")[1][0]
        assert imap.select("Archives")[0] == "OK"
        seen["delete-selected"] = imap.delete("Archives")[1][0]
        elsewhere = connect(app)
        seen["delete"] = elsewhere.delete("Archives")[0]  # deleted by another session under this one
        elsewhere.logout()
        try:
            imap.noop()
        except imaplib.IMAP4.abort as exc:
            seen["selected-gone"] = str(exc)
        imap = connect(app)
        seen["after"] = listed(imap.list()[1])
        imap.logout()
        return seen

    seen = await asyncio.to_thread(work)
    everything = seen["all"]
    assert list(everything) == ["INBOX", "Drafts", "Sent", "Trash"]  # type: ignore[call-overload]
    assert everything == {"INBOX": "\\HasNoChildren", "Drafts": "\\HasNoChildren \\Drafts",  # RFC 6154, RFC 3348
                          "Sent": "\\HasNoChildren \\Sent", "Trash": "\\HasNoChildren \\Trash"}
    assert seen["root"] == [b'(\\Noselect) "/" ""']  # RFC 3501 §6.3.8
    assert "\\HasChildren" in seen["top"]["Projets"] and "R&AOk-sultats" in seen["top"]  # type: ignore[index]
    assert "Projets/2026" in seen["level"] and "\\HasChildren" in seen["level"]["Projets/2026"]  # type: ignore[index]
    assert list(seen["inbox-any-case"]) == ["INBOX"]  # type: ignore[call-overload]
    assert [code_of(t) for t in seen["exists"]] == ["ALREADYEXISTS", "ALREADYEXISTS"]  # type: ignore[attr-defined]
    assert code_of(seen["delete-inbox"]) == code_of(seen["delete-sent"]) == "CANNOT"  # type: ignore[arg-type]
    assert code_of(seen["delete-unknown"]) == code_of(seen["rename-unknown"]) == "NONEXISTENT"  # type: ignore[arg-type]
    assert seen["rename"] == "OK" and code_of(seen["rename-taken"]) == "ALREADYEXISTS"  # type: ignore[arg-type]
    assert b" NO [CANNOT]" in seen["create-bad"]  # type: ignore[operator]
    assert "Archives" in seen["lsub"] and "Archives" not in seen["lsub-after"]  # type: ignore[operator]
    assert code_of(seen["subscribe-unknown"]) == "NONEXISTENT"  # type: ignore[arg-type]
    assert code_of(seen["delete-selected"]) == "INUSE"  # type: ignore[arg-type]
    assert seen["delete"] == "OK" and "Archives" not in seen["after"]  # type: ignore[operator]
    assert "UIDVALIDITY changed" in str(seen["selected-gone"])  # RFC 3501 §2.3.1.1


async def test_append_select_examine_status(app, client):
    moment = "17-Jul-2026 02:44:25 +0200"
    message = (b"From: Dr Claire FONTAINE <" + DOCTOR.encode() + b">\r\nTo: x@medecin.mssante.fr\r\n"
               b"Subject: brouillon\r\nX-MSS-NIL: NIL-TEST-0001\r\n\r\nbody\r\n")

    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        imap = connect(app)
        typ, data = imap.append("Drafts", "(\\Draft \\Seen $Urgent)", f'"{moment}"', message)
        seen["append"] = (typ, data[0])
        seen["append-plain"] = imap.append("Drafts", None, None, message)[1][0]
        seen["trycreate"] = imap.append("Nope", None, None, message)[1][0]
        seen["recent"] = command(imap, b"APPEND Drafts (\\Recent) {4+}\r\nabcd")[-1]
        # LITERAL+ (RFC 7888): the literal follows at once, no continuation request
        seen["literal+"] = command(imap, b"APPEND Drafts {%d+}\r\n" % len(message) + message)
        seen["select"] = command(imap, "SELECT Drafts")
        seen["dates"] = command(imap, "FETCH 1 (INTERNALDATE FLAGS)")
        # an APPEND to the selected folder is reported to this session (RFC 3501 §6.3.11)
        seen["append-selected"] = command(imap, b"APPEND Drafts {%d+}\r\n" % len(message) + message)
        seen["examine"] = command(imap, "EXAMINE Drafts")
        seen["status"] = imap.status("Drafts", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")[1]
        seen["status-unknown"] = imap.status("Nope", "(MESSAGES)")[1][0]
        seen["status-bad"] = command(imap, "STATUS Drafts (SIZE)")[-1]
        seen["select-unknown"] = command(imap, "SELECT Nope")[-1]
        seen["state"] = imap.state
        imap.logout()
        return seen

    seen = await asyncio.to_thread(work)
    typ, text = seen["append"]  # type: ignore[misc]
    appenduid = code_of(text)
    assert typ == "OK" and appenduid.startswith("APPENDUID ")
    _, uidvalidity, uid = appenduid.split()
    assert code_of(seen["trycreate"]) == "TRYCREATE"  # type: ignore[arg-type]
    assert b" BAD " in seen["recent"]  # type: ignore[operator]
    assert len(seen["literal+"]) == 1 and b"OK [APPENDUID" in seen["literal+"][0]  # type: ignore[arg-type,index]
    select = b"\n".join(seen["select"])  # type: ignore[arg-type]
    assert b"* 3 EXISTS" in select and b"* 0 RECENT" in select and b"* OK [UNSEEN 2]" in select
    assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Urgent)" in select
    assert b"[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Urgent \\*)]" in select
    assert b"[UIDVALIDITY %s]" % uidvalidity.encode() in select and b"OK [READ-WRITE] SELECT" in select
    next_uid = int(re.search(rb"UIDNEXT (\d+)", select).group(1))  # type: ignore[union-attr]
    assert next_uid > int(uid)
    fetched = seen["dates"][0]  # type: ignore[index]
    assert b'INTERNALDATE "17-Jul-2026 00:44:25 +0000"' in fetched or moment.encode() in fetched
    assert b"\\Draft" in fetched and b"\\Seen" in fetched and b"$Urgent" in fetched
    assert seen["append-selected"][0] == b"* 4 EXISTS"  # type: ignore[index]
    examine = b"\n".join(seen["examine"])  # type: ignore[arg-type]
    assert b"[PERMANENTFLAGS ()]" in examine and b"OK [READ-ONLY] EXAMINE" in examine
    status = seen["status"][0]  # type: ignore[index]
    assert b"MESSAGES 4" in status and b"RECENT 0" in status and b"UNSEEN 3" in status
    assert int(re.search(rb"UIDNEXT (\d+)", status).group(1)) > next_uid  # type: ignore[union-attr]
    assert b"UIDVALIDITY %s" % uidvalidity.encode() in status
    assert code_of(seen["status-unknown"]) == "NONEXISTENT"  # type: ignore[arg-type]
    assert b" BAD " in seen["status-bad"]  # type: ignore[operator]
    assert b"NO [NONEXISTENT]" in seen["select-unknown"] and seen["state"] == "AUTH"  # type: ignore[operator]


def test_list_patterns_match_without_backtracking():
    """Pure: RFC 3501 §6.3.8 wildcards, INBOX in any case; a pattern of many wildcards against a long name that
    does not match answers at once (a backtracking regular expression took seconds: one client froze the loop)."""
    import time

    from app.mss.imap.commands_mailbox import pattern_matcher

    cases = [("*", "a/b", True), ("%", "a/b", False), ("%", "a", True), ("a/%", "a/b", True), ("a/%", "a/b/c", False),
             ("a/*", "a/b/c", True), ("inbox", "INBOX", True), ("Inbox/%", "INBOX/x", True), ("%b", "a/b", False),
             ("*/b", "x/y/b", True), ("%%*%", "a/b", True), ("", "", True), ("", "a", False), ("a*", "b", False)]
    for pattern, name, expected in cases:
        assert pattern_matcher(pattern)(name) is expected, (pattern, name)
    started = time.perf_counter()
    assert not pattern_matcher("*a" * 2000 + "*b")("a" * 255)
    assert time.perf_counter() - started < 0.5
