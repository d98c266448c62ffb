"""The commands of the authenticated state (RFC 3501 §6.3): SELECT, EXAMINE, CREATE, DELETE, RENAME,
SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB (with the CHILDREN attributes, RFC 3348, and the special-use ones,
RFC 6154), NAMESPACE (RFC 2342), STATUS, APPEND (APPENDUID, RFC 4315; LITERAL+, RFC 7888) and IDLE
(RFC 2177). Folder names are the store's (:mod:`app.mss.folders`), decoded from modified UTF-7 on the way in
and encoded on the way out (RFC 3501 §5.1.3); the hierarchy delimiter is ``/``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.mss import service
from app.mss.exceptions import MssError
from app.mss.imap import wire
from app.mss.imap.commands import (
    AUTHENTICATED,
    State,
    arity,
    atom,
    bad,
    flag_list,
    mailbox,
    no,
    refusal_of,
    table,
)
from app.mss.imap.session import Selected, flag_names

if TYPE_CHECKING:
    from app.mss.folders import FolderInfo
    from app.mss.imap.session import ImapSession
    from app.mss.imap.wire import Command

COMMANDS, command = table()

DELIMITER = "/"
INBOX = "INBOX"
IDLE_PSC_CHECK = 60.0
"""Seconds between two checks of a PSC-token session's token while it idles."""


# --- SELECT, EXAMINE --------------------------------------------------------------------------------------

async def _select(session: ImapSession, cmd: Command, *, readonly: bool) -> str:
    """RFC 3501 §6.3.1, §6.3.2: FLAGS, PERMANENTFLAGS, EXISTS, RECENT (always 0: ``\\Recent`` is not kept),
    UNSEEN, UIDVALIDITY, UIDNEXT; READ-WRITE or READ-ONLY. A SELECT that fails leaves no folder selected."""
    arity(cmd, 1, 1, "mailbox")
    name = mailbox(cmd.args[0])
    session.selected = None
    session.state = State.AUTHENTICATED
    session.drain_changes()
    async with session.transaction() as (db, box):
        info = await service.folder_info(db, box, name)
        current = await service.entries(db, box, info.name)
    selected = Selected(name=info.name, readonly=readonly, uidvalidity=info.uidvalidity,
                        uids=[e.uid for e in current], entries={e.uid: e for e in current},
                        keywords=frozenset(f for e in current for f in e.flags if not f.startswith("\\")))
    first_unseen = next((msn for msn, e in enumerate(current, start=1) if "\\Seen" not in e.flags), None)
    lines = [f"* FLAGS ({flag_names(selected.keywords)})",
             "* OK [PERMANENTFLAGS ()] read-only (EXAMINE)" if readonly else
             f"* OK [PERMANENTFLAGS ({flag_names(selected.keywords)} \\*)] flags and keywords kept",
             f"* {len(current)} EXISTS", "* 0 RECENT"]
    if first_unseen is not None:
        lines.append(f"* OK [UNSEEN {first_unseen}] first unseen message")
    lines += [f"* OK [UIDVALIDITY {info.uidvalidity}] UIDs valid", f"* OK [UIDNEXT {info.uidnext}] predicted next UID"]
    await session.send(("\r\n".join(lines) + "\r\n").encode())
    session.selected = selected
    session.state = State.SELECTED
    return f"[READ-ONLY] {cmd.name} completed" if readonly else f"[READ-WRITE] {cmd.name} completed"


@command("SELECT", AUTHENTICATED)
async def select(session: ImapSession, cmd: Command) -> str:
    return await _select(session, cmd, readonly=False)


@command("EXAMINE", AUTHENTICATED)
async def examine(session: ImapSession, cmd: Command) -> str:
    return await _select(session, cmd, readonly=True)


# --- CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE --------------------------------------------------------

@command("CREATE", AUTHENTICATED)
async def create(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.3.3 (a trailing ``/`` only declares the name a parent: it is dropped)."""
    arity(cmd, 1, 1, "mailbox")
    name = mailbox(cmd.args[0])
    async with session.transaction() as (db, box):
        await service.create_folder(db, box, name)
    return "CREATE completed"


@command("DELETE", AUTHENTICATED)
async def delete(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.3.4: INBOX and the special-use folders stay (``NO [CANNOT]``); the folder selected by
    this session is not deleted under it (``NO [INUSE]``, RFC 5530)."""
    arity(cmd, 1, 1, "mailbox")
    name = mailbox(cmd.args[0])
    async with session.transaction() as (db, box):
        info = await service.folder_info(db, box, name)
        if session.selected is not None and session.selected.name == info.name:
            raise no(f"{info.name} is selected in this session: CLOSE or UNSELECT it first", code="INUSE")
        await service.delete_folder(db, box, info.name)
    return "DELETE completed"


@command("RENAME", AUTHENTICATED)
async def rename(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.3.5: renaming INBOX moves its messages to the new folder (INBOX stays, empty)."""
    arity(cmd, 2, 2, "existing-mailbox new-mailbox")
    old, new = mailbox(cmd.args[0]), mailbox(cmd.args[1])
    async with session.transaction() as (db, box):
        info = await service.folder_info(db, box, old)
        await service.rename_folder(db, box, info.name, new)
        target = (await service.folder_info(db, box, new)).name
    selected = session.selected
    if selected is not None and info.name != INBOX:
        if selected.name == info.name:
            selected.name = target
        elif selected.name.startswith(info.name + DELIMITER):
            selected.name = target + selected.name[len(info.name):]
    return "RENAME completed"


async def _subscription(session: ImapSession, cmd: Command, subscribed: bool) -> str:
    """RFC 3501 §6.3.6, §6.3.7."""
    arity(cmd, 1, 1, "mailbox")
    name = mailbox(cmd.args[0])
    async with session.transaction() as (db, box):
        await service.set_subscribed(db, box, name, subscribed)
    return f"{cmd.name} completed"


@command("SUBSCRIBE", AUTHENTICATED)
async def subscribe(session: ImapSession, cmd: Command) -> str:
    return await _subscription(session, cmd, True)


@command("UNSUBSCRIBE", AUTHENTICATED)
async def unsubscribe(session: ImapSession, cmd: Command) -> str:
    return await _subscription(session, cmd, False)


# --- LIST, LSUB, NAMESPACE -----------------------------------------------------------------------------------

def pattern_matcher(pattern: str) -> Callable[[str], bool]:
    """RFC 3501 §6.3.8: ``*`` matches anything, ``%`` anything but the delimiter; ``INBOX`` in any case.

    Matched as a set of pattern positions advanced one character of the name at a time (an NFA run with the
    positions as the bits of an integer), never by backtracking: time is at most the pattern's length times the
    name's, whatever the wildcards (a regular expression took seconds on ``*a*a*a*a*a*a*a*b``)."""
    if pattern[:5].upper() == INBOX and (len(pattern) == 5 or pattern[5] in f"{DELIMITER}*%"):
        pattern = INBOX + pattern[5:]
    pattern = re.sub(r"[*%]+", lambda run: "*" if "*" in run.group() else "%", pattern)
    literal: dict[str, int] = {}
    star = percent = 0
    for position, char in enumerate(pattern):
        bit = 1 << position
        if char == "*":
            star |= bit
        elif char == "%":
            percent |= bit
        else:
            literal[char] = literal.get(char, 0) | bit
    wild, accept = star | percent, 1 << len(pattern)

    def closure(states: int) -> int:  # a wildcard may match nothing (runs were collapsed: one step is enough)
        return states | ((states & wild) << 1)

    def matches(name: str) -> bool:
        states = closure(1)
        for char in name:
            states = ((states & literal.get(char, 0)) << 1) | (states & star) | (
                states & percent if char != DELIMITER else 0)
            if not states:
                return False
            states = closure(states)
        return bool(states & accept)

    return matches


@dataclass(frozen=True)
class Listed:
    name: str
    attributes: tuple[str, ...]


def hierarchy(folders: list[FolderInfo], names: set[str]) -> list[Listed]:
    """The names of ``names`` and their missing parents (``\\Noselect``), each with ``\\HasChildren`` or
    ``\\HasNoChildren`` (RFC 3348) and its special-use attribute (RFC 6154)."""
    every = {f.name for f in folders}
    special = {f.name: f.special_use for f in folders}
    candidates = set(names)
    for name in names:
        parts = name.split(DELIMITER)
        candidates.update(DELIMITER.join(parts[:i]) for i in range(1, len(parts)))
    listed = []
    for name in sorted(candidates, key=lambda n: (n != INBOX, n)):
        attributes = []
        if name not in every:
            attributes.append("\\Noselect")
        children = any(other.startswith(name + DELIMITER) for other in every)
        attributes.append("\\HasChildren" if children else "\\HasNoChildren")
        if special.get(name):
            attributes.append(str(special[name]))
        listed.append(Listed(name, tuple(attributes)))
    return listed


async def _list(session: ImapSession, cmd: Command, *, subscribed_only: bool) -> str:
    if cmd.args and isinstance(cmd.args[0], list):
        raise bad("LIST-EXTENDED selection options (RFC 5258) are not supported: LIST reference pattern")
    arity(cmd, 2, 2, "reference mailbox-pattern")
    reference, pattern = mailbox(cmd.args[0]), mailbox(cmd.args[1])
    if not pattern:
        if not subscribed_only:  # RFC 3501 §6.3.8: the delimiter and the root
            await session.untagged(f'LIST (\\Noselect) "{DELIMITER}" ""')
        return f"{cmd.name} completed"
    matcher = pattern_matcher(reference + pattern)
    async with session.transaction() as (db, box):
        folders = await service.list_folders(db, box)
    pool = {f.name for f in folders if f.subscribed or not subscribed_only}
    listed = [item for item in hierarchy(folders, pool) if matcher(item.name)]
    if subscribed_only:
        # RFC 3501 §6.3.9: a parent matched by "%" that is not itself subscribed is listed \Noselect
        listed = [item if item.name in pool else Listed(item.name, ("\\Noselect",)) for item in listed
                  if item.name in pool or pattern.endswith("%")]
    out = bytearray()
    for item in listed:
        out += b'* %s (%s) "%s" %s\r\n' % (cmd.name.encode(), " ".join(item.attributes).encode(), DELIMITER.encode(),
                                           wire.encode_mailbox(item.name))
    await session.send(bytes(out))
    return f"{cmd.name} completed"


@command("LIST", AUTHENTICATED)
async def list_(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.3.8."""
    return await _list(session, cmd, subscribed_only=False)


@command("LSUB", AUTHENTICATED)
async def lsub(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.3.9."""
    return await _list(session, cmd, subscribed_only=True)


@command("NAMESPACE", AUTHENTICATED)
async def namespace(session: ImapSession, cmd: Command) -> str:
    """RFC 2342: one personal namespace, no other users' nor shared ones."""
    arity(cmd, 0)
    await session.untagged(f'NAMESPACE (("" "{DELIMITER}")) NIL NIL')
    return "NAMESPACE completed"


# --- STATUS, APPEND ---------------------------------------------------------------------------------------------

STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN")


@command("STATUS", AUTHENTICATED)
async def status(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.3.10 (RECENT is always 0)."""
    arity(cmd, 2, 2, "mailbox (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
    name = mailbox(cmd.args[0])
    items = cmd.args[1]
    if not isinstance(items, list) or not items:
        raise bad("STATUS takes a parenthesised list of items: " + " ".join(STATUS_ITEMS))
    wanted = [atom(item, "a status item").upper() for item in items]
    unknown = [item for item in wanted if item not in STATUS_ITEMS]
    if unknown:
        raise bad(f"unknown STATUS item {unknown[0][:40]} (known: {' '.join(STATUS_ITEMS)})")
    async with session.transaction() as (db, box):
        info = await service.folder_info(db, box, name)
    values = {"MESSAGES": info.exists, "RECENT": 0, "UIDNEXT": info.uidnext, "UIDVALIDITY": info.uidvalidity,
              "UNSEEN": info.unseen}
    body = " ".join(f"{item} {values[item]}" for item in wanted)
    await session.send(b"* STATUS %s (%s)\r\n" % (wire.encode_mailbox(info.name), body.encode()))
    return "STATUS completed"


@command("APPEND", AUTHENTICATED)
async def append(session: ImapSession, cmd: Command) -> str:
    """RFC 3501 §6.3.11: ``APPEND mailbox [(flags)] ["date-time"] message``; the message is kept in the folder
    (parsed and checked as a sent one, never sent); ``OK [APPENDUID uidvalidity uid]`` (RFC 4315 §3); an
    unknown folder ``NO [TRYCREATE]``; too large ``NO [TOOBIG]``."""
    usage = 'mailbox [(flags)] ["date-time"] {size}'
    arity(cmd, 2, 4, usage)
    name = mailbox(cmd.args[0])
    message = cmd.args[-1]
    if not isinstance(message, bytes):
        raise bad(f"the message must be a literal: APPEND {usage}")
    flags: list[str] = []
    moment = None
    for token in cmd.args[1:-1]:
        if isinstance(token, list) and not flags and moment is None:
            flags = flag_list(token)
        elif isinstance(token, bytes) and moment is None:
            moment = wire.parse_datetime(token.decode("ascii", "replace"))
        else:
            raise bad(f"unexpected argument: APPEND {usage}")
    if any(flag.lower() == "\\recent" for flag in flags):
        raise bad("\\Recent cannot be set by a client (RFC 3501 §2.3.2)")
    try:
        async with session.transaction() as (db, box):
            uidvalidity, uid = await service.append(db, session.settings, box, name, message, flags, moment)
    except MssError as exc:
        raise refusal_of(exc, missing="TRYCREATE") from None
    return f"[APPENDUID {uidvalidity} {uid}] APPEND completed"


# --- IDLE ---------------------------------------------------------------------------------------------------

@command("IDLE", AUTHENTICATED)
async def idle(session: ImapSession, cmd: Command) -> str:
    """RFC 2177: ``+ idling``, then the changes of the selected folder as they happen (woken by
    :mod:`app.mss.changes` within milliseconds of the commit that made them) until the client sends ``DONE``.
    The autologout timer keeps running (clients re-issue IDLE within 29 minutes)."""
    arity(cmd, 0)
    if session.selected is not None:  # what changed before IDLE, told first (an error here: no "+", no DONE)
        await session.refresh(expunge=True)
    await session.send(b"+ idling\r\n")
    reader = asyncio.ensure_future(session.read_continuation())  # under the autologout timer
    try:
        while True:
            waiter = asyncio.ensure_future(session.changes.get()) if session.changes is not None else None
            pending = {reader} if waiter is None else {reader, waiter}
            done, _ = await asyncio.wait(pending, timeout=IDLE_PSC_CHECK, return_when=asyncio.FIRST_COMPLETED)
            if waiter is not None and waiter not in done:
                waiter.cancel()
            if waiter is not None and waiter in done:
                await session.check_store_reset()
                if session.selected is not None:
                    await session.refresh(expunge=True)
            if reader in done:
                line = reader.result()
                if line.strip().upper() != b"DONE":
                    raise bad("expected DONE to end IDLE (RFC 2177)", rule="IMAP:idle")
                return "IDLE terminated"
            if not done:
                session.psc_checked = 0.0
                await session.check_psc_session()
    finally:
        if not reader.done():
            # IDLE ends here without its DONE (an error, the session closing): the pending read is stopped
            # before the session reads again, and the DONE the client still sends is not taken for a command
            reader.cancel()
            await asyncio.wait({reader})
            session.expect_done = True
