"""Folders, UIDs and flags (the IMAP view of a mailbox): the pure rules, then the store over the real engines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, event, func, select

from app.mss import folders, service
from app.mss.exceptions import (
    FolderExists,
    FolderNotDeletable,
    InvalidFlag,
    InvalidFolderName,
    KeywordLimit,
    MessageTooLarge,
    UnknownFolder,
)
from app.mss.models import MssDelivery, MssMessage
from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR
from tests.mss.helpers import build_message

# --- pure rules ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "stored"), [
    ("INBOX", "INBOX"), ("inbox", "INBOX"), ("InBoX", "INBOX"),  # RFC 3501 §5.1: INBOX is case-insensitive
    ("inbox/Projets", "INBOX/Projets"), ("Archive/", "Archive"), ("Archive/2026", "Archive/2026"),
    ("Éléments envoyés", "Éléments envoyés"), ("Inboxes", "Inboxes"), ("a" * 255, "a" * 255),
])
def test_folder_names_normalised(given: str, stored: str) -> None:
    assert folders.normalise_folder_name(given) == stored


@pytest.mark.parametrize(("given", "reason"), [
    ("", "empty"), ("/", "empty"), ("a//b", "empty hierarchy level"), ("/a", "empty hierarchy level"),
    ("a*", "wildcards"), ("50%", "wildcards"), ("a\x01b", "control"), ("a\x7fb", "control"), ("a" * 256, "longer"),
])
def test_bad_folder_names_refused(given: str, reason: str) -> None:
    with pytest.raises(InvalidFolderName, match=reason) as refused:
        folders.normalise_folder_name(given)
    assert refused.value.rule == "MSS:folder.name"


def test_flags_canonical_deduplicated_sorted() -> None:
    # RFC 3501 §2.3.2: system flags are case-insensitive; \Seen is kept apart (the ``seen`` column)
    assert folders.normalise_flags(["\\seen", "\\FLAGGED", "$Forwarded", "$forwarded", "\\Draft"]) == (
        True, ["$Forwarded", "\\Draft", "\\Flagged"])
    assert folders.normalise_flags([]) == (False, [])


@pytest.mark.parametrize(("flag", "reason"), [
    ("\\Recent", "cannot be set"), ("\\Important", "unknown system flag"), ("", "empty"),
    ("two words", "atom"), ("a(b", "atom"), ("a*", "atom"), ('a"', "atom"), ("é", "atom"),
])
def test_bad_flags_refused(flag: str, reason: str) -> None:
    with pytest.raises(InvalidFlag, match=reason):
        folders.normalise_flags([flag])


def test_store_modes() -> None:
    """RFC 3501 §6.4.6: FLAGS replaces, +FLAGS adds, -FLAGS removes; \\Seen follows the same rules."""
    assert folders.apply_flags(False, ["$Label"], ["\\Seen", "\\Flagged"], "set") == (True, ["\\Flagged"])
    assert folders.apply_flags(False, ["$Label"], ["\\Flagged", "$label"], "add") == (False, ["$Label", "\\Flagged"])
    assert folders.apply_flags(True, ["$Label", "\\Flagged"], ["$LABEL", "\\Seen"], "remove") == (
        False, ["\\Flagged"])
    assert folders.apply_flags(True, [], ["\\Deleted"], "remove") == (True, [])


def test_keywords_bounded() -> None:
    """Every session's FLAGS and PERMANENTFLAGS list the keywords in use: a message keeps at most 64, of at
    most 64 characters (a limit of this server: ``NO [LIMIT]``, RFC 5530 §3)."""
    many = [f"$K{n}" for n in range(folders.MAX_KEYWORDS)]
    assert folders.normalise_flags([*many, "\\Seen", "\\Flagged"]) == (True, sorted([*many, "\\Flagged"]))
    with pytest.raises(KeywordLimit, match="more than 64 keywords") as refused:
        folders.normalise_flags([*many, "$One"])
    assert refused.value.rule == "MSS:flag.limit"
    with pytest.raises(KeywordLimit, match="more than 64"):
        folders.apply_flags(False, many, ["$One"], "add")
    assert folders.apply_flags(False, many, ["$K0"], "add") == (False, sorted(many))  # already there
    assert folders.normalise_flags(["a" * 64]) == (False, ["a" * 64])
    with pytest.raises(KeywordLimit, match="longer than 64"):
        folders.normalise_flags(["a" * 65])


def test_uidnext_and_entry_flags() -> None:
    # RFC 3501 §2.3.1.1: one above the highest UID the folder ever held
    assert folders.uidnext(None, 0) == 1
    assert folders.uidnext(41, 0) == 42
    assert folders.uidnext(41, 57) == 58  # the highest ones were expunged: UIDNEXT does not go down
    assert folders.entry_flags(True, ["\\Flagged", "$A"]) == ("\\Seen", "$A", "\\Flagged")
    assert folders.entry_flags(False, None) == ()


# --- the store ---------------------------------------------------------------------------------------------

async def _deliver(session, settings, *, to: str = HOSPITAL_DOCTOR, subject: str = "Avis",  # type: ignore[no-untyped-def]
                   headers: dict[str, str] | None = None) -> int:
    """One message from DOCTOR to ``to`` through the HTTP API's send, committed; the new delivery's UID."""
    raw = build_message(sender=DOCTOR, to=to, subject=subject, headers=headers)
    await service.submit(session, settings, raw=raw, mail_from=DOCTOR, recipients=[to], notify="NEVER")
    await session.commit()
    mailbox = await service.load_mailbox(session, to)
    return (await service.entries(session, mailbox, "INBOX"))[-1].uid


async def test_uids_ascend_uidnext_never_goes_down_uidvalidity_renews(session, settings):
    mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
    uids = [await _deliver(session, settings, subject=f"n{n}") for n in range(3)]
    listed = await service.entries(session, mailbox, "inbox")
    assert [e.uid for e in listed] == uids == sorted(uids) and len(set(uids)) == 3
    assert all(e.flags == () and e.internal_date.tzinfo is not None for e in listed)
    sizes = dict((await session.execute(
        select(MssDelivery.id, MssMessage.size).join(MssMessage, MssMessage.id == MssDelivery.message_id)
        .where(MssDelivery.id.in_(uids)))).all())
    assert [e.size for e in listed] == [sizes[u] for u in uids]

    inbox = await service.folder_info(session, mailbox, "INBOX")
    assert (inbox.exists, inbox.unseen, inbox.uidnext, inbox.special_use) == (3, 3, uids[-1] + 1, None)
    assert inbox.uidvalidity == inbox.id

    # \Deleted on the newest, EXPUNGE: UIDNEXT stays (RFC 3501 §2.3.1.1)
    await service.store_flags(session, settings, mailbox, "INBOX", [uids[-1]], ["\\Deleted"], "add")
    assert await service.expunge(session, mailbox, "INBOX") == [uids[-1]]
    await session.commit()
    after = await service.folder_info(session, mailbox, "INBOX")
    assert (after.exists, after.uidnext, after.uidvalidity) == (2, inbox.uidnext, inbox.uidvalidity)
    # a message added: UIDNEXT changes, and the new UID is not below the UIDNEXT announced before
    added = await _deliver(session, settings)
    assert added >= after.uidnext
    assert (await service.folder_info(session, mailbox, "INBOX")).uidnext == added + 1

    # a folder deleted and created again has a new UIDVALIDITY
    created = await service.create_folder(session, mailbox, "Projets")
    await service.delete_folder(session, mailbox, "Projets")
    again = await service.create_folder(session, mailbox, "Projets")
    assert again.uidvalidity > created.uidvalidity and again.uidnext == 1
    names = [f.name for f in await service.list_folders(session, mailbox)]
    assert names == ["INBOX", "Drafts", "Projets", "Sent", "Trash"]
    specials = {f.name: f.special_use for f in await service.list_folders(session, mailbox)}
    assert specials["Sent"] == "\\Sent" and specials["Trash"] == "\\Trash" and specials["Drafts"] == "\\Drafts"
    await session.rollback()


async def test_copy_move_expunge_append_rename_delete(session, settings):
    mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
    uids = [await _deliver(session, settings, subject=f"n{n}") for n in range(3)]
    await service.store_flags(session, settings, mailbox, "INBOX", uids[:2], ["\\Flagged", "$Suivi"], "add")

    # COPY: new rows, new ascending UIDs in source order, flags kept; COPYUID pairs (RFC 4315 §3)
    trash = await service.folder_info(session, mailbox, "Trash")
    validity, pairs = await service.copy_entries(session, mailbox, "INBOX", [uids[1], uids[0], 10**9], "Trash")
    assert validity == trash.uidvalidity
    assert [old for old, _ in pairs] == uids[:2]
    assert [new for _, new in pairs] == sorted(new for _, new in pairs) and pairs[0][1] > uids[-1]
    copied = await service.entries(session, mailbox, "Trash")
    assert [e.uid for e in copied] == [new for _, new in pairs]
    assert all(e.flags == ("$Suivi", "\\Flagged") for e in copied)
    assert len(await service.entries(session, mailbox, "INBOX")) == 3  # COPY leaves the source
    with pytest.raises(UnknownFolder):
        await service.copy_entries(session, mailbox, "INBOX", uids, "Nowhere")

    # MOVE (RFC 6851): into a new folder; the source loses the rows but keeps its UIDNEXT
    inbox_next = (await service.folder_info(session, mailbox, "INBOX")).uidnext
    await service.create_folder(session, mailbox, "Archive/2026")
    assert {"Archive", "Archive/2026"} <= {f.name for f in await service.list_folders(session, mailbox)}
    validity, moved = await service.move_entries(session, mailbox, "INBOX", [uids[2]], "Archive/2026")
    assert [old for old, _ in moved] == [uids[2]]
    assert [e.uid for e in await service.entries(session, mailbox, "INBOX")] == uids[:2]
    assert (await service.folder_info(session, mailbox, "INBOX")).uidnext == inbox_next
    archived = await service.folder_info(session, mailbox, "Archive/2026")
    assert (archived.uidvalidity, archived.exists, archived.uidnext) == (validity, 1, moved[0][1] + 1)

    # UID EXPUNGE (RFC 4315 §2.1): only the \Deleted ones among the given UIDs
    await service.store_flags(session, settings, mailbox, "Trash", [new for _, new in pairs], ["\\Deleted"], "add")
    assert await service.expunge(session, mailbox, "Trash", [pairs[1][1]]) == [pairs[1][1]]
    assert await service.expunge(session, mailbox, "Trash") == [pairs[0][1]]
    assert await service.entries(session, mailbox, "Trash") == []

    # APPEND (RFC 3501 §6.3.11): kept, not sent; APPENDUID (RFC 4315 §3)
    raw = build_message(sender=HOSPITAL_DOCTOR, to=DOCTOR, subject="Brouillon")
    when = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    validity, uid = await service.append(session, settings, mailbox, "Drafts", raw, ["\\Draft", "\\Seen"], when)
    drafts = await service.folder_info(session, mailbox, "Drafts")
    assert validity == drafts.uidvalidity and drafts.exists == 1 and drafts.unseen == 0 and drafts.uidnext == uid + 1
    [(entry, message)] = await service.load_entries(session, mailbox, "Drafts", [uid, uid + 1000])
    assert entry.flags == ("\\Seen", "\\Draft") and entry.internal_date == when and entry.size == len(raw)
    assert message.raw == raw and message.transport == "imap" and message.kind == "message"
    status = await session.scalar(select(MssDelivery.status).where(MssDelivery.id == uid))
    assert status == "stored"
    copies = await session.scalar(select(func.count()).select_from(MssDelivery).where(
        MssDelivery.message_id == message.id))
    assert copies == 1  # kept, never sent
    with pytest.raises(MessageTooLarge):
        await service.append(session, settings.model_copy(update={"mss_max_message_bytes": 100}), mailbox, "Drafts",
                             raw)
    with pytest.raises(InvalidFlag):
        await service.append(session, settings, mailbox, "Drafts", raw, ["\\Recent"])

    # RENAME keeps the UIDVALIDITY and renames the inferiors (RFC 3501 §6.3.5)
    await service.rename_folder(session, mailbox, "Archive", "Classement/Ancien")
    renamed = await service.folder_info(session, mailbox, "Classement/Ancien/2026")
    assert renamed.uidvalidity == archived.uidvalidity and renamed.exists == 1
    assert "Classement" in {f.name for f in await service.list_folders(session, mailbox)}
    with pytest.raises(UnknownFolder):
        await service.folder_info(session, mailbox, "Archive/2026")
    # renaming INBOX moves its messages to the new folder and leaves INBOX empty
    await service.rename_folder(session, mailbox, "inbox", "Ancienne boîte")
    assert len(await service.entries(session, mailbox, "Ancienne boîte")) == 2
    assert await service.entries(session, mailbox, "INBOX") == []

    with pytest.raises(UnknownFolder):
        await service.folder_info(session, mailbox, "drafts")  # only INBOX is case-insensitive
    with pytest.raises(FolderExists):
        await service.create_folder(session, mailbox, "Trash")
    with pytest.raises(FolderExists):
        await service.rename_folder(session, mailbox, "Classement", "Sent")
    with pytest.raises(FolderNotDeletable):
        await service.rename_folder(session, mailbox, "Sent", "Envoyés")  # a standard folder keeps its name
    with pytest.raises(InvalidFolderName):
        await service.rename_folder(session, mailbox, "Classement", "Classement/Sous")
    for name in ("INBOX", "Sent", "Drafts", "Trash"):
        with pytest.raises(FolderNotDeletable):
            await service.delete_folder(session, mailbox, name)
    await service.set_subscribed(session, mailbox, "Classement", False)
    assert not (await service.folder_info(session, mailbox, "Classement")).subscribed
    await service.delete_folder(session, mailbox, "Classement/Ancien/2026")
    gone = await session.scalar(select(func.count()).select_from(MssDelivery).where(
        MssDelivery.id == moved[0][1]))
    assert gone == 0  # its messages with it
    await session.rollback()


async def test_rename_is_all_or_nothing_and_leaves_inbox_inferiors(session, settings):
    """RFC 3501 §6.3.5: a rename whose inferior would take an existing name renames nothing; renaming INBOX
    moves its messages and leaves its inferiors (``INBOX/...``) where they are."""
    mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
    await service.create_folder(session, mailbox, "Clos/b")
    await service.delete_folder(session, mailbox, "Clos")  # its inferior stays (§6.3.4)
    await service.create_folder(session, mailbox, "Dossier/a")
    await service.create_folder(session, mailbox, "Dossier/b")
    expected = ["INBOX", "Clos/b", "Dossier", "Dossier/a", "Dossier/b", "Drafts", "Sent", "Trash"]
    for bad, refused in (("Clos", "'Clos/b'.*exists already"), ("x" * 254, "too long")):  # "x"*254 + "/a": 256
        with pytest.raises(InvalidFolderName, match=refused):
            await service.rename_folder(session, mailbox, "Dossier", bad)
        await session.commit()  # nothing was changed, so nothing is written
        assert [f.name for f in await service.list_folders(session, mailbox)] == expected

    kept, moved = await _deliver(session, settings), await _deliver(session, settings)
    suivi = await service.create_folder(session, mailbox, "inbox/Suivi")
    await service.move_entries(session, mailbox, "INBOX", [moved], "INBOX/Suivi")
    [inbox] = await service.entries(session, mailbox, "INBOX")
    await service.rename_folder(session, mailbox, "INBOX", "Ancienne")
    [renamed] = await service.entries(session, mailbox, "Ancienne")
    assert inbox.uid == kept and renamed.message_id == inbox.message_id and renamed.uid > kept
    assert await service.entries(session, mailbox, "INBOX") == []
    after = await service.folder_info(session, mailbox, "INBOX/Suivi")
    assert (after.uidvalidity, after.exists) == (suivi.uidvalidity, 1)
    assert "Ancienne/Suivi" not in {f.name for f in await service.list_folders(session, mailbox)}
    await session.rollback()


async def test_store_reads_no_message_bytes_and_announces_once(app, session, settings):
    """STORE on many messages (``1:* +FLAGS (\\Deleted)``, a FETCH of unread bodies setting ``\\Seen``)
    neither loads nor parses their bytes, and tells IDLE sessions once per call, not once per message."""
    mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
    uids = [await _deliver(session, settings, subject=f"n{n}") for n in range(3)]
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await service.store_flags(session, settings, mailbox, "INBOX", uids, ["\\Deleted"], "add")
        entries = await service.store_flags(session, settings, mailbox, "INBOX", uids, ["\\Seen"], "add")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [e.flags for e in entries] == [("\\Seen", "\\Deleted")] * 3
    assert not [s for s in statements if "mss_message.raw" in s]
    if session.get_bind().dialect.name == "postgresql":  # app.events: one pg_notify per announcement
        assert sum("pg_notify" in s for s in statements) == 2

    # a STORE that would take one message past 64 keywords changes none of them (NO [LIMIT], RFC 5530)
    many = [f"$K{n}" for n in range(folders.MAX_KEYWORDS)]
    await service.store_flags(session, settings, mailbox, "INBOX", uids[:2], many[:-1], "add")
    await service.store_flags(session, settings, mailbox, "INBOX", uids[2:], many, "add")
    await session.flush()
    with pytest.raises(KeywordLimit):
        await service.store_flags(session, settings, mailbox, "INBOX", uids, ["$Nouveau"], "add")
    assert not session.dirty
    await session.rollback()


async def test_seen_through_store_sends_the_mdn_once(session, settings):
    """RFC 8098 §2.1: \\Seen set by STORE is the HTTP "mark read": the MDN asked for is sent, once."""
    mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
    uid = await _deliver(session, settings, headers={"Disposition-Notification-To": DOCTOR})
    other = await _deliver(session, settings)

    async def mdns() -> int:
        return await session.scalar(select(func.count()).select_from(MssMessage).where(MssMessage.kind == "mdn")) or 0

    before = await mdns()
    [entry] = await service.store_flags(session, settings, mailbox, "INBOX", [uid], ["\\Seen"], "add")
    assert entry.flags == ("\\Seen",) and await mdns() == before + 1
    assert (await service.folder_info(session, mailbox, "INBOX")).unseen == 1
    [entry] = await service.store_flags(session, settings, mailbox, "INBOX", [uid], ["\\Seen"], "remove")
    assert entry.flags == () and await mdns() == before + 1
    entries = await service.store_flags(session, settings, mailbox, "INBOX", [uid, other], ["\\seen", "\\Answered"],
                                        "set")
    assert [e.flags for e in entries] == [("\\Seen", "\\Answered")] * 2
    assert await mdns() == before + 1  # not again
    with pytest.raises(InvalidFlag):
        await service.store_flags(session, settings, mailbox, "INBOX", [uid], ["\\Answered", "\\Bogus"], "set")
    # a copy the user kept (APPEND) was not received: reading it sends no MDN
    raw = build_message(sender=HOSPITAL_DOCTOR, to=DOCTOR, headers={"Disposition-Notification-To": HOSPITAL_DOCTOR})
    _, kept = await service.append(session, settings, mailbox, "Sent", raw)
    await service.store_flags(session, settings, mailbox, "Sent", [kept], ["\\Seen"], "add")
    assert await mdns() == before + 1
    await session.rollback()

    # a copy made before reading (IMAP COPY) shares the message's MDN: reading both sends one (RFC 8098 §2.1)
    uid = await _deliver(session, settings, headers={"Disposition-Notification-To": DOCTOR})
    mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
    before = await mdns()
    _, [(_, copy)] = await service.copy_entries(session, mailbox, "INBOX", [uid], "Trash")
    [entry] = await service.store_flags(session, settings, mailbox, "INBOX", [uid], ["\\Seen"], "add")
    assert entry.flags == ("\\Seen",) and await mdns() == before + 1
    [entry] = await service.store_flags(session, settings, mailbox, "Trash", [copy], ["\\Seen"], "add")
    assert entry.flags == ("\\Seen",) and await mdns() == before + 1
    # the original gone, the copy read again (and with another disposition over HTTP): still no second MDN
    await service.store_flags(session, settings, mailbox, "INBOX", [uid], ["\\Deleted"], "add")
    await service.expunge(session, mailbox, "INBOX")
    await service.store_flags(session, settings, mailbox, "Trash", [copy], ["\\Seen"], "remove")
    await service.store_flags(session, settings, mailbox, "Trash", [copy], ["\\Seen"], "add")
    [(_, message)] = await service.load_entries(session, mailbox, "Trash", [copy])
    delivery = await session.get(MssDelivery, copy)
    assert await service.mark_read(session, settings, mailbox=mailbox, delivery=delivery, message=message,
                                   disposition="deleted") is None
    assert await mdns() == before + 1
    await session.rollback()


async def test_uids_never_reused(session, settings):
    """A delivery's id is a UID: deleting the highest row and inserting gives a higher one (SQLite
    ``AUTOINCREMENT``; a plain SQLite rowid would come back). Only the SQLite legs can fail: a PostgreSQL
    sequence never goes back whatever the table says."""
    highest = await _deliver(session, settings)
    await session.execute(delete(MssDelivery).where(MssDelivery.id >= highest))
    await session.commit()
    assert await _deliver(session, settings) > highest


async def test_http_shows_the_folder_and_the_imap_uid(client, session, settings):
    """The HTTP API (control API here; ``/mss/v1`` shares the routes) and IMAP show the same UIDs; the list
    reads one folder (INBOX by default); DELETE keeps the folder's UIDNEXT."""
    mailbox = await service.load_mailbox(session, HOSPITAL_DOCTOR)
    uids = [await _deliver(session, settings, subject=f"n{n}") for n in range(3)]
    url = f"/sandbox/v1/mailboxes/{HOSPITAL_DOCTOR}/messages"
    listing = (await client.get(url)).json()
    assert [item["imap_uid"] for item in listing["items"]] == uids[::-1]  # newest first
    assert {item["folder"] for item in listing["items"]} == {"INBOX"}
    assert (await client.get(url, params={"folder": "inbox"})).json() == listing

    await service.move_entries(session, mailbox, "INBOX", [uids[0]], "Trash")
    await service.create_folder(session, mailbox, "Dossiers/Été")
    await session.commit()
    [trashed] = (await client.get(url, params={"folder": "Trash"})).json()["items"]
    [moved] = await service.entries(session, mailbox, "Trash")
    assert trashed["imap_uid"] == moved.uid and trashed["folder"] == "Trash"
    detail = (await client.get(f"{url}/{trashed['uid']}")).json()
    assert (detail["folder"], detail["imap_uid"]) == ("Trash", moved.uid)
    assert (await client.get(url, params={"folder": "Dossiers/Été"})).json() == {"total": 0, "items": []}

    unknown = await client.get(url, params={"folder": "Nowhere"})
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/problem+json")
    assert unknown.json()["rule"] == "MSS:folder.unknown" and "Nowhere" in unknown.json()["detail"]
    assert (await client.get(url, params={"folder": "a//b"})).status_code == 422

    # DELETE over HTTP: the UID leaves the folder, UIDNEXT stays (RFC 3501 §2.3.1.1)
    before = await service.folder_info(session, mailbox, "INBOX")
    newest = listing["items"][0]
    assert (await client.delete(f"{url}/{newest['uid']}")).status_code == 204
    await session.commit()  # a new transaction: sees what the request committed
    after = await service.folder_info(session, mailbox, "INBOX")
    assert (after.exists, after.uidnext) == (before.exists - 1, before.uidnext)
