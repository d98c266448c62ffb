"""Reading an XDM: the archive's layout and its ``METADATA.XML`` (ebRIM 3.0 SubmitObjectsRequest, ITI TF-3
§4.2): the submission set, each document entry, its file's hash and size, its CDA header. What is merely
non-conformant is an :class:`XdmIssue`; what is unsafe or unreadable an :class:`XdmError`. Pure."""

from __future__ import annotations

import hashlib

from lxml import etree

from app.mss.exceptions import XdmError
from app.mss.xdm.archive import read_zip_entries
from app.mss.xdm.cda import parse_cda_header
from app.mss.xdm.model import (
    DE_CLASS_CODE,
    DE_CONFIDENTIALITY,
    DE_FORMAT_CODE,
    DE_PATIENT_ID,
    DE_TYPE_CODE,
    DE_UNIQUE_ID,
    DEFAULT_LIMITS,
    DOCUMENT_ENTRY_ON_DEMAND,
    DOCUMENT_ENTRY_STABLE,
    INDEX_PATH,
    LCM,
    METADATA_PATH,
    NS,
    README_PATH,
    RIM,
    SS_CONTENT_TYPE,
    SS_PATIENT_ID,
    SS_SOURCE_ID,
    SS_UNIQUE_ID,
    SUBMISSION_SET_NODE,
    SUBSET,
    CdaHeader,
    Code,
    DocumentEntry,
    PatientId,
    SubmissionSet,
    XdmIssue,
    XdmLimits,
    XdmPackage,
)
from app.numbers import ascii_count
from app.xmlsafe import InvalidXmlError, UnsafeXmlError, parse_untrusted

# ElementPath lookups "rim:Slot", "rim:ValueList/rim:Value"... at a fraction of their cost.
_SLOT, _VALUE_LIST, _VALUE = f"{{{RIM}}}Slot", f"{{{RIM}}}ValueList", f"{{{RIM}}}Value"
_CLASSIFICATION, _EXTERNAL_IDENTIFIER = f"{{{RIM}}}Classification", f"{{{RIM}}}ExternalIdentifier"
_LOCALIZED_STRING = f"{{{RIM}}}LocalizedString"


def _slot(obj: etree._Element, name: str) -> list[str]:
    values: list[str] = []
    for slot in obj.iterchildren(_SLOT):
        if slot.get("name") == name:
            for value_list in slot.iterchildren(_VALUE_LIST):
                values.extend(v.text or "" for v in value_list.iterchildren(_VALUE))
    return values


def _localized(obj: etree._Element, tag: str) -> str | None:
    for el in obj.iterchildren(f"{{{RIM}}}{tag}"):
        for localized in el.iterchildren(_LOCALIZED_STRING):
            return localized.get("value")
    return None


def _classification(obj: etree._Element, scheme: str) -> Code | None:
    for cl in obj.iterchildren(_CLASSIFICATION):
        if cl.get("classificationScheme") == scheme:
            coding = _slot(cl, "codingScheme")
            return Code(
                code=cl.get("nodeRepresentation") or "",
                scheme=coding[0] if coding else None,
                display=_localized(cl, "Name"),
            )
    return None


def _external_id(obj: etree._Element, scheme: str) -> str | None:
    for ei in obj.iterchildren(_EXTERNAL_IDENTIFIER):
        if ei.get("identificationScheme") == scheme:
            return ei.get("value")
    return None


def _document_path(uri: str | None, files: dict[str, bytes]) -> str | None:
    if not uri:
        return None
    candidates = [SUBSET + uri, uri]
    upper = {name.upper(): name for name in files}
    for cand in candidates:
        if cand in files:
            return cand
        if cand.upper() in upper:
            return upper[cand.upper()]
    return None


def read_xdm(data: bytes, limits: XdmLimits = DEFAULT_LIMITS) -> XdmPackage:
    """Read an ``IHE_XDM.ZIP``. Raises :class:`XdmError` when unsafe or unreadable."""
    files = read_zip_entries(data, limits)
    upper = {name.upper(): name for name in files}
    issues: list[XdmIssue] = []
    for required in (INDEX_PATH, README_PATH):
        if required not in upper:
            issues.append(
                XdmIssue("xdm.layout", "warning", f"{required} is missing at the root (IHE ITI TF-1 §16.1.2)")
            )
    meta_name = upper.get(METADATA_PATH)
    if meta_name is None:
        raise XdmError("xdm.layout.metadata", f"{METADATA_PATH} is missing")
    if meta_name != METADATA_PATH:
        issues.append(XdmIssue("xdm.layout", "warning", f"{meta_name} should be spelt {METADATA_PATH}"))
    try:
        root = parse_untrusted(files[meta_name], max_bytes=limits.max_xml_bytes)
    except UnsafeXmlError as exc:
        raise XdmError("xdm.xml.unsafe", f"METADATA.XML: {exc}") from None
    except InvalidXmlError as exc:
        raise XdmError("xdm.metadata.invalid", f"METADATA.XML: {exc}") from None
    if etree.QName(root).namespace not in (LCM, RIM):
        raise XdmError(
            "xdm.metadata.invalid",
            "METADATA.XML root is not an ebRIM 3.0 SubmitObjectsRequest / RegistryObjectList",
        )

    submission: SubmissionSet | None = None
    # The objects a Classification anywhere marks as the SubmissionSet, gathered once (per package, a
    # walk of the whole document made a crafted METADATA.XML cost packages x classifications).
    submission_sets = {
        cl.get("classifiedObject") for cl in root.iter(f"{{{RIM}}}Classification")
        if cl.get("classificationNode") == SUBMISSION_SET_NODE
    }
    for pkg in root.iter(f"{{{RIM}}}RegistryPackage"):
        is_ss = pkg.get("id") in submission_sets or any(
            cl.get("classificationNode") == SUBMISSION_SET_NODE
            for cl in pkg.findall("rim:Classification", NS)
        )
        if not is_ss:
            continue
        pid = _external_id(pkg, SS_PATIENT_ID)
        times = _slot(pkg, "submissionTime")
        submission = SubmissionSet(
            entry_id=pkg.get("id"),
            unique_id=_external_id(pkg, SS_UNIQUE_ID),
            source_id=_external_id(pkg, SS_SOURCE_ID),
            patient_id=PatientId.parse(pid) if pid else None,
            submission_time=times[0] if times else None,
            content_type=_classification(pkg, SS_CONTENT_TYPE),
        )
        break
    if submission is None:
        issues.append(XdmIssue("xdm.metadata.submission_set", "error", "no SubmissionSet in METADATA.XML"))

    documents: list[DocumentEntry] = []
    # Per file, however many DocumentEntries name it: its SHA-1 and its CDA header (or why it has none).
    digests: dict[str, str] = {}
    cda_headers: dict[str, CdaHeader | InvalidXmlError | UnsafeXmlError] = {}
    for obj in root.iter(f"{{{RIM}}}ExtrinsicObject"):
        if obj.get("objectType") not in (DOCUMENT_ENTRY_STABLE, DOCUMENT_ENTRY_ON_DEMAND):
            issues.append(
                XdmIssue(
                    "xdm.metadata.object_type",
                    "warning",
                    f"ExtrinsicObject {obj.get('id')} has objectType "
                    f"{obj.get('objectType')!r}, not the DocumentEntry UUID",
                )
            )
        uris = _slot(obj, "URI")
        uri = uris[0].strip() if uris else None
        path = _document_path(uri, files)
        hashes, sizes = _slot(obj, "hash"), _slot(obj, "size")
        pid = _external_id(obj, DE_PATIENT_ID)
        entry_id = obj.get("id") or "?"
        size_text = sizes[0].strip() if sizes else None
        declared_size = ascii_count(size_text)
        if size_text is not None and declared_size is None:
            issues.append(
                XdmIssue("xdm.document.size", "error", f"DocumentEntry {entry_id}: the size slot is not an "
                         "integer of 1 to 9 ASCII digits")
            )
        cda: CdaHeader | None = None
        if uri is None:
            issues.append(XdmIssue("xdm.metadata.uri", "error", f"DocumentEntry {entry_id} has no URI slot"))
        elif path is None:
            issues.append(
                XdmIssue(
                    "xdm.document.missing",
                    "error",
                    f"DocumentEntry {entry_id}: {uri!r} is not in the archive",
                )
            )
        else:
            content = files[path]
            digest = digests.get(path)
            if digest is None:
                digest = digests[path] = hashlib.sha1(content).hexdigest()  # noqa: S324
            if hashes and hashes[0].strip().lower() != digest:
                issues.append(
                    XdmIssue("xdm.document.hash", "error", f"{path}: the SHA-1 does not match the hash slot")
                )
            if not hashes:
                issues.append(
                    XdmIssue("xdm.document.hash", "warning", f"DocumentEntry {entry_id} has no hash slot")
                )
            if declared_size is not None and declared_size != len(content):
                issues.append(
                    XdmIssue(
                        "xdm.document.size", "error", f"{path}: size slot {declared_size} != {len(content)}"
                    )
                )
            mime = (obj.get("mimeType") or "").lower()
            if mime in ("text/xml", "application/xml", "application/hl7-v3+xml") or path.upper().endswith(
                ".XML"
            ):
                header = cda_headers.get(path)
                if header is None:
                    try:
                        header = parse_cda_header(content, limits)
                    except (UnsafeXmlError, InvalidXmlError) as exc:
                        header = exc
                    cda_headers[path] = header
                if isinstance(header, UnsafeXmlError):
                    raise XdmError("xdm.xml.unsafe", f"{path}: {header}") from None
                if isinstance(header, InvalidXmlError):
                    if mime in ("text/xml", "application/hl7-v3+xml"):
                        issues.append(XdmIssue("xdm.cda.invalid", "error", f"{path}: {header}"))
                else:
                    cda = header
        times = _slot(obj, "creationTime")
        spid = _slot(obj, "sourcePatientId")
        documents.append(
            DocumentEntry(
                entry_id=entry_id,
                uri=uri,
                path=path,
                mime_type=obj.get("mimeType"),
                unique_id=_external_id(obj, DE_UNIQUE_ID),
                patient_id=PatientId.parse(pid) if pid else None,
                source_patient_id=spid[0] if spid else None,
                title=_localized(obj, "Name"),
                class_code=_classification(obj, DE_CLASS_CODE),
                type_code=_classification(obj, DE_TYPE_CODE),
                format_code=_classification(obj, DE_FORMAT_CODE),
                confidentiality_code=_classification(obj, DE_CONFIDENTIALITY),
                hash=hashes[0].strip() if hashes else None,
                size=declared_size,
                creation_time=times[0] if times else None,
                cda=cda,
            )
        )
    if not documents:
        issues.append(XdmIssue("xdm.metadata.documents", "error", "no DocumentEntry in METADATA.XML"))
    for doc in documents:
        if doc.patient_id is None:
            issues.append(
                XdmIssue("xdm.metadata.patient_id", "error", f"DocumentEntry {doc.entry_id} has no patientId")
            )
        elif doc.cda and doc.cda.ins and doc.patient_id.id != doc.cda.ins:
            issues.append(
                XdmIssue(
                    "xdm.patient.mismatch",
                    "error",
                    f"DocumentEntry {doc.entry_id}: patientId {doc.patient_id.id} differs from "
                    f"the CDA INS {doc.cda.ins}",
                )
            )
    package = XdmPackage(
        files=sorted(files), submission_set=submission, documents=documents, issues=issues, contents=files
    )
    if len({p.id for p in package.patient_ids}) > 1:
        issues.append(
            XdmIssue(
                "xdm.patient.several",
                "error",
                "the XDM concerns several patients (Ref #2 ECO.2.1.1: one only)",
            )
        )
    return package
