"""What the console reads of a CDA document (app/console/cda.py). Pure."""

from __future__ import annotations

import base64

from app.console.cda import read_cda

PDF = b"%PDF-1.4\n% test\n"


def _cda(body: str, title: str = "Compte rendu") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>{title}</title>'
            f"<component>{body}</component></ClinicalDocument>").encode()


def test_level_one_body_in_base64() -> None:
    encoded = base64.b64encode(PDF).decode()
    view = read_cda(_cda(f'<nonXMLBody><text mediaType="application/pdf" representation="B64">\n{encoded[:8]}\n'
                         f"{encoded[8:]}</text></nonXMLBody>"))
    assert view is not None and view.title == "Compte rendu"
    assert view.media_type == "application/pdf" and view.body == PDF


def test_plain_text_body_and_structured_body() -> None:
    text = read_cda(_cda('<nonXMLBody><text mediaType="text/plain">Bonjour</text></nonXMLBody>'))
    assert text is not None and text.body == b"Bonjour" and text.media_type == "text/plain"
    structured = read_cda(_cda("<structuredBody/>"))
    assert structured is not None and structured.body is None and structured.media_type is None


def test_unreadable_documents() -> None:
    assert read_cda(b"not xml") is None
    assert read_cda(b"<other/>") is None
    assert read_cda(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>') is None  # entities refused, not expanded
    broken = read_cda(_cda('<nonXMLBody><text mediaType="application/pdf" representation="B64">@@@</text>'
                           "</nonXMLBody>"))
    assert broken is not None and broken.body is None
