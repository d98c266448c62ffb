"""A mailbox's folders (IMAP mailboxes), the messages in them with their UIDs and flags.

The model (RFC 3501 §2.3.1.1 for the UIDs; RFC 6154 for the special-use folders):

- a folder is an ``mss_folder`` row, INBOX included (created on demand, as are ``Sent``, ``Drafts`` and
  ``Trash``); its id is its UIDVALIDITY, never reused, so a folder deleted and created again has a new one;
- a message in a folder is an ``mss_delivery`` row of the mailbox with status ``delivered`` (or ``stored``:
  an APPEND); ``folder_id`` NULL is the INBOX (the SMTP paths insert rows without naming a folder);
- a message's UID is its row's id: ids only grow, so UIDs ascend in arrival order in every folder, are
  stable across restarts, and the HTTP API shows the same number (``imap_uid``);
- UIDNEXT = max(highest UID in the folder, ``highest_removed_uid``) + 1, the latter raised whenever a row
  leaves the folder: UIDNEXT changes exactly when messages are added, never goes down;
- flags: ``\\Seen`` is the ``seen`` column (one thing with the HTTP API's "mark read", which sends the MDN
  the sender asked for, RFC 8098); the others are the ``flags`` JSON list. ``\\Recent`` is not kept
  (IMAP4rev2, RFC 9051, dropped it).

The pure rules (names, flags, UIDNEXT) are plain functions; the others take the session first, ``flush()``
and never commit, and announce their changes (:mod:`app.mss.changes`) for IDLE.

Concurrent sessions (PostgreSQL, READ COMMITTED): the rows a STORE, MOVE or EXPUNGE changes are read with
``SELECT ... FOR UPDATE`` (a second session waits, then sees the first one's flags, or that the rows are gone),
so ``+FLAGS`` adds to what another session just set, a message is moved once (RFC 6851 §3.1) and its MDN sent
once; the UIDs a COPY, MOVE or APPEND draws ascend in commit order (:func:`app.mss.store.lock_mailboxes`,
taken after the row locks). SQLite serialises its writers by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import and_, case, delete, false, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only

from app.db import as_utc, utcnow
from app.mss import changes, deliveries, receipts, store
from app.mss.changes import TOPIC_MAILBOX
from app.mss.exceptions import (
    FolderExists,
    FolderNotDeletable,
    InvalidFlag,
    InvalidFolderName,
    KeywordLimit,
    MessageTooLarge,
    UnknownFolder,
)
from app.mss.models import MssDelivery, MssFolder, MssMailbox, MssMessage
from app.tenancy import current_tenant

if TYPE_CHECKING:
    from app.config import Settings

__all__ = [
    "DELIMITER", "INBOX", "IN_FOLDER", "STANDARD_FOLDERS", "SYSTEM_FLAGS", "TOPIC_MAILBOX", "Entry", "FolderInfo",
    "append", "apply_flags", "copy_entries", "create_folder", "delete_folder", "ensure_standard_folders", "entries",
    "entry_flags", "expunge", "folder_info", "folder_row", "in_folder", "list_folders", "load_entries", "move_entries",
    "normalise_flags", "normalise_folder_name", "note_removed", "rename_folder", "set_subscribed", "store_flags",
    "uidnext",
]

INBOX = "INBOX"
DELIMITER = "/"
STANDARD_FOLDERS: dict[str, str | None] = {"INBOX": None, "Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash"}
"""Created on demand in every mailbox, with their RFC 6154 special-use attribute; they cannot be deleted."""
SYSTEM_FLAGS: tuple[str, ...] = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
SEEN = "\\Seen"
DELETED = "\\Deleted"
IN_FOLDER = ("delivered", "stored")
"""The delivery statuses of a message in a folder (``stored``: kept by APPEND, never sent)."""
MAX_NAME = 255
MAX_KEYWORDS = 64
"""Keywords kept on one message (every session's FLAGS and PERMANENTFLAGS list them: bounded)."""
MAX_KEYWORD = 64
"""Characters of one keyword."""
_CHUNK = 500  # ids per IN (...) list: within every engine's bound-parameter limit
_ATOM_SPECIALS = set('(){ %*"]\\')


@dataclass(frozen=True)
class FolderInfo:
    id: int
    name: str
    """``INBOX`` spelled so for the INBOX."""
    special_use: str | None
    subscribed: bool
    uidvalidity: int
    uidnext: int
    exists: int
    """Messages in the folder."""
    unseen: int
    """Messages without ``\\Seen``."""


@dataclass(frozen=True)
class Entry:
    uid: int
    """``mss_delivery.id``."""
    flags: tuple[str, ...]
    """``\\Seen`` first when seen, then the stored flags, sorted."""
    size: int
    """RFC822.SIZE: the length of the raw message."""
    internal_date: datetime
    """Aware UTC: when the row was delivered (or appended)."""
    message_id: int
    """``mss_message.id``."""


# --- pure rules --------------------------------------------------------------------------------------------

def normalise_folder_name(name: str) -> str:
    """The stored spelling of a folder name: ``INBOX`` in any case is the INBOX (RFC 3501 §5.1), also as the
    first level of a hierarchy (``inbox/x`` -> ``INBOX/x``); a trailing delimiter is dropped (§6.3.3: it only
    says the client means to create inferiors). Refused (:class:`InvalidFolderName`): empty, ``*`` or ``%``
    (the LIST wildcards, §6.3.8), control characters, an empty level (``a//b``, ``/a``), over 255 characters."""
    if name.endswith(DELIMITER):
        name = name[:-1]
    if not name:
        raise InvalidFolderName(name, "empty name")
    if "*" in name or "%" in name:
        raise InvalidFolderName(name, "'*' and '%' are LIST wildcards (RFC 3501 §6.3.8)")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name):
        raise InvalidFolderName(name, "control character")
    levels = name.split(DELIMITER)
    if any(not level for level in levels):
        raise InvalidFolderName(name, f"empty hierarchy level (delimiter {DELIMITER!r})")
    if len(name) > MAX_NAME:
        raise InvalidFolderName(name, f"longer than {MAX_NAME} characters")
    if levels[0].upper() == INBOX:
        levels[0] = INBOX
    return DELIMITER.join(levels)


def _canonical_flag(flag: str) -> str:
    """A flag as stored: a system flag in its RFC 3501 §2.3.2 spelling (they are case-insensitive), a keyword
    as given. :class:`InvalidFlag` for ``\\Recent`` (set by the server only, and not kept here), an unknown
    system flag, or a keyword that is not an atom."""
    if flag.startswith("\\"):
        for system in SYSTEM_FLAGS:
            if flag.lower() == system.lower():
                return system
        if flag.lower() == "\\recent":
            raise InvalidFlag(flag, "\\Recent cannot be set by a client (RFC 3501 §2.3.2)")
        raise InvalidFlag(flag, "unknown system flag (RFC 3501 §2.3.2)")
    if not flag:
        raise InvalidFlag(flag, "empty keyword")
    if any(c in _ATOM_SPECIALS or ord(c) <= 0x20 or ord(c) >= 0x7F for c in flag):
        raise InvalidFlag(flag, "a keyword is an atom (RFC 3501 §9: no space, parenthesis, wildcard, quote, "
                                "backslash or control character)")
    if len(flag) > MAX_KEYWORD:
        raise KeywordLimit(f"keyword longer than {MAX_KEYWORD} characters", flag=flag)
    return flag


def _within_limit(flags: list[str]) -> list[str]:
    """``flags`` (the ones other than ``\\Seen``), or :class:`KeywordLimit` past :data:`MAX_KEYWORDS` keywords."""
    if sum(not flag.startswith("\\") for flag in flags) > MAX_KEYWORDS:
        raise KeywordLimit(f"more than {MAX_KEYWORDS} keywords on one message")
    return flags


def normalise_flags(flags: Iterable[str]) -> tuple[bool, list[str]]:
    """``(\\Seen given, the other flags)``: canonical, without duplicates (keywords compared
    case-insensitively), sorted. :class:`InvalidFlag` on the first bad one."""
    seen = False
    others: dict[str, str] = {}
    for flag in flags:
        canonical = _canonical_flag(flag)
        if canonical == SEEN:
            seen = True
        else:
            others.setdefault(canonical.lower(), canonical)
    return seen, _within_limit(sorted(others.values()))


def entry_flags(seen: bool, stored: Iterable[str] | None) -> tuple[str, ...]:
    """A message's flags as IMAP shows them: ``\\Seen`` first when seen, then the stored ones, sorted."""
    return ((SEEN,) if seen else ()) + tuple(sorted(stored or ()))


def uidnext(highest_uid: int | None, highest_removed_uid: int | None) -> int:
    """RFC 3501 §2.3.1.1: the next UID does not change unless messages are added, and changes whenever
    some are, even if they are expunged since: one above the highest UID the folder ever held."""
    return max(highest_uid or 0, highest_removed_uid or 0) + 1


def apply_flags(seen: bool, stored: Sequence[str], flags: Sequence[str],
                mode: Literal["set", "add", "remove"]) -> tuple[bool, list[str]]:
    """A message's ``(seen, other flags)`` after ``STORE FLAGS`` (``set``), ``+FLAGS`` (``add``) or
    ``-FLAGS`` (``remove``), RFC 3501 §6.4.6."""
    given_seen, given = normalise_flags(flags)
    if mode == "set":
        return given_seen, given
    current = {flag.lower(): flag for flag in stored}
    if mode == "add":
        for flag in given:
            current.setdefault(flag.lower(), flag)
        return seen or given_seen, _within_limit(sorted(current.values()))
    for flag in given:
        current.pop(flag.lower(), None)
    return seen and not given_seen, sorted(current.values())


# --- folders -----------------------------------------------------------------------------------------------

def _insert_ignoring_duplicates(session: AsyncSession) -> Any:
    """``INSERT ... ON CONFLICT (mailbox_id, name) DO NOTHING`` for this session's engine: two sessions
    that create the same standard folder at once both succeed."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(MssFolder).on_conflict_do_nothing(index_elements=["mailbox_id", "name"])
    return sqlite_insert(MssFolder).on_conflict_do_nothing(index_elements=["mailbox_id", "name"])


async def _ensure(session: AsyncSession, mailbox_id: int, names: Iterable[str]) -> None:
    tenant = current_tenant()
    await session.execute(_insert_ignoring_duplicates(session), [
        {"tenant": tenant, "mailbox_id": mailbox_id, "name": name, "special_use": STANDARD_FOLDERS.get(name),
         "subscribed": True, "highest_removed_uid": 0, "created_at": utcnow()} for name in names])


async def _folders(session: AsyncSession, mailbox: MssMailbox) -> dict[str, MssFolder]:
    """The mailbox's folders by name, the standard ones created if missing."""
    rows = {f.name: f for f in (await session.scalars(
        select(MssFolder).where(MssFolder.mailbox_id == mailbox.id).execution_options(populate_existing=True)
    )).all()}
    missing = [name for name in STANDARD_FOLDERS if name not in rows]
    if missing:
        await _ensure(session, mailbox.id, missing)
        rows = {f.name: f for f in (await session.scalars(
            select(MssFolder).where(MssFolder.mailbox_id == mailbox.id)
            .execution_options(populate_existing=True))).all()}
    return rows


async def folder_row(session: AsyncSession, mailbox: MssMailbox, name: str) -> MssFolder:
    """The folder named ``name`` (normalised; a standard one created if missing), or :class:`UnknownFolder`.
    One SELECT when it exists (every FETCH batch and refresh asks)."""
    name = normalise_folder_name(name)
    folder = await session.scalar(select(MssFolder).where(MssFolder.mailbox_id == mailbox.id, MssFolder.name == name)
                                  .execution_options(populate_existing=True))
    if folder is None:
        if name not in STANDARD_FOLDERS:
            raise UnknownFolder(name)
        folder = (await _folders(session, mailbox))[name]
    return folder


async def in_folder(session: AsyncSession, mailbox: MssMailbox, name: str) -> Any:
    """The condition on ``mss_delivery`` rows of the mailbox that are in the folder ``name``, without
    creating anything (a reading request writes nothing): a standard folder not created yet is empty;
    :class:`UnknownFolder` for another name."""
    name = normalise_folder_name(name)
    if name == INBOX:
        return MssDelivery.folder_id.is_(None)
    folder_id = await session.scalar(select(MssFolder.id).where(MssFolder.mailbox_id == mailbox.id,
                                                                MssFolder.name == name))
    if folder_id is None:
        if name in STANDARD_FOLDERS:
            return false()
        raise UnknownFolder(name)
    return MssDelivery.folder_id == folder_id


def _in(folder: MssFolder) -> Any:
    """The folder's rows (its mailbox's, in a folder status, NULL folder for the INBOX)."""
    where = MssDelivery.folder_id.is_(None) if folder.name == INBOX else MssDelivery.folder_id == folder.id
    return and_(MssDelivery.mailbox_id == folder.mailbox_id, where, MssDelivery.status.in_(IN_FOLDER))


def _folder_id(folder: MssFolder) -> int | None:
    return None if folder.name == INBOX else folder.id


def _info(folder: MssFolder, exists: int, unseen: int, highest: int | None) -> FolderInfo:
    return FolderInfo(id=folder.id, name=folder.name, special_use=folder.special_use, subscribed=folder.subscribed,
                      uidvalidity=folder.id, uidnext=uidnext(highest, folder.highest_removed_uid), exists=exists,
                      unseen=unseen)


_COUNTS = (func.count(MssDelivery.id), func.coalesce(func.sum(case((MssDelivery.seen.is_(False), 1), else_=0)), 0),
           func.max(MssDelivery.id))


async def ensure_standard_folders(session: AsyncSession, mailbox: MssMailbox) -> None:
    """Create the mailbox's INBOX, Sent, Drafts and Trash rows when missing (RFC 6154 special-use)."""
    await _folders(session, mailbox)


async def list_folders(session: AsyncSession, mailbox: MssMailbox) -> list[FolderInfo]:
    """Every folder of the mailbox with its counts, INBOX first, then by name."""
    folders = await _folders(session, mailbox)
    counts = {row[0]: row[1:] for row in (await session.execute(
        select(MssDelivery.folder_id, *_COUNTS)
        .where(MssDelivery.mailbox_id == mailbox.id, MssDelivery.status.in_(IN_FOLDER))
        .group_by(MssDelivery.folder_id))).all()}
    found = [_info(f, *counts.get(_folder_id(f), (0, 0, None))) for f in folders.values()]
    return sorted(found, key=lambda info: (info.name != INBOX, info.name))


async def folder_info(session: AsyncSession, mailbox: MssMailbox, name: str) -> FolderInfo:
    """One folder and its counts (what SELECT and STATUS answer), or :class:`UnknownFolder`."""
    folder = await folder_row(session, mailbox, name)
    exists, unseen, highest = (await session.execute(select(*_COUNTS).where(_in(folder)))).one()
    return _info(folder, exists, unseen, highest)


async def create_folder(session: AsyncSession, mailbox: MssMailbox, name: str) -> FolderInfo:
    """RFC 3501 §6.3.3: the superior levels missing are created too; :class:`FolderExists` if it exists,
    also when another session creates it at the same moment (``INSERT ... ON CONFLICT DO NOTHING``: the
    second one waits for the first and inserts nothing)."""
    name = normalise_folder_name(name)
    folders = await _folders(session, mailbox)
    if name in folders:
        raise FolderExists(name)
    levels = name.split(DELIMITER)
    missing = [path for path in (DELIMITER.join(levels[:depth]) for depth in range(1, len(levels)))
               if path not in folders]
    if missing:
        await _ensure(session, mailbox.id, missing)  # superiors: created by either session, all the same
    created = await session.scalar(_insert_ignoring_duplicates(session).values(
        mailbox_id=mailbox.id, name=name, special_use=None, subscribed=True, highest_removed_uid=0,
        created_at=utcnow()).returning(MssFolder.id))
    if created is None:
        raise FolderExists(name)
    return _info(await folder_row(session, mailbox, name), 0, 0, None)


async def delete_folder(session: AsyncSession, mailbox: MssMailbox, name: str) -> None:
    """RFC 3501 §6.3.4: the folder and its messages; its inferiors stay. INBOX and the standard folders
    cannot be deleted (:class:`FolderNotDeletable`).

    A folder with inferiors loses its row all the same, where §6.3.4 keeps its name as a ``\\Noselect``
    folder: the IMAP LIST answers such a name, still the superior of existing folders, as ``\\Noselect``
    by itself, and creating it again (a new UIDVALIDITY) makes it selectable."""
    name = normalise_folder_name(name)
    if name in STANDARD_FOLDERS:
        raise FolderNotDeletable(name, "INBOX cannot be deleted (RFC 3501 §6.3.4)" if name == INBOX
                                 else "a standard folder of the mailbox (RFC 6154 special-use)")
    folder = await folder_row(session, mailbox, name)
    removed = await session.scalar(select(func.count(MssDelivery.id)).where(
        MssDelivery.mailbox_id == mailbox.id, MssDelivery.folder_id == folder.id))
    await session.execute(delete(MssDelivery).where(MssDelivery.mailbox_id == mailbox.id,
                                                    MssDelivery.folder_id == folder.id))
    await session.delete(folder)
    await session.flush()
    if removed:
        await changes.announce_after_commit(session, [mailbox.address])


async def rename_folder(session: AsyncSession, mailbox: MssMailbox, old: str, new: str) -> None:
    """RFC 3501 §6.3.5: the folder keeps its id (UIDVALIDITY) and its messages; its inferiors are renamed
    with it; the superior levels of the new name missing are created. Renaming INBOX moves its messages into
    a new folder of that name (new UIDs) and leaves INBOX empty."""
    old, new = normalise_folder_name(old), normalise_folder_name(new)
    folders = await _folders(session, mailbox)
    if old not in folders:
        raise UnknownFolder(old)
    if new in folders:
        raise FolderExists(new)
    if old == INBOX:
        await create_folder(session, mailbox, new)
        uids = [uid for (uid,) in (await session.execute(
            select(MssDelivery.id).where(_in(folders[INBOX])).order_by(MssDelivery.id))).all()]
        if uids:
            await move_entries(session, mailbox, INBOX, uids, new)
        return
    if old in STANDARD_FOLDERS:
        raise FolderNotDeletable(old, "a standard folder of the mailbox (RFC 6154 special-use) keeps its name")
    if new == old or new.startswith(old + DELIMITER):
        raise InvalidFolderName(new, f"a folder cannot become its own inferior ({old!r})")
    prefix = old + DELIMITER
    renames = {old: new} | {name: new + name[len(old):] for name in folders if name.startswith(prefix)}
    for renamed in renames.values():  # every new name checked before any is changed: nothing half-renamed
        if renamed in folders or len(renamed) > MAX_NAME:
            raise InvalidFolderName(renamed, "exists already" if renamed in folders else "too long")
    for name, renamed in renames.items():
        folders[name].name = renamed
    try:
        await session.flush()
    except IntegrityError as exc:  # another session took the name meanwhile; the transaction is void
        raise FolderExists(new) from exc
    names = {folder.name for folder in folders.values()}
    levels = new.split(DELIMITER)
    for depth in range(1, len(levels)):
        path = DELIMITER.join(levels[:depth])
        if path not in names:
            session.add(MssFolder(mailbox_id=mailbox.id, name=path, special_use=None, subscribed=True,
                                  highest_removed_uid=0, created_at=utcnow()))
            names.add(path)
    await session.flush()


async def set_subscribed(session: AsyncSession, mailbox: MssMailbox, name: str, subscribed: bool) -> None:
    """SUBSCRIBE / UNSUBSCRIBE (RFC 3501 §6.3.6-7) of an existing folder."""
    folder = await folder_row(session, mailbox, name)
    folder.subscribed = subscribed
    await session.flush()


# --- messages in a folder ------------------------------------------------------------------------------

def _chunks(uids: Sequence[int]) -> Iterable[list[int]]:
    unique = sorted(set(uids))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start:start + _CHUNK]


def _entry(d: MssDelivery, size: int) -> Entry:
    return Entry(uid=d.id, flags=entry_flags(d.seen, d.flags), size=size, internal_date=as_utc(d.delivered_at),
                 message_id=d.message_id)


async def entries(session: AsyncSession, mailbox: MssMailbox, name: str) -> list[Entry]:
    """The folder's messages, ascending UID (without their bytes)."""
    folder = await folder_row(session, mailbox, name)
    rows = (await session.execute(
        select(MssDelivery.id, MssDelivery.seen, MssDelivery.flags, MssMessage.size, MssDelivery.delivered_at,
               MssDelivery.message_id)
        .join(MssMessage, MssMessage.id == MssDelivery.message_id).where(_in(folder)).order_by(MssDelivery.id)
    )).all()
    return [Entry(uid=uid, flags=entry_flags(seen, flags), size=size, internal_date=as_utc(at), message_id=mid)
            for uid, seen, flags, size, at, mid in rows]


async def _rows(session: AsyncSession, folder: MssFolder, uids: Sequence[int]) -> list[tuple[MssDelivery, MssMessage]]:
    found: list[tuple[MssDelivery, MssMessage]] = []
    for chunk in _chunks(uids):
        found.extend((d, m) for d, m in (await session.execute(
            select(MssDelivery, MssMessage).join(MssMessage, MssMessage.id == MssDelivery.message_id)
            .where(_in(folder), MssDelivery.id.in_(chunk)).order_by(MssDelivery.id)
            .execution_options(populate_existing=True))).all())
    return found


async def _deliveries(session: AsyncSession, folder: MssFolder, uids: Sequence[int], *,
                      lock: bool = False) -> list[tuple[MssDelivery, int]]:
    """The folder's rows among ``uids`` with their message's size, without loading the messages' bytes.
    ``lock``: ``FOR UPDATE`` (the delivery rows only, ascending), for a session that changes them."""
    found: list[tuple[MssDelivery, int]] = []
    for chunk in _chunks(uids):
        stmt = (select(MssDelivery, MssMessage.size).join(MssMessage, MssMessage.id == MssDelivery.message_id)
                .where(_in(folder), MssDelivery.id.in_(chunk)).order_by(MssDelivery.id)
                .execution_options(populate_existing=True))
        if lock:
            stmt = stmt.with_for_update(of=MssDelivery)
        found.extend((d, size) for d, size in (await session.execute(stmt)).all())
    return found


async def _lock_copies(session: AsyncSession, folder: MssFolder, uids: Sequence[int]) -> None:
    """PostgreSQL: lock the folder's rows among ``uids`` together with the rows of the same messages in the
    mailbox's other folders (their copies), in one ascending order: :func:`app.mss.receipts.mark_read`
    locks a message's rows to send its MDN once, and two sessions reading a message and its copy must not
    take them in opposite orders."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for chunk in _chunks(uids):
        chosen = select(MssDelivery.message_id).where(_in(folder), MssDelivery.id.in_(chunk)).correlate(None)
        await session.execute(select(MssDelivery.id).where(
            MssDelivery.mailbox_id == folder.mailbox_id, MssDelivery.message_id.in_(chosen))
            .order_by(MssDelivery.id).with_for_update())


async def _read_receipt_views(session: AsyncSession, ids: Iterable[int]) -> dict[int, MssMessage]:
    """The messages ``ids`` as :func:`app.mss.receipts.mark_read` needs them, without their bytes (read only
    to write an MDN)."""
    found: dict[int, MssMessage] = {}
    for chunk in _chunks(list(ids)):
        found.update((m.id, m) for m in (await session.scalars(
            select(MssMessage).options(load_only(MssMessage.id, MssMessage.kind, MssMessage.headers))
            .where(MssMessage.id.in_(chunk)))).all())
    return found


async def load_entries(session: AsyncSession, mailbox: MssMailbox, name: str,
                       uids: Sequence[int]) -> list[tuple[Entry, MssMessage]]:
    """The entries of ``uids`` in the folder with their messages (raw bytes included), ascending UID; UIDs
    not in the folder are skipped."""
    folder = await folder_row(session, mailbox, name)
    return [(_entry(d, m.size), m) for d, m in await _rows(session, folder, uids)]


async def store_flags(session: AsyncSession, settings: Settings, mailbox: MssMailbox, name: str,
                      uids: Sequence[int], flags: Sequence[str],
                      mode: Literal["set", "add", "remove"]) -> list[Entry]:
    """STORE (RFC 3501 §6.4.6) on the folder's messages among ``uids``; the entries after the change.
    ``\\Seen`` set goes through :func:`app.mss.receipts.mark_read`: the MDN the sender asked for is sent
    once, as the HTTP API's "mark read" does (RFC 8098 §2.1). Clearing it sends nothing later (the MDN is
    sent already, or was never asked for before)."""
    given_seen, _ = normalise_flags(flags)  # refuses a bad flag before anything changes
    folder = await folder_row(session, mailbox, name)
    if given_seen and mode != "remove":
        await _lock_copies(session, folder, uids)
    # the rows locked, then every new state computed (KeywordLimit raised before anything changes)
    planned = [(d, size, *apply_flags(d.seen, d.flags or [], flags, mode))
               for d, size in await _deliveries(session, folder, uids, lock=True)]
    reading = [d for d, _, seen, _ in planned if seen and not d.seen]
    messages = await _read_receipt_views(session, {d.message_id for d in reading})
    targets = {receipts.mdn_target(messages[d.message_id]) for d in reading if d.mdn_id is None}
    await store.lock_mailboxes(session, await deliveries.local_mailbox_ids(session, sorted(t for t in targets if t)))
    changed = False
    result: list[Entry] = []
    for d, size, seen, others in planned:
        if others != list(d.flags or []):
            d.flags = others
            changed = True
        if seen and not d.seen:
            await receipts.mark_read(session, settings, mailbox=mailbox, delivery=d, message=messages[d.message_id],
                                     announce=False)
            changed = True
        elif not seen and d.seen:
            d.seen, d.seen_at = False, None
            changed = True
        result.append(_entry(d, size))
    await session.flush()
    if changed:
        await changes.announce_after_commit(session, [mailbox.address])
    return result


async def note_removed(session: AsyncSession, *, mailbox_id: int, folder_id: int | None, uid: int) -> None:
    """Raise the folder's ``highest_removed_uid`` to ``uid`` (a row of the folder left it), so its UIDNEXT
    does not go down (RFC 3501 §2.3.1.1). ``folder_id`` None is the INBOX (its row created if missing)."""
    if folder_id is None:
        await _ensure(session, mailbox_id, [INBOX])
        where = and_(MssFolder.mailbox_id == mailbox_id, MssFolder.name == INBOX)
    else:
        where = MssFolder.id == folder_id
    await session.execute(update(MssFolder).where(where, MssFolder.highest_removed_uid < uid)
                          .values(highest_removed_uid=uid).execution_options(synchronize_session=False))


async def _copy(session: AsyncSession, source: MssFolder, uids: Sequence[int], target: MssFolder, *,
                lock: bool = False) -> list[tuple[MssDelivery, MssDelivery]]:
    """New rows in ``target`` for the source's rows among ``uids`` (flags, internal date and read state kept,
    RFC 3501 §6.4.7), inserted in ascending source UID order so the new UIDs ascend alike, and in commit
    order (:func:`app.mss.store.lock_mailboxes`). ``lock``: the source rows locked (a MOVE)."""
    pairs: list[tuple[MssDelivery, MssDelivery]] = []
    found = await _deliveries(session, source, uids, lock=lock)
    if found:
        await store.lock_mailboxes(session, [target.mailbox_id])
    for d, _size in found:
        copy = MssDelivery(message_id=d.message_id, mailbox_id=d.mailbox_id, recipient=d.recipient, status=d.status,
                           notify=d.notify, seen=d.seen, seen_at=d.seen_at, mdn_id=d.mdn_id,
                           delivered_at=d.delivered_at, folder_id=_folder_id(target), flags=list(d.flags or []))
        session.add(copy)
        await session.flush()  # one row at a time: each id is drawn after the previous one's
        pairs.append((d, copy))
    return pairs


async def copy_entries(session: AsyncSession, mailbox: MssMailbox, name: str, uids: Sequence[int],
                       target: str) -> tuple[int, list[tuple[int, int]]]:
    """COPY (RFC 3501 §6.4.7): ``(target UIDVALIDITY, [(source UID, new UID), ...])`` for COPYUID (RFC 4315
    §3); UIDs not in the folder are skipped. :class:`UnknownFolder` when the target does not exist."""
    source = await folder_row(session, mailbox, name)
    destination = await folder_row(session, mailbox, target)
    pairs = await _copy(session, source, uids, destination)
    if pairs:
        await changes.announce_after_commit(session, [mailbox.address])
    return destination.id, [(old.id, new.id) for old, new in pairs]


async def move_entries(session: AsyncSession, mailbox: MssMailbox, name: str, uids: Sequence[int],
                       target: str) -> tuple[int, list[tuple[int, int]]]:
    """MOVE (RFC 6851): COPY, then the source rows removed (the source folder's UIDNEXT kept). The source rows
    are locked first: a second session moving them at once waits, then finds them gone and moves nothing
    (§3.1: the move is atomic; a message is not copied twice)."""
    source = await folder_row(session, mailbox, name)
    destination = await folder_row(session, mailbox, target)
    pairs = await _copy(session, source, uids, destination, lock=True)
    if pairs:
        await _remove(session, source, [old.id for old, _ in pairs])
        await changes.announce_after_commit(session, [mailbox.address])
    return destination.id, [(old.id, new.id) for old, new in pairs]


async def _remove(session: AsyncSession, folder: MssFolder, uids: list[int]) -> None:
    for chunk in _chunks(uids):
        await session.execute(delete(MssDelivery).where(_in(folder), MssDelivery.id.in_(chunk))
                              .execution_options(synchronize_session=False))
    await note_removed(session, mailbox_id=folder.mailbox_id, folder_id=_folder_id(folder), uid=max(uids))
    await session.flush()


async def expunge(session: AsyncSession, mailbox: MssMailbox, name: str,
                  uids: Sequence[int] | None = None) -> list[int]:
    """EXPUNGE (RFC 3501 §6.4.3): removes the folder's messages flagged ``\\Deleted`` (only those among
    ``uids`` when given: UID EXPUNGE, RFC 4315 §2.1); the removed UIDs, ascending."""
    folder = await folder_row(session, mailbox, name)
    stmt = select(MssDelivery.id, MssDelivery.flags).where(_in(folder)).order_by(MssDelivery.id)
    wanted = None if uids is None else set(uids)
    candidates = [uid for uid, flags in (await session.execute(stmt)).all()
                  if DELETED in (flags or ()) and (wanted is None or uid in wanted)]
    removed: list[int] = []
    for chunk in _chunks(candidates):  # locked, then read again: still there, still \Deleted
        removed.extend(uid for uid, flags in (await session.execute(
            stmt.where(MssDelivery.id.in_(chunk)).with_for_update())).all() if DELETED in (flags or ()))
    if removed:
        await _remove(session, folder, removed)
        await changes.announce_after_commit(session, [mailbox.address])
    return removed


async def append(session: AsyncSession, settings: Settings, mailbox: MssMailbox, name: str, raw: bytes,
                 flags: Sequence[str] = (), internal_date: datetime | None = None) -> tuple[int, int]:
    """APPEND (RFC 3501 §6.3.11): the message kept in the folder (parsed and checked as a sent one, never
    sent), with its flags and internal date; ``(UIDVALIDITY, UID)`` for APPENDUID (RFC 4315 §3).
    :class:`MessageTooLarge` beyond ``SEGUR_MSS_MAX_MESSAGE_BYTES``."""
    if len(raw) > settings.mss_max_message_bytes:
        raise MessageTooLarge(len(raw), settings.mss_max_message_bytes)
    seen, others = normalise_flags(flags)
    folder = await folder_row(session, mailbox, name)
    uid = await deliveries.keep_copy(session, settings, mailbox=mailbox, raw=raw, folder_id=_folder_id(folder),
                                     seen=seen, flags=others, at=as_utc(internal_date) if internal_date else utcnow())
    await changes.announce_after_commit(session, [mailbox.address])
    return folder.id, uid
