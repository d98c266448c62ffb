"""Hardened XML parsing for every untrusted document the sandbox reads: INSi SOAP envelopes, FHIR XML
bodies, XDM ``METADATA.XML`` and CDA headers.

The parser never resolves entities, never loads a DTD, never touches the network and refuses huge trees;
any document that declares a DTD (``<!DOCTYPE``/``<!ENTITY``), where billion-laughs and external-entity
attacks live, is refused outright, as ``defusedxml`` does (https://github.com/tiran/defusedxml,
"forbid_dtd"). Pure: callers map the two errors to their protocol (SOAP fault, OperationOutcome, check).
"""

from __future__ import annotations

import re
import threading

from lxml import etree

DEFAULT_MAX_BYTES = 5 * 1024 * 1024

# XML spells it ``<!DOCTYPE`` exactly; a looser match costs nothing and refuses the odd spellings too.
_DTD_MARKER = re.compile(rb"<!\s*DOCTYPE|<!\s*ENTITY", re.IGNORECASE)


class UnsafeXmlError(ValueError):
    """The document declares a DTD or entities: refused without expanding anything."""


class InvalidXmlError(ValueError):
    """The document is empty, too large, or not well-formed XML."""


def hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


_PARSERS = threading.local()


def _shared_parser() -> etree.XMLParser:
    """One parser per thread: building one per document costs more than parsing a small envelope, and an
    lxml parser must not be shared across threads."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = hardened_parser()
    return parser


def parse_untrusted(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse ``data`` and return its root element, or raise :class:`UnsafeXmlError` /
    :class:`InvalidXmlError`."""
    if len(data) > max_bytes:
        raise InvalidXmlError(f"document of {len(data)} bytes exceeds the {max_bytes}-byte limit")
    # The byte scan catches the UTF-8/ASCII case before libxml2 sees it; the docinfo check below
    # catches other encodings (UTF-16 hides the marker from a byte scan).
    if _DTD_MARKER.search(data):
        raise UnsafeXmlError("a DTD (<!DOCTYPE>/<!ENTITY>) is not allowed")
    if not data.strip():
        raise InvalidXmlError("empty document")
    try:
        root = etree.fromstring(data, parser=_shared_parser())  # noqa: S320 - hardened parser
    except etree.XMLSyntaxError as exc:
        raise InvalidXmlError(f"not well-formed XML: {exc.msg}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXmlError("a DTD (<!DOCTYPE>) is not allowed")
    return root


_NOT_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What XML 1.0 does not allow anywhere in a document (its ``Char`` production, XML 1.0 §2.2): C0 controls but
tab, LF and CR, lone surrogates, U+FFFE and U+FFFF. lxml refuses them in text and attributes alike."""


def xml_text(value: str) -> str:
    """``value`` with every character XML 1.0 does not allow replaced by U+FFFD, for a document the sandbox
    writes from what a client sent (a journal fact quoted in a report)."""
    return _NOT_XML_CHARS.sub("\ufffd", value)
