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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from app.api.errors import FhirError
from app.dmp import fhircheck, valuesets
from app.dmp.models import DmpDocument, DmpSubmissionSet
from app.dmp.patch import (
    IS_ARCHIVED_URL,
    MetadataState,
    PatchRefused,
    apply_fhirpath_patch,
    apply_json_patch,
    normalise_label,
)

PDSM = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
PROFILE_BUNDLE = PDSM + "pdsm-comprehensive-provide-document-bundle"
PROFILE_DOCREF = PDSM + "pdsm-comprehensive-document-reference"
PROFILE_SUBMISSIONSET = PDSM + "pdsm-submissionset-comprehensive"
PROFILE_SIMPLIFIED = PDSM + "pdsm-simplified-publish"
MHD_LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
EXT_DESIGNATION_TYPE = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType"
EXT_SOURCE_ID = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId"
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"  # identifiant national PS (8 + RPPS), ANS
# INS OIDs: NIR .8, NIA .9, test NIR .10, demo NIR .11 (reference/dmp.md §0)
INS_OIDS = ("1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11")

XDS_METADATA = "XDSRegistryMetadataError"
XDS_REPOSITORY_METADATA = "XDSRepositoryMetadataError"
XDS_DUPLICATE = "XDSDuplicateUniqueIdInRegistry"
XDS_UNKNOWN_PATIENT = "XDSUnknownPatientId"
XDS_PATIENT_MISMATCH = "XDSPatientIdDoesNotMatch"
XDS_MISSING_DOCUMENT = "XDSMissingDocument"


def refuse(
    message: str, *, rule: str, expression: str | None = None, details_code: str | None = XDS_METADATA,
    status: int = 400, code: str = "invalid",
) -> FhirError:
    return FhirError(status, code, message, rule=rule, expression=expression, details_code=details_code)


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
    """One DocumentReference to file, checked against the PDSm comprehensive profile."""

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
    binary_entries: dict[str, int] = field(default_factory=dict)  # Binary fullUrl -> entry index


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
            rule="PDSm:subject-INS", expression=expression, details_code=XDS_UNKNOWN_PATIENT, status=400,
        )
    value = value.strip()
    if not re.fullmatch(r"[0-9AB]{15}", value):
        raise refuse(f"{expression}: {value!r} is not a 15-character INS (NIR or NIA with its key)",
                     rule="PDSm:subject-INS", expression=expression, details_code=XDS_UNKNOWN_PATIENT)
    return PatientId(oid=oid, ins=value)


def patient_from_reference(reference: str | None, *, expression: str, patient_ids: dict[str, PatientId]) -> PatientId:
    """``Patient?identifier=urn:oid:...|INS`` (PDSm examples) or ``Patient/<id>`` of this sandbox."""
    if not reference:
        raise refuse(f"{expression} is required (the patient's INS)", rule="MHD:subject", expression=expression,
                     details_code=XDS_UNKNOWN_PATIENT)
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
        raise refuse(f"{expression}: {text!r} is not a FHIR dateTime", rule=rule, expression=expression) from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        parsed.astimezone(UTC)  # stored in UTC: year 1 at +14:00 or year 9999 at -10:00 falls outside
    except OverflowError:
        raise refuse(f"{expression}: {text!r} is outside the years 1-9999 once in UTC", rule=rule,
                     expression=expression) from None
    return parsed


def _one_coding(cc: Any, *, expression: str, rule: str, required: bool = True) -> Code | None:
    if not cc:
        if required:
            raise refuse(f"{expression} is required by the PDSm comprehensive DocumentReference", rule=rule,
                         expression=expression)
        return None
    codings = cc.get("coding") if isinstance(cc, dict) else None
    if not codings:
        raise refuse(f"{expression} needs a coding (system + code)", rule=rule, expression=expression)
    coding = codings[0]
    if not coding.get("system") or not coding.get("code"):
        raise refuse(f"{expression}.coding needs both system and code", rule=rule, expression=expression)
    return Code(coding["system"], coding["code"], coding.get("display"))


def check_code(element: str, code: Code, *, expression: str, lenient: bool) -> None:
    """Value-set check from the shipped files (DMP set: J66, J57, J60, J61, J04, J58)."""
    vs = valuesets.binding(element)
    if vs.contains(code.system, code.code) or lenient:
        return
    systems = ", ".join(vs.systems())
    subset = "" if vs.complete else " (the sandbox ships a subset of this value set: see docs/dmp.md)"
    raise refuse(
        f"{expression} {code.system}#{code.code} is not in {vs.name}{subset}; expected a code of {systems}",
        rule=f"PDSm:{element}-{vs.id}", expression=expression,
    )


def sha1_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")  # noqa: S324 - XDS hash is SHA-1


def _resolve_contained(resource: dict[str, Any], reference: str | None) -> dict[str, Any] | None:
    if not reference or not reference.startswith("#"):
        return None
    for contained in resource.get("contained") or []:
        if contained.get("id") == reference[1:]:
            return contained
    return None


def _author_info(resource: dict[str, Any], authors: list[Any], resolved: dict[str, dict[str, Any]],
                 *, expression: str) -> tuple[str | None, list[str], list[str]]:
    """The RPPS (``8`` + RPPS under urn:oid:1.2.250.1.71.4.2.1) and names of the document's authors."""
    rpps: str | None = None
    given: list[str] = []
    family: list[str] = []
    for i, author in enumerate(authors):
        ref = author.get("reference") if isinstance(author, dict) else None
        target = _resolve_contained(resource, ref) or (resolved.get(ref) if ref else None)
        if ref and ref.startswith("#") and target is None:
            raise refuse(f"{expression}[{i}] {ref!r} does not match a contained resource",
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
                     details_code=XDS_MISSING_DOCUMENT)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        try:
            return base64.b64decode("".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            raise refuse(f"{expression}.data is not valid base64", rule="FHIR:base64Binary",
                         expression=expression) from None


def _fhir_validate(resource_type: str, body: dict[str, Any], *, expression: str) -> None:
    """Structural validation with fhir.resources (R4 4.0.1): unknown elements, wrong types, cardinalities."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(resource_type)
    except KeyError:
        raise refuse(f"{expression}: unknown resourceType {resource_type!r}", rule="FHIR:resourceType",
                     expression=expression, details_code=None) from None
    if fhircheck.accepts(model, body):
        return  # the fast walk vouches for it: fhir.resources would accept it too (and it is not too deep)
    if fhircheck.deeper_than(body):
        # fhir.resources would exhaust Python's recursion limit (a 500), and orjson cannot store or render
        # beyond 255 levels: the depth is refused up front, before either is reached.
        raise refuse(f"{expression} nests JSON objects and arrays more than {fhircheck.MAX_DEPTH} levels deep",
                     rule="DMP:nesting-depth", expression=expression, details_code=None)
    try:
        model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise refuse(
            f"{expression}: not a valid FHIR R4 {resource_type} ({exc.error_count()} error(s); first at "
            f"{where or 'root'}: {first.get('msg')})",
            rule="FHIR:R4-structure", expression=f"{expression}.{where}" if where else expression, details_code=None,
        ) from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # fhir.resources lets these through on some malformed input (e.g. an unknown or non-string
        # resourceType inside the Bundle): still the client's error, never a 500.
        raise refuse(f"{expression}: not a valid FHIR R4 {resource_type} ({type(exc).__name__} while reading it: "
                     "check every resourceType and the JSON type of each element)",
                     rule="FHIR:R4-structure", expression=expression, details_code=None) from None


def _has_profile(resource: dict[str, Any], profile: str) -> bool:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return isinstance(profiles, list) and any(str(p).split("|", 1)[0] == profile for p in profiles)


# --- DocumentReference ----------------------------------------------------------------------------

def parse_document_reference(
    resource: dict[str, Any], *, index: int, full_url: str, binaries: dict[str, tuple[str, bytes]],
    resolved: dict[str, dict[str, Any]], lenient: bool, inline: bool = False,
) -> DocumentIn:
    """Check one DocumentReference against the PDSm comprehensive profile (reference/dmp.md §1.2)."""
    x = "DocumentReference" if inline else f"Bundle.entry[{index}].resource"
    rule = "PDSm:DocumentReference."
    master = resource.get("masterIdentifier") or {}
    if not master.get("value"):
        raise refuse(f"{x}.masterIdentifier (the document's uniqueId) is required", rule=rule + "masterIdentifier",
                     expression=f"{x}.masterIdentifier")
    if resource.get("status") != "current":
        raise refuse(f"{x}.status must be 'current' on submission, not {resource.get('status')!r}",
                     rule=rule + "status", expression=f"{x}.status")
    patient = patient_from_reference((resource.get("subject") or {}).get("reference"), expression=f"{x}.subject",
                                     patient_ids={})
    type_ = _one_coding(resource.get("type"), expression=f"{x}.type", rule=rule + "type")
    categories = resource.get("category") or []
    category = _one_coding(categories[0] if categories else None, expression=f"{x}.category", rule=rule + "category")
    assert type_ is not None and category is not None
    check_code("type", type_, expression=f"{x}.type", lenient=lenient)
    check_code("category", category, expression=f"{x}.category", lenient=lenient)
    if not resource.get("date"):
        raise refuse(f"{x}.date (creationTime) is required", rule=rule + "date", expression=f"{x}.date")
    date = parse_datetime(resource["date"], expression=f"{x}.date", rule=rule + "date")
    authors = resource.get("author") or []
    if not authors:
        raise refuse(f"{x}.author is required (1..*): the professional, device or organisation that wrote it, "
                     "usually a contained Practitioner/PractitionerRole with its RPPS", rule=rule + "author",
                     expression=f"{x}.author")
    author_rpps, given, family = _author_info(resource, authors, resolved, expression=f"{x}.author")
    if not resource.get("custodian"):
        raise refuse(f"{x}.custodian is required (1..1) by the PDSm comprehensive DocumentReference",
                     rule=rule + "custodian", expression=f"{x}.custodian")
    raw_labels = resource.get("securityLabel") or []
    if not raw_labels:
        raise refuse(f"{x}.securityLabel is required: 1..4 codes of JDV_J58 (e.g. v3-Confidentiality#N)",
                     rule=rule + "securityLabel", expression=f"{x}.securityLabel")
    if len(raw_labels) > 4:
        raise refuse(f"{x}.securityLabel holds {len(raw_labels)} codes; the DMP accepts 1 to 4",
                     rule="PDSm4DMP:confidentiality-1..4", expression=f"{x}.securityLabel")
    labels = []
    for i, label in enumerate(raw_labels):
        code = _one_coding(label, expression=f"{x}.securityLabel[{i}]", rule=rule + "securityLabel")
        assert code is not None
        check_code("securityLabel", code, expression=f"{x}.securityLabel[{i}]", lenient=lenient)
        labels.append(normalise_label(code.system, code.code, code.display))
    contents = resource.get("content") or []
    if len(contents) != 1:
        raise refuse(f"{x}.content must hold exactly one attachment (one document per DocumentReference), "
                     f"found {len(contents)}", rule=rule + "content", expression=f"{x}.content")
    content = contents[0]
    attachment = content.get("attachment") or {}
    ax = f"{x}.content[0].attachment"
    for element in ("contentType", "title", "size", "hash"):
        if attachment.get(element) in (None, ""):
            raise refuse(f"{ax}.{element} is required by the PDSm comprehensive DocumentReference",
                         rule=rule + f"content.attachment.{element}", expression=f"{ax}.{element}")
    fmt = _one_coding({"coding": [content["format"]]} if content.get("format") else None,
                      expression=f"{x}.content[0].format", rule=rule + "content.format")
    assert fmt is not None
    check_code("format", fmt, expression=f"{x}.content[0].format", lenient=lenient)
    if inline:
        if not attachment.get("data"):
            raise refuse(f"{ax}.data is required for a simplified publish (ITI-105)", rule="PDSm:ITI-105.data",
                         expression=f"{ax}.data", details_code=XDS_MISSING_DOCUMENT)
        data = _decode_binary(attachment["data"], expression=ax)
    else:
        url = attachment.get("url")
        if not url:
            raise refuse(f"{ax}.url is required: the urn:uuid of a Binary entry of this Bundle",
                         rule="MHD:ITI-65.attachment-url", expression=f"{ax}.url", details_code=XDS_MISSING_DOCUMENT)
        if url not in binaries:
            raise refuse(f"{ax}.url {url!r} does not resolve to a Binary entry of this Bundle",
                         rule="MHD:ITI-65.reference-resolution", expression=f"{ax}.url",
                         details_code=XDS_MISSING_DOCUMENT)
        binary_type, data = binaries[url]
        if binary_type != attachment["contentType"]:
            raise refuse(f"{ax}.contentType {attachment['contentType']!r} differs from the Binary's "
                         f"contentType {binary_type!r}", rule=rule + "content.attachment.contentType",
                         expression=f"{ax}.contentType", details_code=XDS_REPOSITORY_METADATA)
    try:
        size = int(attachment["size"])
    except (TypeError, ValueError):
        raise refuse(f"{ax}.size must be an integer", rule=rule + "content.attachment.size",
                     expression=f"{ax}.size") from None
    if size != len(data):
        raise refuse(f"{ax}.size is {size} but the document has {len(data)} bytes",
                     rule=rule + "content.attachment.size", expression=f"{ax}.size",
                     details_code=XDS_REPOSITORY_METADATA)
    expected_hash = sha1_b64(data)
    declared_hash = str(attachment["hash"])
    if declared_hash != expected_hash:
        hint = ""
        if declared_hash.lower() == hashlib.sha1(data).hexdigest():  # noqa: S324
            hint = " (it looks hex-encoded: FHIR base64Binary wants the base64 of the 20 raw bytes)"
        raise refuse(f"{ax}.hash {declared_hash!r} is not the SHA-1 of the document ({expected_hash!r}, base64 of "
                     f"the 20-byte digest){hint}", rule=rule + "content.attachment.hash",
                     expression=f"{ax}.hash", details_code=XDS_REPOSITORY_METADATA)
    context = resource.get("context") or {}
    period = context.get("period") or {}
    if not period.get("start"):
        raise refuse(f"{x}.context.period.start (serviceStartTime) is required", rule=rule + "context.period.start",
                     expression=f"{x}.context.period.start")
    period_start = parse_datetime(period["start"], expression=f"{x}.context.period.start",
                                  rule=rule + "context.period.start")
    period_end = parse_datetime(period["end"], expression=f"{x}.context.period.end",
                                rule=rule + "context.period.end") if period.get("end") else None
    facility = _one_coding(context.get("facilityType"), expression=f"{x}.context.facilityType",
                           rule=rule + "context.facilityType")
    practice = _one_coding(context.get("practiceSetting"), expression=f"{x}.context.practiceSetting",
                           rule=rule + "context.practiceSetting")
    assert facility is not None and practice is not None
    check_code("facilityType", facility, expression=f"{x}.context.facilityType", lenient=lenient)
    check_code("practiceSetting", practice, expression=f"{x}.context.practiceSetting", lenient=lenient)
    events = [c for c in (_one_coding(e, expression=f"{x}.context.event", rule=rule + "context.event",
                                      required=False) for e in context.get("event") or []) if c]
    related = []
    for rel in context.get("related") or []:
        identifier = rel.get("identifier") or {}
        if identifier.get("value"):
            related.append((identifier.get("system"), identifier["value"]))
    replaces = None
    for i, relation in enumerate(resource.get("relatesTo") or []):
        if relation.get("code") != "replaces":
            raise refuse(f"{x}.relatesTo[{i}].code {relation.get('code')!r}: the DMP supports only 'replaces' "
                         "(RPLC)", rule="PDSm4DMP:TD2.1-relatesTo", expression=f"{x}.relatesTo[{i}].code")
        target = str((relation.get("target") or {}).get("reference") or "")
        m = _LOGICAL_REF.match(target)
        if not m or m.group("type") != "DocumentReference":
            raise refuse(f"{x}.relatesTo[{i}].target must reference DocumentReference/<id> of the document "
                         "replaced", rule="PDSm4DMP:TD2.1-relatesTo", expression=f"{x}.relatesTo[{i}].target")
        if replaces is not None:
            raise refuse(f"{x}.relatesTo: a document replaces one document at most", rule="PDSm4DMP:TD2.1-relatesTo",
                         expression=f"{x}.relatesTo")
        replaces = m.group("id")
    archived = False
    for ext in resource.get("extension") or []:
        if ext.get("url") == IS_ARCHIVED_URL:
            archived = bool(ext.get("valueBoolean"))
    creation = attachment.get("creation")
    doc = DocumentIn(
        entry_index=index, full_url=full_url, unique_id=str(master["value"]), patient=patient,
        type=type_, category=category, format=fmt, facility_type=facility, practice_setting=practice,
        labels=labels, title=str(attachment["title"]), content_type=str(attachment["contentType"]),
        language=attachment.get("language"), size=size, hash_b64=expected_hash,
        creation=parse_datetime(creation, expression=f"{ax}.creation", rule=rule + "content.attachment.creation")
        if creation else None,
        date=date, period_start=period_start, period_end=period_end, author_rpps=author_rpps,
        author_given=given, author_family=family, events=events, related=related, replaces=replaces,
        is_archived=archived, data=data, resource=resource,
    )
    _check_document_lengths(doc, x=x, ax=ax, inline=inline)
    return doc


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
                     rule="DMP:element-length", expression=expression)
    control = _CONTROL_CHARACTER.search(value)
    if control is not None:
        raise refuse(f"{expression} holds the control character U+{ord(control.group()):04X}, which a FHIR string "
                     "may not contain", rule="FHIR:string", expression=expression)


def _check_document_lengths(doc: DocumentIn, *, x: str, ax: str, inline: bool) -> None:
    """After every profile check, so those keep their precedence; same limits as the tables."""
    n = _DOCUMENT_LENGTHS
    _fits(doc.unique_id, n["unique_id"], expression=f"{x}.masterIdentifier.value")
    for code, element in ((doc.type, "type"), (doc.category, "category"), (doc.format, "format")):
        where = f"{x}.content[0].format" if element == "format" else f"{x}.{element}"
        column = {"type": "type", "category": "class", "format": "format"}[element]
        _fits(code.system, n[f"{column}_system"], expression=f"{where}.system")
        _fits(code.code, n[f"{column}_code"], expression=f"{where}.code")
    _fits(doc.facility_type.code, n["facility_code"], expression=f"{x}.context.facilityType.code")
    _fits(doc.practice_setting.code, n["practice_code"], expression=f"{x}.context.practiceSetting.code")
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

def _submission_set(resource: dict[str, Any], index: int) -> tuple[str, Code, datetime, str | None]:
    x = f"Bundle.entry[{index}].resource"
    rule = "PDSm:SubmissionSet."
    if resource.get("status") != "current":
        raise refuse(f"{x}.status must be 'current' (MHD 4.x SubmissionSet)", rule=rule + "status",
                     expression=f"{x}.status")
    extensions = resource.get("extension") or []
    designation = next((e for e in extensions if e.get("url") == EXT_DESIGNATION_TYPE), None)
    if designation is None:
        raise refuse(f"{x}.extension[designationType] ({EXT_DESIGNATION_TYPE}) is required: the submission's "
                     "contentTypeCode (JDV_J03 / J59)", rule=rule + "designationType",
                     expression=f"{x}.extension[designationType]")
    designation_code = _one_coding(designation.get("valueCodeableConcept"),
                                   expression=f"{x}.extension[designationType].valueCodeableConcept",
                                   rule=rule + "designationType")
    source = next((e for e in extensions if e.get("url") == EXT_SOURCE_ID), None)
    source_id = ((source or {}).get("valueIdentifier") or {}).get("value")
    if not source_id:
        raise refuse(f"{x}.extension[sourceId] ({EXT_SOURCE_ID}) with valueIdentifier.value is required: the OID "
                     "of the submitting system", rule=rule + "sourceId", expression=f"{x}.extension[sourceId]")
    if not resource.get("date"):
        raise refuse(f"{x}.date (submissionTime) is required", rule=rule + "date", expression=f"{x}.date")
    date = parse_datetime(resource["date"], expression=f"{x}.date", rule=rule + "date")
    unique_id = None
    for identifier in resource.get("identifier") or []:
        if identifier.get("use") == "usual" and identifier.get("value"):
            unique_id = str(identifier["value"])
    assert designation_code is not None
    return str(source_id), designation_code, date, unique_id


def parse_provide_bundle(body: Any, *, lenient: bool = False) -> Submission:
    """ITI-65 Provide Document Bundle -> :class:`Submission` (no I/O; the service checks the store)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise refuse("the body of ITI-65 must be a FHIR Bundle", rule="MHD:ITI-65.bundle", expression="Bundle",
                     details_code=None)
    if body.get("type") != "transaction":
        raise refuse(f"Bundle.type must be 'transaction', not {body.get('type')!r}", rule="MHD:ITI-65.bundle-type",
                     expression="Bundle.type", details_code=None)
    if not _has_profile(body, PROFILE_BUNDLE):
        raise refuse(
            f"Bundle.meta.profile must declare {PROFILE_BUNDLE} (PDSm comprehensive provide bundle); found "
            f"{body['meta'].get('profile') if isinstance(body.get('meta'), dict) else None!r}",
            rule="PDSm:Bundle.meta.profile", expression="Bundle.meta.profile", details_code=None,
        )
    entries = body.get("entry") or []
    # Structural validation, Binary payloads left out (they are checked as base64 below, much faster; an
    # absent optional element and a null one are the same to fhir.resources).
    light_entries = []
    for entry in entries if isinstance(entries, list) else ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Binary" and "data" in resource:
            entry = {**entry, "resource": {k: v for k, v in resource.items() if k != "data"}}
        light_entries.append(entry)
    _fhir_validate("Bundle", {**body, "entry": light_entries} if isinstance(entries, list) else body,
                   expression="Bundle")

    full_urls: dict[str, int] = {}
    binaries: dict[str, tuple[str, bytes]] = {}
    lists: list[int] = []
    docs: list[int] = []
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
        if method != "POST":
            raise refuse(f"{x}.request.method must be POST (or PATCH for the replaced document), not {method!r}",
                         rule="MHD:ITI-65.request", expression=f"{x}.request.method", details_code=None)
        if not full_url:
            raise refuse(f"{x}.fullUrl is required (urn:uuid:...) so entries can reference each other",
                         rule="MHD:ITI-65.fullUrl", expression=f"{x}.fullUrl", details_code=None)
        if full_url in full_urls:
            raise refuse(f"{x}.fullUrl {full_url!r} appears twice", rule="MHD:ITI-65.fullUrl",
                         expression=f"{x}.fullUrl", details_code=None)
        full_urls[full_url] = i
        if request.get("url") != rtype:
            raise refuse(f"{x}.request.url must be {rtype!r}", rule="MHD:ITI-65.request",
                         expression=f"{x}.request.url", details_code=None)
        if rtype == "Binary":
            content_type = resource.get("contentType")
            if not content_type:
                raise refuse(f"{x}.resource.contentType is required", rule="MHD:Binary.contentType",
                             expression=f"{x}.resource.contentType")
            binaries[full_url] = (content_type, _decode_binary(resource.get("data"), expression=f"{x}.resource"))
            kinds.append(("binary", i))
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
                             rule="PDSm:Folder", expression=f"{x}.resource", status=422, code="not-supported",
                             details_code=None)
            else:
                raise refuse(f"{x}.resource.code must be {MHD_LIST_TYPES}#submissionset",
                             rule="PDSm:SubmissionSet.code", expression=f"{x}.resource.code")
        else:
            raise refuse(f"{x}: a {rtype} has no place in an ITI-65 Bundle (List, DocumentReference, Binary, "
                         "PATCH of a replaced DocumentReference)", rule="PDSm:Bundle.entry",
                         expression=f"{x}.resource", details_code=None)
    if len(lists) != 1:
        raise refuse(f"the Bundle must hold exactly one SubmissionSet List, found {len(lists)}",
                     rule="PDSm:Bundle.submissionSet-1..1", expression="Bundle.entry")
    if not docs:
        raise refuse("the Bundle must hold at least one DocumentReference", rule="PDSm:Bundle.documentRefs-1..*",
                     expression="Bundle.entry")

    # urn:uuid references anywhere in the Bundle must resolve to an entry (MHD ITI-65 §3.65.4.1.3).
    for i, entry in enumerate(entries):
        for ref in _references(entry.get("resource") or {}):
            if ref.startswith("urn:uuid:") and ref not in full_urls:
                raise refuse(f"Bundle.entry[{i}]: reference {ref!r} does not resolve to an entry of this Bundle",
                             rule="MHD:ITI-65.reference-resolution", expression=f"Bundle.entry[{i}]",
                             details_code=XDS_METADATA)
    resolved = {url: entries[idx].get("resource") or {} for url, idx in full_urls.items()}

    list_index = lists[0]
    ss = entries[list_index]["resource"]
    source_id, designation, submission_time, ss_unique_id = _submission_set(ss, list_index)
    sx, lengths = f"Bundle.entry[{list_index}].resource", _SUBMISSION_LENGTHS
    _fits(source_id, lengths["source_id"], expression=f"{sx}.extension[sourceId]")
    _fits(designation.system, lengths["designation_system"], expression=f"{sx}.extension[designationType]")
    _fits(designation.code, lengths["designation_code"], expression=f"{sx}.extension[designationType]")
    _fits(designation.display, lengths["designation_display"], expression=f"{sx}.extension[designationType]")
    _fits(ss_unique_id, lengths["unique_id"], expression=f"{sx}.identifier")
    title = ss.get("title")
    _fits(title if isinstance(title, str) else None, lengths["title"], expression=f"{sx}.title")
    ss_patient = patient_from_reference((ss.get("subject") or {}).get("reference"),
                                        expression=f"Bundle.entry[{list_index}].resource.subject", patient_ids={})
    members = {str((e.get("item") or {}).get("reference")) for e in ss.get("entry") or []}

    documents = []
    unique_ids: set[str] = set()
    for i in docs:
        entry = entries[i]
        doc = parse_document_reference(entry["resource"], index=i, full_url=entry["fullUrl"], binaries=binaries,
                                       resolved=resolved, lenient=lenient)
        if doc.patient != ss_patient:
            raise refuse(f"Bundle.entry[{i}].resource.subject ({doc.patient.token}) differs from the SubmissionSet's "
                         f"patient ({ss_patient.token})", rule="MHD:ITI-65.same-patient",
                         expression=f"Bundle.entry[{i}].resource.subject", details_code=XDS_PATIENT_MISMATCH)
        if doc.full_url not in members:
            raise refuse(f"Bundle.entry[{i}] ({doc.full_url}) is not listed in the SubmissionSet's entry.item",
                         rule="PDSm:SubmissionSet.entry", expression=f"Bundle.entry[{list_index}].resource.entry")
        if doc.unique_id in unique_ids:
            raise refuse(f"Bundle.entry[{i}].resource.masterIdentifier {doc.unique_id!r} is used twice in this Bundle",
                         rule="XDS:uniqueId-unique", expression=f"Bundle.entry[{i}].resource.masterIdentifier",
                         details_code=XDS_DUPLICATE, status=409, code="duplicate")
        unique_ids.add(doc.unique_id)
        documents.append(doc)
    used_binaries = {d.resource["content"][0]["attachment"]["url"] for d in documents}
    for url, idx in full_urls.items():
        if url in binaries and url not in used_binaries:
            raise refuse(f"Bundle.entry[{idx}] is a Binary no DocumentReference points to", rule="MHD:ITI-65.Binary",
                         expression=f"Bundle.entry[{idx}]")

    replaced = {d.replaces for d in documents if d.replaces}
    patches = []
    for i in patch_entries:
        entry = entries[i]
        url = str((entry.get("request") or {}).get("url") or "")
        m = _LOGICAL_REF.match(url)
        if not m or m.group("type") != "DocumentReference":
            raise refuse(f"Bundle.entry[{i}].request.url must be DocumentReference/<id>", rule="PDSm4DMP:TD2.1-patch",
                         expression=f"Bundle.entry[{i}].request.url", details_code=None)
        if m.group("id") not in replaced:
            raise refuse(f"Bundle.entry[{i}] patches DocumentReference/{m.group('id')}, which no DocumentReference "
                         "of this Bundle replaces (relatesTo.code=replaces)", rule="PDSm4DMP:TD2.1-patch",
                         expression=f"Bundle.entry[{i}]")
        resource = entry.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") == "Parameters":
            patches.append(PatchIn(i, m.group("id"), "fhirpath", resource))
        elif isinstance(resource, dict) and resource.get("resourceType") == "Binary":
            import json

            data = _decode_binary(resource.get("data"), expression=f"Bundle.entry[{i}].resource")
            try:
                patches.append(PatchIn(i, m.group("id"), "json-patch", json.loads(data)))
            except (ValueError, RecursionError):
                raise refuse(f"Bundle.entry[{i}]: the Binary does not hold a JSON Patch", rule="RFC6902",
                             expression=f"Bundle.entry[{i}]", details_code=None) from None
        else:
            raise refuse(f"Bundle.entry[{i}].resource must be a FHIRPath Patch Parameters (or a Binary holding a "
                         "JSON Patch)", rule="PDSm4DMP:TD2.1-patch", expression=f"Bundle.entry[{i}].resource",
                         details_code=None)
    return Submission(
        patient=ss_patient, unique_id=ss_unique_id, source_id=source_id, designation_type=designation,
        submission_time=submission_time, title=ss.get("title"), submission_set=ss, documents=documents,
        patches=patches, entry_kinds=kinds,
        binary_entries={url: idx for url, idx in full_urls.items() if url in binaries},
    )


def parse_simplified_publish(body: Any, *, lenient: bool = False) -> DocumentIn:
    """ITI-105: a DocumentReference with the document inline in ``content.attachment.data``."""
    if not isinstance(body, dict) or body.get("resourceType") != "DocumentReference":
        raise refuse("ITI-105 takes a DocumentReference", rule="MHD:ITI-105", expression="DocumentReference",
                     details_code=None)
    contents = body.get("content")
    first = contents[0] if isinstance(contents, list) and contents else None
    attachment = first.get("attachment") if isinstance(first, dict) else None
    light = body
    if isinstance(attachment, dict) and "data" in attachment:
        light = {**body, "content": [{**body["content"][0],
                                      "attachment": {k: v for k, v in attachment.items() if k != "data"}},
                                     *body["content"][1:]]}
    _fhir_validate("DocumentReference", light, expression="DocumentReference")
    return parse_document_reference(body, index=0, full_url="", binaries={}, resolved={}, lenient=lenient,
                                    inline=True)


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
