"""The VIHF: the signed SAML 2 assertion in ``wsse:Security`` every DMPi call carries (reference/dmp.md §1.1).

Reading and checking it (every required attribute, consistency, the XML signature against certificates the
sandbox's test CA issued), turning it into the :class:`~app.dmp.context.AccessContext` the service reads,
and issuing signed ones for harnesses (:mod:`.vihf_issue`: control API ``POST /sandbox/v1/dmps/vihf``, CLI
``segur-sandbox vihf``).

Sources for the attributes and their shapes: reference/dmp.md §1.1 and §2.5; ANS generate-VIHF
(``prosanteconnect/generate-VIHF`` ``src/main/java/fr/ans/psc/VihfBuilder.java``, ``utils/Constants.java``,
``org/hl7/v3/PurposeOfUse.java``, ``src/main/resources/JDV_J65-SubjectRole-DMP.xml``); the ANS mapping table
"Mapping VIHF pour le DMP" (``ansforge/IG-hl7v2-volet-transmission-document-cda-r2``
``input/pagecontent/mapping.md``: Conditions/@NotBefore and @NotOnOrAfter optional, VIHF_Version 4.0,
Issuer = the DN of the structure's seal certificate that signs the assertion).

Faults: no public source gives the DMP's own fault codes for a refused VIHF, so the sandbox answers with the
standard WS-Security 1.0 fault subcodes (OASIS WSS SOAP Message Security 1.0, §12, in the ``wsse`` namespace):
``InvalidSecurity`` (no usable ``wsse:Security``/assertion), ``InvalidSecurityToken`` (a missing or
inconsistent attribute), ``FailedCheck`` (the signature), ``FailedAuthentication`` (unknown professional, the
PSC token's professional, the structure's certificate), ``MessageExpired`` (Conditions). The journal's rule
(``VIHF:<what>``) says which check refused; docs/dmp.md lists them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from lxml import etree

from app.dmp import rules
from app.dmp.context import AccessContext
from app.dmp.soap import xmldsig
from app.dmp.soap.faults import SoapFault
from app.dmp.soap.namespaces import NS_SAML2, NS_WSSE
from app.shared.identifiers import INS_OIDS
from app.shared.professional import Professional

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.config import Settings
    from app.dmp.soap.call import SoapRequest

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

# Role code systems (JDV_J65-SubjectRole-DMP, generate-VIHF's copy; mapping.md "1re occurrence ... 2e").
SYSTEM_G15 = "1.2.250.1.71.1.2.7"  # TRE_G15-ProfessionSante
SYSTEM_G16 = "1.2.250.1.71.1.2.8"  # TRE_G16-ProfessionFormation (students' CPF cards)
SYSTEM_R01 = "1.2.250.1.71.4.2.5"  # TRE_R01-EnsembleSavoirFaire-CISIS
SYSTEM_A00 = "1.2.250.1.213.1.1.4.6"  # TRE_A00-ProducteurDocNonPS (AUTOMATE, SECRETARIAT_MEDICAL, ...)
# Every TRE_G15 profession of JDV_J65-SubjectRole-DMP (generate-VIHF resources, dateMaj 20200424).
G15_PROFESSIONS = {
    "10": "Médecin", "21": "Pharmacien", "26": "Audioprothésiste", "28": "Opticien-Lunetier",
    "31": "Assistant dentaire", "32": "Physicien médical", "35": "Aide-soignant", "36": "Ambulancier",
    "37": "Auxiliaire de puériculture", "38": "Préparateur en pharmacie hospitalière",
    "39": "Préparateur en pharmacie (officine)", "40": "Chirurgien-Dentiste", "50": "Sage-Femme", "60": "Infirmier",
    "69": "Infirmier psychiatrique", "70": "Masseur-Kinésithérapeute", "80": "Pédicure-Podologue",
    "81": "Orthoprothésiste", "82": "Podo-Orthésiste", "83": "Orthopédiste-Orthésiste", "84": "Oculariste",
    "85": "Epithésiste", "86": "Technicien de laboratoire médical", "91": "Orthophoniste", "92": "Orthoptiste",
    "94": "Ergothérapeute", "95": "Diététicien", "96": "Psychomotricien", "98": "Manipulateur ERM",
}
A00_CODES = ("ALIM_AM", "DISPOSITIF", "EXP_PATIENT", "SECRETARIAT_MEDICAL", "AUTOMATE")
# TRE_R01 codes in JDV_J65 are a family prefix and a number: SM26, SCH37, SCD01, PAC00, CEX22, SI01, C07,
# CAPA01, DSM200, ... (generate-VIHF's copy of the value set).
R01_CODE = re.compile(r"(?:SM|SCH|SCD|PAC|CEX|SI|C|CAPA|DSM|DSP|PH|DE|FQ|CES)\d{2,3}")
DOCTOR = "10"  # mapping.md: "2e occurrence uniquement et obligatoirement pour les médecins et pharmaciens"
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


def _fault(subcode: str, rule: str, reason: str, english: str) -> SoapFault:
    """A Sender fault with a WS-Security 1.0 subcode; ``reason`` in French (as the DMP answers), the English
    text as detail (journal and logs: never the assertion itself)."""
    return SoapFault(code="Sender", subcode=subcode, reason=reason, rule=rule, detail=english, subcode_ns=NS_WSSE)


def invalid(rule: str, reason: str, english: str) -> SoapFault:
    return _fault("InvalidSecurityToken", f"VIHF:{rule}", reason, english)


def missing(name: str) -> SoapFault:
    return invalid(f"attribute.missing:{name}", f"VIHF incomplet : l'attribut {name} est absent ou vide",
                   f"the VIHF lacks the attribute {name} (or it is empty)")


def find_assertion(security: etree._Element | None) -> etree._Element:
    """The ``saml2:Assertion`` of ``wsse:Security`` (exactly one)."""
    if security is None:
        raise _fault("InvalidSecurity", "VIHF:security.missing",
                     "En-tête wsse:Security absent : le VIHF est obligatoire",
                     "no wsse:Security header: every DMPi call carries a VIHF")
    found = security.findall(f"{{{NS_SAML2}}}Assertion")
    if len(found) != 1:
        raise _fault("InvalidSecurity", "VIHF:assertion.count",
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
    if first.code_system == SYSTEM_G15 and first.code == DOCTOR and not any(
            r.code_system == SYSTEM_R01 for r in roles[1:]):
        raise invalid("role.specialty", "Un médecin porte aussi sa spécialité (TRE_R01) dans le VIHF",
                      f"a doctor's VIHF carries a second role, the specialty (TRE_R01 {SYSTEM_R01})")


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
        raise _fault("MessageExpired", "VIHF:conditions.not-yet-valid", "VIHF pas encore valide (NotBefore)",
                     "the VIHF is not valid yet (Conditions/@NotBefore)")
    if not_after is not None and now - CLOCK_SKEW >= not_after:
        raise _fault("MessageExpired", "VIHF:conditions.expired", "VIHF expiré (NotOnOrAfter dépassé)",
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


# --- authentication ----------------------------------------------------------------------------------------

_CA_CACHE: dict[str, bytes] = {}  # database URL -> the sandbox CA's certificate (created once, never changes)


async def sandbox_ca_certificate(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> bytes:
    """The sandbox's test CA certificate (the MSSanté one: :func:`app.mss.service.sandbox_ca`), read once."""
    cached = _CA_CACHE.get(settings.database_url)
    if cached is None:
        from app.mss import service as mss_service

        cached, _ = await mss_service.sandbox_ca(sessionmaker)
        _CA_CACHE[settings.database_url] = cached
    return cached


def _signature_fault(error: xmldsig.SignatureRefused) -> SoapFault:
    return _fault("FailedCheck", error.rule, error.french, str(error))


def _failed(rule: str, reason: str, english: str) -> SoapFault:
    return _fault("FailedAuthentication", f"VIHF:{rule}", reason, english)


def check_issuer(vihf: Vihf, signer_dn: str) -> None:
    """saml2:Issuer is the DN of the certificate that signs the assertion (mapping.md: "DN du certificat de
    cachet utilisé pour signer l'assertion")."""
    if not xmldsig.same_dn(vihf.issuer, signer_dn):
        raise invalid("issuer", "saml2:Issuer doit être le DN du certificat qui signe le VIHF",
                      f"saml2:Issuer {vihf.issuer!r} is not the DN of the signing certificate ({signer_dn})")


def check_structure_certificate(vihf: Vihf, client_subject: str | None) -> None:
    """INDIRECTE: the structure authenticates with its certificate (TLS client certificate, or the transport's
    documented header stand-in), and that certificate is the one the VIHF names as its Issuer: "Le DN des
    certificats d'authentification client et de signature présentés au DMP (ils doivent être identiques)"
    (prosanteconnect/generate-VIHF README.adoc)."""
    if vihf.authentication_mode == DIRECT:
        return
    if not client_subject:
        raise _failed("structure.certificate-missing",
                      "Authentification INDIRECTE : le certificat de la structure (TLS client) est absent",
                      "INDIRECTE authentication needs the structure's certificate (TLS client certificate)")
    if not xmldsig.same_dn(client_subject, vihf.issuer):
        raise _failed("structure.certificate-mismatch",
                      "Le certificat client de la structure ne correspond pas à l'émetteur (Issuer) du VIHF",
                      f"the structure's client certificate ({client_subject}) is not the VIHF's Issuer "
                      f"({vihf.issuer})")


def check_card_holder(vihf: Vihf, signer: xmldsig.Verified) -> None:
    """DIRECTE: the assertion is signed with the professional's own card (CPS): the certificate's CN names
    the NameID (the sandbox's professional certificates: CN = the national identifier; a real CPS CN may add
    ``/<name>`` after it)."""
    if vihf.authentication_mode != DIRECT:
        return
    cn = (xmldsig.common_name(signer.certificate) or "").split("/")[0].strip()
    if cn != vihf.name_id:
        raise _failed("card.holder", "Authentification DIRECTE : le VIHF doit être signé par la carte du "
                      "professionnel (NameID)",
                      f"DIRECTE authentication: the signing certificate (CN {cn!r}) is not the professional's "
                      f"({vihf.name_id})")


def check_profession(vihf: Vihf, professional: Professional) -> None:
    """The VIHF's profession is the professional's own (PSC's ``SubjectRefPro`` ``codeProfession``)."""
    first = vihf.roles[0]
    if first.code_system == SYSTEM_G15 and professional.profession_code and first.code != professional.profession_code:
        raise invalid("role.inconsistent", f"Le rôle {first.code} du VIHF n'est pas la profession du professionnel "
                      f"({professional.profession_code})",
                      f"the VIHF's profession {first.code} is not the professional's ({professional.profession_code})")


async def _token_professional(session: AsyncSession, settings: Settings, token: str, vihf: Vihf) -> Professional:
    """A Pro Santé Connect access token standing in for the signature (ANS generate-VIHF builds an unsigned
    VIHF from the PSC userinfo: "générer un jeton VIHF non signé ... pour une authentification indirecte"):
    the token must be valid and its professional the VIHF's NameID."""
    from app.psc import service as psc_service

    try:
        professional = await psc_service.authenticate_access_token(session, settings, token)
    except psc_service.TokenError as exc:
        raise _failed("psc-token.invalid", "Le jeton d'accès Pro Santé Connect est refusé",
                      f"the Pro Santé Connect access token is refused ({exc.rule})") from None
    if professional.subject_name_id != vihf.name_id:
        raise _failed("psc-token.professional", "Le jeton Pro Santé Connect n'est pas celui du professionnel du VIHF",
                      f"the PSC access token's professional ({professional.subject_name_id}) is not the VIHF's "
                      f"NameID ({vihf.name_id})")
    return professional


async def authenticate(soap: SoapRequest, *, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession],
                       settings: Settings, now: dt.datetime | None = None) -> Vihf:
    """The request's VIHF, checked: its signature (by a certificate of the sandbox's CA; or a PSC access token
    in its place, then it may be unsigned), every attribute, the structure's certificate (INDIRECTE) or the
    card's (DIRECTE), the professional (PSC's). Raises :class:`SoapFault`."""
    from app.psc import service as psc_service

    moment = now or dt.datetime.now(dt.UTC)
    assertion = find_assertion(soap.security)
    has_signature = assertion.find(f"{{{xmldsig.NS_DS}}}Signature") is not None
    verified: xmldsig.Verified | None = None
    if has_signature or not soap.bearer_token:
        try:
            verified = xmldsig.verify_assertion(assertion, await sandbox_ca_certificate(sessionmaker, settings),
                                                now=moment)
        except xmldsig.SignatureRefused as error:
            raise _signature_fault(error) from None
        assertion = verified.signed  # read what the signature covers, nothing else
    vihf = read(assertion, now=moment)
    if verified is not None:
        check_issuer(vihf, verified.signer_dn)
        check_card_holder(vihf, verified)
    check_structure_certificate(vihf, soap.client_certificate_subject)
    if soap.bearer_token:
        professional = await _token_professional(session, settings, soap.bearer_token, vihf)
    else:
        found = await psc_service.get_professional(session, subject_name_id=vihf.name_id)
        if found is None:
            raise _failed("professional.unknown", f"Professionnel inconnu : {vihf.name_id}",
                          f"no professional {vihf.name_id!r} (NameID) among Pro Santé Connect's")
        professional = found
    check_profession(vihf, professional)
    return replace(vihf, professional=professional,
                   signer=verified.signer_dn if verified is not None else None)


def access_context(vihf: Vihf) -> AccessContext:
    """What the service reads of a checked VIHF: the professional, the access mode (purposeofuse), the reason."""
    if vihf.professional is None:
        raise ValueError("access_context needs a VIHF checked by authenticate()")
    return AccessContext(professional=vihf.professional, mode=vihf.access_mode, reason=vihf.access_reason)


__all__ = ["Vihf", "VihfRole", "access_context", "authenticate", "find_assertion", "read"]
