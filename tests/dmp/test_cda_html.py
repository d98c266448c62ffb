"""The CDA -> HTML renderer of the patient's pages: readable (header, sections, tables) and safe (every text
of the document escaped, no tag of its own reaching the page, hostile XML refused by the hardened parser)."""

from __future__ import annotations

import base64

import pytest
from lxml import html as lxml_html

from app.dmp import documents
from app.dmp.service import cda_embedded_file, cda_to_html
from tests.mss.cda_shapes import EDISP_NAME, ZOE_INS, cda

SEEDED = {
    "kind": "biology", "ins": ZOE_INS, "ins_oid": "1.2.250.1.213.1.4.8", "given": "ZOE", "family": "ADRUN",
    "birth_date": "1975-12-31", "sex": "F", "author_rpps": "10001000016", "author_given": "Claire",
    "author_family": "FONTAINE", "effective": "20260612100000",
}


def _structured(body: str, *, title: str = "Compte rendu") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'
        '<code code="11502-2" codeSystem="2.16.840.1.113883.6.1" displayName="CR d\'examens biologiques"/>'
        f"<title>{title}</title><effectiveTime value=\"20261124101500+0100\"/>"
        '<recordTarget><patientRole><id root="1.2.250.1.213.1.4.8" extension="275126322074974"/>'
        '<patient><name><given qualifier="BR">ZOE</given><family qualifier="BR">ADRUN</family></name>'
        '<birthTime value="19751231"/></patient></patientRole></recordTarget>'
        f"<component><structuredBody>{body}</structuredBody></component></ClinicalDocument>"
    ).encode()


def _text(fragment: str) -> str:
    return " ".join(lxml_html.fragment_fromstring(fragment, create_parent="div").text_content().split())


@pytest.mark.parametrize("kind", sorted(documents.KINDS))
def test_seeded_n1_documents_show_their_header(kind: str) -> None:
    doc = documents.make_cda(**{**SEEDED, "kind": kind})
    out = cda_to_html(doc.cda)
    text = _text(out)
    assert documents.KINDS[kind].title in text
    assert "ZOE ADRUN" in text and "275126322074974" in text and "31/12/1975" in text
    assert "Claire FONTAINE" in text and "12/06/2026 à 10:00 (UTC+01:00)" in text
    assert "Ségur Sandbox" in text  # the custodian
    assert "application/pdf" in text and "JVBER" not in out  # the base64 PDF is not dumped on the page


def test_the_wrapped_pdf_is_extracted_for_the_page() -> None:
    doc = documents.make_cda(**SEEDED)
    assert cda_embedded_file(doc.cda) == (doc.pdf, "application/pdf")


def test_ans_shaped_names_use_the_birth_qualifiers_and_the_used_name() -> None:
    out = _text(cda_to_html(cda()))
    assert "ZOE ADRUN (prénom et nom utilisés : LOUISE ADRUN)" in out  # given BR first, then the used name
    edisp = _text(cda_to_html(cda(name=EDISP_NAME, usage="MARTIN")))
    assert "ZOE ADRUN (prénom et nom utilisés : MARTIN)" in edisp


def test_plain_text_body_is_shown_escaped() -> None:
    out = cda_to_html(open_sample())
    assert "Compte rendu de test" in _text(out)


def open_sample() -> bytes:
    from pathlib import Path

    import app

    return (Path(app.__file__).parent / "mss" / "fixtures" / "sample_cda.xml").read_bytes()


def test_structured_body_sections_lists_and_tables() -> None:
    body = (
        "<component><section><code code=\"48765-2\" displayName=\"Allergies\"/><title>Allergies</title>"
        "<text><paragraph>Aucune <content styleCode=\"Bold\">allergie</content> connue.</paragraph>"
        "<list listType=\"ordered\"><item>un</item><item>deux</item></list></text>"
        "<component><section><title>Sous-section</title><text>détail</text></section></component>"
        "</section></component>"
        "<component><section><title>Résultats</title><text><table><caption>Hémogramme</caption>"
        "<thead><tr><th>Analyse</th><th>Valeur</th></tr></thead>"
        "<tbody><tr><td colspan=\"2\">Hémoglobine</td></tr><tr><td rowspan=\"x\">Leucocytes</td><td>6,8"
        "<sub>G</sub></td></tr></tbody></table></text>"
        "<entry><observation classCode=\"OBS\"><value value=\"SECRET-ENTRY\"/></observation></entry>"
        "</section></component>"
    )
    out = cda_to_html(_structured(body))
    assert "<h3>Allergies</h3>" in out and "<h4>Sous-section</h4>" in out
    assert '<span class="cda-b">allergie</span>' in out
    assert "<ol><li>un</li><li>deux</li></ol>" in out
    assert "<caption>Hémogramme</caption>" in out and "<th>Analyse</th>" in out
    assert '<td colspan="2">Hémoglobine</td>' in out and "<td>Leucocytes</td>" in out  # bad rowspan dropped
    assert "<sub>G</sub>" in out and "SECRET-ENTRY" not in out


def test_script_in_the_document_is_text_never_markup() -> None:
    hostile = (
        "<component><section><title>&lt;script&gt;alert(1)&lt;/script&gt;</title><text>"
        "<paragraph>&lt;img src=x onerror=alert(1)&gt;</paragraph>"
        "<content ID=\"x\" onclick=\"alert(1)\" styleCode=\"Bold&quot; onmouseover=&quot;alert(1)\">a</content>"
        '<script xmlns="http://www.w3.org/1999/xhtml">alert(2)</script>'
        '<linkHtml href="javascript:alert(3)">cliquer</linkHtml>'
        '<renderMultiMedia referencedObject="img1"/>'
        "</text></section></component>"
    )
    out = cda_to_html(_structured(hostile, title="&lt;b&gt;titre&lt;/b&gt; &amp; co"))
    tree = lxml_html.fragment_fromstring(out, create_parent="div")
    tags = {element.tag for element in tree.iter() if isinstance(element.tag, str)}
    assert tags <= {"div", "article", "h2", "h3", "dl", "dt", "dd", "section", "p", "span"}, tags
    assert not any(name.startswith("on") or name == "href" or name == "src"
                   for element in tree.iter() for name in element.attrib)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "&lt;b&gt;titre&lt;/b&gt; &amp; co" in out
    text = _text(out)
    assert "alert(2)" in text  # the foreign element's text, escaped
    assert "cliquer (javascript:alert(3))" in text  # a link shown as text, never followed


@pytest.mark.parametrize("payload, words", [
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ClinicalDocument '
     b'xmlns="urn:hl7-org:v3"><title>&x;</title></ClinicalDocument>', "DTD"),
    (b"not xml at all", "ne peut pas"),
    (b"", "ne peut pas"),
    (b"<r xmlns='urn:hl7-org:v3'/>", "not a CDA"),
    (b"<ClinicalDocument/>", "not a CDA"),  # no HL7 namespace
])
def test_unreadable_or_unsafe_input_gives_a_notice(payload: bytes, words: str) -> None:
    out = cda_to_html(payload)
    assert out.startswith('<p class="cda-error" role="alert">') and words in out
    assert "root:" not in out  # nothing of /etc/passwd was read


def test_huge_input_is_bounded_by_the_safe_parser() -> None:
    from app.dmp.cda_html import MAX_BYTES

    huge = _structured("<component><section><text>" + "a" * (MAX_BYTES + 1) + "</text></section></component>")
    out = cda_to_html(huge)
    assert "cda-error" in out and "exceeds" in out and len(out) < 1000
    assert cda_embedded_file(huge) is None


def test_hostile_nesting_is_flattened_not_recursed() -> None:
    deep = "<content>" * 200 + "fond" + "</content>" * 200
    out = cda_to_html(_structured(f"<component><section><text>{deep}</text></section></component>"))
    assert "fond" in out and out.count("<span") <= 41


def test_structured_documents_wrap_no_file() -> None:
    assert cda_embedded_file(_structured("")) is None
    bad = _structured("").replace(b"<structuredBody></structuredBody>",
                                  b'<nonXMLBody><text mediaType="application/pdf" representation="B64">@@'
                                  b"</text></nonXMLBody>")
    assert cda_embedded_file(bad) is None


@pytest.mark.parametrize("value, shown", [
    ("2026", "2026"), ("202606", "06/2026"), ("20260612", "12/06/2026"),
    ("202606121030", "12/06/2026 à 10:30"), ("20260612103000.123-0500", "12/06/2026 à 10:30 (UTC-05:00)"),
    ("garbage", "garbage"), (None, ""),
])
def test_hl7_timestamps_in_french_order(value: str | None, shown: str) -> None:
    from app.dmp.cda_html import format_ts

    assert format_ts(value) == shown


def test_plain_text_body_in_b64_is_decoded_and_bounded() -> None:
    payload = base64.b64encode(b"<b>gras?</b>" * 3).decode()
    xml = _structured("").replace(b"<structuredBody></structuredBody>",
                                  f'<nonXMLBody><text mediaType="text/plain" representation="B64">{payload}'
                                  "</text></nonXMLBody>".encode())
    out = cda_to_html(xml)
    assert "&lt;b&gt;gras?&lt;/b&gt;" in out and "<b>" not in out
