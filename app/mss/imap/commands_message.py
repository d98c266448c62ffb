"""The commands of the selected state (RFC 3501 §6.4) and their UID forms (§6.4.8): CHECK, CLOSE, UNSELECT
(RFC 3691), EXPUNGE (UID EXPUNGE, RFC 4315 §2.1), SEARCH, FETCH, STORE, COPY (COPYUID, RFC 4315 §3) and
MOVE (RFC 6851). Message sequence numbers are positions in the session's snapshot
(:class:`app.mss.imap.session.Selected`); the protocol's parsing and rendering are the pure modules
:mod:`.fetch`, :mod:`.search` and :mod:`.sequence`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from app.mss import service
from app.mss.exceptions import MssError
from app.mss.imap import fetch, search, sequence
from app.mss.imap.commands import SELECTED, Refusal, State, arity, atom, bad, flag_list, mailbox, no, refusal_of, table
from app.mss.imap.session import flag_names
from app.mss.imap.wire import ImapSyntaxError
from app.mss.parser import INLINE_MESSAGE_BYTES

if TYPE_CHECKING:
    from app.mss.folders import Entry
    from app.mss.imap.session import ImapSession, Selected
    from app.mss.imap.wire import Command

COMMANDS, command = table()

SEEN = "\\Seen"
BATCH_MESSAGES = 64
BATCH_OCTETS = 4 * 1024 * 1024
"""FETCH and SEARCH load the messages they need by batches of at most this many messages and octets, each
batch in its own short transaction: memory stays bounded whatever the folder's size, and no transaction is
held open while a slow client reads. A message above ``app.mss.parser.INLINE_MESSAGE_BYTES`` whose structure
must be walked (ENVELOPE, BODYSTRUCTURE, a section) or whose text is searched is handled in a worker thread, as
the parser does: a crafted 25 MB message does not hold the event loop (every IMAP, SMTP and HTTP client)."""
_META_ITEMS = frozenset({"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE"})
_STORE_ITEM = re.compile(r"([+-]?)FLAGS(\.SILENT)?\Z", re.IGNORECASE)
_MODES = {"": "set", "+": "add", "-": "remove"}


def selected_of(session: ImapSession) -> Selected:
    assert session.selected is not None
    return session.selected


def targets(session: ImapSession, token: object, *, uid: bool) -> list[int]:
    """The UIDs a sequence set names (RFC 3501 §9, §6.4.8): message sequence numbers of the snapshot, or
    UIDs (those not in the folder ignored). A message number above the count is ``BAD``."""
    text = atom(token, "a sequence set")  # type: ignore[arg-type]
    try:
        ranges = sequence.parse_sequence_set(text)
    except ImapSyntaxError as exc:
        raise bad(exc.message) from None
    selected = selected_of(session)
    if uid:
        return sequence.resolve(ranges, selected.uids)
    count = len(selected.uids)
    closed = [high for _, high in ranges if high is not None]
    if closed and max(closed) > count:
        raise bad(f"no message {max(closed)}: the mailbox has {count} message{'s' if count != 1 else ''}",
                  rule="IMAP:sequence")
    return [selected.uids[msn - 1] for msn in sequence.resolve(ranges, range(1, count + 1))]


def _writable(session: ImapSession, name: str) -> None:
    if selected_of(session).readonly:
        raise no(f"{name} needs a mailbox selected read-write (it was opened with EXAMINE)", code="READ-ONLY")


def _expunge_issued(gone: int) -> Refusal:
    """RFC 2180 §4.1.2, RFC 5530 EXPUNGEISSUED: some named messages were removed by another session."""
    return no(f"{gone} of the requested messages no longer exist (removed elsewhere): NOOP to see it",
              code="EXPUNGEISSUED")


def _render_fetch(msn: int, view: fetch.MessageView, items: list[fetch.FetchItem],
                  include_uid: bool) -> list[bytes | memoryview]:
    """:func:`fetch.fetch_response_parts`, run in a worker thread for a large message."""
    return fetch.fetch_response_parts(msn, view, items, include_uid=include_uid)


def _search_match(key: search.SearchKey, view: fetch.MessageView, msn: int, max_msn: int, max_uid: int) -> bool:
    """:func:`search.matches`, run in a worker thread for a large message."""
    return search.matches(key, view, msn=msn, max_msn=max_msn, max_uid=max_uid)


def _batches(entries: Sequence[Entry]) -> Iterator[list[int]]:
    batch: list[int] = []
    octets = 0
    for entry in entries:
        if batch and (len(batch) >= BATCH_MESSAGES or octets + entry.size > BATCH_OCTETS):
            yield batch
            batch, octets = [], 0
        batch.append(entry.uid)
        octets += entry.size
    if batch:
        yield batch


# --- CHECK, CLOSE, UNSELECT, EXPUNGE ----------------------------------------------------------------------

@command("CHECK", SELECTED)
async def check(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.4.1: nothing to checkpoint (every command commits); reports changes like NOOP."""
    arity(cmd, 0)
    await session.refresh(expunge=True)
    return "CHECK completed"


def _deselect(session: ImapSession) -> None:
    session.selected = None
    session.state = State.AUTHENTICATED
    session.drain_changes()


@command("CLOSE", SELECTED)
async def close(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.4.2: the ``\\Deleted`` messages removed silently (read-write only), no folder selected."""
    arity(cmd, 0)
    selected = selected_of(session)
    if not selected.readonly:
        async with session.transaction() as (db, box):
            await service.expunge(db, box, selected.name)
    _deselect(session)
    return "CLOSE completed"


@command("UNSELECT", SELECTED)
async def unselect(session: ImapSession, cmd: Command) -> str:
    """RFC 3691: no folder selected, nothing removed."""
    arity(cmd, 0)
    _deselect(session)
    return "UNSELECT completed"


@command("EXPUNGE", SELECTED, uid=True)
async def expunge(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.4.3: the ``\\Deleted`` messages removed, one ``* n EXPUNGE`` each; UID EXPUNGE (RFC 4315
    §2.1) only those of its UID set."""
    if cmd.uid:
        arity(cmd, 1, 1, "sequence-set")
    else:
        arity(cmd, 0)
    _writable(session, "EXPUNGE")
    selected = selected_of(session)
    uids = targets(session, cmd.args[0], uid=True) if cmd.uid else None
    if uids == []:
        return "UID EXPUNGE completed"
    async with session.transaction() as (db, box):
        removed = await service.expunge(db, box, selected.name, uids)
    lines = session.expunge_lines(set(removed))
    if lines:
        await session.send(lines)
    return f"{'UID ' if cmd.uid else ''}EXPUNGE completed"


# --- SEARCH ----------------------------------------------------------------------------------------------

@command("SEARCH", SELECTED, uid=True, quiet=True)
async def search_(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.4.4: ``* SEARCH`` with the message numbers (UIDs for UID SEARCH) that match; a charset
    other than US-ASCII and UTF-8 is ``NO [BADCHARSET (US-ASCII UTF-8)]``. Messages are read from the store
    only when a key needs their text."""
    try:
        _charset, key = search.parse_search(cmd.args)
    except search.UnsupportedCharset as exc:
        raise no(str(exc) or "unsupported charset", code="BADCHARSET (US-ASCII UTF-8)") from None
    selected = selected_of(session)
    live = [selected.entries[uid] for uid in selected.uids if uid not in selected.gone]
    max_msn, max_uid = len(selected.uids), selected.max_uid
    hits: list[int] = []
    if search.needs_raw(key):
        for batch in _batches(live):
            async with session.transaction(read_only=True) as (db, box):
                rows = await service.load_entries(db, box, selected.name, batch)
            for entry, message in rows:
                view = fetch.MessageView(uid=entry.uid, flags=entry.flags, internal_date=entry.internal_date,
                                         size=entry.size, raw=message.raw)
                msn = selected.msn(entry.uid)
                if len(message.raw) > INLINE_MESSAGE_BYTES:  # decoding a large body: off the event loop
                    matched = await asyncio.to_thread(_search_match, key, view, msn, max_msn, max_uid)
                else:
                    matched = search.matches(key, view, msn=msn, max_msn=max_msn, max_uid=max_uid)
                if matched:
                    hits.append(entry.uid if cmd.uid else msn)
    else:
        for entry in live:
            view = fetch.MessageView(uid=entry.uid, flags=entry.flags, internal_date=entry.internal_date,
                                     size=entry.size, raw=b"")
            msn = selected.msn(entry.uid)
            if search.matches(key, view, msn=msn, max_msn=max_msn, max_uid=max_uid):
                hits.append(entry.uid if cmd.uid else msn)
    await session.untagged("SEARCH" + "".join(f" {hit}" for hit in hits))
    return f"{'UID ' if cmd.uid else ''}SEARCH completed"


# --- FETCH ----------------------------------------------------------------------------------------------

@command("FETCH", SELECTED, uid=True, quiet=True)
async def fetch_(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.4.5. Fetching a body without ``.PEEK`` (or RFC822, RFC822.TEXT) sets ``\\Seen`` first, in
    one transaction, through the store (the MDN the sender asked for is sent once, RFC 8098), and the new
    FLAGS come with the data; in a folder opened with EXAMINE nothing is set. A message removed by another
    session (its EXPUNGE not yet sent) still answers UID, FLAGS, INTERNALDATE and RFC822.SIZE from the
    snapshot; its body cannot be: ``NO [EXPUNGEISSUED]`` after the others (RFC 2180 §4.1, RFC 5530)."""
    if len(cmd.args) < 2:
        raise bad("FETCH takes a sequence set and the items: FETCH 1:* (FLAGS BODY.PEEK[])")
    uids = targets(session, cmd.args[0], uid=cmd.uid)
    items = fetch.parse_fetch_items(cmd.args[1:])
    selected = selected_of(session)
    live = [uid for uid in uids if uid not in selected.gone]
    gone = len(uids) - len(live)
    flagged: set[int] = set()
    if not selected.readonly and any(item.sets_seen() for item in items):
        unseen = [uid for uid in live if SEEN not in selected.entries[uid].flags]
        if unseen:
            async with session.transaction() as (db, box):
                updated = await service.store_flags(db, session.settings, box, selected.name, unseen, [SEEN], "add")
            for entry in updated:
                selected.entries[entry.uid] = entry
                flagged.add(entry.uid)
    with_flags = items if any(item.name == "FLAGS" for item in items) else [*items, fetch.FetchItem("FLAGS")]
    if all(item.name in _META_ITEMS for item in items):
        # RFC 2180 §4.1.1: what the snapshot knows of a message removed elsewhere is still served
        gone = 0
        out = bytearray()
        for uid in uids:
            entry = selected.entries[uid]
            view = fetch.MessageView(uid=uid, flags=entry.flags, internal_date=entry.internal_date, size=entry.size,
                                     raw=b"")
            out += fetch.render_fetch(selected.msn(uid), view, with_flags if uid in flagged else items,
                                      include_uid=cmd.uid)
            if len(out) > 65536:
                await session.send(bytes(out))
                out = bytearray()
        if out:
            await session.send(bytes(out))
    else:
        structured = any(item.needs_structure for item in items)
        for batch in _batches([selected.entries[uid] for uid in live]):
            async with session.transaction(read_only=True) as (db, box):
                rows = await service.load_entries(db, box, selected.name, batch)
            gone += len(batch) - len(rows)
            for entry, message in rows:
                selected.entries[entry.uid] = entry
                view = fetch.MessageView(uid=entry.uid, flags=entry.flags, internal_date=entry.internal_date,
                                         size=entry.size, raw=message.raw)
                wanted = with_flags if entry.uid in flagged else items
                if structured and len(message.raw) > INLINE_MESSAGE_BYTES:  # off the event loop (as parser.py)
                    parts = await asyncio.to_thread(_render_fetch, selected.msn(entry.uid), view, wanted, cmd.uid)
                else:
                    parts = fetch.fetch_response_parts(selected.msn(entry.uid), view, wanted, include_uid=cmd.uid)
                await session.send_parts(parts)
    if gone:
        raise _expunge_issued(gone)
    return f"{'UID ' if cmd.uid else ''}FETCH completed"


# --- STORE ----------------------------------------------------------------------------------------------

@command("STORE", SELECTED, uid=True, quiet=True)
async def store(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.4.6: ``FLAGS``, ``+FLAGS``, ``-FLAGS`` (``.SILENT``: no FETCH response); ``\\Seen`` set
    through the store (the MDN the sender asked for, once); ``\\Recent`` cannot be set (§2.3.2)."""
    if len(cmd.args) < 3:
        raise bad("STORE takes a sequence set, an item and flags: STORE 1 +FLAGS (\\Seen)")
    uids = targets(session, cmd.args[0], uid=cmd.uid)
    match = _STORE_ITEM.match(atom(cmd.args[1], "FLAGS, +FLAGS or -FLAGS (.SILENT)"))
    if match is None:
        raise bad("STORE item must be FLAGS, +FLAGS or -FLAGS, optionally .SILENT")
    tokens = cmd.args[2]
    flags = flag_list(tokens) if isinstance(tokens, list) and len(cmd.args) == 3 else flag_list(cmd.args[2:])
    if any(flag.lower() == "\\recent" for flag in flags):
        raise bad("\\Recent cannot be set by a client (RFC 3501 §2.3.2)")
    _writable(session, "STORE")
    selected = selected_of(session)
    live = [uid for uid in uids if uid not in selected.gone]
    if live:
        async with session.transaction() as (db, box):
            updated = await service.store_flags(db, session.settings, box, selected.name, live, flags,
                                                _MODES[match.group(1)])  # type: ignore[arg-type]
        out = bytearray()
        for entry in updated:
            selected.entries[entry.uid] = entry
            if not match.group(2):
                uid_item = b"UID %d " % entry.uid if cmd.uid else b""
                out += b"* %d FETCH (%sFLAGS (%s))\r\n" % (selected.msn(entry.uid), uid_item,
                                                           " ".join(entry.flags).encode())
        new_keywords = {f for e in updated for f in e.flags if not f.startswith("\\")} - selected.keywords
        if new_keywords:
            selected.keywords = selected.keywords | new_keywords
            out = bytearray(b"* FLAGS (%s)\r\n" % flag_names(selected.keywords).encode()) + out
        if out:
            await session.send(bytes(out))
        live_after = {e.uid for e in updated}
        if len(live_after) < len(live):
            raise _expunge_issued(len(live) - len(live_after))
    if len(live) < len(uids):
        raise _expunge_issued(len(uids) - len(live))
    return f"{'UID ' if cmd.uid else ''}STORE completed"


# --- COPY, MOVE -------------------------------------------------------------------------------------------

async def _copy_or_move(session: ImapSession, cmd: Command, *, move: bool) -> str:
    arity(cmd, 2, 2, "sequence-set mailbox")
    name = ("UID " if cmd.uid else "") + cmd.name
    uids = targets(session, cmd.args[0], uid=cmd.uid)
    target = mailbox(cmd.args[1])
    if move:
        _writable(session, "MOVE")
    selected = selected_of(session)
    live = [uid for uid in uids if uid not in selected.gone]
    if not live:
        if len(live) < len(uids):
            raise _expunge_issued(len(uids) - len(live))
        return f"{name} completed"
    try:
        async with session.transaction() as (db, box):
            operation = service.move_entries if move else service.copy_entries
            uidvalidity, pairs = await operation(db, box, selected.name, live, target)
    except MssError as exc:
        raise refusal_of(exc, missing="TRYCREATE") from None
    code = ""
    if pairs:
        code = (f"[COPYUID {uidvalidity} {sequence.compress([s for s, _ in pairs])} "
                f"{sequence.compress([d for _, d in pairs])}] ")
    if move:
        # RFC 6851 §3.3: the COPYUID in an untagged OK, then the EXPUNGE of each moved message
        if code:
            await session.untagged(f"OK {code}moved")
        lines = session.expunge_lines({s for s, _ in pairs})
        if lines:
            await session.send(lines)
        code = ""
    if len(pairs) < len(uids):
        raise _expunge_issued(len(uids) - len(pairs))
    return f"{code}{name} completed"


@command("COPY", SELECTED, uid=True)
async def copy(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.4.7; ``[COPYUID uidvalidity source-uids new-uids]`` (RFC 4315 §3); an unknown target
    ``NO [TRYCREATE]``."""
    return await _copy_or_move(session, cmd, move=False)


@command("MOVE", SELECTED, uid=True)
async def move(session: ImapSession, cmd: Command) -> str:
    """RFC 6851."""
    return await _copy_or_move(session, cmd, move=True)
