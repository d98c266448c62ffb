"""ITI-41 Provide and Register Document Set-b (DMP TD2.1 / TD2.2, reference/dmp.md §1.1): a SubmitObjectsRequest
filed as one submission, all or nothing, through the same service as ITI-65.

IHE ITI TF-2b §3.41: the request is read (:mod:`.ebrim_in`), checked against the VIHF's patient, the caller's
standing on that DMP, and the registry's uniqueIds, filed (:func:`app.dmp.service.submit`,
``transaction="ITI-41"``); the answer is a ``rs:RegistryResponse`` with status Success (§3.41.4.2). A
replacement is an RPLC association from the new DocumentEntry to the old one's entryUUID (ITI TF-3
§4.2.2.2.2): the registry deprecates the old one itself (no metadata PATCH entry, unlike PDSm4DMP TD2.1 over
FHIR). Every refusal is a
:class:`~app.dmp.exceptions.DmpError` with its XDS code; the transport answers it as a Failure response and
rolls the request back (nothing is stored).
"""

from __future__ import annotations

from lxml import etree

from app.dmp import service
from app.dmp.exceptions import XDS_DUPLICATE, XDS_NON_IDENTICAL_HASH, XDS_PATIENT_MISMATCH, DmpError, Kind, Refusals
from app.dmp.soap import namespaces as ns
from app.dmp.soap.call import SoapCall, SoapReply
from app.dmp.soap.ebrim_in import read_provide_and_register
from app.dmp.submission import Submission


def registry_response(status: str = ns.STATUS_SUCCESS) -> etree._Element:
    """``rs:RegistryResponse status=…`` (ebRS 3.0 §2.1.2; ITI TF-2b §3.41.4.2.2)."""
    return etree.Element(f"{{{ns.NS_RS}}}RegistryResponse", {"status": status}, nsmap={"rs": ns.NS_RS})


def check_vihf_patient(submission: Submission, vihf_ins: str | None) -> None:
    """The VIHF names the patient the call is about (``resource-id``, reference/dmp.md §1.1): a submission
    for another patient is refused (ITI TF-3 Table 4.2.4.1-2 ``XDSPatientIdDoesNotMatch``)."""
    if vihf_ins and vihf_ins != submission.patient.ins:
        raise DmpError(Kind.INVALID, f"the submission's patientId {submission.patient.ins} is not the VIHF's patient "
                       f"({vihf_ins})", french=f"le patientId de la soumission {submission.patient.ins} n'est pas le "
                       f"patient du VIHF ({vihf_ins})", rule="DMPi:VIHF-patient",
                       element="RegistryPackage.patientId", xds_code=XDS_PATIENT_MISMATCH)


def check_registered(submission: Submission, registered: dict[str, str | None], refusals: Refusals) -> None:
    """A uniqueId already in the registry (ITI TF-3 §4.2.3.2.26, Table 4.2.4.1-2): the same bytes again is
    ``XDSDuplicateUniqueIdInRegistry``, other bytes ``XDSNonIdenticalHash`` — compared only for a document the
    caller may read (``registered`` maps it to its hash; to None one of another DMP, masked from the caller,
    deleted, or one it may not consult: :func:`app.dmp.service.registered_hashes`), else the plain duplicate."""
    for doc in submission.documents:
        if doc.unique_id not in registered:
            continue
        known = registered[doc.unique_id]
        with refusals.check():
            element = f"ExtrinsicObject[{doc.full_url}].uniqueId"
            if known is not None and known != doc.hash_b64:
                raise DmpError(Kind.DUPLICATE, f"{element}: {doc.unique_id} is registered for other bytes (another "
                               "hash)", french=f"{element} : {doc.unique_id} est déjà enregistré pour un autre contenu "
                               "(autre empreinte)", rule="XDS:uniqueId-hash", element=element,
                               xds_code=XDS_NON_IDENTICAL_HASH)
            raise DmpError(Kind.DUPLICATE, f"{element}: {doc.unique_id} is already registered; a new version of a "
                           "document needs a new uniqueId and an RPLC association", french=f"{element} : "
                           f"{doc.unique_id} est déjà enregistré ; une nouvelle version d'un document exige un nouvel "
                           "uniqueId et une association RPLC", rule="XDS:uniqueId-unique", element=element,
                           xds_code=XDS_DUPLICATE)


def in_xds_words(error: DmpError, submission: Submission) -> DmpError:
    """A replacement refused by the service (:mod:`app.dmp.feeding`, worded for ITI-65's relatesTo) said as
    XDS says it: of the RPLC association's targetObject; any other refusal as it is."""
    old = next((d.replaces for d in submission.documents if d.replaces and d.replaces in error.english), None)
    if old is None or not error.rule.startswith("PDSm4DMP:TD2.1-replace"):
        return error
    if error.rule.endswith("-target"):
        english, french = (f"urn:uuid:{old} designates no document of this patient's DMP",
                           f"urn:uuid:{old} ne désigne aucun document du DMP de ce patient")
    else:
        english, french = (f"urn:uuid:{old} is no longer the current version: replace the current version of "
                           "the chain", f"urn:uuid:{old} n'est plus la version courante : remplacer la version "
                           "courante de la chaîne")
    return DmpError(error.kind, f"Association[RPLC].targetObject: {english}",
                    french=f"Association[RPLC].targetObject : {french}", rule=error.rule,
                    element="Association[RPLC].targetObject", xds_code=error.xds_code)


async def provide_and_register(call: SoapCall) -> SoapReply:
    """ITI-41: read, check, file atomically, answer Success."""
    submission = read_provide_and_register(call.request, lenient=call.settings.dmp_lenient)
    check_vihf_patient(submission, call.vihf.patient_ins)
    # The caller's standing on the VIHF's patient's DMP first (as submit checks it): a caller who may not feed
    # it learns nothing of the registry's documents (whether a uniqueId is registered, for which bytes).
    record = await service.feed_standing(call.session, patient=submission.patient, ctx=call.ctx,
                                         transaction="ITI-41", fast=call.settings.fast_paths)
    refusals = Refusals()
    check_registered(submission, await service.registered_hashes(
        call.session, [d.unique_id for d in submission.documents], record=record, ctx=call.ctx), refusals)
    refusals.raise_any()
    try:
        results = await service.submit(call.session, call.settings, submission=submission, ctx=call.ctx,
                                       transaction="ITI-41")
    except DmpError as error:
        raise in_xds_words(error, submission) from None
    call.journal["documents"] = [r.location for r in results if r.location.startswith("DocumentReference/")]
    call.journal["submission_set"] = next((r.location for r in results if r.location.startswith("List/")), None)
    return SoapReply(action=ns.response_action(ns.ACTION_ITI41), payload=registry_response())
