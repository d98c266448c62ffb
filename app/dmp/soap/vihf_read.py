"""Reading a VIHF (the SAML 2 assertion of ``wsse:Security``, reference/dmp.md §1.1) into a :class:`Vihf`,
checking every required attribute and its consistency (pure: no I/O; the signature and the store's checks
are :mod:`.vihf`'s). Sources and fault codes: see :mod:`.vihf`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from lxml import etree

from app.dmp import rules
from app.dmp.soap.faults import SoapFault
from app.dmp.soap.namespaces import NS_SAML2, NS_WSSE
from app.dmp.soap.vihf_roles import (
    A00_CODES,
    DOCTOR,
    G05_SECTIONS,
    G15_PROFESSIONS,
    PHARMACIST,
    R01_CODE,
    SYSTEM_A00,
    SYSTEM_G05,
    SYSTEM_G15,
    SYSTEM_G16,
    SYSTEM_R01,
)
from app.shared.identifiers import INS_OIDS
from app.shared.professional import Professional

NS_HL7 = "urn:hl7-org:v3"

# Attribute names (reference/dmp.md §1.1; generate-VIHF Constants.java).
VERSION = "VIHF_Version"
AUTHENTICATION_MODE = "Authentification_Mode"  # generate-VIHF spells it "Authentification_mode": both read
STRUCTURE = "Identifiant_Structure"
SECTOR = "Secteur_Activite"
SUBJECT_ID = "urn:oasis:names:tc:xspa:1.0:subject:subject-id"
ROLE = "urn:oasis:names:tc:xacml:2.0:subject:role"
RESOURCE_ID = "urn:oasis:names:tc:xacml:2.0:resource:resource-id"
RESOURCE_URN = "Ressource_URN"
PURPOSE_OF_USE = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"
CONFIDENTIALITY = "urn:oasis:names:tc:xspa:1.0:resource:patient:hl7:confidentiality-code"
LPS_NAME = "LPS_Nom"
LPS_VERSION = "LPS_Version"
LPS_APPROVAL = "LPS_ID_HOMOLOGATION_DMP"
LPS_ID = "LPS_ID"
ACCESS_REASON = "Mode_Acces_Raison"  # the PSC userinfo claim's name (reference/psc.md §6); optional

VERSIONS = ("3.0", "4.0")  # reference/dmp.md §1.1; mapping.md "Constante : 4.0"; generate-VIHF "3.0"
# DIRECTE (the CPS card), INDIRECTE (the structure's certificate); INDIRECTE_RENFORCEE is what the ANS TLSi
# kit éditeur sends for "AIR" (authentification indirecte renforcée, AuthnContextDecl APP_BROWSER_AUTH).
DIRECT = "DIRECTE"
INDIRECT = "INDIRECTE"
MODES = (DIRECT, INDIRECT, "INDIRECTE_RENFORCEE")
RESOURCE_URN_DMP = "urn:dmp"

SECTOR_VALUE = re.compile(r"[A-Z0-9_]{1,20}\^[0-9]+(?:\.[0-9]+)+")  # SA07^1.2.250.1.71.4.2.4
# NIR / NIA: sex, year, month, department (2A/2B for Corsica), commune, order, key (97 - n mod 97).
INS_VALUE = re.compile(r"[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{8}")
CLOCK_SKEW = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class VihfRole:
    """One ``urn:oasis:names:tc:xacml:2.0:subject:role`` value: a G15 profession or an R01 specialty."""

    code: str
    code_system: str
    display: str | None = None


@dataclass(frozen=True)
class Vihf:
    """A checked VIHF's attributes (names as public VIHF builders write them, reference/dmp.md §1.1)."""

    version: str  # VIHF_Version: "3.0" or "4.0"
    issuer: str  # saml:Issuer
    name_id: str  # saml:Subject/saml:NameID: the professional's national identifier (8 + RPPS, ...)
    subject_name: str  # urn:oasis:names:tc:xspa:1.0:subject:subject-id (the person's name)
    roles: tuple[VihfRole, ...]  # urn:oasis:names:tc:xacml:2.0:subject:role
    structure_id: str | None  # Identifiant_Structure
    sector: str | None  # Secteur_Activite, e.g. SA07^1.2.250.1.71.4.2.4
    authentication_mode: str  # Authentification_Mode: DIRECTE / INDIRECTE / AIR
    access_mode: rules.AccessMode  # urn:oasis:names:tc:xspa:1.0:subject:purposeofuse (TRE_R248)
    patient_ins: str | None  # from urn:oasis:names:tc:xacml:2.0:resource:resource-id (CX)
    patient_oid: str | None
    resource_urn: str | None  # Ressource_URN: urn:dmp
    lps_name: str | None  # LPS_Nom
    lps_version: str | None  # LPS_Version
    lps_approval: str | None  # LPS_ID_HOMOLOGATION_DMP
    lps_id: str | None = None  # LPS_ID
    confidentiality: str | None = None  # ...:resource:patient:hl7:confidentiality-code (secret access, minors)
    access_reason: str | None = None  # the break-glass reason, where the VIHF carries one
    signer: str | None = None  # the subject of the certificate that signed it (None: a PSC token stood in)
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # every attribute as sent
    professional: Professional | None = None  # the PSC professional the NameID names
    not_on_or_after: dt.datetime | None = None  # Conditions/@NotOnOrAfter, when sent


def wsse_fault(subcode: str, rule: str, reason: str, english: str) -> SoapFault:
    """A Sender fault with a WS-Security 1.0 subcode; ``reason`` in French (as the DMP answers), the English
    text as detail (journal and logs: never the assertion itself)."""
    return SoapFault(code="Sender", subcode=subcode, reason=reason, rule=rule, detail=english, subcode_ns=NS_WSSE)


def invalid(rule: str, reason: str, english: str) -> SoapFault:
    return wsse_fault("InvalidSecurityToken", f"VIHF:{rule}", reason, english)


def missing(name: str) -> SoapFault:
    return invalid(f"attribute.missing:{name}", f"VIHF incomplet : l'attribut {name} est absent ou vide",
                   f"the VIHF lacks the attribute {name} (or it is empty)")


def find_assertion(security: etree._Element | None) -> etree._Element:
    """The ``saml2:Assertion`` of ``wsse:Security`` (exactly one)."""
    if security is None:
        raise wsse_fault("InvalidSecurity", "VIHF:security.missing",
                     "En-tête wsse:Security absent : le VIHF est obligatoire",
                     "no wsse:Security header: every DMPi call carries a VIHF")
    found = security.findall(f"{{{NS_SAML2}}}Assertion")
    if len(found) != 1:
        raise wsse_fault("InvalidSecurity", "VIHF:assertion.count",
                     f"wsse:Security doit contenir une et une seule saml2:Assertion (trouvées : {len(found)})",
                     f"wsse:Security must hold exactly one saml2:Assertion, found {len(found)}")
    return found[0]


def _values(assertion: etree._Element) -> dict[str, list[etree._Element]]:
    result: dict[str, list[etree._Element]] = {}
    for attribute in assertion.iterfind(f"{{{NS_SAML2}}}AttributeStatement/{{{NS_SAML2}}}Attribute"):
        name = attribute.get("Name", "")
        if name.casefold() == AUTHENTICATION_MODE.casefold():
            name = AUTHENTICATION_MODE
        result.setdefault(name, []).extend(attribute.findall(f"{{{NS_SAML2}}}AttributeValue"))
    return result


def _text(values: dict[str, list[etree._Element]], name: str, *, required: bool = True) -> str | None:
    elements = values.get(name) or []
    text = "".join(elements[0].itertext()).strip() if elements else ""
    if not text:
        if required:
            raise missing(name)
        return None
    if len(elements) > 1:
        raise invalid(f"attribute.repeated:{name}", f"L'attribut {name} du VIHF ne peut avoir qu'une valeur",
                      f"the VIHF attribute {name} takes one value, {len(elements)} sent")
    return text


def _coded(value: etree._Element, local: str) -> etree._Element | None:
    for child in value:
        if isinstance(child.tag, str) and etree.QName(child).localname == local:
            return child
    return None


def read_roles(values: dict[str, list[etree._Element]]) -> tuple[VihfRole, ...]:
    """Each role value is an HL7 v3 ``<Role code codeSystem displayName xsi:type="CE"/>`` (generate-VIHF
    ``org/hl7/v3/Role.java``; ANS TLSi kit ``Role.getXmlElement``)."""
    elements = values.get(ROLE) or []
    if not elements:
        raise missing(ROLE)
    roles = []
    for value in elements:
        role = _coded(value, "Role")
        if role is None or not role.get("code") or not role.get("codeSystem"):
            raise invalid("role.shape", "Chaque valeur de subject:role doit être un élément Role (code, codeSystem)",
                          "each subject:role value must be an HL7 v3 Role element with code and codeSystem")
        roles.append(VihfRole(role.get("code", ""), role.get("codeSystem", ""), role.get("displayName")))
    return tuple(roles)


def check_roles(roles: tuple[VihfRole, ...]) -> None:
    """JDV_J65-SubjectRole-DMP: a first role from G15 (or G16, A00), every code known; a doctor (G15 10) also
    carries an R01 specialty (mapping.md)."""
    for role in roles:
        known = (
            (role.code_system == SYSTEM_G15 and role.code in G15_PROFESSIONS)
            or (role.code_system == SYSTEM_G16 and role.code in G15_PROFESSIONS)
            or (role.code_system == SYSTEM_R01 and R01_CODE.fullmatch(role.code) is not None)
            or (role.code_system == SYSTEM_A00 and role.code in A00_CODES)
            or (role.code_system == SYSTEM_G05 and role.code in G05_SECTIONS)
        )
        if not known:
            raise invalid("role.unknown", f"Rôle inconnu dans le VIHF : {role.code}^{role.code_system} "
                          "(JDV_J65-SubjectRole-DMP)",
                          f"unknown VIHF role {role.code}^{role.code_system} (JDV_J65-SubjectRole-DMP: G15 "
                          f"{SYSTEM_G15}, R01 {SYSTEM_R01}, G16, A00)")
    first = roles[0]
    if first.code_system not in (SYSTEM_G15, SYSTEM_G16, SYSTEM_A00):
        raise invalid("role.profession", "Le premier rôle du VIHF doit être une profession (TRE_G15)",
                      f"the VIHF's first role must be a profession (TRE_G15 {SYSTEM_G15}), not {first.code_system}")
    second = {DOCTOR: (SYSTEM_R01,), PHARMACIST: (SYSTEM_G05, SYSTEM_R01)}.get(first.code, ())
    if first.code_system == SYSTEM_G15 and second and not any(r.code_system in second for r in roles[1:]):
        raise invalid("role.specialty", "Un médecin ou un pharmacien porte aussi sa spécialité ou sa section "
                      "(TRE_R01, TRE_G05) dans le VIHF",
                      f"a doctor's or pharmacist's VIHF carries a second role ({' or '.join(second)})")


def nir_key_ok(value: str) -> bool:
    """The NIR/NIA control key: 97 - (the 13 first digits mod 97), Corsica's 2A/2B read as 19/18."""
    body = value[:13].replace("2A", "19", 1) if value[5:7] == "2A" else value[:13]
    body = body.replace("2B", "18", 1) if value[5:7] == "2B" else body
    return 97 - int(body) % 97 == int(value[13:])


def read_resource_id(text: str) -> tuple[str, str]:
    """The patient's INS from the CX ``<NIR>^^^&<oid>&ISO^NH`` (reference/dmp.md §1.1; generate-VIHF)."""
    parts = text.split("^")
    authority = parts[3].split("&") if len(parts) >= 4 else []
    oid = authority[1] if len(authority) >= 3 and authority[2] == "ISO" else ""
    ins = parts[0]
    if not oid or len(parts) > 5 or (len(parts) == 5 and parts[4] not in ("NH", "")):
        raise invalid("resource-id.shape", "resource-id doit être un CX <INS>^^^&<OID>&ISO^NH",
                      "resource-id must be a CX <INS>^^^&<oid>&ISO^NH")
    if oid not in INS_OIDS:
        raise invalid("resource-id.oid", f"resource-id : l'autorité {oid} n'est pas une autorité d'INS",
                      f"resource-id: {oid} is not an INS assigning authority ({', '.join(INS_OIDS)})")
    if INS_VALUE.fullmatch(ins) is None or not nir_key_ok(ins):
        raise invalid("resource-id.ins", "resource-id : le matricule INS est invalide (format ou clé)",
                      "resource-id: the INS is not a valid NIR/NIA (15 characters, control key)")
    return ins, oid


def read_purpose(values: dict[str, list[etree._Element]]) -> rules.AccessMode:
    """``<PurposeOfUse code codeSystem="1.2.250.1.213.1.1.4.248"/>`` (generate-VIHF PurposeOfUse.java), TRE_R248."""
    elements = values.get(PURPOSE_OF_USE) or []
    if not elements:
        raise missing(PURPOSE_OF_USE)
    coded = _coded(elements[0], "PurposeOfUse")
    code = coded.get("code") if coded is not None else None
    system = coded.get("codeSystem") if coded is not None else None
    if code is None or system != rules.ACCESS_MODE_SYSTEM.removeprefix("urn:oid:"):
        raise invalid("purposeofuse.shape",
                      "purposeofuse doit être un PurposeOfUse de TRE_R248 (1.2.250.1.213.1.1.4.248)",
                      "purposeofuse must be a PurposeOfUse element of TRE_R248 (1.2.250.1.213.1.1.4.248)")
    try:
        return rules.AccessMode(code)
    except ValueError:
        raise invalid("purposeofuse.code", f"Mode d'accès inconnu : {code} (normal, bris_de_glace, centre_15)",
                      f"unknown access mode {code!r}: normal, bris_de_glace or centre_15 (TRE_R248)") from None


def _instant(value: str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"conditions.{name}", f"Conditions/@{name} n'est pas un xs:dateTime",
                      f"Conditions/@{name} is not an xs:dateTime") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def check_conditions(assertion: etree._Element, now: dt.datetime) -> dt.datetime | None:
    """``saml2:Conditions`` @NotBefore/@NotOnOrAfter: optional (mapping.md "Facultatif"), checked when sent
    (SAML 2.0 core §2.5.1.2), with a minute of clock skew."""
    conditions = assertion.find(f"{{{NS_SAML2}}}Conditions")
    if conditions is None:
        return None
    not_before = _instant(conditions.get("NotBefore"), "NotBefore")
    not_after = _instant(conditions.get("NotOnOrAfter"), "NotOnOrAfter")
    if not_before is not None and now + CLOCK_SKEW < not_before:
        raise wsse_fault("MessageExpired", "VIHF:conditions.not-yet-valid", "VIHF pas encore valide (NotBefore)",
                     "the VIHF is not valid yet (Conditions/@NotBefore)")
    if not_after is not None and now - CLOCK_SKEW >= not_after:
        raise wsse_fault("MessageExpired", "VIHF:conditions.expired", "VIHF expiré (NotOnOrAfter dépassé)",
                     "the VIHF has expired (Conditions/@NotOnOrAfter)")
    return not_after


def read(assertion: etree._Element, *, now: dt.datetime) -> Vihf:
    """Every attribute of ``assertion`` read and checked (the signature apart)."""
    issuer = (assertion.findtext(f"{{{NS_SAML2}}}Issuer") or "").strip()
    name_id = (assertion.findtext(f"{{{NS_SAML2}}}Subject/{{{NS_SAML2}}}NameID") or "").strip()
    if not issuer:
        raise missing("saml2:Issuer")
    if not name_id:
        raise missing("saml2:Subject/saml2:NameID")
    values = _values(assertion)
    version = _text(values, VERSION) or ""
    if version not in VERSIONS:
        raise invalid("version", f"VIHF_Version {version} non prise en charge (3.0, 4.0)",
                      f"VIHF_Version {version!r} is not 3.0 or 4.0")
    mode = _text(values, AUTHENTICATION_MODE) or ""
    if mode not in MODES:
        raise invalid("authentication-mode", f"Authentification_Mode {mode} inconnu (DIRECTE, INDIRECTE)",
                      f"unknown Authentification_Mode {mode!r}: {', '.join(MODES)}")
    sector = _text(values, SECTOR) or ""
    if SECTOR_VALUE.fullmatch(sector) is None:
        raise invalid("sector", "Secteur_Activite doit s'écrire <code>^<OID> (ex. SA07^1.2.250.1.71.4.2.4)",
                      "Secteur_Activite must read <code>^<oid>, e.g. SA07^1.2.250.1.71.4.2.4")
    roles = read_roles(values)
    check_roles(roles)
    ins, oid = read_resource_id(_text(values, RESOURCE_ID) or "")
    resource_urn = _text(values, RESOURCE_URN)
    if resource_urn != RESOURCE_URN_DMP:
        raise invalid("resource-urn", "Ressource_URN doit valoir urn:dmp", "Ressource_URN must be urn:dmp")
    not_after = check_conditions(assertion, now)
    return Vihf(
        version=version, issuer=issuer, name_id=name_id, subject_name=_text(values, SUBJECT_ID) or "",
        roles=roles, structure_id=_text(values, STRUCTURE), sector=sector, authentication_mode=mode,
        access_mode=read_purpose(values), patient_ins=ins, patient_oid=oid, resource_urn=resource_urn,
        lps_name=_text(values, LPS_NAME), lps_version=_text(values, LPS_VERSION),
        lps_approval=_text(values, LPS_APPROVAL), lps_id=_text(values, LPS_ID, required=False),
        confidentiality=_confidentiality(values), access_reason=_text(values, ACCESS_REASON, required=False),
        attributes={name: tuple(_as_sent(v) for v in found) for name, found in values.items()},
        not_on_or_after=not_after,
    )


def _as_sent(value: etree._Element) -> str:
    """An attribute value as text: its text, or its coded element serialised (Role, PurposeOfUse)."""
    text = "".join(value.itertext()).strip()
    if text or not len(value):
        return text
    return etree.tostring(value[0], with_tail=False).decode()


def _confidentiality(values: dict[str, list[etree._Element]]) -> str | None:
    elements = values.get(CONFIDENTIALITY) or []
    if not elements:
        return None
    coded = _coded(elements[0], "ConfidentialityCode")
    return (coded.get("code") if coded is not None else None) or "".join(elements[0].itertext()).strip() or None
