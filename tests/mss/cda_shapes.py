"""CDA R2 documents in the shapes of the ANS examples (our own test data; shapes only).

Shapes: ansforge/TestContenuCDA-3-0 @7cd489b39368809df9bcf2cfef5e5d6354438a02
- ``ExemplesCDA/DOC_NON_STRUCTURE_CDA-R2-N1.xml`` (and 88 other examples): recordTarget name
  ``family BR``, ``given`` (the list of birth first names), ``given BR`` (the first one), ``family CL``,
  ``given CL``; nonXMLBody ``application/pdf`` with templateId 1.3.6.1.4.1.19376.1.2.20 (XDS-SD);
- ``ExemplesCDA/eDISP-MED_2024.01.xml``: ``given BR`` first, then ``given``, ``family BR``/``SP``/``CL``;
- ``ExemplesCDA/VSM_1.4_2022.01.xml`` (templateId 1.2.250.1.213.1.1.1.13) and
  ``ExemplesCDA/BIO-CR-BIO_2024.01_TSH_1.xml`` (1.3.6.1.4.1.19376.1.3.3 + 1.2.250.1.213.1.1.1.55):
  structuredBody documents.
"""

from __future__ import annotations

import base64
from xml.sax.saxutils import escape

ZOE_INS = "275126322074974"  # ZOE ADRUN of the INS fixtures

ANS_NAME = (
    '<family qualifier="BR">{family}</family>'
    "<given>{given_list}</given>"
    '<given qualifier="BR">{first}</given>'
    '<family qualifier="CL">{family}</family>'
    '<given qualifier="CL">{used}</given>'
)
EDISP_NAME = (
    '<given qualifier="BR">{first}</given>'
    "<given>{given_list}</given>"
    '<family qualifier="BR">{family}</family>'
    '<family qualifier="SP">{usage}</family>'
    '<family qualifier="CL">{usage}</family>'
)

PDF_BODY = (
    '<component><nonXMLBody><text mediaType="application/pdf" representation="B64">'
    + base64.b64encode(b"%PDF-1.4\n% Segur Sandbox test\n").decode()
    + "</text></nonXMLBody></component>"
)
TEXT_BODY = (
    '<component><nonXMLBody><text mediaType="text/plain" representation="B64">'
    + base64.b64encode(b"Compte rendu de test").decode()
    + "</text></nonXMLBody></component>"
)
STRUCTURED_BODY = (
    "<component><structuredBody><component><section>"
    '<code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/><title>Allergies</title>'
    "<text>Aucune allergie connue.</text></section></component></structuredBody></component>"
)


def cda(
    *,
    name: str | None = None,
    family: str = "ADRUN",
    given_list: str = "ZOE LOUISE",
    first: str = "ZOE",
    used: str = "LOUISE",
    usage: str = "MARTIN",
    templates: tuple[str, ...] = ("1.3.6.1.4.1.19376.1.2.20",),
    body: str = PDF_BODY,
    code: str = "11488-4",
    ins: str = ZOE_INS,
) -> bytes:
    """A CDA header as the ANS examples write it: header templateIds, then the volet's ``templates``."""
    name_xml = (name or ANS_NAME).format(
        family=escape(family), given_list=escape(given_list), first=escape(first), used=escape(used),
        usage=escape(usage),
    )
    template_xml = "".join(f'<templateId root="{t}"/>' for t in templates)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3">'
        '<realmCode code="FR"/><typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>'
        '<templateId root="2.16.840.1.113883.2.8.2.1"/><templateId root="1.2.250.1.213.1.1.1.1"/>'
        f"{template_xml}"
        '<id root="1.2.250.1.999.1.3.1" extension="ANS-SHAPE-0001"/>'
        f'<code code="{code}" codeSystem="2.16.840.1.113883.6.1" displayName="Document"/>'
        "<title>Compte rendu</title>"
        '<effectiveTime value="20261124101500+0100"/>'
        '<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/><languageCode code="fr-FR"/>'
        "<recordTarget><patientRole>"
        f'<id extension="{ins}" root="1.2.250.1.213.1.4.8"/>'
        '<id extension="1234567890121" root="1.2.3.4.567.8.9.10"/>'
        f'<patient classCode="PSN"><name>{name_xml}</name>'
        '<administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19751231"/>'
        "<birthplace><place><addr><county>63220</county></addr></place></birthplace>"
        "</patient></patientRole></recordTarget>"
        '<author><time value="20261124101500+0100"/><assignedAuthor>'
        '<id root="1.2.250.1.71.4.2.1" extension="810001000016"/></assignedAuthor></author>'
        f"{body}</ClinicalDocument>"
    ).encode()
