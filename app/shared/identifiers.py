"""The INS assigning authorities (OIDs): one catalogue for every domain. Pure data.

INSi answers, DMP metadata (PDSm ``Patient.identifier``, XDS ``patientId``), CDA headers and XDM
``METADATA.XML`` all name a patient's INS with one of these OIDs. The rules about them (which one an INSi
answer carries, which are refused) stay in :mod:`app.ins.nir`.

Sources: FR Core ``FRCorePatientINSProfile.fsh`` / ``FRCoreCodeSystemv2-0203.fsh`` (type codes),
reference ``ins.md`` §2.3 and ``dmp.md`` §0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OID_INS_NIR = "1.2.250.1.213.1.4.8"
OID_INS_NIA = "1.2.250.1.213.1.4.9"
OID_INS_NIR_TEST = "1.2.250.1.213.1.4.10"
OID_INS_NIR_DEMO = "1.2.250.1.213.1.4.11"
OID_INS_C = "1.2.250.1.213.1.4.2"

IdentifierKind = Literal["NIR", "NIA"]


@dataclass(frozen=True)
class OidInfo:
    oid: str
    kind: Literal["NIR", "NIA", "INS-C"]
    # FR Core identifier type code (fr-core-cs-v2-0203) and FHIR Identifier.use
    type_code: str
    label: str
    use: str
    fictitious: bool = False  # test/demo authority
    legacy: bool = False


OID_CATALOGUE: dict[str, OidInfo] = {
    OID_INS_NIR: OidInfo(OID_INS_NIR, "NIR", "INS-NIR", "INS-NIR (production)", "official"),
    OID_INS_NIA: OidInfo(OID_INS_NIA, "NIA", "INS-NIA", "INS-NIA (numéro identifiant d'attente)", "temp"),
    OID_INS_NIR_TEST: OidInfo(
        OID_INS_NIR_TEST, "NIR", "INS-NIR-TEST", "INS-NIR de test", "official", fictitious=True
    ),
    # .11 is the *demo* NIR authority, not a "test NIA" (FR Core v2-0203).
    OID_INS_NIR_DEMO: OidInfo(
        OID_INS_NIR_DEMO, "NIR", "INS-NIR-DEMO", "INS-NIR de démonstration", "official", fictitious=True
    ),
    OID_INS_C: OidInfo(OID_INS_C, "INS-C", "INS-C", "INS-C (INS calculé, obsolète depuis 2021)", "secondary",
                       legacy=True),
}

INS_OIDS: tuple[str, ...] = tuple(oid for oid, info in OID_CATALOGUE.items() if not info.legacy)
"""The INS OIDs a patient identifier may carry today: NIR .8, NIA .9, test NIR .10, demo NIR .11."""
