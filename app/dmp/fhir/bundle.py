"""ITI-65 Provide Document Bundle -> :class:`~app.dmp.submission.Submission`, without I/O.

Every independent refusal is reported, one OperationOutcome issue each (:class:`FhirIssues`). Sources:
PDSm 3.1.1 ``pdsm-comprehensive-provide-document-bundle`` and ``pdsm-submissionset-comprehensive``
(reference/dmp.md §1.2); IHE MHD 4.2.3 ITI-65 (atomic, urn:uuid resolution, 400 on a wrong
``Bundle.meta.profile``, Asbestos #228); PDSm4DMP TD2.1 (replacement: ``relatesTo=replaces`` + PATCH entry).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from app.api.errors import FhirError, FhirIssues
from app.dmp.exceptions import (
    XDS_DUPLICATE,
    XDS_METADATA,
    XDS_PATIENT_MISMATCH,
    XDS_UNKNOWN_PATIENT,
)
from app.dmp.fhir import references
from app.dmp.fhir.document_reference import parse_document_reference
from app.dmp.fhir.elements import (
    LOGICAL_REF,
    PROFILE_BUNDLE,
    Lookup,
    decode_binary,
    fhir_validate,
    has_profile,
    one_coding,
    parse_datetime,
    parse_patient_token,
    patient_from_reference,
    refuse,
)
from app.dmp.fhir.storable import SUBMISSION_LENGTHS, fits
from app.dmp.submission import EXT_DESIGNATION_TYPE, EXT_SOURCE_ID, MHD_LIST_TYPES, Code, PatchIn, PatientId, Submission
from app.shared.identifiers import INS_OIDS


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
        designation_code = one_coding(designation.get("valueCodeableConcept"),
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


def parse_provide_bundle(body: Any, *, lenient: bool = False, fast: bool) -> Submission:
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
        if not has_profile(body, PROFILE_BUNDLE):
            found = body['meta'].get('profile') if isinstance(body.get('meta'), dict) else None
            raise refuse(
                f"Bundle.meta.profile must declare {PROFILE_BUNDLE} (PDSm comprehensive provide bundle); found "
                f"{found!r}", french=f"Bundle.meta.profile doit déclarer {PROFILE_BUNDLE} (Bundle PDSm de dépôt "
                f"complet) ; trouvé {found!r}", rule="PDSm:Bundle.meta.profile", expression="Bundle.meta.profile",
                details_code=None)
    entries = body.get("entry") or []
    with issues.check():
        fhir_validate("Bundle", {**body, "entry": _light(entries)} if isinstance(entries, list) else body,
                       expression="Bundle", fast=fast)
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
                binaries[full_url] = (content_type, decode_binary(resource.get("data"), expression=f"{x}.resource"))
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
        sx, lengths = f"Bundle.entry[{list_index}].resource", SUBMISSION_LENGTHS
        with issues.check():
            fits(source_id, lengths["source_id"], expression=f"{sx}.extension[sourceId]")
            if designation is not None:
                fits(designation.system, lengths["designation_system"], expression=f"{sx}.extension[designationType]")
                fits(designation.code, lengths["designation_code"], expression=f"{sx}.extension[designationType]")
                fits(designation.display, lengths["designation_display"],
                      expression=f"{sx}.extension[designationType]")
            fits(ss_unique_id, lengths["unique_id"], expression=f"{sx}.identifier")
            title = ss.get("title")
            fits(title if isinstance(title, str) else None, lengths["title"], expression=f"{sx}.title")
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
    m = LOGICAL_REF.match(url)
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
        data = decode_binary(resource.get("data"), expression=f"Bundle.entry[{i}].resource")
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
