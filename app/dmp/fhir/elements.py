"""The FHIR elements a PDSm / MHD submission is read from, without I/O: the patient's INS, dateTimes,
codings (one per CodeableConcept; their value sets are checked in :mod:`app.dmp.codes`), authors, base64
documents, and the R4 structure itself.

Every refusal is a :class:`~app.api.errors.FhirError` naming the element (``expression``), the profile rule
(``rule``) and the IHE XDS error code where one exists (``details_code``), so a vendor sees at once what to
add. Sources: PDSm 3.1.1 (reference/dmp.md §1.2), IHE MHD 4.2.3; XDS error codes: IHE ITI TF-3
Table 4.2.4.1-2.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError

from app.api.errors import FhirError
from app.dmp.exceptions import (
    XDS_METADATA,
    XDS_MISSING_DOCUMENT,
    XDS_UNKNOWN_PATIENT,
)
from app.dmp.fhir import fhircheck
from app.dmp.submission import RPPS_SYSTEM, Code, PatientId
from app.shared.identifiers import INS_OIDS

PDSM = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
PROFILE_BUNDLE = PDSM + "pdsm-comprehensive-provide-document-bundle"
PROFILE_DOCREF = PDSM + "pdsm-comprehensive-document-reference"
PROFILE_SUBMISSIONSET = PDSM + "pdsm-submissionset-comprehensive"
PROFILE_SIMPLIFIED = PDSM + "pdsm-simplified-publish"

def refuse(
    message: str, *, rule: str, expression: str | None = None, details_code: str | None = XDS_METADATA,
    status: int = 400, code: str = "invalid", french: str | None = None,
) -> FhirError:
    """A refusal in English (``message``, logs and journal) and French (``french``, rendered first)."""
    return FhirError(status, code, message, rule=rule, expression=expression, details_code=details_code,
                     french=french)

_PATIENT_QUERY = re.compile(r"^(?:.*/)?Patient\?identifier=(?P<system>[^|]+)\|(?P<value>.+)$")
LOGICAL_REF = re.compile(r"^(?:.*/)?(?P<type>[A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/\d+)?$")


def parse_patient_token(system: str, value: str, *, expression: str) -> PatientId:
    system = system.strip()
    oid = system.removeprefix("urn:oid:")
    if oid not in INS_OIDS:
        raise refuse(
            f"{expression}: the patient identifier system {system!r} is not an INS OID "
            f"(urn:oid:{INS_OIDS[0]} NIR, .9 NIA, .10 test NIR, .11 demo NIR)",
            french=f"{expression} : le système d'identifiant du patient {system!r} n'est pas un OID de l'INS "
                   f"(urn:oid:{INS_OIDS[0]} NIR, .9 NIA, .10 NIR de test, .11 NIR de démonstration)",
            rule="PDSm:subject-INS", expression=expression, details_code=XDS_UNKNOWN_PATIENT, status=400,
        )
    value = value.strip()
    if not re.fullmatch(r"[0-9AB]{15}", value):
        raise refuse(f"{expression}: {value!r} is not a 15-character INS (NIR or NIA with its key)",
                     french=f"{expression} : {value!r} n'est pas un INS de 15 caractères (NIR ou NIA avec sa clé)",
                     rule="PDSm:subject-INS", expression=expression, details_code=XDS_UNKNOWN_PATIENT)
    return PatientId(oid=oid, ins=value)


def patient_from_reference(reference: str | None, *, expression: str, patient_ids: dict[str, PatientId],
                           entry_patient: PatientId | None = None) -> PatientId:
    """``Patient?identifier=urn:oid:...|INS`` (PDSm examples), ``Patient/<id>`` of this sandbox, or (ITI-65)
    the Bundle's Patient entry, when the reference resolves to it (``entry_patient``, its INS)."""
    if entry_patient is not None:
        return entry_patient
    if not reference:
        raise refuse(f"{expression} is required (the patient's INS)",
                     french=f"{expression} est obligatoire (l'INS du patient)", rule="MHD:subject",
                     expression=expression, details_code=XDS_UNKNOWN_PATIENT)
    m = _PATIENT_QUERY.match(reference)
    if m:
        return parse_patient_token(unquote(m.group("system")), unquote(m.group("value")), expression=expression)
    m = LOGICAL_REF.match(reference)
    if m and m.group("type") == "Patient" and m.group("id") in patient_ids:
        return patient_ids[m.group("id")]
    if m and m.group("type") == "Patient" and m.group("id").startswith("ins-"):
        oid_ins = m.group("id").removeprefix("ins-")
        return parse_patient_token("urn:oid:1.2.250.1.213.1.4.8", oid_ins, expression=expression)
    raise refuse(
        f"{expression} {reference!r}: reference the patient as Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|<INS> "
        "or as the Patient/<id> this server returns for the INS",
        french=f"{expression} {reference!r} : désigner le patient par Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|"
               "<INS> ou par le Patient/<id> que ce serveur renvoie pour l'INS",
        rule="PDSm:subject-INS", expression=expression, details_code=XDS_UNKNOWN_PATIENT,
    )


def parse_datetime(value: Any, *, expression: str, rule: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value or "")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise refuse(f"{expression}: {text!r} is not a FHIR dateTime", rule=rule, expression=expression,
                     french=f"{expression} : {text!r} n'est pas une date-heure FHIR (dateTime)") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        parsed.astimezone(UTC)  # stored in UTC: year 1 at +14:00 or year 9999 at -10:00 falls outside
    except OverflowError:
        raise refuse(f"{expression}: {text!r} is outside the years 1-9999 once in UTC", rule=rule,
                     french=f"{expression} : {text!r} sort des années 1 à 9999 une fois ramenée en UTC",
                     expression=expression) from None
    return parsed


def one_coding(cc: Any, *, expression: str, rule: str, required: bool = True,
                profile: DocProfile | None = None) -> Code | None:
    if not cc:
        if required:
            profile = profile or COMPREHENSIVE
            raise refuse(f"{expression} is required by {profile.english}",
                         french=f"{expression} est obligatoire dans {profile.french}", rule=rule,
                         expression=expression)
        return None
    codings = cc.get("coding") if isinstance(cc, dict) else None
    if not codings:
        raise refuse(f"{expression} needs a coding (system + code)", rule=rule, expression=expression,
                     french=f"{expression} doit porter un coding (system + code)")
    coding = codings[0]
    if not coding.get("system") or not coding.get("code"):
        raise refuse(f"{expression}.coding needs both system and code", rule=rule, expression=expression,
                     french=f"{expression}.coding doit porter à la fois system et code")
    return Code(coding["system"], coding["code"], coding.get("display"))


def resolve_contained(resource: dict[str, Any], reference: str | None) -> dict[str, Any] | None:
    if not reference or not reference.startswith("#"):
        return None
    for contained in resource.get("contained") or []:
        if isinstance(contained, dict) and contained.get("id") == reference[1:]:
            return contained
    return None


Lookup = Callable[[str], dict[str, Any] | None]  # a reference -> the Bundle entry's resource it designates


def no_entry(reference: str) -> dict[str, Any] | None:
    return None


def author_info(resource: dict[str, Any], authors: list[Any], lookup: Lookup,
                 *, expression: str) -> tuple[str | None, list[str], list[str]]:
    """The RPPS (``8`` + RPPS under urn:oid:1.2.250.1.71.4.2.1) and names of the document's authors."""
    rpps: str | None = None
    given: list[str] = []
    family: list[str] = []
    for i, author in enumerate(authors):
        ref = author.get("reference") if isinstance(author, dict) else None
        target = resolve_contained(resource, ref) or (lookup(ref) if ref else None)
        if ref and ref.startswith("#") and target is None:
            raise refuse(f"{expression}[{i}] {ref!r} does not match a contained resource",
                         french=f"{expression}[{i}] {ref!r} ne désigne aucune ressource contenue (contained)",
                         rule="PDSm:DocumentReference.author", expression=f"{expression}[{i}]")
        if target is None:
            identifier = author.get("identifier") if isinstance(author, dict) else None
            target = {"identifier": [identifier]} if identifier else {}
        practitioner = target
        if target.get("resourceType") == "PractitionerRole":
            practitioner = resolve_contained(resource, (target.get("practitioner") or {}).get("reference")) or {}
        for identifier in practitioner.get("identifier") or []:
            value = str(identifier.get("value") or "")
            if identifier.get("system") == RPPS_SYSTEM and value and rpps is None:
                rpps = value[1:] if len(value) == 12 and value.startswith("8") else value
        for name in practitioner.get("name") or []:
            family += [name["family"]] if name.get("family") else []
            given += [g for g in name.get("given") or [] if isinstance(g, str)]  # FHIR allows null placeholders
    return rpps, given, family


def decode_binary(data: Any, *, expression: str) -> bytes:
    if not isinstance(data, str) or not data:
        raise refuse(f"{expression}.data is required (base64)", rule="MHD:Binary.data", expression=expression,
                     french=f"{expression}.data est obligatoire (le document en base64)",
                     details_code=XDS_MISSING_DOCUMENT)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        try:
            return base64.b64decode("".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            raise refuse(f"{expression}.data is not valid base64", rule="FHIR:base64Binary",
                         french=f"{expression}.data n'est pas du base64 valide", expression=expression) from None


def fhir_validate(resource_type: str, body: dict[str, Any], *, expression: str, fast: bool) -> None:
    """Structural validation with fhir.resources (R4 4.0.1): unknown elements, wrong types, cardinalities.

    Fast path (``fast``: ``settings.fast_paths``): the walk of :mod:`.fhircheck` over the models' field
    tables first, which only ever accepts what the models accept; the plain path builds the models."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(resource_type)
    except KeyError:
        raise refuse(f"{expression}: unknown resourceType {resource_type!r}", rule="FHIR:resourceType",
                     french=f"{expression} : resourceType {resource_type!r} inconnu",
                     expression=expression, details_code=None) from None
    if fast and fhircheck.accepts(model, body):
        return  # the fast walk vouches for it: fhir.resources would accept it too (and it is not too deep)
    if fhircheck.deeper_than(body):
        # fhir.resources would exhaust Python's recursion limit (a 500), and orjson cannot store or render
        # beyond 255 levels: the depth is refused up front, before either is reached.
        raise refuse(f"{expression} nests JSON objects and arrays more than {fhircheck.MAX_DEPTH} levels deep",
                     french=f"{expression} imbrique objets et tableaux JSON sur plus de {fhircheck.MAX_DEPTH} niveaux",
                     rule="DMP:nesting-depth", expression=expression, details_code=None)
    try:
        model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise refuse(
            f"{expression}: not a valid FHIR R4 {resource_type} ({exc.error_count()} error(s); first at "
            f"{where or 'root'}: {first.get('msg')})",
            french=f"{expression} : ce n'est pas une ressource {resource_type} FHIR R4 valide ({exc.error_count()} "
                   f"erreur(s) ; la première en {where or 'racine'} : {first.get('msg')})",
            rule="FHIR:R4-structure", expression=f"{expression}.{where}" if where else expression, details_code=None,
        ) from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # fhir.resources lets these through on some malformed input (e.g. an unknown or non-string
        # resourceType inside the Bundle): still the client's error, never a 500.
        raise refuse(f"{expression}: not a valid FHIR R4 {resource_type} ({type(exc).__name__} while reading it: "
                     "check every resourceType and the JSON type of each element)",
                     french=f"{expression} : ce n'est pas une ressource {resource_type} FHIR R4 valide "
                            f"({type(exc).__name__} à la lecture : vérifier chaque resourceType et le type JSON de "
                            "chaque élément)",
                     rule="FHIR:R4-structure", expression=expression, details_code=None) from None


def has_profile(resource: dict[str, Any], profile: str) -> bool:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return isinstance(profiles, list) and any(str(p).split("|", 1)[0] == profile for p in profiles)


@dataclass(frozen=True)
class DocProfile:
    """The PDSm profile a DocumentReference is checked against, named in every refusal."""

    id: str
    rule: str  # prefix of the rule ids: "PDSm:" or "PDSm-simplified:"
    english: str
    french: str

    @property
    def url(self) -> str:
        return PDSM + self.id


COMPREHENSIVE = DocProfile("pdsm-comprehensive-document-reference", "PDSm:",
                           "the PDSm comprehensive DocumentReference",
                           "le profil PDSm de fiche de document complète (comprehensive)")
SIMPLIFIED = DocProfile("pdsm-simplified-publish", "PDSm-simplified:",
                        "the PDSm simplified-publish DocumentReference (ITI-105)",
                        "le profil PDSm de publication simplifiée (ITI-105)")

