"""Hardened XML parsing for untrusted documents (XDM ``METADATA.XML``, CDA headers).

The parser never resolves entities, never loads a DTD, never touches the network, and any document
that declares a DTD (``<!DOCTYPE``), where billion-laughs and external-entity attacks live, is refused
outright, as ``defusedxml`` does (https://github.com/tiran/defusedxml, "forbid_dtd").
"""

from __future__ import annotations

from lxml import etree


class UnsafeXmlError(ValueError):
    """The document declares a DTD or entities: refused without expanding anything."""


class InvalidXmlError(ValueError):
    """The document is not well-formed XML."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )


def parse_untrusted(data: bytes, *, max_bytes: int = 5 * 1024 * 1024) -> etree._Element:
    """Parse ``data`` and return its root element, or raise :class:`UnsafeXmlError` /
    :class:`InvalidXmlError`."""
    if len(data) > max_bytes:
        raise InvalidXmlError(f"document of {len(data)} bytes exceeds the {max_bytes}-byte limit")
    # A byte scan catches the UTF-8/ASCII case before libxml2 sees it; the docinfo check below
    # catches other encodings (UTF-16 hides the marker from a byte scan).
    head = data.lstrip()[:1]
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise UnsafeXmlError("a DTD (<!DOCTYPE>/<!ENTITY>) is not allowed")
    if not head:
        raise InvalidXmlError("empty document")
    try:
        tree = etree.fromstring(data, parser=_parser()).getroottree()  # noqa: S320
    except etree.XMLSyntaxError as exc:
        raise InvalidXmlError(f"not well-formed XML: {exc}") from None
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXmlError("a DTD (<!DOCTYPE>) is not allowed")
    root = tree.getroot()
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise UnsafeXmlError("entity references are not allowed")
    return root
