"""Realistic seed documents: CDA R2 level 1 ("N1", ``nonXMLBody``) wrapping a small valid PDF.

The PDF is written by hand (PDF 1.4: catalog, one page, Helvetica text, a correct xref table), so no
dependency is needed. The CDA header follows the CI-SIS "Structuration minimale" N1 shape: typeId,
templateId, id, code (LOINC), confidentialityCode, recordTarget with the INS, author with the RPPS,
custodian, documentationOf/serviceEvent (date of the act, SC.DMP/HISTO.03), component/nonXMLBody with
the PDF in base64 (CI-SIS Volet Structuration minimale des documents de santé; reference/dmp.md §3
"Document formats"). Results are cached: every test reseeds the store.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape

from app.dmp.submission import sha1_b64

A03 = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
R02 = "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite"
A01 = "https://mos.esante.gouv.fr/NOS/TRE_A01-CadreExercice/FHIR/TRE-A01-CadreExercice"
A11 = "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode"
LOINC = "http://loinc.org"


@dataclass(frozen=True)
class Kind:
    key: str
    loinc: str
    title: str
    class_code: str
    class_display: str
    lines: tuple[str, ...]


# One document per sector the issue names: biology, imaging, discharge letter, prescription, vaccination.
KINDS: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind("biology", "11502-2", "CR d'examens biologiques", "10", "Compte rendu",
             ("Hemoglobine : 14,2 g/dL (13,0 - 17,0)", "Leucocytes : 6,8 G/L (4,0 - 10,0)",
              "Glycemie a jeun : 5,1 mmol/L (4,1 - 5,9)", "Creatinine : 78 umol/L (62 - 106)")),
        Kind("imaging", "18748-4", "CR d'imagerie medicale", "10", "Compte rendu",
             ("Radiographie thoracique de face", "Indication : toux persistante",
              "Resultat : pas de foyer parenchymateux, cul-de-sacs libres.", "Conclusion : examen normal.")),
        Kind("discharge", "11490-0", "Lettre de liaison a la sortie", "11", "Synthèse",
             ("Hospitalisation du 02 au 06 en medecine interne", "Motif : pneumopathie communautaire",
              "Traitement de sortie : amoxicilline 1 g x 3 / jour, 5 jours", "Suivi : medecin traitant a J7")),
        Kind("prescription", "57833-6", "Prescription de produits de sante", "42", "Prescription",
             ("Paracetamol 1 g : 1 comprime 3 fois par jour si douleur", "Duree : 5 jours",
              "Renouvellement : non")),
        Kind("vaccination", "87273-9", "Note de vaccination", "10", "Compte rendu",
             ("Vaccin : grippe saisonniere (injection intramusculaire)", "Lot : SANDBOX-0001",
              "Site : deltoide gauche", "Pas de reaction immediate.")),
    )
}


def _pdf_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


@lru_cache(maxsize=256)
def make_pdf(title: str, lines: tuple[str, ...], *, padding: int = 0) -> bytes:
    """A small valid one-page PDF 1.4 (ASCII text, Helvetica). ``padding`` adds a comment stream to
    reach a target size (benchmarks)."""
    text = ["BT", "/F1 16 Tf", "72 770 Td", f"({_pdf_text(title)}) Tj", "/F1 11 Tf"]
    for line in lines:
        text += ["0 -20 Td", f"({_pdf_text(line)}) Tj"]
    text += ["0 -40 Td", "(Document de test - Segur Sandbox - donnees fictives) Tj", "ET"]
    stream = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if padding:
        filler = (b"%" + b"x" * 78 + b"\n") * (padding // 80 + 1)
        objects.append(b"<< /Length " + str(len(filler)).encode() + b" >>\nstream\n" + filler + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode() + b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


@dataclass(frozen=True)
class GeneratedDocument:
    kind: Kind
    unique_id: str
    cda: bytes
    pdf: bytes

    @property
    def size(self) -> int:
        return len(self.cda)

    @property
    def hash_b64(self) -> str:
        return sha1_b64(self.cda)


def unique_id_for(ins: str, key: str, n: int = 0) -> str:
    """A stable document OID under the sandbox's fictitious root ``1.2.250.1.213.1.4.8.99999``."""
    digits = int(hashlib.sha256(f"{ins}:{key}:{n}".encode()).hexdigest()[:12], 16)
    return f"1.2.250.1.213.1.4.8.99999.{digits}"


@lru_cache(maxsize=1024)
def make_cda(
    *, kind: str, ins: str, ins_oid: str, given: str, family: str, birth_date: str, sex: str,
    author_rpps: str, author_given: str, author_family: str, effective: str, n: int = 0,
) -> GeneratedDocument:
    """A CDA R2 N1 document (``nonXMLBody`` with a PDF) for this patient, author and date (``YYYYMMDDhhmmss``)."""
    k = KINDS[kind]
    pdf = make_pdf(k.title, k.lines)
    uid = unique_id_for(ins, kind, n)
    gender = {"M": "M", "F": "F"}.get(sex, "UN")
    birth = birth_date.replace("-", "")
    cda = f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.2.8.2.1" assigningAuthorityName="HL7 France"/>
  <templateId root="1.2.250.1.213.1.1.1.1" assigningAuthorityName="CI-SIS"/>
  <templateId root="1.3.6.1.4.1.19376.1.2.20" assigningAuthorityName="IHE XDS-SD"/>
  <id root="{uid}"/>
  <code code="{k.loinc}" codeSystem="2.16.840.1.113883.6.1" displayName="{escape(k.title)}"/>
  <title>{escape(k.title)}</title>
  <effectiveTime value="{effective}+0100"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <setId root="{uid}.1"/>
  <versionNumber value="1"/>
  <recordTarget>
    <patientRole>
      <id extension="{ins}" root="{ins_oid}"/>
      <patient>
        <name><given qualifier="BR">{escape(given)}</given><family qualifier="BR">{escape(family)}</family></name>
        <administrativeGenderCode code="{gender}" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="{birth}"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author>
    <time value="{effective}+0100"/>
    <assignedAuthor>
      <id extension="8{author_rpps}" root="1.2.250.1.71.4.2.1"/>
      <assignedPerson><name><given>{escape(author_given)}</given><family>{escape(author_family)}</family></name></assignedPerson>
    </assignedAuthor>
  </author>
  <custodian>
    <assignedCustodian><representedCustodianOrganization>
      <id extension="1SANDBOX0001" root="1.2.250.1.71.4.2.2"/><name>Ségur Sandbox</name>
    </representedCustodianOrganization></assignedCustodian>
  </custodian>
  <documentationOf>
    <serviceEvent><effectiveTime><low value="{effective}+0100"/></effectiveTime></serviceEvent>
  </documentationOf>
  <component>
    <nonXMLBody>
      <text mediaType="application/pdf" representation="B64">{base64.b64encode(pdf).decode()}</text>
    </nonXMLBody>
  </component>
</ClinicalDocument>
"""
    return GeneratedDocument(kind=k, unique_id=uid, cda=cda.encode("utf-8"), pdf=pdf)
