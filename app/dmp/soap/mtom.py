"""MTOM/XOP in and out (SOAP 1.2 MTOM, W3C XOP 1.0, RFC 2387 multipart/related, RFC 2046 §5.1.1 boundaries).

In: a ``multipart/related; type="application/xop+xml"; start="<root>"; start-info="application/soap+xml"``
body split into its parts, bounded in number; the root part is the one ``start`` names, else the first
(RFC 2387 §3.2); Content-ID with or without ``<>``; Content-Transfer-Encoding ``binary`` / ``8bit`` / ``7bit`` as
they are, ``base64`` decoded (case-insensitive: DRIMBox sends ``BASE64``). Lines may end in CRLF or, as
DRIMBox writes them with ``System.lineSeparator()`` on Linux, in LF (ansforge/DRIM-M_DRIMbox
``Backend/src/main/java/com/bcom/drimbox/dmp/xades/request/ProvideAndRegisterRequest.java`` @8ca15111).

Out: the response envelope as the root part ``application/xop+xml; charset=UTF-8; type="application/soap+xml"``
and each :class:`~app.dmp.soap.call.OutPart` as its own part, in the shape Axis2/CXF answer ITI-43; parts whose
``data`` is a callable are pulled chunk by chunk while the response is written, so memory stays flat.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from app.dmp.soap.call import Attachment, OutPart


class MultipartError(ValueError):
    """A multipart/related body the transport cannot read: the message is the French reason of the fault."""


@dataclass(frozen=True)
class Multipart:
    """A parsed MTOM request: the root part (the SOAP envelope) and the other parts by Content-ID."""

    root: Attachment
    attachments: Mapping[str, Attachment]


def strip_cid(value: str) -> str:
    """A Content-ID without its angle brackets (RFC 2392: ``<id>`` in the header, ``cid:id`` in a URL)."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value.strip()


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    last: str | None = None
    for raw in block.replace(b"\r\n", b"\n").split(b"\n"):
        line = raw.decode("latin-1")
        if not line.strip():
            continue
        if line[0] in " \t" and last is not None:  # RFC 5322 §2.2.3 folding
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise MultipartError(f"en-tête de partie MIME illisible : {line[:80]!r}")
        last = name.strip().lower()
        headers[last] = value.strip()
    return headers


def _split_part(raw: bytes) -> tuple[dict[str, str], bytes]:
    """One part's headers and content (RFC 2046 §5.1.1: headers, an empty line, the content)."""
    found = [(raw.find(separator), separator) for separator in (b"\r\n\r\n", b"\n\n") if separator in raw]
    if not found:
        raise MultipartError("partie MIME sans ligne vide entre ses en-têtes et son contenu")
    index, separator = min(found)
    return _headers(raw[:index]), raw[index + len(separator):]


def _decode(headers: Mapping[str, str], content: bytes) -> bytes:
    encoding = headers.get("content-transfer-encoding", "binary").strip().lower()
    if encoding in ("binary", "8bit", "7bit"):
        return content
    if encoding == "base64":
        try:
            return base64.b64decode(b"".join(content.split()), validate=True)
        except (binascii.Error, ValueError):
            raise MultipartError("partie MIME en base64 mal formée") from None
    raise MultipartError(f"Content-Transfer-Encoding {encoding!r} non pris en charge (binary, 8bit, 7bit, base64)")


def parse_multipart(body: bytes, *, boundary: str, start: str | None, max_parts: int) -> Multipart:
    """Split an MTOM body into its root part and its attachments (pure)."""
    if not boundary or len(boundary) > 70:  # RFC 2046 §5.1.1: 1 to 70 characters
        raise MultipartError("paramètre boundary absent ou invalide dans Content-Type multipart/related")
    delimiter = b"--" + boundary.encode("latin-1")
    pieces = body.split(delimiter)
    if len(pieces) < 3:
        raise MultipartError("corps multipart/related sans parties délimitées par la frontière annoncée")
    parts: list[Attachment] = []
    for index, piece in enumerate(pieces[1:]):
        if piece.startswith(b"--"):  # the close delimiter: the epilogue follows
            break
        if index >= max_parts:
            raise MultipartError(f"plus de {max_parts} parties MIME dans le message")
        # the line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1); so does the transport
        # padding and line break after it
        if piece.endswith(b"\r\n"):
            piece = piece[:-2]
        elif piece.endswith(b"\n"):
            piece = piece[:-1]
        line_end = piece.find(b"\n")
        if line_end < 0 or piece[:line_end].strip(b" \t\r"):
            raise MultipartError("frontière MIME suivie d'autre chose qu'une fin de ligne")
        headers, content = _split_part(piece[line_end + 1:])
        cid = strip_cid(headers.get("content-id", ""))
        parts.append(Attachment(content_id=cid, content_type=headers.get("content-type", "application/octet-stream"),
                                data=_decode(headers, content)))
    else:
        raise MultipartError("corps multipart/related sans frontière de fin")
    if not parts:
        raise MultipartError("corps multipart/related sans partie")
    root = parts[0]
    if start:
        wanted = strip_cid(start)
        found = next((part for part in parts if part.content_id == wanted), None)
        if found is None:
            raise MultipartError(f"aucune partie MIME n'a le Content-ID <{wanted}> que désigne le paramètre start")
        root = found
    attachments: dict[str, Attachment] = {}
    for part in parts:
        if part is root:
            continue
        if not part.content_id:
            raise MultipartError("partie MIME sans Content-ID : un xop:Include ne peut pas la désigner")
        if part.content_id in attachments:
            raise MultipartError(f"deux parties MIME ont le même Content-ID <{part.content_id}>")
        attachments[part.content_id] = part
    return Multipart(root=root, attachments=attachments)


# --- out ------------------------------------------------------------------------------------------------

ROOT_PART_TYPE = 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'


@dataclass(frozen=True)
class MtomResponse:
    """An MTOM response: its Content-Type and the body, written as it is pulled."""

    content_type: str
    body: AsyncIterator[bytes]


def content_type(boundary: str, root_cid: str, action: str | None) -> str:
    """The response's Content-Type (SOAP 1.2 MTOM §4.3 / XOP §4.1; ``action`` as application/soap+xml has it)."""
    value = (f'multipart/related; boundary="{boundary}"; type="application/xop+xml"; start="<{root_cid}>"; '
             'start-info="application/soap+xml"')
    return value + (f'; action="{action}"' if action else "")


def _part_head(boundary: str, content_id: str, content_type_value: str, *, first: bool) -> bytes:
    lead = b"" if first else b"\r\n"
    return lead + (f"--{boundary}\r\nContent-Type: {content_type_value}\r\nContent-Transfer-Encoding: binary\r\n"
                   f"Content-ID: <{content_id}>\r\n\r\n").encode("latin-1")


def build_response(envelope: bytes, parts: Sequence[OutPart], *, action: str | None = None) -> MtomResponse:
    """``envelope`` and ``parts`` as one multipart/related body; streamed parts are pulled as it is written."""
    boundary = f"MIMEBoundary_{uuid.uuid4().hex}"
    root_cid = f"root.message@{uuid.uuid4().hex}.segur-sandbox"

    async def body() -> AsyncIterator[bytes]:
        yield _part_head(boundary, root_cid, ROOT_PART_TYPE, first=True) + envelope
        for part in parts:
            yield _part_head(boundary, strip_cid(part.content_id), part.content_type, first=False)
            if isinstance(part.data, bytes):
                yield part.data
            else:
                async for chunk in part.data():
                    yield chunk
        yield f"\r\n--{boundary}--\r\n".encode("latin-1")

    return MtomResponse(content_type=content_type(boundary, root_cid, action), body=body())
