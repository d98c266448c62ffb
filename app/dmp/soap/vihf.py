"""The VIHF: the signed SAML 2 assertion in ``wsse:Security`` every DMPi call carries (reference/dmp.md §1.1).

Reading and checking it (every required attribute, consistency, the XML signature against certificates the
sandbox's test CA issued), turning it into the :class:`~app.dmp.context.AccessContext` the service reads,
and issuing signed ones for harnesses (control API ``POST /sandbox/v1/dmps/vihf``, CLI ``segur-sandbox vihf``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.dmp import rules


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
