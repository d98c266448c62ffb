"""Issuing VIHFs and signing certificates for harnesses (control API ``POST /sandbox/v1/dmps/vihf`` and
``/vihf-certificates``, CLI ``segur-sandbox vihf``): a vendor needs a signed VIHF for a test professional to
start, and a certificate of the sandbox's CA to sign its own.

The assertion is built in the shape public VIHF builders send (prosanteconnect/generate-VIHF
``VihfBuilder.java``: Issuer in X509SubjectName format, Subject/NameID, AuthnStatement, one AttributeStatement
with the attributes of reference/dmp.md §1.1, HL7 v3 ``Role`` and ``PurposeOfUse`` values of ``xsi:type`` CE)
plus ``saml2:Conditions`` NotBefore/NotOnOrAfter, and signed (:func:`.xmldsig.sign_assertion`) with:
INDIRECTE, the sandbox's structure certificate (one, created once in the store, as MSS keeps its keys);
DIRECTE, a card certificate of the professional (CN = the NameID, created once per professional); each marked
with its kind's certificate policy (:data:`.xmldsig.POLICY_STRUCTURE`, :data:`.xmldsig.POLICY_CARD`), which
the VIHF check requires.
Neither the assertion nor a key is ever journaled or logged (the journal never records bodies).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from typing import TYPE_CHECKING, Any, Literal

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from app.dmp import rules
from app.dmp.soap import vihf_read, xmldsig
from app.dmp.soap.namespaces import NS_SAML2, NS_XSI
from app.shared.identifiers import OID_INS_NIR_TEST
from app.shared.professional import Professional

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SANDBOX_SIGNER = "Segur Sandbox structure (VIHF signer, test)"
SANDBOX_ORGANIZATION = "Segur Sandbox"
X509_SUBJECT_NAME = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
# AuthnContextClassRef: SmartcardPKI for a CPS card, Password otherwise (ANS TLSi kit ``VihfBase``).
AUTHN_SMARTCARD = "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI"
AUTHN_PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
ACCESS_DISPLAY = {"normal": "Accès normal", "bris_de_glace": "Accès en mode bris de glace",
                  "centre_15": "Accès en mode centre de régulation"}


class VihfRequest(BaseModel):
    """What a harness asks for (every field but the professional and the patient has a default)."""

    model_config = ConfigDict(extra="forbid")

    subject_name_id: str = Field(min_length=1, max_length=64, description="the professional's NameID (8 + RPPS)")
    patient_ins: str = Field(min_length=15, max_length=15, description="the patient's INS (NIR/NIA)")
    patient_oid: str | None = Field(None, description="default: the DMP's INS OID, else the test NIR OID")
    access_mode: rules.AccessMode = rules.AccessMode.NORMAL
    access_reason: str | None = Field(None, max_length=500)
    authentication_mode: Literal["INDIRECTE", "DIRECTE"] = "INDIRECTE"
    structure_id: str | None = Field(None, max_length=64, description="default: the professional's structure")
    sector: str = Field("SA07^1.2.250.1.71.4.2.4", max_length=64)
    lps_name: str = Field("SEGUR-SANDBOX-HARNESS", max_length=100)
    lps_version: str = Field("1.0", max_length=50)
    lps_approval: str = Field("SANDBOX-0000", max_length=50)
    validity_seconds: int = Field(3600, ge=60, le=24 * 3600)


class CertificateRequest(BaseModel):
    """A signing certificate for a vendor who signs its own VIHFs: ``structure`` (INDIRECTE: signs the VIHF and
    is presented as the TLS client certificate) or ``card`` (DIRECTE: a professional's card, CN = the NameID)."""

    model_config = ConfigDict(extra="forbid")

    kind: xmldsig.CertificateKind = Field("structure", description="structure (INDIRECTE) or card (DIRECTE)")
    common_name: str = Field(min_length=1, max_length=64, description="card: the professional's NameID")
    organization: str | None = Field(None, max_length=64)
    organizational_unit: str | None = Field(None, max_length=64, description="e.g. the structure's identifier")
    validity_days: int = Field(365, ge=1, le=3650)


def _saml(parent: etree._Element | None, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    tag = f"{{{NS_SAML2}}}{name}"
    element = etree.Element(tag, nsmap={"saml2": NS_SAML2}) if parent is None else etree.SubElement(parent, tag)
    for key, value in attrs.items():
        element.set(key, value)
    if text is not None:
        element.text = text
    return element


def _attribute(statement: etree._Element, name: str, *values: str | etree._Element) -> None:
    attribute = _saml(statement, "Attribute", Name=name)
    for value in values:
        holder = _saml(attribute, "AttributeValue")
        if isinstance(value, str):
            holder.text = value
        else:
            holder.append(value)


def _coded(local: str, code: str, system: str, display: str | None) -> etree._Element:
    element = etree.Element(f"{{{vihf_read.NS_HL7}}}{local}", nsmap={None: vihf_read.NS_HL7, "xsi": NS_XSI})
    element.set(f"{{{NS_XSI}}}type", "CE")
    element.set("code", code)
    element.set("codeSystem", system)
    if display:
        element.set("displayName", display)
    return element


def _xs(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def professional_roles(professional: Professional) -> list[vihf_read.VihfRole]:
    """The roles a VIHF gives this professional: the G15 profession, the R01 specialty, a pharmacist's G05
    section (PSC ``SubjectRefPro.exercices[0]``: ``codeProfession``, ``codeSavoirFaire``, the activities'
    ``codeSectionPharmacien``)."""
    exercices = professional.userinfo.get("SubjectRefPro", {}).get("exercices", [])
    first = exercices[0] if exercices else {}
    profession = professional.profession_code or str(first.get("codeProfession", ""))
    roles = [vihf_read.VihfRole(profession, vihf_read.SYSTEM_G15, vihf_read.G15_PROFESSIONS.get(profession))]
    specialty = str(first.get("codeSavoirFaire") or "")
    if specialty and vihf_read.R01_CODE.fullmatch(specialty):
        roles.append(vihf_read.VihfRole(specialty, vihf_read.SYSTEM_R01, None))
    elif profession == vihf_read.DOCTOR:  # a doctor always carries one (mapping.md): general practice by default
        roles.append(vihf_read.VihfRole("SM26", vihf_read.SYSTEM_R01, "Qualifié en médecine générale (SM)"))
    sections = [a.get("codeSectionPharmacien") for a in first.get("activities", []) if a.get("codeSectionPharmacien")]
    if profession == vihf_read.PHARMACIST and sections and sections[0] in vihf_read.G05_SECTIONS:
        roles.append(vihf_read.VihfRole(str(sections[0]), vihf_read.SYSTEM_G05, None))
    return roles


def build_assertion(request: VihfRequest, professional: Professional, *, issuer: str, patient_oid: str,
                    structure_id: str, now: dt.datetime) -> etree._Element:
    """An unsigned VIHF for ``professional``, in generate-VIHF's shape."""
    assertion = _saml(None, "Assertion", ID=f"_{uuid.uuid4()}", IssueInstant=_xs(now), Version="2.0")
    _saml(assertion, "Issuer", issuer, Format=X509_SUBJECT_NAME)
    _saml(_saml(assertion, "Subject"), "NameID", professional.subject_name_id)
    _saml(assertion, "Conditions", NotBefore=_xs(now - dt.timedelta(seconds=60)),
          NotOnOrAfter=_xs(now + dt.timedelta(seconds=request.validity_seconds)))
    authn = _saml(assertion, "AuthnStatement", AuthnInstant=_xs(now))
    _saml(_saml(authn, "AuthnContext"), "AuthnContextClassRef",
          AUTHN_SMARTCARD if request.authentication_mode == vihf_read.DIRECT else AUTHN_PASSWORD)
    statement = _saml(assertion, "AttributeStatement")
    _attribute(statement, vihf_read.STRUCTURE, structure_id)
    _attribute(statement, vihf_read.SECTOR, request.sector)
    name = f"{professional.family_name} {professional.given_name}".strip() or professional.subject_name_id
    _attribute(statement, vihf_read.SUBJECT_ID, name)
    _attribute(statement, vihf_read.ROLE, *(_coded("Role", r.code, r.code_system, r.display)
                                       for r in professional_roles(professional)))
    _attribute(statement, vihf_read.VERSION, "3.0")
    _attribute(statement, vihf_read.AUTHENTICATION_MODE, request.authentication_mode)
    _attribute(statement, vihf_read.RESOURCE_ID, f"{request.patient_ins}^^^&{patient_oid}&ISO^NH")
    _attribute(statement, vihf_read.RESOURCE_URN, vihf_read.RESOURCE_URN_DMP)
    purpose = _coded("PurposeOfUse", request.access_mode.value, rules.ACCESS_MODE_SYSTEM.removeprefix("urn:oid:"),
                     ACCESS_DISPLAY[request.access_mode.value])
    _attribute(statement, vihf_read.PURPOSE_OF_USE, purpose)
    if request.access_reason:
        _attribute(statement, vihf_read.ACCESS_REASON, request.access_reason)
    _attribute(statement, vihf_read.LPS_NAME, request.lps_name)
    _attribute(statement, vihf_read.LPS_VERSION, request.lps_version)
    _attribute(statement, vihf_read.LPS_APPROVAL, request.lps_approval)
    return assertion


async def _issued_pair(sessionmaker: async_sessionmaker[AsyncSession], name: str, kind: xmldsig.CertificateKind,
                       common_name: str, organization: str | None) -> tuple[bytes, bytes]:
    """A signing certificate of the sandbox's CA kept in the store under ``name`` (created once)."""
    from app.mss import service as mss_service

    ca_cert, ca_key = await mss_service.sandbox_ca(sessionmaker)

    async def generate() -> tuple[bytes, bytes]:
        return await asyncio.to_thread(xmldsig.issue_signing_certificate, ca_cert, ca_key, kind=kind,
                                       common_name=common_name, organization=organization)

    return await mss_service.shared_tls_key(sessionmaker, generate, name=name)


async def signer_for(sessionmaker: async_sessionmaker[AsyncSession], request: VihfRequest) -> tuple[bytes, bytes]:
    """INDIRECTE: the sandbox structure's certificate; DIRECTE: the professional's card (CN = NameID). Stored
    under names of their own ("-p": with the policies; a pair stored before them, without, is never used)."""
    if request.authentication_mode == vihf_read.DIRECT:
        key_name = "dmp-vihf-card-p:" + hashlib.sha256(request.subject_name_id.encode()).hexdigest()[:16]  # <= 32
        return await _issued_pair(sessionmaker, key_name, "card", request.subject_name_id, SANDBOX_ORGANIZATION)
    return await _issued_pair(sessionmaker, "dmp-vihf-structure-p", "structure", SANDBOX_SIGNER,
                              SANDBOX_ORGANIZATION)


async def issue(session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], request: VihfRequest, *,
                record_oid: str | None) -> dict[str, Any]:
    """A signed VIHF (the 201 body of ``POST /sandbox/v1/dmps/vihf``), or :class:`LookupError` when the
    professional is unknown."""
    from app.psc import service as psc_service

    professional = await psc_service.get_professional(session, subject_name_id=request.subject_name_id)
    if professional is None:
        raise LookupError(request.subject_name_id)
    cert_pem, key_pem = await signer_for(sessionmaker, request)
    issuer = xmldsig.certificate_dn(cert_pem)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    activities = professional.activities
    structure = request.structure_id or professional.userinfo.get("SubjectOrganizationID") or (
        activities[0].get("identifiantTechniqueDeLaStructure") if activities else None) or "SANDBOX-STRUCTURE"
    assertion = build_assertion(request, professional, issuer=issuer,
                                patient_oid=request.patient_oid or record_oid or OID_INS_NIR_TEST,
                                structure_id=structure, now=now)
    signed = await asyncio.to_thread(xmldsig.sign_assertion, assertion, cert_pem, key_pem)
    return {
        "assertion": etree.tostring(signed, encoding="unicode"),
        "not_on_or_after": _xs(now + dt.timedelta(seconds=request.validity_seconds)),
        "issuer": issuer,
        "authentication_mode": request.authentication_mode,
        # INDIRECTE: present this subject as the structure's client certificate (TLS, or the transport's header)
        "client_certificate_subject": issuer if request.authentication_mode != vihf_read.DIRECT else None,
    }


async def issue_certificate(sessionmaker: async_sessionmaker[AsyncSession], request: CertificateRequest
                            ) -> dict[str, str]:
    """A fresh signing certificate + key of the sandbox's CA (201 body of ``/vihf-certificates``)."""
    from app.mss import service as mss_service

    ca_cert, ca_key = await mss_service.sandbox_ca(sessionmaker)
    cert_pem, key_pem = await asyncio.to_thread(
        xmldsig.issue_signing_certificate, ca_cert, ca_key, kind=request.kind, common_name=request.common_name,
        organization=request.organization, unit=request.organizational_unit, days=request.validity_days)
    return {"certificate": cert_pem.decode(), "private_key": key_pem.decode(), "ca_certificate": ca_cert.decode(),
            "subject": xmldsig.certificate_dn(cert_pem)}
