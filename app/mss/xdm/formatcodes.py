"""The formatCode of each kind of CDA document (CI-SIS JDV_J10 XdsFormatCode, the DMP's value set). Pure."""

from __future__ import annotations

from app.mss.exceptions import XdmError
from app.mss.xdm.model import CdaHeader, Code

# --- formatCode of each document kind (CI-SIS JDV_J10 XdsFormatCode, the DMP's value set) -------------
# The codes and their displays come from the DMP's shipped value set (app.shared.valuesets, DMP binding of
# "format"), never from a copy here; what this module adds is which code each kind of document takes.
# XDS codingScheme of each code system: ANS's own CDA-header-to-XDM stylesheet (ansforge/TestContenuCDA-3-0
# FeuilleDeStyle/CDAHeaderToXDM.xsl @7cd489b) writes 1.3.6.1.4.1.19376.1.2.3 for the IHE codes (TRE_A11)
# and 1.2.250.1.213.1.1.4.2.282 for the CI-SIS ones (TRE_A06).
_IHE_FORMAT_SCHEME = "1.3.6.1.4.1.19376.1.2.3"
_SCHEME_OF_SYSTEM = {
    "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode": _IHE_FORMAT_SCHEME,
    "https://mos.esante.gouv.fr/NOS/TRE_A06-FormatCodeComplementaire/FHIR/TRE-A06-FormatCodeComplementaire":
        "1.2.250.1.213.1.1.4.2.282",
}
# CDA R2 level 1 (nonXMLBody, IHE XDS-SD): the format code follows the wrapped media type (TRE_A11).
LEVEL1_FORMAT_CODES = {
    "application/pdf": "urn:ihe:iti:xds-sd:pdf:2008",
    "text/plain": "urn:ihe:iti:xds-sd:text:2008",
    "image/jpeg": "urn:ihe:iti-fr:xds-sd:jpeg:2010",
    "text/rtf": "urn:ihe:iti-fr:xds-sd:rtf:2010",
    "application/rtf": "urn:ihe:iti-fr:xds-sd:rtf:2010",
    "image/tiff": "urn:ihe:iti-fr:xds-sd:tiff:2010",
}
# Structured CDA (structuredBody): the volet's templateId -> its format code. templateIds from the ANS
# examples (ansforge/TestContenuCDA-3-0 ExemplesCDA/<VOLET>_*.xml @7cd489b), codes from J10 by volet
# name, and from CDAHeaderToXDM.xsl where it names them (AVK, TAP, DCI, PSC, PPV, VSM, IDAP, FRCP, XD-LAB).
VOLET_FORMAT_CODES = {
    "1.2.250.1.213.1.1.1.13": "urn:asip:ci-sis:vsm:2012",  # VSM, synthèse médicale
    "1.2.250.1.213.1.1.1.51": "urn:ihe:pcc:ips:2020",  # IPS-FR
    "2.16.840.1.113883.10.22.1.1": "urn:ihe:pcc:ips:2020",  # HL7 IPS
    "1.3.6.1.4.1.19376.1.3.3": "urn:ihe:lab:xd-lab:2008",  # IHE XD-LAB (CR-BIO)
    "1.2.250.1.213.1.1.1.55": "urn:ihe:lab:xd-lab:2008",  # CR-BIO
    "1.2.250.1.213.1.1.1.45": "urn:ihe:rad:CDA:ImagingReportStructuredHeadings:2013",  # CR-IMG
    "1.2.250.1.213.1.1.1.47": "urn:ans:ci-sis:img-da:2022",  # IMG-DA
    "1.2.250.1.213.1.1.1.40": "urn:asip:ci-sis:cr-anest:2020",
    "1.2.250.1.213.1.1.1.41": "urn:asip:ci-sis:cr-cpa:2020",
    "1.2.250.1.213.1.1.1.15": "urn:asip:ci-sis:aunv:2013",
    "1.2.250.1.213.1.1.1.16": "urn:asip:ci-sis:eunv:2013",
    "1.2.250.1.213.1.1.1.17": "urn:asip:ci-sis:sunv:2013",
    "1.2.250.1.213.1.1.1.25": "urn:asip:ci-sis:pavc:2016",
    "1.2.250.1.213.1.1.1.32": "urn:asip:ci-sis:crgm:2018",
    "1.2.250.1.213.1.1.1.27": "urn:asip:ci-sis:d2lm-fin:2017",
    "1.2.250.1.213.1.1.1.28": "urn:asip:ci-sis:d2lm-fidd:2017",
    "1.2.250.1.213.1.1.1.8": "urn:asip:ci-sis:frcp:2011",
    "1.2.250.1.213.1.1.1.9": "urn:asip:ci-sis:idap:2011",
    "1.2.250.1.213.1.1.1.26": "urn:asip:ci-sis:pps-cancer:2017",
    "1.2.250.1.213.1.1.1.2.1.1": "urn:asip:ci-sis:avk:2009",
    "1.2.250.1.213.1.1.1.2.1.2": "urn:asip:ci-sis:tap:2009",
    "1.2.250.1.213.1.1.1.2.1.3": "urn:asip:ci-sis:dci:2009",
    "1.2.250.1.213.1.1.1.2.1.4": "urn:asip:ci-sis:psc:2009",
    "1.2.250.1.213.1.1.1.2.1.5": "urn:asip:ci-sis:ppv:2009",
    "1.2.250.1.213.1.1.1.36": "urn:asip:ci-sis:hr:2019",
    "1.2.250.1.213.1.1.1.5.1": "urn:asip:ci-sis:cse-cs8:2017",
    "1.2.250.1.213.1.1.1.5.2": "urn:asip:ci-sis:cse-cs9:2017",
    "1.2.250.1.213.1.1.1.5.3": "urn:asip:ci-sis:cse-cs24:2017",
    "1.2.250.1.213.1.1.1.5.4": "urn:ans:ci-sis:cse-mde:2023",
    "1.2.250.1.213.1.1.1.23": "urn:asip:ci-sis:fludt:2017",
    "1.2.250.1.213.1.1.1.24": "urn:asip:ci-sis:fludr:2017",
    "1.2.250.1.213.1.1.1.21": "urn:asip:ci-sis:ldl-ees:2017",
    "1.2.250.1.213.1.1.1.29": "urn:asip:ci-sis:ldl-ses:2017",
    "1.2.250.1.213.1.1.1.12.1": "urn:asip:ci-sis:obp-sap:2023",
    "1.2.250.1.213.1.1.1.12.2": "urn:asip:ci-sis:obp-snm:2023",
    "1.2.250.1.213.1.1.1.12.3": "urn:asip:ci-sis:obp-sne:2023",
    "1.2.250.1.213.1.1.1.12.4": "urn:asip:ci-sis:obp-scm:2023",
    "1.2.250.1.213.1.1.1.12.5": "urn:asip:ci-sis:obp-sem:2023",
    "1.2.250.1.213.1.1.1.18": "urn:asip:ci-sis:crrtn:2013",
    "1.2.250.1.213.1.1.1.30": "urn:asip:ci-sis:sdm-mr:2017",
    "1.2.250.1.213.1.1.1.38": "urn:asip:ci-sis:tlm-da:2020",
    "1.2.250.1.213.1.1.1.37": "urn:asip:ci-sis:vac:2019",
    "1.2.250.1.213.1.1.1.46": "urn:asip:ci-sis:vac-note:2021",
    "1.2.250.1.213.1.1.1.39": "urn:ihe:pharm:pre:2010",  # eP-MED-DM
    "1.2.250.1.213.1.1.1.54": "urn:ihe:pharm:dis:2010",  # eDISP-MED
}
# templateIds of the header and of generic IHE content, which name no volet.
_GENERIC_TEMPLATES = frozenset({
    "2.16.840.1.113883.2.8.2.1",  # HL7 France CDA header
    "1.2.250.1.213.1.1.1.1",  # CI-SIS structuration minimale
    "1.3.6.1.4.1.19376.1.2.20",  # IHE XDS-SD
    "1.3.6.1.4.1.19376.1.5.3.1.1.1",  # IHE PCC medical document
})
OUT_OF_PROFILE_FORMAT_CODE = "urn:asipSante:modelesHorsProfils:2011"
"""J10 "Document non référencé IHE ou CI-SIS": a structured CDA whose templateIds name no volet."""
PDF_FORMAT_CODE = "urn:ihe:iti:xds-sd:pdf:2008"


def j10_format_code(value: str) -> Code:
    """The J10 ``value`` as XDS metadata (code, codingScheme, display), or ``XdmError`` when the DMP's
    value set does not hold it."""
    from app.shared import valuesets  # the DMP's value sets: the same codes its ITI-65 accepts

    formats = valuesets.binding("format")
    for system in formats.systems():
        if formats.contains(system, value) and system in _SCHEME_OF_SYSTEM:
            return Code(value, _SCHEME_OF_SYSTEM[system], formats.display(system, value) or value)
    raise XdmError("xdm.cda.format", f"{value!r} is not a format code of {formats.name} (CI-SIS JDV_J10)")


def cda_format_code(header: CdaHeader) -> Code:
    """The format code of a CDA by its kind (CI-SIS JDV_J10): a level 1 document by its wrapped media
    type, a structured one by its volet's templateId (or "hors profils" when it names none). ``XdmError``
    when the sandbox cannot tell (then the caller must give the code)."""
    if not header.structured:
        if header.body_media_type is None:
            raise XdmError("xdm.cda.format", "the CDA has no body: neither component/structuredBody nor "
                           "component/nonXMLBody (CDA R2 ClinicalDocument.component is 1..1), so it has no "
                           "format code; give one explicitly (a JDV_J10 code) or add the body")
        media = header.body_media_type.split(";")[0].strip().lower()
        if media not in LEVEL1_FORMAT_CODES:
            raise XdmError("xdm.cda.format", f"a CDA level 1 body of type {media or 'unknown'!r} has no format "
                           f"code in JDV_J10 (known: {', '.join(sorted(LEVEL1_FORMAT_CODES))})")
        return j10_format_code(LEVEL1_FORMAT_CODES[media])
    codes = list(dict.fromkeys(VOLET_FORMAT_CODES[t] for t in header.template_ids if t in VOLET_FORMAT_CODES))
    if len(codes) == 1:
        return j10_format_code(codes[0])
    unknown = [t for t in header.template_ids if t not in VOLET_FORMAT_CODES and t not in _GENERIC_TEMPLATES]
    if not codes and not unknown:
        return j10_format_code(OUT_OF_PROFILE_FORMAT_CODE)
    raise XdmError("xdm.cda.format", "the sandbox cannot tell the format code of this structured CDA "
                   f"(templateIds {', '.join(header.template_ids)}); give it explicitly (a JDV_J10 code)")
