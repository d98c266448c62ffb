"""What every IMAP command handler shares: the states a command is valid in (RFC 3501 §3), the refusal a
handler raises (a tagged ``NO`` or ``BAD`` with its response code, RFC 3501 §7.1, RFC 5530), the table of
commands, and the readers of common arguments. The handlers themselves are in :mod:`.commands_session`
(any state, not authenticated), :mod:`.commands_mailbox` (authenticated) and :mod:`.commands_message`
(selected)."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.mss.exceptions import (
    FolderExists,
    FolderNotDeletable,
    InvalidFlag,
    InvalidFolderName,
    MessageRefused,
    MessageTooLarge,
    MssError,
    UnknownFolder,
)
from app.mss.imap import wire
from app.mss.imap.wire import Atom, ImapSyntaxError, Token

if TYPE_CHECKING:
    from app.mss.imap.wire import Command


class State(enum.Enum):
    """RFC 3501 §3: the states of a session."""

    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY = frozenset({State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED})
NOT_AUTHENTICATED = frozenset({State.NOT_AUTHENTICATED})
AUTHENTICATED = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})


class Refusal(Exception):
    """A tagged ``NO`` (the command was understood and refused) or ``BAD`` (it was not understood, or is not
    valid now) with its response code (RFC 3501 §7.1, RFC 5530, RFC 4315, RFC 4469). ``rule`` names it in
    the journal; ``journal`` replaces ``text`` there when the text could quote a credential; ``tenant``: the
    journal it goes to, when not the session's (a refused login into a tenant that exists)."""

    def __init__(self, kind: str, text: str, *, code: str | None = None, rule: str | None = None,
                 journal: str | None = None, facts: dict[str, Any] | None = None, tenant: str | None = None) -> None:
        super().__init__(text)
        self.kind, self.text, self.code, self.rule, self.journal = kind, text, code, rule, journal
        self.facts, self.tenant = facts, tenant


def no(text: str, code: str | None = None, rule: str | None = None, journal: str | None = None) -> Refusal:
    return Refusal("NO", text, code=code, rule=rule or (f"IMAP:{code.split()[0].lower()}" if code else "IMAP:no"),
                   journal=journal)


def bad(text: str, code: str | None = None, rule: str = "IMAP:syntax", journal: str | None = None) -> Refusal:
    return Refusal("BAD", text, code=code, rule=rule, journal=journal)


def refusal_of(exc: MssError, *, missing: str = "NONEXISTENT") -> Refusal:
    """A domain error as a tagged ``NO``. ``missing``: the code for an unknown folder (``NONEXISTENT``,
    RFC 5530; ``TRYCREATE`` for the target of APPEND, COPY and MOVE, RFC 3501 §6.3.11)."""
    if isinstance(exc, UnknownFolder):
        return Refusal("NO", exc.detail, code=missing, rule=exc.rule)
    if isinstance(exc, FolderExists):
        return Refusal("NO", exc.detail, code="ALREADYEXISTS", rule=exc.rule)
    if isinstance(exc, InvalidFlag):
        return Refusal("BAD", exc.detail, rule=exc.rule)
    if isinstance(exc, MessageTooLarge):
        return Refusal("NO", exc.detail, code="TOOBIG", rule=exc.rule)
    if isinstance(exc, InvalidFolderName | FolderNotDeletable | MessageRefused):
        return Refusal("NO", exc.detail, code="CANNOT", rule=exc.rule)
    return Refusal("NO", exc.detail, code="CANNOT", rule=exc.rule)


Handler = Callable[[Any, "Command"], Awaitable[str | None]]
"""``await handler(session, command)``: the text of the tagged ``OK`` (with its response code, if any), or
None when the handler wrote the tagged response itself (STARTTLS, LOGOUT)."""


@dataclass(frozen=True)
class Spec:
    handler: Handler
    states: frozenset[State]
    uid: bool = False
    """Also valid after ``UID`` (RFC 3501 §6.4.8, RFC 4315, RFC 6851)."""
    quiet: bool = False
    """RFC 3501 §7.4.1: no EXPUNGE response while answering it (FETCH, STORE, SEARCH; their UID forms may)."""


def table() -> tuple[dict[str, Spec], Callable[..., Callable[[Handler], Handler]]]:
    """A command table and the decorator that fills it: ``@command("FETCH", SELECTED, uid=True)``."""
    commands: dict[str, Spec] = {}

    def command(name: str, states: frozenset[State], *, uid: bool = False,
                quiet: bool = False) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            commands[name] = Spec(handler, states, uid=uid, quiet=quiet)
            return handler
        return register

    return commands, command


# --- arguments ----------------------------------------------------------------------------------------

def arity(command: Command, low: int, high: int | None = None, usage: str = "") -> None:
    high = low if high is None else high
    if not low <= len(command.args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise bad(f"{command.name} takes {expected} argument{'s' if high != 1 else ''}"
                  + (f": {command.name} {usage}" if usage else ""))


def atom(token: Token, what: str) -> str:
    if not isinstance(token, Atom):
        raise bad(f"expected {what} (an atom)")
    return token.value


def string(token: Token, what: str) -> str:
    """An ``astring`` (RFC 3501 §9) as text."""
    if isinstance(token, list):
        raise bad(f"expected {what}, found a parenthesised list")
    try:
        return wire.astring(token)
    except ImapSyntaxError as exc:
        raise bad(f"{what}: {exc.message}") from None


def mailbox(token: Token) -> str:
    """A mailbox name (RFC 3501 §5.1.3: modified UTF-7 on the wire, decoded here)."""
    if isinstance(token, list):
        raise bad("expected a mailbox name, found a parenthesised list")
    try:
        return wire.decode_mailbox(token)
    except ImapSyntaxError as exc:
        raise bad(exc.message) from None


def flag_list(tokens: list[Token], *, what: str = "flag") -> list[str]:
    """Flags (RFC 3501 §9 ``flag``): system flags ``\\Seen`` ... and keywords (atoms). ``\\Recent`` may not be
    set by a client, nor may an unknown system flag (RFC 3501 §2.3.2)."""
    flags: list[str] = []
    for token in tokens:
        if not isinstance(token, Atom):
            raise bad(f"a {what} is an atom (\\Seen, \\Flagged, or a keyword), not a string or a list")
        flags.append(token.value)
    return flags
