"""The CDA R2 header fields the MSSanté checks read (CI-SIS "Structuration minimale"): document code,
INS and the patient's names and traits. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from app.mss.xdm.model import DEFAULT_LIMITS, HL7, NS, CdaHeader, Code, XdmLimits
from app.shared.identifiers import INS_OIDS
from app.xmlsafe import InvalidXmlError, parse_untrusted


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    value = (el.text or "").strip()
    return value or None


@dataclass(frozen=True)
class PatientNames:
    """The patient's names of a CDA header ``recordTarget/patientRole/patient/name``."""

    birth_name: str | None = None
    usage_name: str | None = None
    used_name: str | None = None
    first_given_name: str | None = None
    birth_given_names: str | None = None
    used_given_name: str | None = None


def read_patient_names(name: etree._Element) -> PatientNames:
    """The names by their ``qualifier``, as the CI-SIS header rules type them (template CI-SISRecordTarget
    1.2.250.1.213.1.1.1.1.10.10, ansforge/TestContenuCDA-3-0 schematrons/profils/structurationMinimale/
    include/1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch): ``family`` BR = nom de naissance, SP = nom
    d'usage, CL = nom utilisé; ``given`` BR = premier prénom de l'acte de naissance, CL = prénom utilisé,
    no qualifier = la liste des prénoms de l'acte de naissance. The order of the elements carries no
    meaning (the ANS examples put the list before, after or without the BR first name)."""
    families: dict[str | None, str] = {}
    givens: dict[str | None, str] = {}
    has_birth_given = False
    for part in name:
        if not isinstance(part.tag, str) or etree.QName(part).namespace != HL7:
            continue
        local, qualifier = etree.QName(part).localname, part.get("qualifier")
        if local == "given" and qualifier == "BR":
            has_birth_given = True
        value = _text(part)
        if value is None:
            continue
        target = families if local == "family" else givens if local == "given" else None
        if target is not None:
            target.setdefault(qualifier, value)
    birth_list = givens.get(None)
    first = givens.get("BR")
    if first is None and not has_birth_given and birth_list:
        first = birth_list.split()[0]  # pre-INS header: its <given> is the first name (first of a list)
    return PatientNames(
        birth_name=families.get("BR") or families.get(None),
        usage_name=families.get("SP"),
        used_name=families.get("CL"),
        first_given_name=first,
        birth_given_names=birth_list,
        used_given_name=givens.get("CL"),
    )


def parse_cda_header(data: bytes, limits: XdmLimits = DEFAULT_LIMITS) -> CdaHeader:
    """Read the CDA R2 header fields used by the MSSanté checks (CI-SIS "Structuration minimale")."""
    root = parse_untrusted(data, max_bytes=limits.max_xml_bytes)
    if etree.QName(root).localname != "ClinicalDocument" or etree.QName(root).namespace != HL7:
        raise InvalidXmlError("root element is not hl7:ClinicalDocument")
    code_el = root.find("hl7:code", NS)
    code = (
        Code(code_el.get("code") or "", code_el.get("codeSystem"), code_el.get("displayName"))
        if code_el is not None and code_el.get("code")
        else None
    )
    id_el = root.find("hl7:id", NS)
    unique_id = None
    if id_el is not None and id_el.get("root"):
        unique_id = (
            id_el.get("root")
            if not id_el.get("extension")
            else f"{id_el.get('root')}^{id_el.get('extension')}"
        )
    eff = root.find("hl7:effectiveTime", NS)
    conf = root.find("hl7:confidentialityCode", NS)
    lang = root.find("hl7:languageCode", NS)
    role = root.find("hl7:recordTarget/hl7:patientRole", NS)
    ins = ins_oid = birth_date = sex = None
    names = PatientNames()
    if role is not None:
        for pid in role.findall("hl7:id", NS):
            if pid.get("root") in INS_OIDS and pid.get("extension"):
                ins, ins_oid = pid.get("extension"), pid.get("root")
                break
        patient = role.find("hl7:patient", NS)
        if patient is not None:
            name = patient.find("hl7:name", NS)
            if name is not None:
                names = read_patient_names(name)
            bt = patient.find("hl7:birthTime", NS)
            birth_date = bt.get("value") if bt is not None else None
            gender = patient.find("hl7:administrativeGenderCode", NS)
            sex = gender.get("code") if gender is not None else None
    template_ids = tuple(t.get("root") or "" for t in root.findall("hl7:templateId", NS) if t.get("root"))
    body_text = root.find("hl7:component/hl7:nonXMLBody/hl7:text", NS)
    media_type = (body_text.get("mediaType") or "text/plain") if body_text is not None else None  # CDA default
    structured = root.find("hl7:component/hl7:structuredBody", NS) is not None
    replaces = None
    for rel in root.findall("hl7:relatedDocument", NS):
        if rel.get("typeCode") == "RPLC":
            parent_id = rel.find("hl7:parentDocument/hl7:id", NS)
            if parent_id is not None:
                replaces = parent_id.get("root")
    return CdaHeader(
        code=code,
        title=_text(root.find("hl7:title", NS)),
        unique_id=unique_id,
        effective_time=eff.get("value") if eff is not None else None,
        confidentiality=Code(conf.get("code") or "", conf.get("codeSystem"), conf.get("displayName"))
        if conf is not None
        else None,
        language=lang.get("code") if lang is not None else None,
        ins=ins,
        ins_oid=ins_oid,
        birth_name=names.birth_name,
        first_given_name=names.first_given_name,
        birth_date=birth_date,
        sex=sex,
        replaces=replaces,
        birth_given_names=names.birth_given_names,
        usage_name=names.usage_name,
        used_name=names.used_name,
        used_given_name=names.used_given_name,
        template_ids=template_ids,
        body_media_type=media_type,
        structured=structured,
    )
