"""Stored documents and submission sets written as ebRIM 3.0 (the XDS.b face's answers to ITI-18). No I/O.

A stored :class:`~app.dmp.models.DmpDocument` keeps its columns and the FHIR DocumentReference it was filed
as (IHE MHD 4.2.3 shape, whichever face filed it); this module maps it back to an XDS DocumentEntry, element
by element, as IHE MHD 4.2.3 "Table 4.5.1.1-1 FHIR DocumentReference mapping to DocumentEntry" pairs them and
as IHE ITI TF-3 §4.2.3.2 (DocumentEntry attributes) and Table 4.2.5-1 (their ebRIM UUIDs) encode them:
``rim:ExtrinsicObject`` with its slots (creationTime, hash, languageCode, legalAuthenticator, repositoryUniqueId,
serviceStartTime/StopTime, size, sourcePatientId, referenceIdList), its ``rim:Name`` (title), ``rim:VersionInfo``,
classifications (author with its sub-slots; classCode, confidentialityCode, eventCodeList, formatCode,
healthcareFacilityTypeCode, practiceSettingCode, typeCode, each with its ``codingScheme`` slot and display
``rim:Name``) and external identifiers (patientId, uniqueId). A submission set is a ``rim:RegistryPackage``
with its classification node (ITI TF-3 §4.2.3.3); HasMember and RPLC are ``rim:Association`` (§4.2.2).

Shapes checked against public artefacts: the ITI-18 response of ``ehealthsuisse/EPR-by-example``
(``samples/ITI-18_response.xml``, commit 070b249a), and the DMP's codingScheme OIDs as the ANS DRIMbox
writes them (``ansforge/DRIM-M_DRIMbox`` ``Backend/src/main/java/com/bcom/drimbox/dmp/xades/DocumentEntry.java``,
commit 4ae559df: formatCode ``1.3.6.1.4.1.19376.1.2.3``, DICOM ``1.2.840.10008.2.6.1``, TRE_A05
``1.2.250.1.213.1.1.4.12``, referenceIdList ``ext^^^&root&ISO^type``).

Deviations (docs/dmp.md): the sandbox keeps one entryUUID per document and bumps ``version_id`` on a metadata
change (XDS gives a new entryUUID): ``rim:VersionInfo versionName`` carries it. Identifiers of classifications,
external identifiers and associations are derived (UUID v5) from what they describe, so they are stable
from one answer to the next.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from lxml import etree

from app.db import as_utc
from app.dmp import jsonio
from app.dmp.models import DmpDocument, DmpRecord, DmpSubmissionSet
from app.dmp.soap import namespaces as ns
from app.shared import valuesets

RIM = f"{{{ns.NS_RIM}}}"
RPPS_OID = "1.2.250.1.71.4.2.1"  # identifiant national PS (8 + RPPS), ANS; authorPerson XCN assigning authority
RPPS_SYSTEM = f"urn:oid:{RPPS_OID}"
INS_OID = "1.2.250.1.213.1.4.8"  # INS-NIR (reference/ins.md): the patientId's assigning authority

# codingScheme OIDs of code systems the shipped value sets name by URL only (DRIMbox DocumentEntry.java, above;
# CI-SIS JDV_J10: TRE_A11-IheFormatCode is the IHE format-code OID).
_EXTRA_SCHEMES = {
    "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode": "1.3.6.1.4.1.19376.1.2.3",
    "https://mos.esante.gouv.fr/NOS/TRE_A09-DICOMuidRegistry/FHIR/TRE-A09-DICOMuidRegistry": "1.2.840.10008.2.6.1",
    "https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaireCISIS/FHIR/TRE-A05-TypeDocComplementaireCISIS":
        "1.2.250.1.213.1.1.4.12",
}


@cache
def _scheme_tables() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(system spelling -> codingScheme OID, OID -> every system spelling), from the shipped value sets: a
    code system is written with its NOS URL in FHIR and with its OID in XDS (``urn:oid:`` aliases)."""
    spellings: dict[str, set[str]] = {}
    for vs_id in valuesets.available():
        vs = valuesets.load(vs_id)
        by_canonical: dict[str, set[str]] = {}
        for alias, canonical in vs.aliases.items():
            by_canonical.setdefault(canonical, {canonical}).add(alias)
        for canonical, names in by_canonical.items():
            oid = _EXTRA_SCHEMES.get(canonical) or next(
                (n.removeprefix("urn:oid:") for n in sorted(names) if n.startswith("urn:oid:")), None)
            if oid is not None:
                spellings.setdefault(oid, set()).update(names)
    for url, oid in _EXTRA_SCHEMES.items():
        spellings.setdefault(oid, set()).add(url)
    to_oid = {name: oid for oid, names in spellings.items() for name in names}
    return to_oid, {oid: tuple(sorted(names | {f"urn:oid:{oid}"})) for oid, names in spellings.items()}


def coding_scheme(system: str | None) -> str:
    """The XDS ``codingScheme`` of a FHIR code system: its OID where one is known (``urn:oid:`` stripped),
    else the system as written (MHD 4.2.3: "Coding.system ... converted to the codingScheme")."""
    if not system:
        return ""
    to_oid, _ = _scheme_tables()
    return to_oid.get(system) or system.removeprefix("urn:oid:")


def system_spellings(scheme: str) -> tuple[str, ...]:
    """Every spelling the store may hold for an XDS codingScheme (its NOS URL, aliases, ``urn:oid:`` form), so
    a stored query matches a code whichever face filed it."""
    _, spellings = _scheme_tables()
    bare = scheme.removeprefix("urn:oid:")
    return spellings.get(bare) or tuple(dict.fromkeys((scheme, bare, f"urn:oid:{bare}")))


def xds_time(value: datetime | None, submitted: Any = None) -> str | None:
    """An XDS DTM (ITI TF-3 §4.2.3.1.8: ``YYYY[MM[DD[hh[mm[ss]]]]]``, UTC). A value submitted without a time
    (``2026-06-12``, ``2026-06``) keeps its precision; otherwise the stored instant, in UTC, to the second."""
    if isinstance(submitted, str) and submitted and "T" not in submitted:
        return submitted.replace("-", "")
    if value is None:
        return None
    return as_utc(value).strftime("%Y%m%d%H%M%S")


def _day_start(text: str) -> datetime | None:
    """The UTC instant a date without a time denotes (``2026-06-12``, ``2026-06``, ``2026``: its first second)."""
    parts = text.split("-")
    try:
        return datetime(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, int(parts[2]) if len(parts) > 2 else 1,
                        tzinfo=UTC)
    except (ValueError, IndexError):
        return None


def creation_time(doc: DmpDocument, date: Any, creation: Any) -> str | None:
    """A DocumentEntry's creationTime: the DocumentReference's ``date``, always, as the DMP's own guide maps it
    (PDSm4DMP ``annexe_dates_xds_fhir.md``: creationTime -> ``DocumentReference.date``, reference/dmp.md §1.3
    "Dates"; MHD 4.2.3 maps it to ``content.attachment.creation`` instead), so that what ITI-18 shows is what
    ``$XDSDocumentEntryCreationTime*`` and ITI-67 ``creation`` compare (:mod:`app.dmp.queries`: ``date``).
    ``attachment.creation`` only lends its precision, when it is a date without a time denoting the same instant
    (``2026-06-12`` beside ``2026-06-12T00:00:00Z`` reads ``20260612``); a different creation is not shown."""
    if isinstance(creation, str) and creation and "T" not in creation and doc.date is not None \
            and _day_start(creation) == as_utc(doc.date):
        return xds_time(doc.date, creation)
    return xds_time(doc.date, date)


def hash_hex(hash_b64: str) -> str:
    """XDS ``hash`` is the SHA-1 in hexadecimal (ITI TF-3 §4.2.3.2.11); the store keeps FHIR's base64."""
    try:
        return base64.b64decode(hash_b64, validate=True).hex()
    except (binascii.Error, ValueError):
        return hash_b64


def xds_unique_id(value: str) -> str:
    """MHD 4.2.3 writes an OID uniqueId as ``urn:oid:<oid>`` in ``masterIdentifier``; XDS as the bare OID."""
    return value.removeprefix("urn:oid:")


def patient_cx(ins: str, oid: str) -> str:
    """The patientId as a CX (ITI TF-3 §4.2.3.1.7): ``INS^^^&<oid>&ISO`` (the DMP adds ``^NH``, reference/dmp.md
    §1.1's resource-id example)."""
    return f"{ins}^^^&{oid.removeprefix('urn:oid:')}&ISO^NH"


def _stable_id(*parts: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'segur-sandbox:dmp:xds:' + ':'.join(parts))}"


# --- ebRIM element builders -------------------------------------------------------------------------------

def _sub(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, RIM + tag, {k: v for k, v in attrs.items() if v is not None})


def slot(parent: etree._Element, name: str, values: Iterable[str | None]) -> etree._Element | None:
    kept = [v for v in values if v not in (None, "")]
    if not kept:
        return None
    element = _sub(parent, "Slot", name=name)
    value_list = _sub(element, "ValueList")
    for value in kept:
        _sub(value_list, "Value").text = value
    return element


def localized(parent: etree._Element, tag: str, text: str | None) -> None:
    if text:
        _sub(_sub(parent, tag), "LocalizedString", value=text, charset="UTF-8")


def classification(parent: etree._Element, *, scheme: str, classified: str, node: str, n: int,
                   coding: str | None = None, display: str | None = None) -> etree._Element:
    element = _sub(parent, "Classification", id=_stable_id(classified, scheme, str(n)), classificationScheme=scheme,
                   classifiedObject=classified, nodeRepresentation=node, objectType=ns.OBJECT_TYPE_CLASSIFICATION)
    if coding is not None:
        slot(element, "codingScheme", [coding])
    localized(element, "Name", display if display is not None and coding is not None else None)
    return element


def external_identifier(parent: etree._Element, *, scheme: str, owner: str, value: str, name: str) -> None:
    element = _sub(parent, "ExternalIdentifier", id=_stable_id(owner, scheme), registryObject=owner,
                   identificationScheme=scheme, value=value, objectType=ns.OBJECT_TYPE_EXTERNAL_IDENTIFIER)
    localized(element, "Name", name)


def object_ref(object_id: str) -> etree._Element:
    """``rim:ObjectRef`` (ITI TF-2a §3.18.4.1.2.5: returnType ObjectRef)."""
    return etree.Element(RIM + "ObjectRef", id=object_id)


def registry_object_list(objects: Iterable[etree._Element]) -> etree._Element:
    element = etree.Element(RIM + "RegistryObjectList", nsmap={"rim": ns.NS_RIM})
    element.extend(objects)
    return element


# --- the FHIR resource, read back ------------------------------------------------------------------------

def _contained(resource: dict[str, Any], reference: dict[str, Any] | None) -> dict[str, Any] | None:
    ref = (reference or {}).get("reference")
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    return next((c for c in resource.get("contained") or [] if isinstance(c, dict) and c.get("id") == ref[1:]),
                None)


def _first_coding(concept: Any) -> dict[str, Any] | None:
    codings = (concept or {}).get("coding") if isinstance(concept, dict) else None
    return codings[0] if codings and isinstance(codings[0], dict) else None


def person_xcn(practitioner: dict[str, Any]) -> str | None:
    """A Practitioner as an XCN (ITI TF-3 §4.2.3.1.7; the CI-SIS form ``id^FAMILY^Given^^^^^^&1.2.250.1.71.4.2.1
    &ISO^D^^^IDNPS`` for a national PS identifier)."""
    identifiers = practitioner.get("identifier") or [{}]
    identifier = identifiers[0] if isinstance(identifiers[0], dict) else {}
    name = (practitioner.get("name") or [{}])[0] or {}
    family = name.get("family") or ""
    given = " ".join(name.get("given") or [])
    value = identifier.get("value") or ""
    system = identifier.get("system") or ""
    if not (value or family or given):
        return None
    if value and system.startswith("urn:oid:"):
        kind = "IDNPS" if system == RPPS_SYSTEM else ""
        return f"{value}^{family}^{given}^^^^^^&{system.removeprefix('urn:oid:')}&ISO^D^^^{kind}".rstrip("^")
    return f"{value}^{family}^{given}"


def organization_xon(organization: dict[str, Any]) -> str | None:
    """An Organization as an XON (ITI TF-3 §4.2.3.1.7: ``name^^^^^&oid&ISO^IDNST^^^id``)."""
    name = organization.get("name") or ""
    identifier = ((organization.get("identifier") or [{}])[0]) or {}
    value, system = identifier.get("value") or "", identifier.get("system") or ""
    if value and system.startswith("urn:oid:"):
        return f"{name}^^^^^&{system.removeprefix('urn:oid:')}&ISO^IDNST^^^{value}"
    return name or None


def coded_xds(coding: dict[str, Any] | None) -> str | None:
    """A Coding as the ``code^display^codingScheme`` of authorRole / authorSpecialty (CI-SIS)."""
    if not coding or not coding.get("code"):
        return None
    return f"{coding['code']}^{coding.get('display') or ''}^{coding_scheme(coding.get('system'))}"


def _author_slots(resource: dict[str, Any], reference: dict[str, Any]) -> dict[str, list[str]]:
    """The author sub-slots (ITI TF-3 §4.2.3.1.4) of one ``author`` reference: a Practitioner, an Organization
    or a PractitionerRole (its practitioner, organization, code and specialty)."""
    target = _contained(resource, reference)
    slots: dict[str, list[str]] = {"authorPerson": [], "authorInstitution": [], "authorRole": [],
                                   "authorSpecialty": [], "authorTelecommunication": []}
    if target is None:
        return slots
    kind = target.get("resourceType")
    if kind == "Practitioner":
        slots["authorPerson"].append(person_xcn(target) or "")
    elif kind == "Organization":
        slots["authorInstitution"].append(organization_xon(target) or "")
    elif kind == "PractitionerRole":
        practitioner = _contained(resource, target.get("practitioner"))
        organization = _contained(resource, target.get("organization"))
        if practitioner:
            slots["authorPerson"].append(person_xcn(practitioner) or "")
        if organization:
            slots["authorInstitution"].append(organization_xon(organization) or "")
        slots["authorRole"] += [coded_xds(_first_coding(c)) or "" for c in target.get("code") or []]
        slots["authorSpecialty"] += [coded_xds(_first_coding(c)) or "" for c in target.get("specialty") or []]
        # XTN, CI-SIS form for an e-mail address (Mediboard CXDSFactory, feed's ebrim_builders): ^^Internet^<address>
        slots["authorTelecommunication"] += [f"^^Internet^{t['value']}" for t in target.get("telecom") or []
                                             if isinstance(t, dict) and t.get("system") == "email" and t.get("value")]
    return slots


_GENDERS = {"male": "M", "female": "F", "unknown": "U", "other": "O"}


def source_patient_info(patient: dict[str, Any]) -> list[str]:
    """sourcePatientInfo (ITI TF-3 §4.2.3.2.23): PID-5 name (``FAMILY^Given^^^^^L``, the CI-SIS form), PID-7
    birth date, PID-8 sex, from the contained Patient ``context.sourcePatientInfo`` refers to (MHD 4.2.3)."""
    lines = []
    name = (patient.get("name") or [{}])[0] or {}
    if name.get("family") or name.get("given"):
        lines.append(f"PID-5|{name.get('family') or ''}^{' '.join(name.get('given') or [])}^^^^^L")
    if isinstance(patient.get("birthDate"), str):
        lines.append(f"PID-7|{patient['birthDate'].replace('-', '')}")
    if patient.get("gender") in _GENDERS:
        lines.append(f"PID-8|{_GENDERS[patient['gender']]}")
    return lines


def _reference_id(identifier: dict[str, Any]) -> str | None:
    """A ``context.related`` identifier as a referenceIdList CXi (ITI TF-3 §4.2.3.2.28; DRIMbox's form)."""
    value, system = identifier.get("value"), identifier.get("system") or ""
    if not value:
        return None
    kind = ((identifier.get("type") or {}).get("text")) or ""
    if system.startswith("urn:oid:"):
        return f"{value}^^^&{system.removeprefix('urn:oid:')}&ISO" + (f"^{kind}" if kind else "")
    return f"{value}^^^^{kind}" if kind else value


# the value set each coded DocumentEntry attribute is bound to (app.shared.valuesets.BINDINGS), for its display
_BOUND = {ns.SCHEME_DOC_CLASS: "category", ns.SCHEME_DOC_TYPE: "type", ns.SCHEME_DOC_FORMAT: "format",
          ns.SCHEME_DOC_FACILITY: "facilityType", ns.SCHEME_DOC_PRACTICE: "practiceSetting",
          ns.SCHEME_DOC_CONFIDENTIALITY: "securityLabel"}


def display_of(scheme: str, coding: dict[str, Any]) -> str:
    """A code's ``rim:Name`` (ITI TF-3 §4.2.3.1.2: the display name, required): as filed, else the value set's
    display, else the code itself."""
    if coding.get("display"):
        return str(coding["display"])
    element = _BOUND.get(scheme)
    found = valuesets.binding(element).display(coding.get("system"), coding["code"]) if element else None
    return found or str(coding["code"])


def document_status(doc: DmpDocument) -> str:
    """The DocumentEntry's availabilityStatus: OASIS Approved / Deprecated, the CI-SIS Archived (an approved
    document archived) and Deleted (logically deleted), JDV_J52 (reference/dmp.md §2.1)."""
    if doc.availability == "Deleted":
        return ns.STATUS_DELETED
    if doc.availability == "Deprecated":
        return ns.STATUS_DEPRECATED
    return ns.STATUS_ARCHIVED if doc.is_archived else ns.STATUS_APPROVED


def document_entry(doc: DmpDocument, record: DmpRecord, *, repository_unique_id: str) -> etree._Element:
    """``rim:ExtrinsicObject`` for a stored document (ITI TF-3 §4.2.3.2, MHD 4.2.3 Table 4.5.1.1-1)."""
    res = jsonio.loads(doc.resource)
    entry_id = f"urn:uuid:{doc.id}"
    eo = etree.Element(RIM + "ExtrinsicObject", {"id": entry_id, "lid": entry_id, "objectType":
                       ns.OBJECT_TYPE_STABLE_DOCUMENT, "mimeType": doc.content_type, "status": document_status(doc)},
                       nsmap={"rim": ns.NS_RIM})
    content = (res.get("content") or [{}])[0] or {}
    attachment = content.get("attachment") or {}
    context = res.get("context") or {}
    period = context.get("period") or {}
    slot(eo, "creationTime", [creation_time(doc, res.get("date"), attachment.get("creation"))])
    slot(eo, "hash", [hash_hex(doc.hash_b64)])
    slot(eo, "languageCode", [attachment.get("language")])
    authenticator = _contained(res, res.get("authenticator"))
    slot(eo, "legalAuthenticator", [person_xcn(authenticator) if authenticator else None])
    slot(eo, "repositoryUniqueId", [repository_unique_id])
    slot(eo, "serviceStartTime", [xds_time(doc.period_start, period.get("start"))])
    slot(eo, "serviceStopTime", [xds_time(doc.period_end, period.get("end")) if doc.period_end else None])
    slot(eo, "size", [str(doc.size)])
    source = _contained(res, context.get("sourcePatientInfo"))
    source_ids = [i for i in (source or {}).get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    slot(eo, "sourcePatientId", [patient_cx(i["value"], i.get("system") or INS_OID) for i in source_ids[:1]])
    slot(eo, "sourcePatientInfo", source_patient_info(source) if source else [])
    slot(eo, "urn:ihe:iti:xds:2013:referenceIdList",
         [_reference_id(r.get("identifier") or {}) for r in context.get("related") or [] if isinstance(r, dict)])
    localized(eo, "Name", attachment.get("title") or doc.title)
    localized(eo, "Description", res.get("description"))
    _sub(eo, "VersionInfo", versionName=str(doc.version_id))
    n = 0
    for author in res.get("author") or []:
        slots = _author_slots(res, author)
        if any(slots.values()):
            element = classification(eo, scheme=ns.SCHEME_DOC_AUTHOR, classified=entry_id, node="", n=n)
            for name, values in slots.items():
                slot(element, name, values)
            n += 1
    codes: list[tuple[str, dict[str, Any] | None]] = [
        (ns.SCHEME_DOC_CLASS, _first_coding((res.get("category") or [None])[0])),
        *((ns.SCHEME_DOC_CONFIDENTIALITY, {"system": s, "code": c, "display": d}) for s, c, d in doc.labels),
        *((ns.SCHEME_DOC_EVENT, _first_coding(e)) for e in context.get("event") or []),
        (ns.SCHEME_DOC_FORMAT, content.get("format")),
        (ns.SCHEME_DOC_FACILITY, _first_coding(context.get("facilityType"))),
        (ns.SCHEME_DOC_PRACTICE, _first_coding(context.get("practiceSetting"))),
        (ns.SCHEME_DOC_TYPE, _first_coding(res.get("type"))),
    ]
    for scheme, coding in codes:
        if coding and coding.get("code"):
            classification(eo, scheme=scheme, classified=entry_id, node=coding["code"], n=n,
                           coding=coding_scheme(coding.get("system")), display=display_of(scheme, coding))
            n += 1
    external_identifier(eo, scheme=ns.IDENT_DOC_PATIENT, owner=entry_id, value=patient_cx(record.ins, record.ins_oid),
                        name="XDSDocumentEntry.patientId")
    external_identifier(eo, scheme=ns.IDENT_DOC_UNIQUE, owner=entry_id, value=xds_unique_id(doc.unique_id),
                        name="XDSDocumentEntry.uniqueId")
    return eo


def _submission_set_author_slots(ss: DmpSubmissionSet) -> list[dict[str, list[str]]]:
    """The author sub-slots of a submission set (MHD 4.2.3: ``List.source``, and ``author`` where sent)."""
    res = ss.resource or {}
    authors = [a for a in [res.get("source"), *(res.get("author") or [])] if isinstance(a, dict)]
    return [slots for slots in (_author_slots(res, a) for a in authors) if any(slots.values())]


def submission_set_authors(ss: DmpSubmissionSet) -> list[str]:
    """The authorPerson values of a submission set (what $XDSSubmissionSetAuthorPerson is matched against)."""
    return [person for slots in _submission_set_author_slots(ss) for person in slots["authorPerson"] if person]


def submission_set_package(ss: DmpSubmissionSet, record: DmpRecord) -> etree._Element:
    """``rim:RegistryPackage`` + its SubmissionSet classification (ITI TF-3 §4.2.3.3; MHD 4.2.3 List mapping)."""
    ss_id = f"urn:uuid:{ss.id}"
    package = etree.Element(RIM + "RegistryPackage", {"id": ss_id, "lid": ss_id, "objectType":
                            ns.OBJECT_TYPE_REGISTRY_PACKAGE, "status": ns.STATUS_APPROVED}, nsmap={"rim": ns.NS_RIM})
    slot(package, "submissionTime", [xds_time(ss.submission_time)])
    localized(package, "Name", ss.title)
    _sub(package, "VersionInfo", versionName="1")
    n = 0
    for slots in _submission_set_author_slots(ss):
        element = classification(package, scheme=ns.SCHEME_SS_AUTHOR, classified=ss_id, node="", n=n)
        for name, values in slots.items():
            slot(element, name, values)
        n += 1
    classification(package, scheme=ns.SCHEME_SS_CONTENT_TYPE, classified=ss_id, node=ss.designation_code, n=n,
                   coding=coding_scheme(ss.designation_system), display=ss.designation_display or ss.designation_code)
    # the classification that makes this RegistryPackage a SubmissionSet (ITI TF-3 §4.2.1.2), nested in it
    _sub(package, "Classification", id=_stable_id(ss_id, "node"), classifiedObject=ss_id,
         classificationNode=ns.NODE_SUBMISSION_SET, objectType=ns.OBJECT_TYPE_CLASSIFICATION)
    external_identifier(package, scheme=ns.IDENT_SS_PATIENT, owner=ss_id, value=patient_cx(record.ins, record.ins_oid),
                        name="XDSSubmissionSet.patientId")
    external_identifier(package, scheme=ns.IDENT_SS_SOURCE, owner=ss_id, value=xds_unique_id(ss.source_id),
                        name="XDSSubmissionSet.sourceId")
    external_identifier(package, scheme=ns.IDENT_SS_UNIQUE, owner=ss_id, value=xds_unique_id(ss.unique_id),
                        name="XDSSubmissionSet.uniqueId")
    return package


def association(kind: str, source: str, target: str, *, submission_status: str | None = None) -> etree._Element:
    """``rim:Association`` (ITI TF-3 §4.2.2): HasMember from a submission set to its document (slot
    SubmissionSetStatus=Original, §4.2.2.1.1), RPLC from a replacing document to the replaced one (§4.2.2.2)."""
    element = etree.Element(RIM + "Association", {"id": _stable_id(kind, source, target), "associationType": kind,
                            "sourceObject": source, "targetObject": target, "objectType": ns.OBJECT_TYPE_ASSOCIATION,
                            "status": ns.STATUS_APPROVED}, nsmap={"rim": ns.NS_RIM})
    if submission_status:
        slot(element, "SubmissionSetStatus", [submission_status])
    return element


def has_member(ss_id: str, doc_id: str) -> etree._Element:
    return association(ns.ASSOC_HAS_MEMBER, f"urn:uuid:{ss_id}", f"urn:uuid:{doc_id}", submission_status="Original")


def replacement(doc: DmpDocument) -> etree._Element | None:
    """The RPLC association a replacing document was filed with, or None."""
    if not doc.replaces_id:
        return None
    return association(ns.ASSOC_RPLC, f"urn:uuid:{doc.id}", f"urn:uuid:{doc.replaces_id}")
