"""ITI-41's ``xdsb:ProvideAndRegisterDocumentSetRequest`` read into a :class:`~app.dmp.submission.Submission`
(the object the FHIR face builds from an ITI-65 Bundle), without I/O.

Each DocumentEntry becomes the FHIR DocumentReference IHE MHD 4.2.3 maps it to ("DocumentEntry ↔
DocumentReference", MHD Vol 3 §4.5.4.3.3; reference/dmp.md §1.3 identifiers and dates) and the SubmissionSet
the List (MHD §4.5.4.2), so a document filed over SOAP is found and read over FHIR as one filed over FHIR.
Attributes: IHE ITI TF-3 §4.2.3.2 (DocumentEntry), §4.2.3.3 (SubmissionSet); codes checked against the DMP's
value sets as the FHIR face checks them (:func:`app.dmp.codes.check_code`); uniqueIds as
:mod:`app.dmp.uniqueid` says. Every independent refusal is collected (:class:`~app.dmp.exceptions.Refusals`)
with its XDS error code (ITI TF-3 Table 4.2.4.1-2). The building blocks are in :mod:`.ebrim_rim`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from lxml import etree

from app.dmp.codes import check_code
from app.dmp.exceptions import (
    XDS_DUPLICATE,
    XDS_MISSING_DOCUMENT,
    XDS_MISSING_METADATA,
    XDS_PATIENT_MISMATCH,
    XDS_REPOSITORY_METADATA,
    DmpError,
    Kind,
    Refusals,
)
from app.dmp.patch import normalise_label
from app.dmp.soap import namespaces as ns
from app.dmp.soap.call import MissingPart, SoapRequest
from app.dmp.soap.ebrim_rim import (
    RegistryObject,
    authors,
    coded,
    fits,
    invalid,
    parse_cx,
    parse_dtm,
    read_objects,
    xcn_practitioner,
)
from app.dmp.submission import (
    DOCUMENT_LENGTHS,
    EXT_DESIGNATION_TYPE,
    EXT_SOURCE_ID,
    MHD_LIST_TYPES,
    SUBMISSION_LENGTHS,
    Code,
    DocumentIn,
    Submission,
    sha1_b64,
)
from app.dmp.uniqueid import unique_id_problem

EXT_INTENDED_RECIPIENT = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-intendedRecipient"
SLOT_REFERENCE_IDS = "urn:ihe:iti:xds:2013:referenceIdList"  # ITI TF-3 §4.2.3.2.28
_UUID_URN = re.compile(r"urn:uuid:([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})")


def entry_uuid(object_id: str) -> str | None:
    """The entryUUID a client gave an object (ITI TF-3 §4.2.3.1.5: an id is a UUID, ``urn:uuid:`` + RFC 4122,
    which the registry keeps, or a symbolic id, which it replaces by a UUID): the UUID in lower case (RFC 4122
    §3: case-insensitive on input, lower case on output), None for a symbolic id."""
    match = _UUID_URN.fullmatch(object_id)
    return match.group(1).lower() if match else None


def _one(obj: RegistryObject, name: str, *, required: bool = True) -> str | None:
    values = obj.slots.get(name) or []
    if required and not (values and values[0]):
        raise invalid(f"slot {name} is required", f"le slot {name} est obligatoire", element=f"{obj.where}.{name}")
    if len(values) > 1:
        raise invalid(f"slot {name} takes one value, not {len(values)}",
                      f"le slot {name} prend une valeur, et non {len(values)}", element=f"{obj.where}.{name}")
    return values[0] if values else None


def _unique_id(obj: RegistryObject, scheme: str) -> str:
    """An XDS uniqueId (``OID`` or ``OID^extension``), as MHD writes it: ``urn:oid:<uniqueId>``."""
    value = obj.identifiers.get(scheme)
    if not value:
        raise invalid(f"the uniqueId ExternalIdentifier ({scheme}) is required",
                      f"l'ExternalIdentifier uniqueId ({scheme}) est obligatoire", element=f"{obj.where}.uniqueId")
    unique_id = value if value.startswith("urn:") else f"urn:oid:{value}"
    problem = unique_id_problem(unique_id)
    if problem is not None:
        raise invalid(f"{problem[0]} (IHE ITI TF-3 §4.2.3.2.26)", f"{problem[1]} (IHE ITI TF-3 §4.2.3.2.26)",
                      element=f"{obj.where}.uniqueId", rule="XDS:DocumentEntry.uniqueId")
    return unique_id


def _codings(codes: list[Code]) -> dict[str, Any]:
    return {"coding": [c.as_coding() for c in codes]}


def read_document_entry(obj: RegistryObject, *, index: int, data: bytes | None, replaces: str | None,
                        lenient: bool, refusals: Refusals) -> DocumentIn | None:
    """One ExtrinsicObject (ITI TF-3 §4.2.3.2) -> :class:`DocumentIn` with the DocumentReference MHD maps it
    to; None when one of its checks failed (kept in ``refusals``)."""
    before = len(refusals.errors)
    w = obj.where
    rule = "XDS:DocumentEntry."
    values: dict[str, Any] = {}

    def check(name: str, reader: Any) -> None:
        with refusals.check():
            values[name] = reader()

    check("mime", lambda: obj.attr("mimeType") or _raise(invalid("mimeType is required", "mimeType est "
                                                                  "obligatoire", element=f"{w}.mimeType")))
    check("unique_id", lambda: _unique_id(obj, ns.IDENT_DOC_UNIQUE))
    with refusals.check():
        if obj.attr("objectType") not in (None, ns.OBJECT_TYPE_STABLE_DOCUMENT):
            raise invalid(f"objectType {obj.attr('objectType')}: the DMP stores stable documents only "
                          f"({ns.OBJECT_TYPE_STABLE_DOCUMENT}, ITI TF-3 §4.2.5.2)", f"objectType "
                          f"{obj.attr('objectType')} : le DMP ne conserve que des documents stables "
                          f"({ns.OBJECT_TYPE_STABLE_DOCUMENT}, ITI TF-3 §4.2.5.2)", element=f"{w}.objectType",
                          rule=rule + "objectType", kind=Kind.UNPROCESSABLE)
    check("patient", lambda: parse_cx(obj.identifiers.get(ns.IDENT_DOC_PATIENT), element=f"{w}.patientId"))
    check("creation", lambda: parse_dtm(_one(obj, "creationTime"), element=f"{w}.creationTime"))
    check("start", lambda: parse_dtm(_one(obj, "serviceStartTime"), element=f"{w}.serviceStartTime"))
    check("stop", lambda: parse_dtm(stop, element=f"{w}.serviceStopTime")
          if (stop := _one(obj, "serviceStopTime", required=False)) else None)
    check("language", lambda: _one(obj, "languageCode"))
    check("source_patient", lambda: _one(obj, "sourcePatientId", required=False))
    check("legal", lambda: _one(obj, "legalAuthenticator", required=False))
    check("title", lambda: obj.name or _raise(invalid("Name (the title) is required by the DMP (PDSm "
                                                      "attachment.title 1..1)", "Name (le titre) est obligatoire "
                                                      "pour le DMP (PDSm attachment.title 1..1)",
                                                      element=f"{w}.title")))
    checked: dict[str, Code] = {}
    for label, scheme, element in (("typeCode", ns.SCHEME_DOC_TYPE, "type"),
                                   ("classCode", ns.SCHEME_DOC_CLASS, "category"),
                                   ("formatCode", ns.SCHEME_DOC_FORMAT, "format"),
                                   ("healthcareFacilityTypeCode", ns.SCHEME_DOC_FACILITY, "facilityType"),
                                   ("practiceSettingCode", ns.SCHEME_DOC_PRACTICE, "practiceSetting")):
        for code in coded(obj, scheme, label, refusals=refusals):
            with refusals.check():
                check_code(element, code, expression=f"{w}.{label}", lenient=lenient, rule_prefix="XDS:")
                checked[element] = code
    labels: list[tuple[str, str, str]] = []
    confidentiality = coded(obj, ns.SCHEME_DOC_CONFIDENTIALITY, "confidentialityCode", refusals=refusals, many=True)
    with refusals.check():
        if len(confidentiality) > 4:
            raise invalid(f"confidentialityCode holds {len(confidentiality)} codes; the DMP accepts 1 to 4",
                          f"confidentialityCode porte {len(confidentiality)} codes ; le DMP en accepte de 1 à 4",
                          element=f"{w}.confidentialityCode", rule="PDSm4DMP:confidentiality-1..4")
    for code in confidentiality:
        with refusals.check():
            check_code("securityLabel", code, expression=f"{w}.confidentialityCode", lenient=lenient,
                       rule_prefix="XDS:")
            labels.append(normalise_label(code.system, code.code, code.display))
    events = coded(obj, ns.SCHEME_DOC_EVENT, "eventCodeList", refusals=refusals, required=False, many=True)
    contained, author_refs, rpps, given, family = authors(obj, ns.SCHEME_DOC_AUTHOR, "")
    with refusals.check():
        if not author_refs:
            raise invalid("author is required by the DMP (a Classification of scheme "
                          f"{ns.SCHEME_DOC_AUTHOR} with authorPerson)", "l'auteur est obligatoire pour le DMP (une "
                          f"Classification de schéma {ns.SCHEME_DOC_AUTHOR} avec authorPerson)", element=f"{w}.author",
                          rule=rule + "author")
    with refusals.check():
        if data is None:
            return None
        hash_slot = _one(obj, "hash", required=False)
        if hash_slot is not None and hash_slot.lower() != hashlib.sha1(data).hexdigest():  # noqa: S324
            raise invalid(f"hash {hash_slot} is not the SHA-1 of the document ({hashlib.sha1(data).hexdigest()})",  # noqa: S324
                          f"hash {hash_slot} n'est pas le SHA-1 du document", element=f"{w}.hash",
                          rule=rule + "hash", code=XDS_REPOSITORY_METADATA)
    with refusals.check():
        size_slot = _one(obj, "size", required=False)
        if size_slot is not None and size_slot != str(len(data)):
            raise invalid(f"size {size_slot} is not the document's ({len(data)} bytes)",
                          f"size {size_slot} n'est pas la taille du document ({len(data)} octets)",
                          element=f"{w}.size", rule=rule + "size", code=XDS_REPOSITORY_METADATA)
    if len(refusals.errors) > before:
        return None
    patient = values["patient"]
    creation, creation_text = values["creation"]
    start, start_text = values["start"]
    stop = values["stop"]
    related = []
    for reference in obj.slots.get(SLOT_REFERENCE_IDS) or []:
        ident, _, rest = reference.partition("^^^")
        authority = rest.split("^", 1)[0].split("&")
        related.append((f"urn:oid:{authority[1]}" if len(authority) > 1 and authority[1] else None, ident))
    if values["source_patient"]:
        source = parse_source_patient(values["source_patient"], obj.slots.get("sourcePatientInfo") or [])
        contained.insert(0, source)
    if values["legal"]:
        contained.append(xcn_practitioner(values["legal"], "legal-authenticator")[0])
    period = {"start": start_text, **({"end": stop[1]} if stop else {})}
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        **({"contained": contained} if contained else {}),
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": values["unique_id"]},
        "status": "current",
        "type": _codings([checked["type"]]),
        "category": [_codings([checked["category"]])],
        "subject": {"reference": f"Patient?identifier=urn:oid:{patient.oid}|{patient.ins}"},
        "date": creation_text,
        "author": author_refs,
        **({"authenticator": {"reference": "#legal-authenticator"}} if values["legal"] else {}),
        **({"description": obj.description} if obj.description else {}),
        **({"relatesTo": [{"code": "replaces", "target": {"reference": f"DocumentReference/{replaces}"}}]}
           if replaces else {}),
        "securityLabel": [{"coding": [{"system": s, "code": c, **({"display": d} if d else {})}]}
                          for s, c, d in labels],
        "content": [{"attachment": {"contentType": values["mime"], "language": values["language"],
                                    "size": len(data), "hash": sha1_b64(data), "title": values["title"],
                                    "creation": creation_text},
                     "format": checked["format"].as_coding()}],
        "context": {
            **({"event": [_codings([e]) for e in events]} if events else {}),
            "period": period,
            "facilityType": _codings([checked["facilityType"]]),
            "practiceSetting": _codings([checked["practiceSetting"]]),
            **({"sourcePatientInfo": {"reference": "#patient-source"}} if values["source_patient"] else {}),
            **({"related": [{"identifier": {k: v for k, v in (("system", s), ("value", i)) if v}}
                            for s, i in related]} if related else {}),
        },
    }
    doc = DocumentIn(
        entry_index=index, full_url=obj.id,
        unique_id=values["unique_id"], patient=patient, type=checked["type"], category=checked["category"],
        format=checked["format"], facility_type=checked["facilityType"], practice_setting=checked["practiceSetting"],
        labels=labels, title=values["title"], content_type=values["mime"], language=values["language"],
        size=len(data), hash_b64=sha1_b64(data), creation=creation, date=creation, period_start=start,
        period_end=stop[0] if stop else None, author_rpps=rpps, author_given=given, author_family=family,
        events=events, related=related, replaces=replaces, is_archived=False, data=data, resource=resource,
        entry_uuid=entry_uuid(obj.id))
    with refusals.check():
        _check_document_lengths(doc, w)
    return None if len(refusals.errors) > before else doc


def _raise(error: DmpError) -> Any:
    raise error


def parse_source_patient(source_id: str, info: list[str]) -> dict[str, Any]:
    """sourcePatientId (CX) and sourcePatientInfo (PID-3/5/7/8 lines, ITI TF-3 §4.2.3.2.23) as a contained
    Patient (MHD: ``context.sourcePatientInfo``)."""
    ident, _, rest = source_id.partition("^^^")
    authority = rest.split("^", 1)[0].split("&")
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "patient-source", "identifier": [
        {"system": f"urn:oid:{authority[1]}" if len(authority) > 1 and authority[1] else "urn:ietf:rfc:3986",
         "value": ident}]}
    for line in info:
        field, _, value = line.partition("|")
        if field == "PID-5" and value:
            c = value.split("^") + [""] * 3
            patient["name"] = [{k: v for k, v in (("family", c[0]), ("given", [c[1]] if c[1] else [])) if v}]
        elif field == "PID-7" and len(value) >= 8 and value[:8].isdigit():
            patient["birthDate"] = f"{value[:4]}-{value[4:6]}-{value[6:8]}"
        elif field == "PID-8" and value:
            patient["gender"] = {"M": "male", "F": "female", "U": "unknown"}.get(value, "other")
    return patient


def _check_document_lengths(doc: DocumentIn, w: str) -> None:
    """The same limits as the tables (:data:`DOCUMENT_LENGTHS`), as the FHIR face checks them."""
    n = DOCUMENT_LENGTHS
    fits(doc.unique_id, n["unique_id"], element=f"{w}.uniqueId")
    for code, label, column in ((doc.type, "typeCode", "type"), (doc.category, "classCode", "class"),
                                (doc.format, "formatCode", "format")):
        fits(code.system, n[f"{column}_system"], element=f"{w}.{label}.codingScheme")
        fits(code.code, n[f"{column}_code"], element=f"{w}.{label}")
    fits(doc.facility_type.code, n["facility_code"], element=f"{w}.healthcareFacilityTypeCode")
    fits(doc.practice_setting.code, n["practice_code"], element=f"{w}.practiceSettingCode")
    fits(doc.content_type, n["content_type"], element=f"{w}.mimeType")
    fits(doc.title, n["title"], element=f"{w}.title")
    fits(doc.author_rpps, n["author_rpps"], element=f"{w}.author")
    fits(" " + " ".join(doc.author_given) + " ", n["author_given"], element=f"{w}.author")
    fits(" " + " ".join(doc.author_family) + " ", n["author_family"], element=f"{w}.author")
    fits(" " + " ".join(lab[1] for lab in doc.labels) + " ", n["label_codes"], element=f"{w}.confidentialityCode")


def read_submission_set(obj: RegistryObject, *, refusals: Refusals) -> Submission | None:
    """The SubmissionSet RegistryPackage (ITI TF-3 §4.2.3.3) -> a :class:`Submission` without documents and
    the List MHD maps it to; None when one of its checks failed (kept in ``refusals``)."""
    before = len(refusals.errors)
    w = obj.where
    values: dict[str, Any] = {}
    with refusals.check():
        values["patient"] = parse_cx(obj.identifiers.get(ns.IDENT_SS_PATIENT), element=f"{w}.patientId")
    with refusals.check():
        values["unique_id"] = _unique_id(obj, ns.IDENT_SS_UNIQUE)
        fits(values["unique_id"], SUBMISSION_LENGTHS["unique_id"], element=f"{w}.uniqueId")
    with refusals.check():
        source = obj.identifiers.get(ns.IDENT_SS_SOURCE)
        if not source:
            raise invalid(f"the sourceId ExternalIdentifier ({ns.IDENT_SS_SOURCE}) is required: the OID of the "
                          "submitting system", f"l'ExternalIdentifier sourceId ({ns.IDENT_SS_SOURCE}) est "
                          "obligatoire : l'OID du système émetteur", element=f"{w}.sourceId")
        values["source_id"] = source if source.startswith("urn:") else f"urn:oid:{source}"
        fits(values["source_id"], SUBMISSION_LENGTHS["source_id"], element=f"{w}.sourceId")
    with refusals.check():
        values["time"] = parse_dtm(_one(obj, "submissionTime"), element=f"{w}.submissionTime")
    with refusals.check():
        fits(obj.name, SUBMISSION_LENGTHS["title"], element=f"{w}.title")
    content = coded(obj, ns.SCHEME_SS_CONTENT_TYPE, "contentTypeCode", refusals=refusals)
    for code in content:
        with refusals.check():
            fits(code.system, SUBMISSION_LENGTHS["designation_system"], element=f"{w}.contentTypeCode")
            fits(code.code, SUBMISSION_LENGTHS["designation_code"], element=f"{w}.contentTypeCode")
            fits(code.display, SUBMISSION_LENGTHS["designation_display"], element=f"{w}.contentTypeCode")
    contained, author_refs, _, _, _ = authors(obj, ns.SCHEME_SS_AUTHOR, "ss-")
    if len(refusals.errors) > before:
        return None
    patient = values["patient"]
    recipients = obj.slots.get("intendedRecipient") or []
    resource: dict[str, Any] = {
        "resourceType": "List",
        **({"contained": contained} if contained else {}),
        "extension": [
            {"url": EXT_DESIGNATION_TYPE, "valueCodeableConcept": _codings(content)},
            {"url": EXT_SOURCE_ID, "valueIdentifier": {"system": "urn:ietf:rfc:3986", "value": values["source_id"]}},
            *({"url": EXT_INTENDED_RECIPIENT, "valueReference": {"display": r}} for r in recipients),
        ],
        "identifier": [{"use": "usual", "system": "urn:ietf:rfc:3986", "value": values["unique_id"]}],
        "status": "current", "mode": "working",
        **({"title": obj.name} if obj.name else {}),
        "code": {"coding": [{"system": MHD_LIST_TYPES, "code": "submissionset"}]},
        "subject": {"reference": f"Patient?identifier=urn:oid:{patient.oid}|{patient.ins}"},
        "date": values["time"][1],
        **({"source": author_refs[0]} if author_refs else {}),
        **({"note": [{"text": obj.description}]} if obj.description else {}),
    }
    return Submission(patient=patient, unique_id=values["unique_id"], source_id=values["source_id"],
                      designation_type=content[0], submission_time=values["time"][0], title=obj.name,
                      submission_set=resource, entry_uuid=entry_uuid(obj.id))


# --- ITI-41 -------------------------------------------------------------------------------------------------

def read_provide_and_register(request: SoapRequest, *, lenient: bool) -> Submission:
    """ITI-41 ``xdsb:ProvideAndRegisterDocumentSetRequest`` -> :class:`Submission` (ITI TF-2b §3.41.4.1):
    one SubmissionSet, its HasMember DocumentEntries, each with its ``xdsb:Document`` (inline base64 or an
    MTOM part); RPLC associations name the replaced entry. Every independent refusal is reported at once."""
    payload = request.payload
    if payload.tag != f"{{{ns.NS_XDSB}}}ProvideAndRegisterDocumentSetRequest":
        raise invalid("the body must be an xdsb:ProvideAndRegisterDocumentSetRequest (ITI TF-2b §3.41.4.1.2)",
                      "le corps doit être un xdsb:ProvideAndRegisterDocumentSetRequest (ITI TF-2b §3.41.4.1.2)",
                      element="Body", rule="XDS:ITI-41")
    submit = payload.find(f"{{{ns.NS_LCM}}}SubmitObjectsRequest")
    objects = read_objects(submit if submit is not None else payload)
    refusals = Refusals()
    documents_by_id: dict[str, etree._Element] = {}
    for element in payload.findall(f"{{{ns.NS_XDSB}}}Document"):
        documents_by_id[element.get("id", "")] = element
    packages = [p for p in objects.packages if p.id in objects.node_classified]
    with refusals.check():
        if len(packages) != 1:
            raise invalid(f"exactly one RegistryPackage classified as a SubmissionSet ({ns.NODE_SUBMISSION_SET}) is "
                          f"required, found {len(packages)}", "exactement un RegistryPackage classé lot de "
                          f"soumission ({ns.NODE_SUBMISSION_SET}) est attendu, trouvé {len(packages)}",
                          element="RegistryObjectList", rule="XDS:SubmissionSet-1..1")
    with refusals.check():
        if not objects.extrinsics:
            raise invalid("at least one ExtrinsicObject (DocumentEntry) is required",
                          "au moins un ExtrinsicObject (fiche de document) est attendu",
                          element="RegistryObjectList", rule="XDS:DocumentEntry-1..*")
    with refusals.check():
        if len(objects.packages) > len(packages):
            raise invalid("Folders are not supported by this sandbox (nor used by the DMP)",
                          "les classeurs (Folder) ne sont pas gérés par ce bac à sable (ni utilisés par le DMP)",
                          element="RegistryPackage", rule="XDS:Folder", kind=Kind.UNPROCESSABLE)
    ss = read_submission_set(packages[0], refusals=refusals) if len(packages) == 1 else None
    members = {a.attr("targetObject") for a in objects.associations
               if a.attr("associationType") == ns.ASSOC_HAS_MEMBER and ss is not None
               and a.attr("sourceObject") == packages[0].id}
    replaced: dict[str, str] = {}
    for association in objects.associations:
        atype = association.attr("associationType")
        with refusals.check():
            if atype == ns.ASSOC_RPLC:
                source, target = str(association.attr("sourceObject")), str(association.attr("targetObject") or "")
                if source not in {e.id for e in objects.extrinsics} or not target or source in replaced:
                    raise invalid("an RPLC association goes from a DocumentEntry of this submission to the entryUUID "
                                  "of the document it replaces, one per DocumentEntry (ITI TF-3 §4.2.2.2.2)",
                                  "une association RPLC va d'une fiche de cette soumission à l'entryUUID du document "
                                  "qu'elle remplace, une par fiche (ITI TF-3 §4.2.2.2.2)", element=association.where,
                                  rule="XDS:RPLC")
                replaced[source] = target.removeprefix("urn:uuid:")
            elif atype != ns.ASSOC_HAS_MEMBER:
                raise invalid(f"associationType {atype!r}: the DMP takes HasMember and RPLC (XFRM, APND, signs are "
                              "not used by the DMP)", f"associationType {atype!r} : le DMP accepte HasMember et RPLC "
                              "(XFRM, APND, signs ne sont pas utilisés par le DMP)", element=association.where,
                              rule="XDS:associationType", kind=Kind.UNPROCESSABLE)
    documents: list[DocumentIn] = []
    seen_ids = {p.id.lower() for p in packages}
    for index, extrinsic in enumerate(objects.extrinsics):
        with refusals.check():
            if extrinsic.id.lower() in seen_ids:  # an id names one object of the submission (kept: entryUUID)
                raise invalid(f"id {extrinsic.id} is used by another object of this submission",
                              f"l'id {extrinsic.id} sert à un autre objet de cette soumission",
                              element=extrinsic.where, rule="XDS:entryUUID-unique")
        seen_ids.add(extrinsic.id.lower())
        element = documents_by_id.pop(extrinsic.id, None)
        data: bytes | None = None
        with refusals.check():
            if element is None:
                raise invalid("no xdsb:Document carries this DocumentEntry's bytes (xdsb:Document id= the "
                              "ExtrinsicObject's id)", "aucun xdsb:Document ne porte le contenu de cette fiche "
                              "(xdsb:Document id= l'id de l'ExtrinsicObject)", element=extrinsic.where,
                              rule="XDS:ITI-41.document", code=XDS_MISSING_DOCUMENT)
            try:
                data = request.binary(element)
            except MissingPart as exc:
                raise invalid(str(exc), f"contenu illisible : {exc}", element=f"Document[{extrinsic.id}]",
                              rule="XDS:ITI-41.document", code=XDS_MISSING_DOCUMENT) from None
        with refusals.check():
            if ss is not None and extrinsic.id not in members:
                raise invalid("no HasMember association links this DocumentEntry to the SubmissionSet",
                              "aucune association HasMember ne relie cette fiche au lot de soumission",
                              element=extrinsic.where, rule="XDS:SubmissionSet-HasMember")
        doc = read_document_entry(extrinsic, index=index, data=data, replaces=replaced.get(extrinsic.id),
                                  lenient=lenient, refusals=refusals)
        if doc is None:
            continue
        with refusals.check():
            if ss is not None and doc.patient != ss.patient:
                raise invalid(f"patientId {doc.patient.ins} is not the SubmissionSet's ({ss.patient.ins})",
                              f"patientId {doc.patient.ins} n'est pas celui du lot de soumission ({ss.patient.ins})",
                              element=f"{extrinsic.where}.patientId", rule="XDS:same-patient",
                              code=XDS_PATIENT_MISMATCH)
        with refusals.check():
            if any(d.unique_id == doc.unique_id for d in documents):
                raise invalid(f"uniqueId {doc.unique_id} is used twice in this submission",
                              f"l'identifiant unique {doc.unique_id} sert deux fois dans cette soumission",
                              element=f"{extrinsic.where}.uniqueId", rule="XDS:uniqueId-unique",
                              code=XDS_DUPLICATE, kind=Kind.DUPLICATE)
        documents.append(doc)
    for orphan in documents_by_id:
        with refusals.check():
            raise invalid("an xdsb:Document no ExtrinsicObject describes", "un xdsb:Document qu'aucun "
                          "ExtrinsicObject ne décrit", element=f"Document[{orphan}]", rule="XDS:ITI-41.document",
                          code=XDS_MISSING_METADATA)
    refusals.raise_any()
    assert ss is not None
    ss.documents = documents
    ss.entry_kinds = [("submissionset", -1), *(("document", d.entry_index) for d in documents)]
    ss.submission_set["entry"] = [{"item": {"reference": d.full_url}} for d in documents]
    return ss
