"""The one hardened XML parser every untrusted document goes through (SOAP, FHIR XML, XDM, CDA)."""

from __future__ import annotations

import pytest

from app.xmlsafe import InvalidXmlError, UnsafeXmlError, parse_untrusted

BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><r>&lol2;</r>"""
EXTERNAL = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
PARAMETER = b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><r/>'


@pytest.mark.parametrize("payload", [
    BILLION_LAUGHS, EXTERNAL, PARAMETER,
    b"<!doctype r><r/>",
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'.encode("utf-16"),
])
def test_any_dtd_is_refused_without_expansion(payload: bytes) -> None:
    with pytest.raises(UnsafeXmlError):
        parse_untrusted(payload)


@pytest.mark.parametrize("payload", [b"", b"   ", b"<r>", b"<r>&undeclared;</r>", b"not xml at all"])
def test_malformed_documents_are_invalid(payload: bytes) -> None:
    with pytest.raises(InvalidXmlError):
        parse_untrusted(payload)


def test_size_limit() -> None:
    with pytest.raises(InvalidXmlError, match="limit"):
        parse_untrusted(b"<r>" + b"x" * 2000 + b"</r>", max_bytes=1000)


def test_ordinary_documents_parse_with_character_references() -> None:
    root = parse_untrusted(b'<?xml version="1.0"?><r a="1"><!-- c --><b>&amp;&#65;</b></r>')
    assert root.tag == "r" and root[0].text == "&A"
