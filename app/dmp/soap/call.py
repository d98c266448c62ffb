"""The contract between the SOAP face's transport and its transactions.

The transport (:mod:`.envelope`, :mod:`.mtom`, :mod:`.router`) reads an HTTP request into a
:class:`SoapRequest` (the SOAP 1.2 envelope, its WS-Addressing headers, the MTOM/XOP parts), checks the
VIHF (:mod:`.vihf`) into an :class:`~app.dmp.context.AccessContext`, and hands a :class:`SoapCall` to the
transaction's handler (:mod:`.iti41`, :mod:`.iti18`, :mod:`.iti43`, :mod:`.iti57`, :mod:`.td`), which answers a
:class:`SoapReply`. Handlers call :mod:`app.dmp.service` and raise :class:`~app.dmp.exceptions.DmpError`;
:mod:`.errors` maps what they raise to the transaction's response (a ``RegistryResponse`` with a
``RegistryErrorList``) or to a SOAP fault.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lxml import etree

from app.dmp.soap.namespaces import NS_XOP

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.config import Settings
    from app.dmp.context import AccessContext
    from app.dmp.soap.vihf import Vihf


_ASCII_WHITESPACE = str.maketrans("", "", " \t\n\r\f\v")


class MissingPart(ValueError):
    """An ``xop:Include`` names a part the message does not carry, or inline base64 is malformed."""


@dataclass(frozen=True)
class Attachment:
    """One MIME part of an MTOM/XOP request (SOAP 1.2 MTOM, XOP 1.0), by its Content-ID (without ``<>``)."""

    content_id: str
    content_type: str
    data: bytes


@dataclass
class SoapRequest:
    """A checked SOAP 1.2 request: WS-Addressing headers, the security header, the body's payload."""

    action: str  # wsa:Action
    message_id: str  # wsa:MessageID
    to: str | None  # wsa:To
    reply_to: str | None  # wsa:ReplyTo/wsa:Address
    header: etree._Element  # soap:Header
    payload: etree._Element  # the first (only) child of soap:Body
    security: etree._Element | None  # wsse:Security, where the VIHF lives
    attachments: Mapping[str, Attachment] = field(default_factory=dict)
    client_certificate_subject: str | None = None  # the TLS client certificate (or its stand-in header)
    bearer_token: str | None = None  # an ``Authorization: Bearer`` PSC access token, when sent

    def binary(self, element: etree._Element) -> bytes:
        """The bytes an ``xdsb:Document`` (or any base64Binary element) carries: an ``xop:Include`` resolved to
        its MTOM part, or inline base64 text (which clients also send)."""
        include = element.find(f"{{{NS_XOP}}}Include")
        if include is not None:
            href = include.get("href", "")
            cid = href[4:] if href.startswith("cid:") else href
            part = self.attachments.get(unquote(cid))
            if part is None:
                raise MissingPart(f"xop:Include href={href!r} names no MIME part of this message")
            return part.data
        # xs:base64Binary allows whitespace between characters (XML Schema 2 §3.2.16); anything else outside the
        # base64 alphabet, a wrong or excess padding, is refused, never dropped (a silently altered document):
        # what is decoded must encode back to what was sent, as the type's lexical space requires.
        text = "".join(element.itertext()).translate(_ASCII_WHITESPACE)
        try:
            data = base64.b64decode(text, validate=True) if text else b""
        except (binascii.Error, ValueError):
            data = None
        if data is None or base64.b64encode(data).decode() != text:
            raise MissingPart("the element's inline base64 content is malformed (a character outside the base64 "
                              "alphabet, or a wrong padding)")
        return data


@dataclass
class OutPart:
    """One MIME part of an MTOM response (ITI-43 documents): the bytes at once, or chunks streamed from the
    store so a 20 MB document keeps memory flat."""

    content_id: str
    content_type: str
    data: bytes | Callable[[], AsyncIterator[bytes]]


@dataclass
class SoapReply:
    """What a handler answers: the response payload (the body's child) and the parts it refers to with
    ``xop:Include`` (then the transport answers MTOM)."""

    action: str
    payload: etree._Element
    parts: list[OutPart] = field(default_factory=list)
    mtom: bool = False  # answer multipart/related even without parts (ITI-43 always answers MTOM)


@dataclass
class SoapCall:
    """One call handed to a transaction's handler."""

    request: SoapRequest
    ctx: AccessContext
    vihf: Vihf
    session: AsyncSession
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    base_url: str  # the sandbox's public base URL with the tenant's prefix, for addresses and journal links
    journal: dict[str, Any] = field(default_factory=dict)  # what the handler adds to the journal entry


Handler = Callable[[SoapCall], Awaitable[SoapReply]]
