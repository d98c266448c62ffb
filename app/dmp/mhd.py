"""IHE MHD / PDSm request bodies -> domain objects, without I/O.

:func:`parse_provide_bundle` turns an ITI-65 transaction Bundle into a :class:`Submission`;
:func:`parse_simplified_publish` does the same for an ITI-105 DocumentReference. Every refusal is a
:class:`~app.api.errors.FhirError` naming the element (``expression``), the profile rule (``rule``) and
the IHE XDS error code where one exists (``details_code``), so a vendor sees at once what to add.

Sources: PDSm 3.1.1 profiles ``pdsm-comprehensive-provide-document-bundle``,
``pdsm-comprehensive-document-reference``, ``pdsm-submissionset-comprehensive`` (reference/dmp.md §1.2);
IHE MHD 4.2.3 ITI-65 (atomic, urn:uuid resolution, 400 on a wrong ``Bundle.meta.profile``, Asbestos #228);
PDSm4DMP TD2 / TD2.1 (replacement: ``relatesTo=replaces`` + PATCH entry); CI-SIS value sets (§3).
XDS error codes: IHE ITI TF-3 Table 4.2.4.1-2.

Strict by default, as the comprehensive profile is (the ANS example Bundles are drafts and leave out
hash, size, author...). ``lenient=True`` (``SEGUR_DMP_LENIENT``) turns value-set misses into accepted
codes but keeps every structural rule.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from app.api.errors import FhirError, FhirIssues
from app.dmp import fhircheck, references, simplified
from app.dmp.models import DmpDocument, DmpSubmissionSet
from app.dmp.patch import (
    IS_ARCHIVED_URL,
    MetadataState,
    PatchRefused,
    apply_fhirpath_patch,
    apply_json_patch,
    normalise_label,
)
from app.dmp.uniqueid import unique_id_problem
from app.shared import valuesets
from app.shared.identifiers import INS_OIDS

PDSM = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
PROFILE_BUNDLE = PDSM + "pdsm-comprehensive-provide-document-bundle"
PROFILE_DOCREF = PDSM + "pdsm-comprehensive-document-reference"
PROFILE_SUBMISSIONSET = PDSM + "pdsm-submissionset-comprehensive"
PROFILE_SIMPLIFIED = PDSM + "pdsm-simplified-publish"
MHD_LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
EXT_DESIGNATION_TYPE = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType"
EXT_SOURCE_ID = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId"
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"  # identifiant national PS (8 + RPPS), ANS

XDS_METADATA = "XDSRegistryMetadataError"
XDS_REPOSITORY_METADATA = "XDSRepositoryMetadataError"
XDS_DUPLICATE = "XDSDuplicateUniqueIdInRegistry"
XDS_UNKNOWN_PATIENT = "XDSUnknownPatientId"
XDS_PATIENT_MISMATCH = "XDSPatientIdDoesNotMatch"
XDS_MISSING_DOCUMENT = "XDSMissingDocument"


def refuse(
    message: str, *, rule: str, expression: str | None = None, details_code: str | None = XDS_METADATA,
    status: int = 400, code: str = "invalid", french: str | None = None,
) -> FhirError:
    """A refusal in English (``message``, logs and journal) and French (``french``, rendered first)."""
    return FhirError(status, code, message, rule=rule, expression=expression, details_code=details_code,
                     french=french)


# --- domain objects -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PatientId:
    oid: str
    ins: str

    @property
    def token(self) -> str:
        return f"urn:oid:{self.oid}|{self.ins}"


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str | None = None

    def as_coding(self) -> dict[str, str]:
        coding = {"system": self.system, "code": self.code}
        if self.display:
            coding["display"] = self.display
        return coding


@dataclass
class DocumentIn:
    """One DocumentReference to file, checked against the PDSm comprehensive (ITI-65) or simplified-publish
    (ITI-105) profile; ``resource`` is what is stored (for ITI-105, with what the server filled)."""

    entry_index: int
    full_url: str
    unique_id: str
    patient: PatientId
    type: Code
    category: Code
    format: Code
    facility_type: Code
    practice_setting: Code
    labels: list[tuple[str, str, str]]
    title: str
    content_type: str
    language: str | None
    size: int
    hash_b64: str
    creation: datetime | None
    date: datetime
    period_start: datetime
    period_end: datetime | None
    author_rpps: str | None
    author_given: list[str]
    author_family: list[str]
    events: list[Code]
    related: list[tuple[str | None, str]]
    replaces: str | None  # logical id of the replaced DocumentReference
    is_archived: bool
    data: bytes
    resource: dict[str, Any]  # the DocumentReference as sent, urn:uuid references left as they were


@dataclass
class PatchIn:
    entry_index: int
    target_id: str
    kind: str  # "fhirpath" | "json-patch"
    body: Any

    def apply(self, state: MetadataState, *, lenient: bool = False) -> MetadataState:
        try:
            if self.kind == "fhirpath":
                return apply_fhirpath_patch(state, self.body, lenient=lenient)
            return apply_json_patch(state, self.body, lenient=lenient)
        except PatchRefused as exc:
            raise refuse(f"entry[{self.entry_index}] PATCH: {exc.message}", rule=exc.rule, status=exc.status,
                         french=f"entry[{self.entry_index}] PATCH refusé : {exc.message}",
                         expression=f"Bundle.entry[{self.entry_index}]", details_code=None) from None


@dataclass
class Submission:
    patient: PatientId
    unique_id: str | None
    source_id: str
    designation_type: Code
    submission_time: datetime
    title: str | None
    submission_set: dict[str, Any]
    documents: list[DocumentIn] = field(default_factory=list)
    patches: list[PatchIn] = field(default_factory=list)
    entry_kinds: list[tuple[str, int]] = field(default_factory=list)  # per request entry: (kind, index)
    # Binary fullUrl, and each attachment.url as written (Binary/<id> relative to a RESTful fullUrl...) -> entry index
    binary_entries: dict[str, int] = field(default_factory=dict)


# --- helpers --------------------------------------------------------------------------------------

_PATIENT_QUERY = re.compile(r"^(?:.*/)?Patient\?identifier=(?P<system>[^|]+)\|(?P<value>.+)$")
_LOGICAL_REF = re.compile(r"^(?:.*/)?(?P<type>[A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/\d+)?$")


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
        from urllib.parse import unquote

        return parse_patient_token(unquote(m.group("system")), unquote(m.group("value")), expression=expression)
    m = _LOGICAL_REF.match(reference)
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


def _one_coding(cc: Any, *, expression: str, rule: str, required: bool = True,
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


def check_code(element: str, code: Code, *, expression: str, lenient: bool, rule_prefix: str = "PDSm:") -> None:
    """Value-set check from the shipped files (DMP set: J66, J57, J60, J61, J04, J58)."""
    vs = valuesets.binding(element)
    if vs.contains(code.system, code.code) or lenient:
        return
    systems = ", ".join(vs.systems())
    subset = "" if vs.complete else " (the sandbox ships a subset of this value set: see docs/dmp.md)"
    subset_fr = "" if vs.complete else (" (le bac à sable n'embarque qu'une partie de ce jeu de valeurs : voir "
                                        "docs/dmp.md)")
    raise refuse(
        f"{expression} {code.system}#{code.code} is not in {vs.name}{subset}; expected a code of {systems}",
        french=f"{expression} {code.system}#{code.code} n'appartient pas au {vs.name}{subset_fr} ; attendu : un code "
               f"de {systems}",
        rule=f"{rule_prefix}{element}-{vs.id}", expression=expression,
    )


def sha1_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")  # noqa: S324 - XDS hash is SHA-1


def _resolve_contained(resource: dict[str, Any], reference: str | None) -> dict[str, Any] | None:
    if not reference or not reference.startswith("#"):
        return None
    for contained in resource.get("contained") or []:
        if isinstance(contained, dict) and contained.get("id") == reference[1:]:
            return contained
    return None


Lookup = Callable[[str], dict[str, Any] | None]  # a reference -> the Bundle entry's resource it designates


def _no_entry(reference: str) -> dict[str, Any] | None:
    return None


def _author_info(resource: dict[str, Any], authors: list[Any], lookup: Lookup,
                 *, expression: str) -> tuple[str | None, list[str], list[str]]:
    """The RPPS (``8`` + RPPS under urn:oid:1.2.250.1.71.4.2.1) and names of the document's authors."""
    rpps: str | None = None
    given: list[str] = []
    family: list[str] = []
    for i, author in enumerate(authors):
        ref = author.get("reference") if isinstance(author, dict) else None
        target = _resolve_contained(resource, ref) or (lookup(ref) if ref else None)
        if ref and ref.startswith("#") and target is None:
            raise refuse(f"{expression}[{i}] {ref!r} does not match a contained resource",
                         french=f"{expression}[{i}] {ref!r} ne désigne aucune ressource contenue (contained)",
                         rule="PDSm:DocumentReference.author", expression=f"{expression}[{i}]")
        if target is None:
            identifier = author.get("identifier") if isinstance(author, dict) else None
            target = {"identifier": [identifier]} if identifier else {}
        practitioner = target
        if target.get("resourceType") == "PractitionerRole":
            practitioner = _resolve_contained(resource, (target.get("practitioner") or {}).get("reference")) or {}
        for identifier in practitioner.get("identifier") or []:
            value = str(identifier.get("value") or "")
            if identifier.get("system") == RPPS_SYSTEM and value and rpps is None:
                rpps = value[1:] if len(value) == 12 and value.startswith("8") else value
        for name in practitioner.get("name") or []:
            family += [name["family"]] if name.get("family") else []
            given += [g for g in name.get("given") or [] if isinstance(g, str)]  # FHIR allows null placeholders
    return rpps, given, family


def _decode_binary(data: Any, *, expression: str) -> bytes:
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


def _fhir_validate(resource_type: str, body: dict[str, Any], *, expression: str) -> None:
    """Structural validation with fhir.resources (R4 4.0.1): unknown elements, wrong types, cardinalities."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(resource_type)
    except KeyError:
        raise refuse(f"{expression}: unknown resourceType {resource_type!r}", rule="FHIR:resourceType",
                     french=f"{expression} : resourceType {resource_type!r} inconnu",
                     expression=expression, details_code=None) from None
    if fhircheck.accepts(model, body):
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


def _has_profile(resource: dict[str, Any], profile: str) -> bool:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return isinstance(profiles, list) and any(str(p).split("|", 1)[0] == profile for p in profiles)


# --- DocumentReference ----------------------------------------------------------------------------

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


@contextmanager
def _under(issues: FhirIssues, profile: DocProfile) -> Iterator[None]:
    """One independent check of a DocumentReference: its refusal is kept, naming the profile applied."""
    try:
        yield
    except FhirError as error:
        for issue in error.issues:
            if profile.id not in issue.diagnostics:
                issue.diagnostics += f" [profile {profile.id}]"
                issue.args = (issue.diagnostics,)
                if issue.french:
                    issue.french += f" [profil {profile.id}]"
            issues.add(issue)


def _check_unique_id(value: str, *, expression: str) -> None:
    problem = unique_id_problem(value)
    if problem is not None:
        english, french = problem
        raise refuse(f"{expression}: {english} (IHE ITI TF-3 §4.2.3.2.26)", french=f"{expression} : {french} "
                     "(IHE ITI TF-3 §4.2.3.2.26)", rule="XDS:DocumentEntry.uniqueId", expression=expression)


def parse_document_reference(
    resource: dict[str, Any], *, index: int, full_url: str, binaries: dict[str, tuple[str, bytes]],
    lookup: Lookup = _no_entry, lenient: bool, inline: bool = False, entry_patient: PatientId | None = None,
) -> DocumentIn:
    """Check one DocumentReference against the PDSm comprehensive profile (ITI-65, ``binaries`` keyed by the
    attachment.url as written) or the PDSm simplified-publish profile (``inline``, ITI-105; the server fills
    what XDS needs, :mod:`app.dmp.simplified`). Every independent refusal is reported (one issue each)."""
    profile = SIMPLIFIED if inline else COMPREHENSIVE
    x = "DocumentReference" if inline else f"Bundle.entry[{index}].resource"
    rule = profile.rule + "DocumentReference."
    issues = FhirIssues()
    stored = dict(resource)  # what is stored: as sent, plus what the server fills for ITI-105

    def required(element: str, what: str = "", what_fr: str = "", *, rule_id: str | None = None) -> FhirError:
        return refuse(f"{x}.{element}{what} is required by {profile.english}",
                      french=f"{x}.{element}{what_fr} est obligatoire dans {profile.french}",
                      rule=rule_id or rule + element, expression=f"{x}.{element}")

    unique_id = type_ = category = fmt = facility = practice = None
    patient = date = period_start = period_end = None
    author_rpps: str | None = None
    given: list[str] = []
    family: list[str] = []
    labels: list[tuple[str, str, str]] = []
    attachment: dict[str, Any] = {}
    data, size, hash_b64, ax = b"", 0, "", f"{x}.content[0].attachment"
    with _under(issues, profile):
        master = resource.get("masterIdentifier") or {}
        if not master.get("value"):
            raise required("masterIdentifier", " (the document's uniqueId)", " (l'identifiant unique du document)")
        unique_id = str(master["value"])
        _check_unique_id(unique_id, expression=f"{x}.masterIdentifier.value")
    with _under(issues, profile):
        if resource.get("status") != "current":
            raise refuse(f"{x}.status must be 'current' on submission, not {resource.get('status')!r}",
                         french=f"{x}.status doit valoir « current » au dépôt, et non {resource.get('status')!r}",
                         rule=rule + "status", expression=f"{x}.status")
    with _under(issues, profile):
        patient = patient_from_reference((resource.get("subject") or {}).get("reference"), expression=f"{x}.subject",
                                         patient_ids={}, entry_patient=entry_patient)
    with _under(issues, profile):
        if inline and not resource.get("type"):
            # optional in pdsm-simplified-publish, 1..1 in the DMP's DocumentEntry model (PDSm4DMP
            # input/fsh/Model/DocumentEntry.fsh): checked against J66 and the source of the classCode.
            raise refuse(f"{x}.type is required by the DMP (PDSm4DMP DocumentEntry.type 1..1, JDV_J66): the "
                         "simplified-publish profile leaves it optional, the DMP registry does not",
                         french=f"{x}.type est obligatoire pour le DMP (PDSm4DMP DocumentEntry.type 1..1, JDV_J66) : "
                                "le profil de publication simplifiée le laisse facultatif, le registre du DMP non",
                         rule="PDSm4DMP:DocumentEntry.type", expression=f"{x}.type")
        type_ = _one_coding(resource.get("type"), expression=f"{x}.type", rule=rule + "type", profile=profile)
        assert type_ is not None
        check_code("type", type_, expression=f"{x}.type", lenient=lenient, rule_prefix=profile.rule)
    with _under(issues, profile):
        categories = resource.get("category") or []
        if not categories and inline and type_ is not None:
            derived = simplified.class_of_type(type_.system, type_.code)
            if derived is None:
                raise refuse(f"{x}.category is absent and the sandbox cannot derive the classCode from type "
                             f"{type_.system}#{type_.code} (ASS_X04 subset, docs/dmp.md): give category (JDV_J57)",
                             french=f"{x}.category est absent et le bac à sable ne sait pas déduire la classe du "
                                    f"document du type {type_.system}#{type_.code} (extrait d'ASS_X04, docs/dmp.md) : "
                                    "renseigner category (JDV_J57)",
                             rule="PDSm4DMP:DocumentEntry.class", expression=f"{x}.category")
            category = Code(*derived)
            stored["category"] = [{"coding": [category.as_coding()]}]
        elif categories or not inline:
            category = _one_coding(categories[0] if categories else None, expression=f"{x}.category",
                                   rule=rule + "category", profile=profile)
            assert category is not None
            check_code("category", category, expression=f"{x}.category", lenient=lenient, rule_prefix=profile.rule)
    with _under(issues, profile):
        if not resource.get("date"):
            raise required("date", " (creationTime)", " (creationTime)")
        date = parse_datetime(resource["date"], expression=f"{x}.date", rule=rule + "date")
    with _under(issues, profile):
        authors = resource.get("author") or []
        if not authors:
            raise refuse(f"{x}.author is required (1..*) by {profile.english}: the professional, device or "
                         "organisation that wrote it, usually a contained Practitioner/PractitionerRole with its RPPS",
                         french=f"{x}.author est obligatoire (1..*) dans {profile.french} : le professionnel, le "
                                "dispositif ou l'organisation auteur, en général un Practitioner/PractitionerRole "
                                "contenu portant son RPPS", rule=rule + "author", expression=f"{x}.author")
        author_rpps, given, family = _author_info(resource, authors, lookup, expression=f"{x}.author")
    with _under(issues, profile):
        if not resource.get("custodian"):
            raise required("custodian", " (1..1)", " (1..1)")
    with _under(issues, profile):
        raw_labels = resource.get("securityLabel") or []
        if not raw_labels and inline:
            labels = [simplified.DEFAULT_LABEL]
        elif not raw_labels:
            raise refuse(f"{x}.securityLabel is required by {profile.english}: 1..4 codes of JDV_J58 (e.g. "
                         "v3-Confidentiality#N)", french=f"{x}.securityLabel est obligatoire dans {profile.french} : "
                         "1 à 4 codes du JDV_J58 (par exemple v3-Confidentiality#N)",
                         rule=rule + "securityLabel", expression=f"{x}.securityLabel")
        if len(raw_labels) > 4:
            raise refuse(f"{x}.securityLabel holds {len(raw_labels)} codes; the DMP accepts 1 to 4",
                         french=f"{x}.securityLabel porte {len(raw_labels)} codes ; le DMP en accepte de 1 à 4",
                         rule="PDSm4DMP:confidentiality-1..4", expression=f"{x}.securityLabel")
        for i, label in enumerate(raw_labels):
            code = _one_coding(label, expression=f"{x}.securityLabel[{i}]", rule=rule + "securityLabel")
            assert code is not None
            check_code("securityLabel", code, expression=f"{x}.securityLabel[{i}]", lenient=lenient,
                       rule_prefix=profile.rule)
            labels.append(normalise_label(code.system, code.code, code.display))
    content: dict[str, Any] = {}
    with _under(issues, profile):
        contents = resource.get("content") or []
        if len(contents) != 1:
            raise refuse(f"{x}.content must hold exactly one attachment (one document per DocumentReference), "
                         f"found {len(contents)}", french=f"{x}.content doit porter exactement une pièce jointe (un "
                         f"document par fiche), trouvé {len(contents)}", rule=rule + "content",
                         expression=f"{x}.content")
        content = contents[0]
        attachment = content.get("attachment") or {}
        data, size, hash_b64 = _attachment(attachment, ax=ax, rule=rule, profile=profile, binaries=binaries,
                                           inline=inline, issues=issues)
    if content:
        with _under(issues, profile):
            if not content.get("format") and inline:
                fmt = Code(*simplified.DEFAULT_FORMAT)
                stored["content"] = [{**content, "format": fmt.as_coding()}, *resource["content"][1:]]
            else:
                fmt = _one_coding({"coding": [content["format"]]} if content.get("format") else None,
                                  expression=f"{x}.content[0].format", rule=rule + "content.format", profile=profile)
                assert fmt is not None
                check_code("format", fmt, expression=f"{x}.content[0].format", lenient=lenient,
                           rule_prefix=profile.rule)
    context = resource.get("context") or {}
    with _under(issues, profile):
        period = context.get("period") or {}
        if not period.get("start") and inline and date is not None:
            # serviceStartTime unknown: the act is taken to be when the document was written (creationTime)
            period_start = date
            stored["context"] = {**context, "period": {**period, "start": resource["date"]}}
        elif not period.get("start"):
            raise required("context.period.start", " (serviceStartTime)", " (serviceStartTime)")
        else:
            period_start = parse_datetime(period["start"], expression=f"{x}.context.period.start",
                                          rule=rule + "context.period.start")
        period_end = parse_datetime(period["end"], expression=f"{x}.context.period.end",
                                    rule=rule + "context.period.end") if period.get("end") else None
    with _under(issues, profile):
        facility = _one_coding(context.get("facilityType"), expression=f"{x}.context.facilityType",
                               rule=rule + "context.facilityType", required=not inline, profile=profile)
        if facility is not None:
            check_code("facilityType", facility, expression=f"{x}.context.facilityType", lenient=lenient,
                       rule_prefix=profile.rule)
    with _under(issues, profile):
        practice = _one_coding(context.get("practiceSetting"), expression=f"{x}.context.practiceSetting",
                               rule=rule + "context.practiceSetting", required=not inline, profile=profile)
        if practice is not None:
            check_code("practiceSetting", practice, expression=f"{x}.context.practiceSetting", lenient=lenient,
                       rule_prefix=profile.rule)
    events: list[Code] = []
    with _under(issues, profile):
        events = [c for c in (_one_coding(e, expression=f"{x}.context.event", rule=rule + "context.event",
                                          required=False) for e in context.get("event") or []) if c]
    related = []
    for rel in context.get("related") or []:
        identifier = rel.get("identifier") or {}
        if identifier.get("value"):
            related.append((identifier.get("system"), identifier["value"]))
    replaces = None
    with _under(issues, profile):
        replaces = _replaced(resource, x=x)
    archived = False
    for ext in resource.get("extension") or []:
        if ext.get("url") == IS_ARCHIVED_URL:
            archived = bool(ext.get("valueBoolean"))
    creation = None
    with _under(issues, profile):
        if attachment.get("creation"):
            creation = parse_datetime(attachment["creation"], expression=f"{ax}.creation",
                                      rule=rule + "content.attachment.creation")
    issues.raise_any()
    assert unique_id is not None and patient is not None and type_ is not None and category is not None
    assert fmt is not None and date is not None and period_start is not None
    doc = DocumentIn(
        entry_index=index, full_url=full_url, unique_id=unique_id, patient=patient,
        type=type_, category=category, format=fmt,
        # optional in pdsm-simplified-publish: an absent one is stored empty (unknown; no search matches it)
        facility_type=facility or Code("", ""), practice_setting=practice or Code("", ""),
        labels=labels, title=str(attachment["title"]), content_type=str(attachment["contentType"]),
        language=attachment.get("language"), size=size, hash_b64=hash_b64, creation=creation,
        date=date, period_start=period_start, period_end=period_end, author_rpps=author_rpps,
        author_given=given, author_family=family, events=events, related=related, replaces=replaces,
        is_archived=archived, data=data, resource=stored,
    )
    with _under(issues, profile):
        _check_document_lengths(doc, x=x, ax=ax, inline=inline)
    issues.raise_any()
    return doc


def _attachment(attachment: dict[str, Any], *, ax: str, rule: str, profile: DocProfile,
                binaries: dict[str, tuple[str, bytes]], inline: bool, issues: FhirIssues) -> tuple[bytes, int, str]:
    """The document's bytes, size and SHA-1 (base64): from ``data`` (ITI-105) or the Binary entry the url
    resolves to (ITI-65). The size and hash are checked when given; ITI-105 may leave them out (the server
    computes them, MHD SimplifiedPublish ``size 0..1``, ``hash 0..1``)."""
    missing = [e for e in (("contentType", "title") if inline else ("contentType", "title", "size", "hash"))
               if attachment.get(e) in (None, "")]
    for element in missing:
        with _under(issues, profile):
            raise refuse(f"{ax}.{element} is required by {profile.english}",
                         french=f"{ax}.{element} est obligatoire dans {profile.french}",
                         rule=rule + f"content.attachment.{element}", expression=f"{ax}.{element}")
    if inline:
        if attachment.get("url"):
            raise refuse(f"{ax}.url must be absent (0..0) in a simplified publish: the document goes in .data",
                         french=f"{ax}.url doit être absent (0..0) dans une publication simplifiée : le document va "
                                "dans .data", rule=rule + "content.attachment.url", expression=f"{ax}.url")
        if not attachment.get("data"):
            raise refuse(f"{ax}.data is required for a simplified publish (ITI-105)", rule="PDSm:ITI-105.data",
                         french=f"{ax}.data est obligatoire pour une publication simplifiée (ITI-105)",
                         expression=f"{ax}.data", details_code=XDS_MISSING_DOCUMENT)
        data = _decode_binary(attachment["data"], expression=ax)
    else:
        url = attachment.get("url")
        if not url:
            raise refuse(f"{ax}.url is required: the fullUrl (urn:uuid:…, or Binary/<id> beside a RESTful fullUrl) "
                         "of a Binary entry of this Bundle", french=f"{ax}.url est obligatoire : le fullUrl "
                         "(urn:uuid:…, ou Binary/<id> à côté d'un fullUrl RESTful) d'une entrée Binary de ce Bundle",
                         rule="MHD:ITI-65.attachment-url", expression=f"{ax}.url", details_code=XDS_MISSING_DOCUMENT)
        if url not in binaries:
            raise _unresolved(url, expression=f"{ax}.url", binaries=binaries)
        binary_type, data = binaries[url]
        if "contentType" not in missing and binary_type != attachment["contentType"]:
            raise refuse(f"{ax}.contentType {attachment['contentType']!r} differs from the Binary's "
                         f"contentType {binary_type!r}", french=f"{ax}.contentType {attachment['contentType']!r} "
                         f"diffère du contentType de la Binary {binary_type!r}",
                         rule=rule + "content.attachment.contentType", expression=f"{ax}.contentType",
                         details_code=XDS_REPOSITORY_METADATA)
    expected_hash = sha1_b64(data)
    with _under(issues, profile):
        if attachment.get("size") not in (None, ""):
            try:
                size = int(attachment["size"])
            except (TypeError, ValueError):
                raise refuse(f"{ax}.size must be an integer", rule=rule + "content.attachment.size",
                             french=f"{ax}.size doit être un entier", expression=f"{ax}.size") from None
            if size != len(data):
                raise refuse(f"{ax}.size is {size} but the document has {len(data)} bytes",
                             french=f"{ax}.size vaut {size} mais le document fait {len(data)} octets",
                             rule=rule + "content.attachment.size", expression=f"{ax}.size",
                             details_code=XDS_REPOSITORY_METADATA)
    with _under(issues, profile):
        if attachment.get("hash") not in (None, ""):
            declared_hash = str(attachment["hash"])
            if declared_hash != expected_hash:
                hint = hint_fr = ""
                if declared_hash.lower() == hashlib.sha1(data).hexdigest():  # noqa: S324
                    hint = " (it looks hex-encoded: FHIR base64Binary wants the base64 of the 20 raw bytes)"
                    hint_fr = " (il semble en hexadécimal : le base64Binary FHIR attend le base64 des 20 octets bruts)"
                raise refuse(f"{ax}.hash {declared_hash!r} is not the SHA-1 of the document ({expected_hash!r}, "
                             f"base64 of the 20-byte digest){hint}", french=f"{ax}.hash {declared_hash!r} n'est pas "
                             f"le SHA-1 du document ({expected_hash!r}, base64 de l'empreinte de 20 octets){hint_fr}",
                             rule=rule + "content.attachment.hash", expression=f"{ax}.hash",
                             details_code=XDS_REPOSITORY_METADATA)
    return data, len(data), expected_hash


def _unresolved(url: str, *, expression: str, binaries: dict[str, tuple[str, bytes]]) -> FhirError:
    near = references.same_tail(url, binaries)
    hint = hint_fr = ""
    if near:
        hint = (f"; the Binary entry {near[0]!r} ends with it, but a relative reference resolves against the "
                "root of the DocumentReference entry's own fullUrl, which must then be a RESTful URL on the same "
                "root (FHIR R4 bundle.html#references)")
        hint_fr = (f" ; l'entrée Binary {near[0]!r} se termine ainsi, mais une référence relative se résout par "
                   "rapport à la racine du fullUrl de l'entrée DocumentReference elle-même, qui doit alors être une "
                   "URL RESTful de même racine (FHIR R4 bundle.html#references)")
    return refuse(f"{expression} {url!r} does not resolve to a Binary entry of this Bundle{hint}",
                  french=f"{expression} {url!r} ne désigne aucune entrée Binary de ce Bundle{hint_fr}",
                  rule="MHD:ITI-65.reference-resolution", expression=expression, details_code=XDS_MISSING_DOCUMENT)


def _replaced(resource: dict[str, Any], *, x: str) -> str | None:
    """The logical id of the DocumentReference this one replaces (PDSm4DMP TD2.1), or None."""
    replaces = None
    for i, relation in enumerate(resource.get("relatesTo") or []):
        if relation.get("code") != "replaces":
            raise refuse(f"{x}.relatesTo[{i}].code {relation.get('code')!r}: the DMP supports only 'replaces' "
                         "(RPLC)", french=f"{x}.relatesTo[{i}].code {relation.get('code')!r} : le DMP ne gère que "
                         "« replaces » (RPLC)", rule="PDSm4DMP:TD2.1-relatesTo", expression=f"{x}.relatesTo[{i}].code")
        target = str((relation.get("target") or {}).get("reference") or "")
        m = _LOGICAL_REF.match(target)
        if not m or m.group("type") != "DocumentReference":
            raise refuse(f"{x}.relatesTo[{i}].target must reference DocumentReference/<id> of the document "
                         "replaced", french=f"{x}.relatesTo[{i}].target doit désigner le DocumentReference/<id> du "
                         "document remplacé", rule="PDSm4DMP:TD2.1-relatesTo", expression=f"{x}.relatesTo[{i}].target")
        if replaces is not None:
            raise refuse(f"{x}.relatesTo: a document replaces one document at most", rule="PDSm4DMP:TD2.1-relatesTo",
                         french=f"{x}.relatesTo : un document en remplace un seul au plus", expression=f"{x}.relatesTo")
        replaces = m.group("id")
    return replaces


# --- what the store can hold ----------------------------------------------------------------------

def _column_lengths(table: Any) -> dict[str, int]:
    return {name: column.type.length for name, column in table.c.items()
            if isinstance(getattr(column.type, "length", None), int)}


_DOCUMENT_LENGTHS = _column_lengths(DmpDocument.__table__)
_SUBMISSION_LENGTHS = _column_lengths(DmpSubmissionSet.__table__)


# FHIR R4 string: "Strings SHALL NOT contain Unicode character points below 32, except for u0009 (horizontal
# tab), u0010 (carriage return) and u0013 (line feed)" (https://hl7.org/fhir/R4/datatypes.html#string).
# fhir.resources does not check it; the columns must (PostgreSQL text cannot hold U+0000, SQLite keeps it).
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _fits(value: str | None, limit: int | None, *, expression: str) -> None:
    """A value its column cannot hold, refused by name (PostgreSQL would fail the INSERT, SQLite keep it):
    longer than the column (``limit``; None for text), or with a control character."""
    if value is None:
        return
    if limit is not None and len(value) > limit:
        raise refuse(f"{expression} is {len(value)} characters long; the DMP stores at most {limit}",
                     french=f"{expression} fait {len(value)} caractères ; le DMP en conserve au plus {limit}",
                     rule="DMP:element-length", expression=expression)
    control = _CONTROL_CHARACTER.search(value)
    if control is not None:
        raise refuse(f"{expression} holds the control character U+{ord(control.group()):04X}, which a FHIR string "
                     "may not contain", french=f"{expression} contient le caractère de contrôle "
                     f"U+{ord(control.group()):04X}, interdit dans une chaîne FHIR (string)",
                     rule="FHIR:string", expression=expression)


def _check_document_lengths(doc: DocumentIn, *, x: str, ax: str, inline: bool) -> None:
    """After every profile check, so those keep their precedence; same limits as the tables."""
    n = _DOCUMENT_LENGTHS
    _fits(doc.unique_id, n["unique_id"], expression=f"{x}.masterIdentifier.value")
    for code, element in ((doc.type, "type"), (doc.category, "category"), (doc.format, "format")):
        where = f"{x}.content[0].format" if element == "format" else f"{x}.{element}"
        column = {"type": "type", "category": "class", "format": "format"}[element]
        _fits(code.system, n[f"{column}_system"], expression=f"{where}.system")
        _fits(code.code, n[f"{column}_code"], expression=f"{where}.code")
    _fits(doc.facility_type.code or None, n["facility_code"], expression=f"{x}.context.facilityType.code")
    _fits(doc.practice_setting.code or None, n["practice_code"], expression=f"{x}.context.practiceSetting.code")
    _fits(doc.content_type, n["content_type"], expression=f"{ax}.contentType")
    _fits(doc.title, n["title"], expression=f"{ax}.title")
    _fits(doc.author_rpps, n["author_rpps"], expression=f"{x}.author")
    # stored as " name name " (lower case) for author.given / author.family searches
    _fits(" " + " ".join(doc.author_given) + " ", n["author_given"], expression=f"{x}.author.name.given")
    _fits(" " + " ".join(doc.author_family) + " ", n["author_family"], expression=f"{x}.author.name.family")
    _fits(" " + " ".join(lab[1] for lab in doc.labels) + " ", n["label_codes"], expression=f"{x}.securityLabel")
    for event in doc.events:  # event_codes and related_ids are text columns: no length limit
        _fits(event.system, None, expression=f"{x}.context.event.coding.system")
        _fits(event.code, None, expression=f"{x}.context.event.coding.code")
    for system, value in doc.related:
        _fits(system, None, expression=f"{x}.context.related.identifier.system")
        _fits(value, None, expression=f"{x}.context.related.identifier.value")
    if inline:  # ITI-105: the server's submission set takes its designation and title from the document
        s = _SUBMISSION_LENGTHS
        _fits(doc.category.system, s["designation_system"], expression=f"{x}.category.system")
        _fits(doc.category.code, s["designation_code"], expression=f"{x}.category.code")
        _fits(doc.category.display, s["designation_display"], expression=f"{x}.category.display")


# --- ITI-65 ---------------------------------------------------------------------------------------

def _submission_set(resource: dict[str, Any], index: int, issues: FhirIssues
                    ) -> tuple[str | None, Code | None, datetime | None, str | None]:
    x = f"Bundle.entry[{index}].resource"
    rule = "PDSm:SubmissionSet."
    ss = " [profile pdsm-submissionset-comprehensive]"
    ss_fr = " [profil pdsm-submissionset-comprehensive]"
    source_id = designation_code = date = None
    with issues.check():
        if resource.get("status") != "current":
            raise refuse(f"{x}.status must be 'current' (MHD 4.x SubmissionSet){ss}", rule=rule + "status",
                         french=f"{x}.status doit valoir « current » (lot de soumission MHD 4.x){ss_fr}",
                         expression=f"{x}.status")
    extensions = [e for e in resource.get("extension") or [] if isinstance(e, dict)]
    with issues.check():
        designation = next((e for e in extensions if e.get("url") == EXT_DESIGNATION_TYPE), None)
        if designation is None:
            raise refuse(f"{x}.extension[designationType] ({EXT_DESIGNATION_TYPE}) is required: the submission's "
                         f"contentTypeCode (JDV_J03 / J59){ss}", french=f"{x}.extension[designationType] "
                         f"({EXT_DESIGNATION_TYPE}) est obligatoire : le contentTypeCode du lot de soumission "
                         f"(JDV_J03 / J59){ss_fr}", rule=rule + "designationType",
                         expression=f"{x}.extension[designationType]")
        designation_code = _one_coding(designation.get("valueCodeableConcept"),
                                       expression=f"{x}.extension[designationType].valueCodeableConcept",
                                       rule=rule + "designationType")
    with issues.check():
        source = next((e for e in extensions if e.get("url") == EXT_SOURCE_ID), None)
        source_id = ((source or {}).get("valueIdentifier") or {}).get("value")
        if not source_id:
            raise refuse(f"{x}.extension[sourceId] ({EXT_SOURCE_ID}) with valueIdentifier.value is required: the "
                         f"OID of the submitting system{ss}", french=f"{x}.extension[sourceId] ({EXT_SOURCE_ID}) avec "
                         f"valueIdentifier.value est obligatoire : l'OID du système émetteur{ss_fr}",
                         rule=rule + "sourceId", expression=f"{x}.extension[sourceId]")
        source_id = str(source_id)
    with issues.check():
        if not resource.get("date"):
            raise refuse(f"{x}.date (submissionTime) is required{ss}", rule=rule + "date", expression=f"{x}.date",
                         french=f"{x}.date (submissionTime) est obligatoire{ss_fr}")
        date = parse_datetime(resource["date"], expression=f"{x}.date", rule=rule + "date")
    unique_id = None
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("use") == "usual" and identifier.get("value"):
            unique_id = str(identifier["value"])
    return source_id, designation_code, date, unique_id


_PATIENT_METHODS = ("GET", "POST", "PUT")  # MHD 4.2.3 ValueSet MHDprovidePatientActions


def _patient_entry(entry: dict[str, Any], index: int) -> PatientId:
    """MHD 4.2.3 ``IHE.MHD.Minimal.ProvideBundle`` slice ``entry[Patient]`` 0..1: resource 1..1 (a Patient),
    request.method GET, POST or PUT. The DMP's patient is the INS identity: the Patient must carry the INS
    (it is not created nor updated; its entry answers 200 with Patient/<INS>)."""
    x = f"Bundle.entry[{index}]"
    method = (entry.get("request") or {}).get("method")
    if method not in _PATIENT_METHODS:
        raise refuse(f"{x}.request.method {method!r}: a Patient entry takes GET, POST or PUT (MHD "
                     "MHDprovidePatientActions)", french=f"{x}.request.method {method!r} : une entrée Patient "
                     "s'envoie en GET, POST ou PUT (MHD MHDprovidePatientActions)", rule="MHD:ITI-65.Patient",
                     expression=f"{x}.request.method", details_code=None)
    url = str((entry.get("request") or {}).get("url") or "")
    if not (url == "Patient" or url.startswith(("Patient/", "Patient?"))):
        raise refuse(f"{x}.request.url must be Patient, Patient/<id> or Patient?identifier=…, not {url!r}",
                     french=f"{x}.request.url doit valoir Patient, Patient/<id> ou Patient?identifier=…, et non "
                            f"{url!r}",
                     rule="MHD:ITI-65.Patient", expression=f"{x}.request.url", details_code=None)
    resource = entry.get("resource") or {}
    found = [i for i in resource.get("identifier") or []
             if isinstance(i, dict) and str(i.get("system") or "").removeprefix("urn:oid:") in INS_OIDS]
    if not found:
        raise refuse(f"{x}.resource.identifier must hold the patient's INS (system urn:oid:{INS_OIDS[0]}, .9, .10 "
                     "or .11): the DMP knows its patients by INS", french=f"{x}.resource.identifier doit porter l'INS "
                     f"du patient (système urn:oid:{INS_OIDS[0]}, .9, .10 ou .11) : le DMP connaît ses patients par "
                     "leur INS", rule="MHD:ITI-65.Patient", expression=f"{x}.resource.identifier",
                     details_code=XDS_UNKNOWN_PATIENT)
    return parse_patient_token(str(found[0]["system"]), str(found[0].get("value") or ""),
                               expression=f"{x}.resource.identifier")


def _light(entries: Any) -> Any:
    """The entries without the Binary payloads (checked as base64 below, much faster; an absent optional
    element and a null one are the same to fhir.resources)."""
    light_entries = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Binary" and "data" in resource:
            entry = {**entry, "resource": {k: v for k, v in resource.items() if k != "data"}}
        light_entries.append(entry)
    return light_entries


def parse_provide_bundle(body: Any, *, lenient: bool = False) -> Submission:
    """ITI-65 Provide Document Bundle -> :class:`Submission` (no I/O; the service checks the store).

    Every independent refusal is reported, one OperationOutcome issue each (:class:`FhirIssues`); a check
    whose input is already refused is skipped (a Bundle that is not valid FHIR R4 is one issue)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise refuse("the body of ITI-65 must be a FHIR Bundle", rule="MHD:ITI-65.bundle", expression="Bundle",
                     french="le corps d'une ITI-65 doit être un Bundle FHIR", details_code=None)
    issues = FhirIssues()
    with issues.check():
        if body.get("type") != "transaction":
            raise refuse(f"Bundle.type must be 'transaction', not {body.get('type')!r}",
                         french=f"Bundle.type doit valoir « transaction », et non {body.get('type')!r}",
                         rule="MHD:ITI-65.bundle-type", expression="Bundle.type", details_code=None)
    with issues.check():
        if not _has_profile(body, PROFILE_BUNDLE):
            found = body['meta'].get('profile') if isinstance(body.get('meta'), dict) else None
            raise refuse(
                f"Bundle.meta.profile must declare {PROFILE_BUNDLE} (PDSm comprehensive provide bundle); found "
                f"{found!r}", french=f"Bundle.meta.profile doit déclarer {PROFILE_BUNDLE} (Bundle PDSm de dépôt "
                f"complet) ; trouvé {found!r}", rule="PDSm:Bundle.meta.profile", expression="Bundle.meta.profile",
                details_code=None)
    entries = body.get("entry") or []
    with issues.check():
        _fhir_validate("Bundle", {**body, "entry": _light(entries)} if isinstance(entries, list) else body,
                       expression="Bundle")
    if issues.errors and issues.errors[-1].rule in ("FHIR:R4-structure", "FHIR:resourceType", "DMP:nesting-depth"):
        issues.raise_any()  # not readable as FHIR: nothing below could be checked reliably

    full_urls: dict[str, int] = {}
    binaries: dict[str, tuple[str, bytes]] = {}
    lists: list[int] = []
    docs: list[int] = []
    patient_entries: list[int] = []
    patch_entries: list[int] = []
    kinds: list[tuple[str, int]] = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") or {}
        request = entry.get("request") or {}
        full_url = entry.get("fullUrl")
        rtype = resource.get("resourceType")
        method = request.get("method")
        x = f"Bundle.entry[{i}]"
        if method == "PATCH":
            patch_entries.append(i)
            kinds.append(("patch", i))
            continue
        with issues.check():
            if rtype == "Patient":
                patient_entries.append(i)
                kinds.append(("patient", i))
            elif method != "POST":
                raise refuse(f"{x}.request.method must be POST (or PATCH for the replaced document), not {method!r}",
                             french=f"{x}.request.method doit valoir POST (ou PATCH pour le document remplacé), et "
                                    f"non {method!r}", rule="MHD:ITI-65.request", expression=f"{x}.request.method",
                             details_code=None)
            if not full_url:
                raise refuse(f"{x}.fullUrl is required (urn:uuid:... or a RESTful URL) so entries can reference each "
                             "other", french=f"{x}.fullUrl est obligatoire (urn:uuid:… ou URL RESTful) pour que les "
                             "entrées puissent se référencer", rule="MHD:ITI-65.fullUrl", expression=f"{x}.fullUrl",
                             details_code=None)
            if full_url in full_urls:
                raise refuse(f"{x}.fullUrl {full_url!r} appears twice", rule="MHD:ITI-65.fullUrl",
                             french=f"{x}.fullUrl {full_url!r} apparaît deux fois", expression=f"{x}.fullUrl",
                             details_code=None)
            full_urls[full_url] = i
            if rtype == "Patient":
                continue
            if request.get("url") != rtype:
                raise refuse(f"{x}.request.url must be {rtype!r}", rule="MHD:ITI-65.request",
                             french=f"{x}.request.url doit valoir {rtype!r}", expression=f"{x}.request.url",
                             details_code=None)
            if rtype == "Binary":
                kinds.append(("binary", i))
                content_type = resource.get("contentType")
                if not content_type:
                    raise refuse(f"{x}.resource.contentType is required", rule="MHD:Binary.contentType",
                                 french=f"{x}.resource.contentType est obligatoire",
                                 expression=f"{x}.resource.contentType")
                binaries[full_url] = (content_type, _decode_binary(resource.get("data"), expression=f"{x}.resource"))
            elif rtype == "DocumentReference":
                docs.append(i)
                kinds.append(("document", i))
            elif rtype == "List":
                code = ((resource.get("code") or {}).get("coding") or [{}])[0]
                if code.get("system") == MHD_LIST_TYPES and code.get("code") == "submissionset":
                    lists.append(i)
                    kinds.append(("submissionset", i))
                elif code.get("code") == "folder":
                    raise refuse(f"{x}: Folders are not supported by this sandbox (nor used by the DMP)",
                                 french=f"{x} : les classeurs (Folder) ne sont pas gérés par ce bac à sable (ni "
                                        "utilisés par le DMP)", rule="PDSm:Folder", expression=f"{x}.resource",
                                 status=422, code="not-supported", details_code=None)
                else:
                    raise refuse(f"{x}.resource.code must be {MHD_LIST_TYPES}#submissionset",
                                 french=f"{x}.resource.code doit valoir {MHD_LIST_TYPES}#submissionset",
                                 rule="PDSm:SubmissionSet.code", expression=f"{x}.resource.code")
            else:
                raise refuse(f"{x}: a {rtype} has no place in an ITI-65 Bundle (List, DocumentReference, Binary, "
                             "one Patient, PATCH of a replaced DocumentReference)", french=f"{x} : une ressource "
                             f"{rtype} n'a pas sa place dans un Bundle ITI-65 (List, DocumentReference, Binary, un "
                             "Patient, PATCH du DocumentReference remplacé)", rule="PDSm:Bundle.entry",
                             expression=f"{x}.resource", details_code=None)
    with issues.check():
        if len(lists) != 1:
            raise refuse(f"the Bundle must hold exactly one SubmissionSet List, found {len(lists)}",
                         french=f"le Bundle doit porter exactement un lot de soumission (List SubmissionSet), trouvé "
                                f"{len(lists)}", rule="PDSm:Bundle.submissionSet-1..1", expression="Bundle.entry")
    with issues.check():
        if not docs:
            raise refuse("the Bundle must hold at least one DocumentReference", rule="PDSm:Bundle.documentRefs-1..*",
                         french="le Bundle doit porter au moins une fiche de document (DocumentReference)",
                         expression="Bundle.entry")
    entry_patient: PatientId | None = None
    patient_url: str | None = None
    with issues.check():
        if len(patient_entries) > 1:
            raise refuse(f"the Bundle holds {len(patient_entries)} Patient entries; MHD allows one (entry[Patient] "
                         "0..1)", french=f"le Bundle porte {len(patient_entries)} entrées Patient ; MHD en permet une "
                         "(entry[Patient] 0..1)", rule="MHD:ITI-65.Patient", expression="Bundle.entry",
                         details_code=None)
        if patient_entries:
            entry_patient = _patient_entry(entries[patient_entries[0]], patient_entries[0])
            patient_url = entries[patient_entries[0]].get("fullUrl")
    if patient_entries and entry_patient is None:
        issues.raise_any()  # every subject may designate it: nothing below can be checked without it

    # urn:uuid references anywhere in the Bundle must resolve to an entry (MHD ITI-65 §3.65.4.1.3).
    for i, entry in enumerate(entries):
        for ref in _references(entry.get("resource") or {}):
            if references.is_internal(ref) and ref not in full_urls:
                with issues.check():
                    raise refuse(f"Bundle.entry[{i}]: reference {ref!r} does not resolve to an entry of this Bundle",
                                 french=f"Bundle.entry[{i}] : la référence {ref!r} ne désigne aucune entrée de ce "
                                        "Bundle", rule="MHD:ITI-65.reference-resolution",
                                 expression=f"Bundle.entry[{i}]", details_code=XDS_METADATA)

    def lookup_from(referrer: str | None) -> Lookup:
        def lookup(reference: str) -> dict[str, Any] | None:
            target = references.resolve(reference, referrer=referrer, full_urls=full_urls)
            return (entries[full_urls[target]].get("resource") or {}) if target else None
        return lookup

    def subject_patient(resource: dict[str, Any], referrer: str | None) -> PatientId | None:
        ref = (resource.get("subject") or {}).get("reference")
        target = references.resolve(ref, referrer=referrer, full_urls=full_urls)
        return entry_patient if target is not None and target == patient_url else None

    ss_patient: PatientId | None = None
    source_id = designation = submission_time = ss_unique_id = None
    ss: dict[str, Any] = {}
    members: set[str] = set()
    list_index = lists[0] if len(lists) == 1 else None
    if list_index is not None:
        ss = entries[list_index]["resource"]
        ss_url = entries[list_index].get("fullUrl")
        source_id, designation, submission_time, ss_unique_id = _submission_set(ss, list_index, issues)
        sx, lengths = f"Bundle.entry[{list_index}].resource", _SUBMISSION_LENGTHS
        with issues.check():
            _fits(source_id, lengths["source_id"], expression=f"{sx}.extension[sourceId]")
            if designation is not None:
                _fits(designation.system, lengths["designation_system"], expression=f"{sx}.extension[designationType]")
                _fits(designation.code, lengths["designation_code"], expression=f"{sx}.extension[designationType]")
                _fits(designation.display, lengths["designation_display"],
                      expression=f"{sx}.extension[designationType]")
            _fits(ss_unique_id, lengths["unique_id"], expression=f"{sx}.identifier")
            title = ss.get("title")
            _fits(title if isinstance(title, str) else None, lengths["title"], expression=f"{sx}.title")
        with issues.check():
            ss_patient = patient_from_reference((ss.get("subject") or {}).get("reference"),
                                                expression=f"{sx}.subject", patient_ids={},
                                                entry_patient=subject_patient(ss, ss_url))
        for e in ss.get("entry") or []:
            ref = str((e.get("item") or {}).get("reference"))
            members.add(references.resolve(ref, referrer=ss_url, full_urls=full_urls) or ref)
    if entry_patient is not None and ss_patient is not None and entry_patient != ss_patient:
        with issues.check():
            raise refuse(f"Bundle.entry[{patient_entries[0]}] (Patient {entry_patient.token}) is not the "
                         f"SubmissionSet's patient ({ss_patient.token})", french=f"Bundle.entry[{patient_entries[0]}] "
                         f"(Patient {entry_patient.token}) n'est pas le patient du lot de soumission "
                         f"({ss_patient.token})", rule="MHD:ITI-65.same-patient",
                         expression=f"Bundle.entry[{patient_entries[0]}].resource.identifier",
                         details_code=XDS_PATIENT_MISMATCH)

    documents = []
    unique_ids: set[str] = set()
    used_binaries: set[str] = set()
    binary_entries = {url: idx for url, idx in full_urls.items() if url in binaries}
    for i in docs:
        entry = entries[i]
        resource = entry["resource"]
        attachment_url = _attachment_url(resource)
        target = references.resolve(attachment_url, referrer=entry["fullUrl"], full_urls=full_urls)
        doc_binaries = dict(binaries)  # by fullUrl: named in the hint when the url does not resolve
        if attachment_url and target in binaries:
            doc_binaries[attachment_url] = binaries[target]
        if target in binaries:
            used_binaries.add(target)
            binary_entries[str(attachment_url)] = full_urls[target]  # the service finds the Binary by the url written
        try:
            doc = parse_document_reference(resource, index=i, full_url=entry["fullUrl"], binaries=doc_binaries,
                                           lookup=lookup_from(entry["fullUrl"]), lenient=lenient,
                                           entry_patient=subject_patient(resource, entry["fullUrl"]))
        except FhirError as error:
            issues.add(error)
            continue
        with issues.check():
            if ss_patient is not None and doc.patient != ss_patient:
                raise refuse(f"Bundle.entry[{i}].resource.subject ({doc.patient.token}) differs from the "
                             f"SubmissionSet's patient ({ss_patient.token})", french=f"Bundle.entry[{i}].resource."
                             f"subject ({doc.patient.token}) n'est pas le patient du lot de soumission "
                             f"({ss_patient.token})", rule="MHD:ITI-65.same-patient",
                             expression=f"Bundle.entry[{i}].resource.subject", details_code=XDS_PATIENT_MISMATCH)
        with issues.check():
            if list_index is not None and doc.full_url not in members:
                raise refuse(f"Bundle.entry[{i}] ({doc.full_url}) is not listed in the SubmissionSet's entry.item",
                             french=f"Bundle.entry[{i}] ({doc.full_url}) ne figure pas dans entry.item du lot de "
                                    "soumission", rule="PDSm:SubmissionSet.entry",
                             expression=f"Bundle.entry[{list_index}].resource.entry")
        with issues.check():
            if doc.unique_id in unique_ids:
                raise refuse(f"Bundle.entry[{i}].resource.masterIdentifier {doc.unique_id!r} is used twice in this "
                             "Bundle", french=f"Bundle.entry[{i}].resource.masterIdentifier {doc.unique_id!r} : cet "
                             "identifiant unique sert deux fois dans ce Bundle", rule="XDS:uniqueId-unique",
                             expression=f"Bundle.entry[{i}].resource.masterIdentifier",
                             details_code=XDS_DUPLICATE, status=409, code="duplicate")
        unique_ids.add(doc.unique_id)
        documents.append(doc)
    if len(documents) == len(docs):  # a Binary of a refused DocumentReference may well be meant for it
        for url, idx in full_urls.items():
            if url in binaries and url not in used_binaries:
                with issues.check():
                    raise refuse(f"Bundle.entry[{idx}] is a Binary no DocumentReference points to",
                                 french=f"Bundle.entry[{idx}] est une Binary qu'aucune fiche (DocumentReference) ne "
                                        "désigne", rule="MHD:ITI-65.Binary", expression=f"Bundle.entry[{idx}]")

    replaced = {d.replaces for d in documents if d.replaces}
    patches = []
    for i in patch_entries:
        with issues.check():
            patches.append(_patch_entry(entries[i], i, replaced, all_parsed=len(documents) == len(docs)))
    issues.raise_any()
    assert ss_patient is not None and source_id is not None and designation is not None
    assert submission_time is not None
    return Submission(
        patient=ss_patient, unique_id=ss_unique_id, source_id=source_id, designation_type=designation,
        submission_time=submission_time, title=ss.get("title"), submission_set=ss, documents=documents,
        patches=patches, entry_kinds=kinds, binary_entries=binary_entries,
    )


def _attachment_url(resource: dict[str, Any]) -> str | None:
    contents = resource.get("content")
    first = contents[0] if isinstance(contents, list) and contents and isinstance(contents[0], dict) else {}
    attachment = first.get("attachment")
    url = attachment.get("url") if isinstance(attachment, dict) else None
    return url if isinstance(url, str) and url else None


def _patch_entry(entry: dict[str, Any], i: int, replaced: set[str], *, all_parsed: bool) -> PatchIn:
    url = str((entry.get("request") or {}).get("url") or "")
    m = _LOGICAL_REF.match(url)
    if not m or m.group("type") != "DocumentReference":
        raise refuse(f"Bundle.entry[{i}].request.url must be DocumentReference/<id>", rule="PDSm4DMP:TD2.1-patch",
                     french=f"Bundle.entry[{i}].request.url doit valoir DocumentReference/<id>",
                     expression=f"Bundle.entry[{i}].request.url", details_code=None)
    if m.group("id") not in replaced and all_parsed:
        raise refuse(f"Bundle.entry[{i}] patches DocumentReference/{m.group('id')}, which no DocumentReference "
                     "of this Bundle replaces (relatesTo.code=replaces)", french=f"Bundle.entry[{i}] modifie "
                     f"DocumentReference/{m.group('id')}, qu'aucune fiche de ce Bundle ne remplace "
                     "(relatesTo.code=replaces)", rule="PDSm4DMP:TD2.1-patch", expression=f"Bundle.entry[{i}]")
    resource = entry.get("resource")
    if isinstance(resource, dict) and resource.get("resourceType") == "Parameters":
        return PatchIn(i, m.group("id"), "fhirpath", resource)
    if isinstance(resource, dict) and resource.get("resourceType") == "Binary":
        import json

        data = _decode_binary(resource.get("data"), expression=f"Bundle.entry[{i}].resource")
        try:
            return PatchIn(i, m.group("id"), "json-patch", json.loads(data))
        except (ValueError, RecursionError):
            raise refuse(f"Bundle.entry[{i}]: the Binary does not hold a JSON Patch", rule="RFC6902",
                         french=f"Bundle.entry[{i}] : la Binary ne contient pas un JSON Patch",
                         expression=f"Bundle.entry[{i}]", details_code=None) from None
    raise refuse(f"Bundle.entry[{i}].resource must be a FHIRPath Patch Parameters (or a Binary holding a "
                 "JSON Patch)", french=f"Bundle.entry[{i}].resource doit être un Parameters FHIRPath Patch (ou une "
                 "Binary contenant un JSON Patch)", rule="PDSm4DMP:TD2.1-patch",
                 expression=f"Bundle.entry[{i}].resource", details_code=None)


def parse_simplified_publish(body: Any, *, lenient: bool = False) -> DocumentIn:
    """ITI-105: a DocumentReference with the document inline in ``content.attachment.data``, checked against
    the PDSm simplified-publish profile; the server computes size and hash and fills what XDS needs."""
    if not isinstance(body, dict) or body.get("resourceType") != "DocumentReference":
        raise refuse(f"ITI-105 takes a DocumentReference [profile {SIMPLIFIED.id}]", rule="MHD:ITI-105",
                     french=f"l'ITI-105 attend un DocumentReference [profil {SIMPLIFIED.id}]",
                     expression="DocumentReference", details_code=None)
    contents = body.get("content")
    first = contents[0] if isinstance(contents, list) and contents else None
    attachment = first.get("attachment") if isinstance(first, dict) else None
    light = body
    if isinstance(attachment, dict) and "data" in attachment:
        light = {**body, "content": [{**body["content"][0],
                                      "attachment": {k: v for k, v in attachment.items() if k != "data"}},
                                     *body["content"][1:]]}
    _fhir_validate("DocumentReference", light, expression="DocumentReference")
    return parse_document_reference(body, index=0, full_url="", binaries={}, lenient=lenient, inline=True)


def _references(node: Any) -> list[str]:
    """Every string under a ``reference`` or ``url`` key below ``node``, in document order."""
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("reference", "url") and isinstance(value, str):
                    found.append(value)
                elif isinstance(value, dict | list):
                    walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(node)
    return found
