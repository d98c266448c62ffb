"""The generated seed documents (app/dmp/documents.py): a well-formed PDF in a CDA R2 N1 document."""

from __future__ import annotations

import base64

import pytest
from lxml import etree

from app.dmp import documents


def test_generated_pdf_is_well_formed():
    pdf = documents.make_pdf("Titre", ("ligne (1)",))
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    startxref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[startxref:].startswith(b"xref\n0 6\n")
    for line in pdf[startxref:].split(b"\n")[3:8]:
        offset = int(line[:10])
        assert pdf[offset:].split(b"\n", 1)[0].endswith(b" 0 obj")
    padded = documents.make_pdf("Titre", ("x",), padding=100_000)
    assert len(padded) > 100_000


@pytest.mark.parametrize("kind", sorted(documents.KINDS))
def test_generated_cda_n1(kind):
    doc = documents.make_cda(kind=kind, ins="275126322074974", ins_oid="1.2.250.1.213.1.4.8", given="ZOE",
                             family="ADRUN", birth_date="1975-12-31", sex="F", author_rpps="10001000016",
                             author_given="Claire", author_family="Fontaine", effective="20260612100000")
    root = etree.fromstring(doc.cda)
    ns = {"h": "urn:hl7-org:v3"}
    assert root.find("h:code", ns).get("code") == documents.KINDS[kind].loinc
    assert root.find(".//h:patientRole/h:id", ns).get("extension") == "275126322074974"
    text = root.find(".//h:nonXMLBody/h:text", ns)
    assert text.get("mediaType") == "application/pdf"
    assert base64.b64decode(text.text) == doc.pdf
    again = documents.make_cda(kind=kind, ins="275126322074974", ins_oid="1.2.250.1.213.1.4.8", given="ZOE",
                               family="ADRUN", birth_date="1975-12-31", sex="F", author_rpps="10001000016",
                               author_given="Claire", author_family="Fontaine", effective="20260612100000")
    assert again is doc  # cached
