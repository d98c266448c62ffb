"""What the console shows of a CDA document. Pure: bytes in, values out.

A CDA R2 level 1 document (CI-SIS "structuration minimale") carries its content as ``component/nonXMLBody/text``
in base64 with a ``mediaType`` (HL7 CDA R2 §4.3.3; the DMP's seeded documents wrap a PDF that way). The XML is
read through the project's hardened parser (no entities, no network, bounded size)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from app.xmlsafe import parse_untrusted

HL7 = "{urn:hl7-org:v3}"
MAX_CDA_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class CdaView:
    title: str | None
    media_type: str | None
    """The ``mediaType`` of the level-1 body, when there is one."""
    body: bytes | None
    """The level-1 body, decoded."""


def read_cda(data: bytes) -> CdaView | None:
    """The title and level-1 body of a CDA document, or ``None`` when ``data`` is no readable CDA."""
    try:
        root = parse_untrusted(data, max_bytes=MAX_CDA_BYTES)
    except ValueError:
        return None
    if root.tag != f"{HL7}ClinicalDocument":
        return None
    title = root.findtext(f"{HL7}title")
    text = root.find(f"{HL7}component/{HL7}nonXMLBody/{HL7}text")
    if text is None:
        return CdaView(title=title, media_type=None, body=None)
    media_type = text.get("mediaType")
    body: bytes | None = None
    if (text.get("representation") or "TXT").upper() == "B64":
        try:
            body = base64.b64decode("".join((text.text or "").split()), validate=True)
        except (binascii.Error, ValueError):
            body = None
    else:
        body = (text.text or "").encode()
    return CdaView(title=title, media_type=media_type, body=body)
