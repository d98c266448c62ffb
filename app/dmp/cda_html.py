"""A CDA R2 document rendered as readable, safe HTML for the patient's pages (Mon espace santé).

Pure: bytes in, an HTML fragment out (no I/O, no network, no XSLT). The document goes through the project's
hardened parser (:func:`app.xmlsafe.parse_untrusted`: no DTD, no entities, bounded size), and every piece of
text taken from it is escaped; only the tags written here reach the page, never one from the document.

What is rendered (HL7 CDA R2, CI-SIS "Volet Structuration minimale des documents de santé"):
- the header: title, type (``code/@displayName``), date, confidentiality, the patient (``recordTarget``: birth
  names by their CI-SIS qualifier, INS, birth date, sex), the authors, the custodian, the date of the act
  (``documentationOf/serviceEvent``) and the legal authenticator;
- a structured body (``structuredBody``, N3): the sections with their title and narrative block
  (``paragraph``, ``list``, ``table``, ``content``, ``br``, ``sub``, ``sup``, ``caption``,
  ``linkHtml`` shown as text with its address, never as a live link), nested sections as sub-headings;
  coded ``entry`` elements are not shown (the narrative block is the attested content, CDA R2 §4.3.5);
- a non-structured body (``nonXMLBody``, N1): its media type; plain text is shown, a PDF or an image is left to
  the page, which shows it from the content route (:func:`embedded_file` extracts it).
A document that cannot be read (not XML, a DTD, too large, not a CDA) gives a short French notice instead.
"""

from __future__ import annotations

import base64
import binascii
import re
from html import escape

from lxml import etree

from app.xmlsafe import InvalidXmlError, UnsafeXmlError, parse_untrusted

HL7 = "urn:hl7-org:v3"
NS = {"hl7": HL7}
MAX_BYTES = 16 * 1024 * 1024
"""Largest document rendered. libxml2 also refuses a single text node over 10 MB without ``huge_tree``, so an
N1 document wrapping a PDF over ~7.5 MB gets the notice (the page still shows the PDF from the content route)."""
MAX_DEPTH = 40
"""Narrative nesting rendered as markup; deeper content is flattened to its text (hostile nesting)."""
MAX_TEXT_BODY = 200_000
"""Characters of a ``text/plain`` non-structured body shown on the page."""

# CDA narrative block element -> the HTML tag written for it (CDA R2 NarrativeBlock.xsd).
_TAGS = {
    "paragraph": "p", "list": "ul", "item": "li", "table": "table", "caption": "caption", "thead": "thead",
    "tbody": "tbody", "tfoot": "tfoot", "tr": "tr", "th": "th", "td": "td", "sub": "sub", "sup": "sup",
    "br": "br", "content": "span", "footnote": "small", "colgroup": "colgroup", "col": "col",
}
_STYLE_CODES = {"bold": "cda-b", "italics": "cda-i", "underline": "cda-u", "emphasis": "cda-i"}
_CONFIDENTIALITY = {"N": "normale", "R": "restreinte", "V": "très restreinte"}
_GENDERS = {"M": "masculin", "F": "féminin", "U": "inconnu", "UN": "non déterminé"}


class _Html:
    """An HTML fragment under construction; text is escaped on the way in."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def text(self, value: str | None) -> None:
        if value:
            self.parts.append(escape(value))

    def open(self, tag: str, **attributes: str) -> None:
        attrs = "".join(f' {name.rstrip("_")}="{escape(value)}"' for name, value in attributes.items() if value)
        self.parts.append(f"<{tag}{attrs}>")

    def close(self, tag: str) -> None:
        self.parts.append(f"</{tag}>")

    def element(self, tag: str, value: str | None, **attributes: str) -> None:
        self.open(tag, **attributes)
        self.text(value)
        self.close(tag)

    def __str__(self) -> str:
        return "".join(self.parts)


def _local(element: etree._Element) -> str | None:
    """The local name of an HL7 element; None for another namespace, a comment or a PI."""
    if not isinstance(element.tag, str):
        return None
    qname = etree.QName(element)
    return qname.localname if qname.namespace == HL7 else None


def _all_text(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def format_ts(value: str | None) -> str:
    """An HL7 TS (``YYYYMMDDhhmmss[.fff][+zzzz]``, any precision) in French reading order."""
    if not value:
        return ""
    match = re.fullmatch(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?", value.strip())
    if not match:
        return value.strip()
    year, month, day, hour, minute, _second, zone = match.groups()
    out = "/".join(p for p in (day, month, year) if p)
    if hour:
        out += f" à {hour}:{minute or '00'}"
        if zone:
            out += f" (UTC{zone[:3]}:{zone[3:]})"
    return out


def _name(name: etree._Element | None) -> str:
    """A person's name: the CI-SIS qualifiers first (``given BR``, ``family BR``; CI-SIS Structuration
    minimale §patient), then plain ``given``/``family``; the used first name and name (``CL``) when they
    differ."""
    if name is None:
        return ""

    def part(tag: str, qualifier: str | None) -> str:
        for element in name.findall(f"hl7:{tag}", NS):
            if element.get("qualifier") == qualifier:
                return _all_text(element)
        return ""

    given = part("given", "BR") or part("given", None) or part("given", "CL")
    family = part("family", "BR") or part("family", None) or part("family", "SP")
    birth = " ".join(p for p in (given, family) if p)
    used = " ".join(p for p in (part("given", "CL"), part("family", "CL")) if p)
    text = birth or _all_text(name)
    if used and used != birth:
        text += f" (prénom et nom utilisés : {used})"
    return text


def _id_text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    extension, root = element.get("extension"), element.get("root")
    return f"{extension} ({root})" if extension and root else (extension or root or "")


def _field(out: _Html, label: str, value: str) -> None:
    if value:
        out.element("dt", label)
        out.element("dd", value)


def _header(out: _Html, root: etree._Element) -> None:
    code = root.find("hl7:code", NS)
    title = _all_text(root.find("hl7:title", NS)) if root.find("hl7:title", NS) is not None else ""
    type_label = code.get("displayName", "") if code is not None else ""
    out.element("h2", title or type_label or "Document sans titre", class_="cda-title")
    out.open("dl", class_="cda-header")
    if code is not None:
        _field(out, "Type", " ".join(p for p in (type_label, f"(LOINC {code.get('code')})" if code.get("code")
                                                  else "") if p))
    effective = root.find("hl7:effectiveTime", NS)
    _field(out, "Date du document", format_ts(effective.get("value") if effective is not None else None))
    act = root.find("hl7:documentationOf/hl7:serviceEvent/hl7:effectiveTime", NS)
    if act is not None:
        low = act.find("hl7:low", NS)
        _field(out, "Date de l'acte", format_ts(act.get("value") or (low.get("value") if low is not None else None)))
    patient_role = root.find("hl7:recordTarget/hl7:patientRole", NS)
    if patient_role is not None:
        patient = patient_role.find("hl7:patient", NS)
        _field(out, "Patient", _name(patient.find("hl7:name", NS)) if patient is not None else "")
        for identifier in patient_role.findall("hl7:id", NS):
            label = "INS" if identifier.get("root", "").startswith("1.2.250.1.213.1.4.") else "Identifiant"
            _field(out, label, _id_text(identifier))
        if patient is not None:
            birth = patient.find("hl7:birthTime", NS)
            _field(out, "Né(e) le", format_ts(birth.get("value") if birth is not None else None))
            gender = patient.find("hl7:administrativeGenderCode", NS)
            if gender is not None:
                _field(out, "Sexe", _GENDERS.get(gender.get("code", ""), gender.get("code", "")))
    for author in root.findall("hl7:author", NS):
        assigned = author.find("hl7:assignedAuthor", NS)
        if assigned is None:
            continue
        who = _name(assigned.find("hl7:assignedPerson/hl7:name", NS))
        device = assigned.find("hl7:assignedAuthoringDevice/hl7:softwareName", NS)
        if not who and device is not None:
            who = _all_text(device)
        identifier = assigned.find("hl7:id", NS)
        organisation = assigned.find("hl7:representedOrganization/hl7:name", NS)
        time = author.find("hl7:time", NS)
        details = [p for p in (
            f"identifiant {identifier.get('extension')}" if identifier is not None and identifier.get("extension")
            else "",
            _all_text(organisation) if organisation is not None else "",
            format_ts(time.get("value")) if time is not None else "",
        ) if p]
        _field(out, "Auteur", (who or "auteur non nommé") + (f" — {', '.join(details)}" if details else ""))
    custodian = root.find("hl7:custodian/hl7:assignedCustodian/hl7:representedCustodianOrganization/hl7:name", NS)
    if custodian is not None:
        _field(out, "Conservé par", _all_text(custodian))
    legal = root.find("hl7:legalAuthenticator/hl7:assignedEntity/hl7:assignedPerson/hl7:name", NS)
    _field(out, "Validé par", _name(legal))
    confidentiality = root.find("hl7:confidentialityCode", NS)
    if confidentiality is not None:
        value = confidentiality.get("code", "")
        _field(out, "Confidentialité", _CONFIDENTIALITY.get(value, value))
    out.close("dl")


def _span_value(value: str | None) -> str:
    return value if value and value.isdigit() and 0 < int(value) <= 1000 else ""


def _narrative(out: _Html, element: etree._Element, depth: int) -> None:
    """The children of a narrative element, as whitelisted HTML; text always escaped."""
    out.text(element.text)
    for child in element:
        name = _local(child)
        if depth >= MAX_DEPTH or name is None:
            out.text(_all_text(child) if name is not None or isinstance(child.tag, str) else "")
        elif name == "linkHtml":
            out.text(_all_text(child))
            href = child.get("href", "")
            if href and _all_text(child) != href:
                out.text(f" ({href})")
        elif name in ("footnoteRef", "renderMultiMedia"):
            pass
        elif name in _TAGS:
            tag = _TAGS[name]
            if name == "list" and child.get("listType") == "ordered":
                tag = "ol"
            classes = " ".join(
                _STYLE_CODES[code.lower()] for code in child.get("styleCode", "").split()
                if code.lower() in _STYLE_CODES
            )
            attributes = {"class_": classes}
            if name in ("td", "th"):
                attributes |= {"colspan": _span_value(child.get("colspan")),
                               "rowspan": _span_value(child.get("rowspan"))}
            out.open(tag, **attributes)
            if tag not in ("br", "col"):
                _narrative(out, child, depth + 1)
                out.close(tag)
        else:
            _narrative(out, child, depth + 1)
        out.text(child.tail)


def _section(out: _Html, section: etree._Element, level: int) -> None:
    out.open("section", class_="cda-section")
    title = section.find("hl7:title", NS)
    code = section.find("hl7:code", NS)
    heading = _all_text(title) if title is not None else (code.get("displayName", "") if code is not None else "")
    out.element(f"h{min(level, 6)}", heading or "Section")
    text = section.find("hl7:text", NS)
    if text is not None:
        out.open("div", class_="cda-text")
        _narrative(out, text, 0)
        out.close("div")
    if level < MAX_DEPTH:
        for child in section.findall("hl7:component/hl7:section", NS):
            _section(out, child, level + 1)
    out.close("section")


def _non_xml_body(out: _Html, body: etree._Element) -> None:
    text = body.find("hl7:text", NS)
    media_type = text.get("mediaType", "") if text is not None else ""
    out.open("section", class_="cda-section")
    out.element("h3", "Contenu du document")
    if media_type == "text/plain" and text is not None:
        try:
            content = _decode(text)
        except ValueError:
            out.element("p", "Le contenu texte du document est illisible (base64 invalide).")
        else:
            out.element("pre", content.decode("utf-8", errors="replace")[:MAX_TEXT_BODY], class_="cda-plain")
    else:
        out.element("p", f"Document non structuré ({media_type or 'type inconnu'}) : "
                         "son contenu est affiché ou téléchargeable depuis cette page.", class_="cda-nonxml")
    out.close("section")


def _decode(text: etree._Element) -> bytes:
    raw = "".join(text.itertext())
    if text.get("representation", "TXT").upper() != "B64":
        return raw.encode("utf-8")
    try:
        return base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("invalid base64") from None


def _notice(message: str) -> str:
    return f'<p class="cda-error" role="alert">{escape(message)}</p>'


def _parse(xml: bytes) -> etree._Element:
    root = parse_untrusted(xml, max_bytes=MAX_BYTES)
    if _local(root) != "ClinicalDocument":
        raise InvalidXmlError("not a CDA document (root element is not hl7:ClinicalDocument)")
    return root


def cda_to_html(xml: bytes) -> str:
    """The CDA document as an HTML fragment (an ``<article>``), every text of it escaped."""
    try:
        root = _parse(xml)
    except UnsafeXmlError:
        return _notice("Ce document ne peut pas être affiché : il déclare une DTD ou des entités XML, refusées "
                       "par sécurité.")
    except InvalidXmlError as exc:
        return _notice(f"Ce document ne peut pas être affiché ici : {exc}.")
    out = _Html()
    out.open("article", class_="cda", lang="fr")
    _header(out, root)
    structured = root.find("hl7:component/hl7:structuredBody", NS)
    non_xml = root.find("hl7:component/hl7:nonXMLBody", NS)
    if structured is not None:
        for section in structured.findall("hl7:component/hl7:section", NS):
            _section(out, section, 3)
    elif non_xml is not None:
        _non_xml_body(out, non_xml)
    else:
        out.element("p", "Ce document n'a pas de corps lisible.", class_="cda-nonxml")
    out.close("article")
    return str(out)


def embedded_file(xml: bytes) -> tuple[bytes, str] | None:
    """The file a non-structured (N1) CDA wraps (``nonXMLBody/text``: bytes and media type), or None when the
    document is structured, unreadable or its base64 is invalid."""
    try:
        root = _parse(xml)
    except (InvalidXmlError, UnsafeXmlError):
        return None
    text = root.find("hl7:component/hl7:nonXMLBody/hl7:text", NS)
    if text is None:
        return None
    try:
        return _decode(text), text.get("mediaType") or "application/octet-stream"
    except ValueError:
        return None
