"""What the server fills in for an ITI-105 Simplified Publish, from what the DocumentReference carries (no I/O).

The PDSm simplified-publish profile (``pdsm-simplified-publish``, parent ``IHE.MHD.SimplifiedPublish.
DocumentReference``) leaves optional what the DMP registry (XDS) needs: classCode, confidentialityCode,
formatCode, serviceStartTime, size and hash. MHD ITI-105 §2:3.105.4.1.3: the Document Recipient "shall
extract the document, translate the DocumentReference metadata elements into a SubmissionSet" and "create
appropriate metadata". The sandbox fills them as written here (docs/dmp.md, ITI-105) and stores the
DocumentReference with what it filled, so a consumer reads the metadata the registry holds.
"""

from __future__ import annotations

from functools import cache

from app.dmp import documents

A03 = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
LOINC = "http://loinc.org"
V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
IHE_FORMATCODE = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"

# confidentialityCode when no securityLabel is given: the "normal" level, the DMP default (TRE_A08 / HL7 N)
DEFAULT_LABEL = (V3_CONFIDENTIALITY, "N", "normal")
# formatCode when no content.format is given: IHE's "the MIME type is sufficient" (MHD formatcode code
# system; the PDSm4DMP TD2 example Bundle uses the same code)
DEFAULT_FORMAT = (IHE_FORMATCODE, "urn:ihe:iti:xds:2017:mimeTypeSufficient", "mimeType Sufficient")

_CLASS_DISPLAY = {"10": "Compte rendu", "11": "Synthèse", "42": "Prescription"}

# classCode from typeCode: PDSm4DMP DocumentEntry.class "est déduit de typeCode selon la table de
# correspondance ... ASS_X04-CorrespondanceType-Classe" (input/fsh/Model/DocumentEntry.fsh). ASS_X04 is not
# shipped: this is the subset the sandbox's own documents use (app/dmp/documents.py KINDS) plus the
# consultation note; a type outside it needs an explicit category.
@cache
def class_table() -> dict[str, str]:
    return {"11488-4": "10",  # CR de consultation -> Compte rendu
            **{kind.loinc: kind.class_code for kind in documents.KINDS.values()}}


def class_of_type(system: str, code: str) -> tuple[str, str, str] | None:
    """The TRE_A03 class (system, code, display) of a LOINC type, or None when the table has none."""
    if system not in (LOINC, "urn:oid:2.16.840.1.113883.6.1"):
        return None
    class_code = class_table().get(code)
    if class_code is None:
        return None
    return A03, class_code, _CLASS_DISPLAY.get(class_code, class_code)
