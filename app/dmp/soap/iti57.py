"""ITI-57 Update Document Set (DMP TD3.3a-d, reference/dmp.md §1.1, §2.3): masking and unmasking for
professionals, patient and legal-representative visibility, archiving, deletion — applied through the same
metadata update as the FHIR face (:func:`app.dmp.service.patch_document`: author only, current version only,
JDV_J58, the version check), traced as ``ITI-57``.

IHE ITI TF-2b §3.57.4.1.3 (a SubmitObjectsRequest with a SubmissionSet and either):
- a new version of a DocumentEntry's metadata: the ExtrinsicObject with ``lid`` = the document's entryUUID
  and a HasMember association from the SubmissionSet carrying ``SubmissionSetStatus=Original`` and
  ``PreviousVersion=<n>`` (the current version, else ``XDSMetadataVersionError``). The DMP lets only the
  confidentialityCode change this way (masking ``MASQUE_PS``, ``INVISIBLE_PATIENT``,
  ``INVISIBLE_REPRESENTANTS_LEGAUX``, reference/dmp.md §2.3-§2.4): any other attribute changed is
  ``XDSMetadataUpdateOperationError``;
- an ``UpdateAvailabilityStatus`` association to the document with ``OriginalStatus`` / ``NewStatus`` slots:
  Approved -> ``urn:asip:ci-sis:2010:StatusType:Deleted`` (deletion, logical), Approved -> ``...:Archived``
  (archiving) and back.
Both shapes as Mediboard's DMP client builds them (``CXDSFactory::generateXDS57``: sergeinack3/PowerCare
``modules/xds/classes/Factory/CXDSFactory.php`` @8c3438fa, a copy of the OpenXtrem tree).
The sandbox keeps one entryUUID per document and bumps its version (rendered as ``rim:VersionInfo``): a
documented deviation (issue 11).
"""

from __future__ import annotations

from typing import Any

from app.dmp import rules, service
from app.dmp.exceptions import (
    XDS_METADATA_UPDATE,
    XDS_METADATA_VERSION,
    XDS_PATIENT_MISMATCH,
    XDS_UNRESOLVED_REFERENCE,
    DmpError,
    Kind,
    Refusals,
)
from app.dmp.models import DmpDocument
from app.dmp.patch import normalise_label
from app.dmp.soap import namespaces as ns
from app.dmp.soap.call import SoapCall, SoapReply
from app.dmp.soap.ebrim_in import read_submission_set
from app.dmp.soap.ebrim_rim import RegistryObject, RegistryObjects, coded, invalid, read_objects
from app.dmp.soap.iti41 import registry_response
from app.dmp.updates import known_to

IS_ARCHIVED_POINTER = "/extension/0/valueBoolean"  # the isArchived extension, as app.dmp.patch reads it
# (OriginalStatus, NewStatus) -> the JSON Patch (RFC 6902) that makes the change (generateXDS57's three cases)
TRANSITIONS: dict[tuple[str, str], list[dict[str, Any]]] = {
    (ns.STATUS_APPROVED, ns.STATUS_DELETED): [{"op": "replace", "path": "/status", "value": "entered-in-error"}],
    (ns.STATUS_APPROVED, ns.STATUS_ARCHIVED): [{"op": "replace", "path": IS_ARCHIVED_POINTER, "value": True}],
    (ns.STATUS_ARCHIVED, ns.STATUS_APPROVED): [{"op": "replace", "path": IS_ARCHIVED_POINTER, "value": False}],
}
# DocumentEntry attribute -> the stored column it must still equal (only confidentialityCode may change)
_FIXED_CODES = (("typeCode", ns.SCHEME_DOC_TYPE, "type_code"), ("classCode", ns.SCHEME_DOC_CLASS, "class_code"),
                ("formatCode", ns.SCHEME_DOC_FORMAT, "format_code"),
                ("healthcareFacilityTypeCode", ns.SCHEME_DOC_FACILITY, "facility_code"),
                ("practiceSettingCode", ns.SCHEME_DOC_PRACTICE, "practice_code"))


def current_status(doc: DmpDocument) -> str:
    """The document's XDS availabilityStatus (JDV_J52, reference/dmp.md §2.1)."""
    if doc.availability == "Approved":
        return ns.STATUS_ARCHIVED if doc.is_archived else ns.STATUS_APPROVED
    return ns.STATUS_DEPRECATED if doc.availability == "Deprecated" else ns.STATUS_DELETED


def status_patch(association: RegistryObject, doc: DmpDocument) -> list[dict[str, Any]]:
    """The change an UpdateAvailabilityStatus association asks for, checked against the document's status."""
    original, new = association.slot("OriginalStatus"), association.slot("NewStatus")
    where = association.where
    if not original or not new:
        raise invalid("an UpdateAvailabilityStatus association needs the OriginalStatus and NewStatus slots "
                      "(ITI TF-2b §3.57.4.1.3.3.2)", "une association UpdateAvailabilityStatus exige les slots "
                      "OriginalStatus et NewStatus (ITI TF-2b §3.57.4.1.3.3.2)", element=where,
                      rule="XDS:ITI-57.status-slots")
    if original != current_status(doc):
        raise invalid(f"OriginalStatus {original} is not the document's status ({current_status(doc)})",
                      f"OriginalStatus {original} n'est pas le statut du document ({current_status(doc)})",
                      element=f"{where}.OriginalStatus", rule="XDS:ITI-57.original-status",
                      code=XDS_METADATA_UPDATE, kind=Kind.CONFLICT)
    patch = TRANSITIONS.get((original, new))
    if patch is None:
        raise invalid(f"{original} -> {new}: the DMP changes a status only Approved -> Deleted, Approved -> "
                      "Archived and Archived -> Approved", f"{original} -> {new} : le DMP ne change un statut que "
                      "d'Approved vers Deleted, d'Approved vers Archived et d'Archived vers Approved",
                      element=f"{where}.NewStatus", rule="DMP:ITI-57.transition", code=XDS_METADATA_UPDATE,
                      kind=Kind.NOT_ALLOWED)
    return patch


def metadata_patch(entry: RegistryObject, doc: DmpDocument, *, refusals: Refusals) -> list[dict[str, Any]]:
    """A new metadata version: the confidentialityCode as the new securityLabel list; every other attribute
    given must be the stored one (reference/dmp.md §2.3: only confidentiality, visibility, status change)."""
    w = entry.where
    unique_id = entry.identifiers.get(ns.IDENT_DOC_UNIQUE)
    with refusals.check():
        if unique_id and (unique_id if unique_id.startswith("urn:") else f"urn:oid:{unique_id}") != doc.unique_id:
            raise _fixed(f"{w}.uniqueId")
    with refusals.check():
        if entry.attr("mimeType") and entry.attr("mimeType") != doc.content_type:
            raise _fixed(f"{w}.mimeType")
    for label, scheme, column in _FIXED_CODES:
        for code in coded(entry, scheme, label, refusals=refusals, required=False):
            with refusals.check():
                if code.code != getattr(doc, column):
                    raise _fixed(f"{w}.{label}")
    labels = coded(entry, ns.SCHEME_DOC_CONFIDENTIALITY, "confidentialityCode", refusals=refusals, many=True)
    value = []
    for code in labels:
        with refusals.check():
            system, code_value, display = normalise_label(code.system, code.code, code.display)
            value.append({"coding": [{"system": system, "code": code_value, **({"display": display} if display
                                                                                else {})}]})
    return [{"op": "replace", "path": "/securityLabel", "value": value}]


def _fixed(element: str) -> DmpError:
    return invalid("only confidentialityCode (masking, visibility) may change in a new metadata version of a DMP "
                   "document; the availability status changes through UpdateAvailabilityStatus",
                   "seul confidentialityCode (masquage, visibilité) peut changer dans une nouvelle version des "
                   "métadonnées d'un document du DMP ; le statut change par UpdateAvailabilityStatus",
                   element=element, rule="DMP:ITI-57.allowed-changes", code=XDS_METADATA_UPDATE,
                   kind=Kind.NOT_ALLOWED)


def unresolved(reference: str, where: str) -> DmpError:
    """An entryUUID the caller may not update or that does not exist: one answer for both (a masked
    document must not be told apart from an unknown one, MHD ITI-68 §3.68.4.2.3)."""
    return invalid(f"{reference} designates no document of this DMP", f"{reference} ne désigne aucun document de "
                   "ce DMP", element=where, rule="XDS:ITI-57.target", code=XDS_UNRESOLVED_REFERENCE,
                   kind=Kind.NOT_FOUND)


def _target(objects: RegistryObjects, ss: RegistryObject, refusals: Refusals
            ) -> tuple[str, RegistryObject | None, RegistryObject | None, str | None] | None:
    """(entryUUID, status association, new metadata entry, PreviousVersion) of the one update asked for."""
    status = [a for a in objects.associations if a.attr("associationType") == ns.ASSOC_UPDATE_AVAILABILITY]
    members = [a for a in objects.associations if a.attr("associationType") == ns.ASSOC_HAS_MEMBER
               and a.attr("sourceObject") == ss.id]
    entries = {e.id: e for e in objects.extrinsics}
    with refusals.check():
        if len(status) + len(entries) != 1 or (entries and len(members) != 1):
            raise invalid("the DMP takes one update per ITI-57: one UpdateAvailabilityStatus association, or one "
                          "DocumentEntry (lid = its entryUUID) with its HasMember association",
                          "le DMP accepte une mise à jour par ITI-57 : une association UpdateAvailabilityStatus, ou "
                          "une fiche (lid = son entryUUID) avec son association HasMember",
                          element="RegistryObjectList", rule="DMP:ITI-57.one-update", code=XDS_METADATA_UPDATE,
                          kind=Kind.UNPROCESSABLE)
        if status:
            return str(status[0].attr("targetObject") or ""), status[0], None, None
        member = members[0]
        entry = entries.get(str(member.attr("targetObject")))
        if entry is None or not entry.attr("lid"):
            raise invalid("the HasMember association must target the new DocumentEntry, whose lid is the "
                          "document's entryUUID", "l'association HasMember doit désigner la nouvelle fiche, dont le "
                          "lid est l'entryUUID du document", element=member.where, rule="XDS:ITI-57.lid")
        previous = member.slot("PreviousVersion")
        if not previous or member.slot("SubmissionSetStatus") != "Original":
            raise invalid("a new metadata version needs the slots SubmissionSetStatus=Original and PreviousVersion "
                          "(ITI TF-2b §3.57.4.1.3.3.1)", "une nouvelle version des métadonnées exige les slots "
                          "SubmissionSetStatus=Original et PreviousVersion (ITI TF-2b §3.57.4.1.3.3.1)",
                          element=member.where, rule="XDS:ITI-57.previous-version")
        return str(entry.attr("lid")), None, entry, previous
    return None


async def update_document_set(call: SoapCall) -> SoapReply:
    """ITI-57: one metadata update of one document, answered with a Success RegistryResponse."""
    objects = read_objects(call.request.payload)
    refusals = Refusals()
    packages = [p for p in objects.packages if p.id in objects.node_classified]
    with refusals.check():
        if len(packages) != 1:
            raise invalid(f"exactly one SubmissionSet is required, found {len(packages)}", "exactement un lot de "
                          f"soumission est attendu, trouvé {len(packages)}", element="RegistryObjectList",
                          rule="XDS:SubmissionSet-1..1")
    submission = read_submission_set(packages[0], refusals=refusals) if packages else None
    target = _target(objects, packages[0], refusals) if packages else None
    refusals.raise_any()
    assert target is not None and submission is not None
    reference, status_association, entry, previous = target
    where = (status_association or entry).where  # type: ignore[union-attr]
    if call.vihf.patient_ins and call.vihf.patient_ins != submission.patient.ins:
        raise invalid(f"the submission's patientId {submission.patient.ins} is not the VIHF's patient "
                      f"({call.vihf.patient_ins})", f"le patientId de la soumission {submission.patient.ins} n'est "
                      f"pas le patient du VIHF ({call.vihf.patient_ins})", element=f"{packages[0].where}.patientId",
                      rule="DMPi:VIHF-patient", code=XDS_PATIENT_MISMATCH)
    # Who may update what, before anything is said of the document (its status, its codes): the caller's
    # standing on the DMP the request names, then the document as the caller may know it — one it does not
    # see (masked from it, deleted, another patient's) is answered as an unknown one, word for word — then
    # the author test (as app.dmp.updates._patch_once, which applies them again under the row lock).
    record, caller, _ = await service.authorise(call.session, ins=submission.patient.ins, ctx=call.ctx,
                                                action=rules.Action.UPDATE, transaction="ITI-57")
    doc = await service.get_document(call.session, reference.removeprefix("urn:uuid:"))
    if doc is None or doc.dmp_id != record.id or not known_to(doc, caller):
        raise unresolved(reference, where)
    decision = rules.may_update(service.document_view(doc), caller)
    if not decision:
        refusal = decision.refusal()
        refusal.xds_code = refusal.xds_code or XDS_METADATA_UPDATE
        raise refusal
    if status_association is not None:
        patch = status_patch(status_association, doc)
    else:
        assert entry is not None
        patch = metadata_patch(entry, doc, refusals=refusals)
        refusals.raise_any()
    try:
        updated = await service.patch_document(call.session, call.settings, doc=doc, ctx=call.ctx, kind="json-patch",
                                               body=patch, if_match=previous, transaction="ITI-57")
    except DmpError as error:
        if error.kind is Kind.PRECONDITION_FAILED:
            raise invalid(f"PreviousVersion {previous} is not the current version of the document "
                          f"({doc.version_id})", f"PreviousVersion {previous} n'est pas la version courante du "
                          f"document ({doc.version_id})", element=f"{where}.PreviousVersion",
                          rule="XDS:ITI-57.previous-version", code=XDS_METADATA_VERSION,
                          kind=Kind.PRECONDITION_FAILED) from None
        if error.kind is Kind.NOT_FOUND:
            raise unresolved(reference, where) from None
        if error.xds_code is None:
            error.xds_code = XDS_METADATA_UPDATE
        raise
    call.journal["document"] = f"DocumentReference/{updated.id}"
    call.journal["version"] = updated.version_id
    return SoapReply(action=ns.response_action(ns.ACTION_ITI57), payload=registry_response())
