"""Parsing a received message and reading its XDM: one small interface, a fast and a plain parser, and
where the work runs (on the event loop when it is small and bounded, in a worker thread otherwise).

- :class:`SkeletonParser` (``SEGUR_FAST_PATHS=true``): :mod:`app.mss.skeleton`, the stdlib's tree without
  feeding the large bodies through its line-by-line parser; the message is parsed on the event loop when
  what the stdlib reads line by line (headers, small parts) is at most ``INLINE_LINE_CHARS``.
- :class:`StdlibParser`: :func:`app.mss.mime.parse_message`, the stdlib's parser on the whole message; on the
  event loop when the whole message is at most ``INLINE_LINE_CHARS``.

Both give the same :class:`~app.mss.mime.ParsedMessage`; :func:`message_parser` picks one by the setting.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from app.mss import checks, mime, skeleton, xdm

if TYPE_CHECKING:
    from app.config import Settings

INLINE_MESSAGE_BYTES = 512 * 1024
INLINE_LINE_CHARS = 32 * 1024
INLINE_INFLATED_BYTES = 1024 * 1024
INLINE_METADATA_BYTES = 64 * 1024


class MessageParser(Protocol):
    def parse_message(self, raw: bytes) -> mime.ParsedMessage:
        """The whole parse, however long it takes."""

    def parse_message_within(self, raw: bytes, max_chars: int) -> mime.ParsedMessage | None:
        """The parse, or None when the stdlib would read more than ``max_chars`` of ``raw`` line by line."""


class SkeletonParser:
    """The fast path: :mod:`app.mss.skeleton`."""

    def parse_message(self, raw: bytes) -> mime.ParsedMessage:
        return skeleton.parse_message(raw)

    def parse_message_within(self, raw: bytes, max_chars: int) -> mime.ParsedMessage | None:
        return skeleton.parse_message_within(skeleton.plan_structure(raw), max_chars)


class StdlibParser:
    """The plain path: the stdlib's parser on the whole message."""

    def parse_message(self, raw: bytes) -> mime.ParsedMessage:
        return mime.parse_message(raw)

    def parse_message_within(self, raw: bytes, max_chars: int) -> mime.ParsedMessage | None:
        return mime.parse_message(raw) if len(raw) <= max_chars else None


SKELETON, STDLIB = SkeletonParser(), StdlibParser()


def message_parser(settings: Settings) -> MessageParser:
    """The parser of ``settings``: the skeleton unless ``SEGUR_FAST_PATHS=false``."""
    return SKELETON if settings.fast_paths else STDLIB


async def parse_and_read_xdm(raw: bytes, parser: MessageParser) -> tuple[mime.ParsedMessage,
                                                                         list[checks.XdmAttachment]]:
    """Parse ``raw`` and read its XDM on the event loop when that work is small and bounded (a 150 KB
    message with a 100 KB XDM: about 1 ms; at most a few tens of ms for a crafted one), each in a worker
    thread otherwise (:func:`parse_message`, :func:`read_xdm_bounded`). Handing the work to a thread
    costs ~0.4 ms of CPU per message under load (GIL hand-offs between the loop and the worker)."""
    parsed = await parse_message(raw, parser)
    return parsed, await read_xdm_bounded(parsed)


async def parse_message(raw: bytes, parser: MessageParser) -> mime.ParsedMessage:
    """``parser.parse_message`` on the event loop when ``raw`` is at most ``INLINE_MESSAGE_BYTES`` and the
    stdlib parser reads at most ``INLINE_LINE_CHARS`` of it line by line, in a worker thread otherwise:
    500 KB of tiny parts, or of RFC 2047 words in a header, cost up to a second."""
    if len(raw) <= INLINE_MESSAGE_BYTES:
        parsed = parser.parse_message_within(raw, INLINE_LINE_CHARS)
        if parsed is not None:
            return parsed
    return await asyncio.to_thread(parser.parse_message, raw)


async def read_xdm_bounded(parsed: mime.ParsedMessage) -> list[checks.XdmAttachment]:
    """:func:`checks.read_xdm_attachments` on the event loop when the archives' central directories
    announce at most ``INLINE_INFLATED_BYTES`` in all and ``INLINE_METADATA_BYTES`` of METADATA.XML (what
    bounds the reader's work: :func:`xdm.declared_sizes`), in a worker thread otherwise."""
    inflated = metadata = 0
    for part in parsed.xdm_parts:
        total, meta = xdm.declared_sizes(parsed.payload(part)) or (0, 0)
        inflated, metadata = inflated + total, metadata + meta
    if inflated > INLINE_INFLATED_BYTES or metadata > INLINE_METADATA_BYTES:
        return await asyncio.to_thread(checks.read_xdm_attachments, parsed)
    return checks.read_xdm_attachments(parsed)
