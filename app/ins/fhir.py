"""FR Core ``Patient`` (profile ``fr-core-patient-ins``) built from an INSi result. Pure.

Sources: Interop-Sante/hl7.fhir.fr.core ``input/fsh/profiles/FRCorePatientINSProfile.fsh`` (identifier slices,
``name[officialName].given`` 1..1 = first prénom of the INSi list, ``birth-list-given-name`` 1..1, birthPlace with
``inseeCode``), ``extensions/FRCorePatientIdentityReliabilityExtension.fsh`` (sub-extensions ``identityStatus``,
``methodCollection``, ``dateInterrogationINSi``, ``validationDate``, ``validationMode``), code systems
``fr-core-cs-identity-status`` (PROV/RECUP/VALI/QUAL) and the older ``fr-core-cs-v2-0445`` (reference §3.4).

The dict is built by hand (fast enough for the search hot path); tests validate it with
``fhir.resources.R4B.patient.Patient``.
"""

from __future__ import annotations

from typing import Literal

from app.ins import traits
from app.ins.search import InsRecord, PersonRecord
from app.shared.identifiers import OID_CATALOGUE

CORE = "https://hl7.fr/ig/fhir/core"
PROFILE_PATIENT_INS = f"{CORE}/StructureDefinition/fr-core-patient-ins"
EXT_RELIABILITY = f"{CORE}/StructureDefinition/fr-core-identity-reliability"
EXT_BIRTH_LIST = f"{CORE}/StructureDefinition/fr-core-patient-birth-list-given-name"
EXT_INSEE = f"{CORE}/StructureDefinition/fr-core-address-insee-code"
EXT_BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
CS_IDENTIFIER_TYPE = f"{CORE}/CodeSystem/fr-core-cs-v2-0203"
CS_STATUS = f"{CORE}/CodeSystem/fr-core-cs-identity-status"
CS_STATUS_OLD = f"{CORE}/CodeSystem/fr-core-cs-v2-0445"
CS_METHOD = f"{CORE}/CodeSystem/fr-core-cs-method-collection"
CS_VALIDATION_MODE = f"{CORE}/CodeSystem/fr-core-cs-mode-validation-identity"
CS_INSEE_COMMUNE = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"

STATUS_DISPLAY = {
    "PROV": "Identité provisoire",
    "RECUP": "Identité récupérée",
    "VALI": "Identité validée",
    "QUAL": "Identité qualifiée",
}
# Older code system, where VALI meant "qualified" (FR Core 2.x invariants fr-core-1/2). RECUP and the new
# VALI have no counterpart there: both map to PROV (document this mapping; reference §3.4, §6.6).
OLD_STATUS = {"PROV": "PROV", "RECUP": "PROV", "VALI": "PROV", "QUAL": "VALI"}
OLD_DISPLAY = {"PROV": "Identité provisoire", "VALI": "Identité validée"}

StatusSystem = Literal["new", "old"]


def identifier(rec: InsRecord, oid: str, *, historical: bool = False) -> dict:
    info = OID_CATALOGUE[oid]
    use = "old" if historical else info.use
    return {
        "use": use,
        "type": {"coding": [{"system": CS_IDENTIFIER_TYPE, "code": info.type_code}]},
        "system": f"urn:oid:{oid}",
        "value": rec.ins,
    }


def patient(
    person: PersonRecord,
    oid_of,
    *,
    status: str = "RECUP",
    status_system: StatusSystem = "new",
    method: str = "INSI",
    date_insi: str | None = None,
    validation_mode: str | None = None,
    validation_date: str | None = None,
    id: str | None = None,
) -> dict:
    """``oid_of(InsRecord) -> str`` applies the OID policy. ``status`` is the RNIV status of the identity the
    caller holds after this INSi answer (``RECUP`` for a bare INSi ``00``)."""
    reliability: list[dict] = []
    if status_system == "new":
        coding = {"system": CS_STATUS, "code": status, "display": STATUS_DISPLAY[status]}
    else:
        old = OLD_STATUS[status]
        coding = {"system": CS_STATUS_OLD, "code": old, "display": OLD_DISPLAY[old]}
    reliability.append({"url": "identityStatus", "valueCoding": coding})
    reliability.append({"url": "methodCollection", "valueCoding": {"system": CS_METHOD, "code": method}})
    if date_insi:
        reliability.append({"url": "dateInterrogationINSi", "valueDate": date_insi})
    if validation_mode:
        reliability.append({"url": "validationMode",
                            "valueCoding": {"system": CS_VALIDATION_MODE, "code": validation_mode}})
    if validation_date:
        reliability.append({"url": "validationDate", "valueDate": validation_date})

    identifiers = []
    if person.ins_actif is not None:
        identifiers.append(identifier(person.ins_actif, oid_of(person.ins_actif)))
    seen = {person.ins_actif.ins} if person.ins_actif else set()
    for h in person.ins_histo:
        if h.ins in seen:
            continue  # CORSE: the active INS is repeated in INSHISTO
        seen.add(h.ins)
        identifiers.append(identifier(h, oid_of(h), historical=True))

    birth = traits.parse_lunar_date(person.date_naissance)
    res: dict = {
        "resourceType": "Patient",
        "meta": {"profile": [PROFILE_PATIENT_INS]},
        "extension": [{"url": EXT_RELIABILITY, "extension": reliability}],
        "identifier": identifiers,
        "name": [{
            "extension": [{"url": EXT_BIRTH_LIST, "valueString": person.liste_prenom}],
            "use": "official",
            "family": person.nom_naissance,
            "given": [person.first_prenom],
        }],
        "gender": {"M": "male", "F": "female"}.get(person.sexe, "unknown"),
        "birthDate": birth.fhir,
    }
    if id:
        res["id"] = id
    if person.lieu_naissance:
        res["extension"].append({
            "url": EXT_BIRTH_PLACE,
            "valueAddress": {"extension": [{"url": EXT_INSEE, "valueCoding": {
                "system": CS_INSEE_COMMUNE, "code": person.lieu_naissance}}]},
        })
    return res
