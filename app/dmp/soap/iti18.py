"""ITI-18 Registry Stored Query (TD3.1): an AdhocQueryRequest run on the service's searches, answered as ebRIM.

The DMP checks before it searches (reference/dmp.md §1.3 TD3.1a: "DMP status and authorisation are checked
before the search"): the VIHF's patient and the caller's access (:func:`app.dmp.service.authorise`, the same
rules as FHIR's ITI-67, a refusal traced), then the query runs on that patient's DMP only, with the visibility
of ITI-67 (:func:`app.dmp.queries.search_documents`: a masked document only to its author, a deleted one only
to its author and only when asked for by status). Every query is traced (``transaction="ITI-18"``).

Sources: IHE ITI TF-2a §3.18.4.1.2.3.7 (each stored query's semantics), §3.18.4.1.3 (the response:
``query:AdhocQueryResponse`` with ``rim:RegistryObjectList``; ObjectRef or LeafClass). The ITI-67 / XDS
parameter pairs are MHD's (reference/dmp.md §1.2 "ITI-67 search parameters and their XDS equivalents").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from lxml import etree

from app.dmp import rules, service
from app.dmp.exceptions import XDS_PATIENT_MISMATCH, XDS_REGISTRY_ERROR, XDS_TOO_MANY_RESULTS, DmpError, Kind
from app.dmp.filters import DateRange, Token
from app.dmp.models import DmpDocument, DmpRecord, DmpSubmissionSet
from app.dmp.queries import DocumentSearch, SubmissionSetSearch
from app.dmp.soap import ebrim_out
from app.dmp.soap import namespaces as ns
from app.dmp.soap.call import SoapCall, SoapReply
from app.dmp.soap.storedquery import CodeValue, StoredQuery, parse_request, query_error

VISIBLE = frozenset({"current", "superseded"})
"""What id-based queries return: current and superseded documents; a deleted one only through FindDocuments'
$XDSDocumentEntryStatus (reference/dmp.md §2.1: a deleted document is unpublished)."""


@dataclass
class Run:
    """One query's context: the call, the patient's DMP, the caller's standing, the result cap."""

    call: SoapCall
    query: StoredQuery
    record: DmpRecord
    caller: rules.Caller
    cap: int


@dataclass
class Found:
    """What a query found: the registry objects, in answer order, and the documents it shows (traced)."""

    objects: list[etree._Element]
    document_ids: list[str]


async def registry_stored_query(call: SoapCall) -> SoapReply:
    """Read the request, check the patient and the access, run the query, trace it, answer."""
    query = parse_request(call.request.payload)
    ins = _patient_of(call, query)
    record, caller, _ = await service.authorise(call.session, ins=ins, ctx=call.ctx, action=rules.Action.CONSULT,
                                                transaction="ITI-18")
    run = Run(call, query, record, caller, cap=call.settings.dmp_max_page_size)
    found = await RUNNERS[query.query_id](run)
    await service.trace(call.session, record=record, ctx=call.ctx, transaction="ITI-18", action="E",
                        documents_ids=found.document_ids, query=query.describe())
    call.journal.update({"query": query.name, "returnType": query.return_type, "results": len(found.objects)})
    objects = found.objects
    if query.return_type == ns.RETURN_OBJECT_REF:
        objects = [ebrim_out.object_ref(o.get("id") or "") for o in objects]
    payload = etree.Element(f"{{{ns.NS_QUERY}}}AdhocQueryResponse", status=ns.STATUS_SUCCESS,
                            nsmap={"query": ns.NS_QUERY, "rim": ns.NS_RIM})
    payload.append(ebrim_out.registry_object_list(objects))
    return SoapReply(action=ns.response_action(ns.ACTION_ITI18), payload=payload)


def _patient_of(call: SoapCall, query: StoredQuery) -> str:
    """The patient the query is about: the VIHF's (``resource-id``, reference/dmp.md §1.1). A patientId
    parameter naming another patient is refused (XDSPatientIdDoesNotMatch: the DMP answers for the patient
    the VIHF was issued for, ITI TF-3 Table 4.2.4.1-2)."""
    param = next((p for p in ("$XDSDocumentEntryPatientId", "$XDSSubmissionSetPatientId") if query.has(p)), None)
    asked = query.patient(param) if param else None
    vihf_ins = call.vihf.patient_ins
    if asked is not None and vihf_ins and asked.id != vihf_ins:
        raise DmpError(Kind.FORBIDDEN, f"{param} {asked.id} is not the patient of the VIHF ({vihf_ins})",
                       french=f"{param} {asked.id} n'est pas le patient du VIHF ({vihf_ins})",
                       rule="DMPi:VIHF-patient", element=param, xds_code=XDS_PATIENT_MISMATCH)
    ins = asked.id if asked is not None else vihf_ins
    if not ins:
        raise query_error(XDS_REGISTRY_ERROR, f"{query.name}: the VIHF names no patient "
                          "(urn:oasis:names:tc:xacml:2.0:resource:resource-id)",
                          f"{query.name} : le VIHF ne désigne aucun patient "
                          "(urn:oasis:names:tc:xacml:2.0:resource:resource-id)", rule="DMPi:VIHF-patient",
                          kind=Kind.REQUIRED)
    return ins


# --- searches ---------------------------------------------------------------------------------------------

def tokens(codes: Iterable[CodeValue]) -> list[Token]:
    """Coded values as search tokens: a codingScheme stands for every spelling the store may hold of it
    (a NOS URL, ``urn:oid:``): a document filed over FHIR or over XDS matches alike."""
    found: list[Token] = []
    for code in codes:
        if code.scheme:
            found += [Token(system, code.code) for system in ebrim_out.system_spellings(code.scheme)]
        else:
            found.append(Token(None, code.code))
    return found


def _labels(codes: Iterable[CodeValue]) -> list[Token]:
    return [Token(None, code.code) for code in codes]  # the store keeps label codes without their system


def _times(query: StoredQuery, prefix: str) -> list[DateRange]:
    """``<prefix>From`` (inclusive) / ``<prefix>To`` (exclusive), ITI TF-2a §3.18.4.1.2.3.7.1."""
    ranges = []
    low, high = query.time(prefix + "From"), query.time(prefix + "To")
    if low is not None:
        ranges.append(DateRange("ge", low, low))
    if high is not None:
        ranges.append(DateRange("lt", high, high))
    return ranges


def document_statuses(values: Sequence[str]) -> tuple[frozenset[str], bool | None]:
    """$XDSDocumentEntryStatus as the store's statuses and archive flag: Approved (not archived), the CI-SIS
    Archived (approved and archived), Deprecated, Deleted (JDV_J52, reference/dmp.md §2.1); unknown statuses
    match nothing."""
    wanted = set(values)
    statuses = set()
    approved, archived = ns.STATUS_APPROVED in wanted, ns.STATUS_ARCHIVED in wanted
    if approved or archived:
        statuses.add("current")
    if ns.STATUS_DEPRECATED in wanted:
        statuses.add("superseded")
    if ns.STATUS_DELETED in wanted:
        statuses.add("entered-in-error")
    is_archived = None if approved == archived else archived
    return frozenset(statuses), is_archived


def _stable_only(query: StoredQuery) -> bool:
    """$XDSDocumentEntryType: the DMP keeps stable documents only; asking for on-demand ones alone finds none."""
    return not query.has("$XDSDocumentEntryType") or ns.OBJECT_TYPE_STABLE_DOCUMENT in query.strings(
        "$XDSDocumentEntryType")


async def _documents(run: Run, search: DocumentSearch) -> list[DmpDocument]:
    rows, total = await service.search_documents(run.call.session, record=run.record, caller=run.caller,
                                                 search=search)
    if total > run.cap:
        raise query_error(XDS_TOO_MANY_RESULTS, f"{run.query.name} matches {total} entries, more than the {run.cap} "
                          "the DMP returns at once: narrow the query (dates, codes)",
                          f"{run.query.name} trouve {total} entrées, plus que les {run.cap} que le DMP renvoie en une "
                          "fois : affiner la requête (dates, codes) — « Nombre maximum de résultats dépassé »",
                          rule="DMP:max-results", kind=Kind.UNPROCESSABLE)
    return rows


async def _by_ids(run: Run, ids: Sequence[str]) -> list[DmpDocument]:
    """The visible documents among ``ids`` (entryUUIDs with or without ``urn:uuid:``)."""
    if not ids:
        return []
    return await _documents(run, DocumentSearch(statuses=VISIBLE, identifiers=list(ids), count=run.cap + 1))


def _id_values(run: Run) -> list[str]:
    """$XDSDocumentEntryEntryUUID, or $XDSDocumentEntryUniqueId in its XDS (bare OID) and MHD (``urn:oid:``)
    spellings."""
    if run.query.has("$XDSDocumentEntryEntryUUID"):
        return run.query.strings("$XDSDocumentEntryEntryUUID")
    return [v for u in run.query.strings("$XDSDocumentEntryUniqueId") for v in (u, f"urn:oid:{u}")]


def _entries(run: Run, docs: Iterable[DmpDocument]) -> list[etree._Element]:
    repository = getattr(run.call.settings, "dmp_repository_unique_id", ns.DEFAULT_REPOSITORY_UNIQUE_ID)
    return [ebrim_out.document_entry(d, run.record, repository_unique_id=repository) for d in docs]


async def find_documents(run: Run) -> Found:
    """FindDocuments (and FindDocumentsByReferenceId): the ITI-67 search, from XDS parameters."""
    q = run.query
    statuses, is_archived = document_statuses(q.strings("$XDSDocumentEntryStatus"))
    related = []
    for value in q.strings("$XDSDocumentEntryReferenceIdList"):
        ident, _, rest = value.partition("^^^")
        root = rest.split("&")[1] if rest.startswith("&") and rest.count("&") >= 2 else ""
        related.append(Token(f"urn:oid:{root}", ident) if root else Token(None, ident))
    search = DocumentSearch(
        statuses=statuses if _stable_only(q) else frozenset(), is_archived=is_archived,
        creation=_times(q, "$XDSDocumentEntryCreationTime"),
        period_start=_times(q, "$XDSDocumentEntryServiceStartTime"),
        period_end=_times(q, "$XDSDocumentEntryServiceStopTime"),
        category=tokens(q.codes("$XDSDocumentEntryClassCode")), type=tokens(q.codes("$XDSDocumentEntryTypeCode")),
        format=tokens(q.codes("$XDSDocumentEntryFormatCode")),
        setting=tokens(q.codes("$XDSDocumentEntryPracticeSettingCode")),
        facility=tokens(q.codes("$XDSDocumentEntryHealthcareFacilityTypeCode")),
        event_groups=[tokens(g) for g in q.code_groups("$XDSDocumentEntryEventCodeList")],
        security_label_groups=[_labels(g) for g in q.code_groups("$XDSDocumentEntryConfidentialityCode")],
        author_person=q.strings("$XDSDocumentEntryAuthorPerson"), related=related, count=run.cap + 1)
    docs = await _documents(run, search)
    return Found(_entries(run, docs), [d.id for d in docs])


async def get_documents(run: Run) -> Found:
    docs = await _by_ids(run, _id_values(run))
    return Found(_entries(run, docs), [d.id for d in docs])


async def _associations(run: Run, docs: Sequence[DmpDocument]) -> list[etree._Element]:
    """HasMember (from each document's submission set) and RPLC (either way) of ``docs``, the other end
    visible too."""
    others = {i for d in docs for i in (d.replaces_id, d.replaced_by_id) if i} - {d.id for d in docs}
    visible = {d.id for d in docs} | {d.id for d in await _by_ids(run, sorted(others))}
    found = [ebrim_out.has_member(d.submission_set_id, d.id) for d in docs if d.submission_set_id]
    for doc in docs:
        if doc.replaces_id and doc.replaces_id in visible:
            found.append(ebrim_out.association(ns.ASSOC_RPLC, f"urn:uuid:{doc.id}", f"urn:uuid:{doc.replaces_id}"))
        if doc.replaced_by_id and doc.replaced_by_id in visible and doc.replaced_by_id not in {d.id for d in docs}:
            found.append(ebrim_out.association(ns.ASSOC_RPLC, f"urn:uuid:{doc.replaced_by_id}", f"urn:uuid:{doc.id}"))
    return found


async def get_documents_and_associations(run: Run) -> Found:
    docs = await _by_ids(run, _id_values(run))
    return Found([*_entries(run, docs), *await _associations(run, docs)], [d.id for d in docs])


async def _submission_sets(run: Run, ids: Sequence[str]) -> list[DmpSubmissionSet]:
    if not ids:
        return []
    rows, _ = await service.search_submission_sets(run.call.session, record=run.record, search=SubmissionSetSearch(
        identifiers=list(ids), count=run.cap + 1))
    return rows


async def _members(run: Run, sets: Sequence[DmpSubmissionSet]) -> list[etree._Element]:
    """HasMember associations from ``sets`` to their visible documents."""
    docs = await _by_ids(run, sorted({i for s in sets for i in s.document_ids}))
    visible = {d.id for d in docs}
    return [ebrim_out.has_member(s.id, i) for s in sets for i in s.document_ids if i in visible]


async def get_associations(run: Run) -> Found:
    """GetAssociations: every association with one of $uuid at either end (documents or submission sets)."""
    ids = [u.removeprefix("urn:uuid:") for u in run.query.strings("$uuid")]
    docs = await _by_ids(run, ids)
    sets = await _submission_sets(run, ids)
    found = {a.get("id"): a for a in [*await _associations(run, docs), *await _members(run, sets)]}
    return Found(list(found.values()), [])


async def get_submission_sets(run: Run) -> Found:
    """GetSubmissionSets: the submission sets holding the documents of $uuid, and those HasMember."""
    docs = await _by_ids(run, [u.removeprefix("urn:uuid:") for u in run.query.strings("$uuid")])
    sets = await _submission_sets(run, sorted({d.submission_set_id for d in docs if d.submission_set_id}))
    objects = [ebrim_out.submission_set_package(s, run.record) for s in sets]
    objects += [ebrim_out.has_member(d.submission_set_id, d.id) for d in docs if d.submission_set_id]
    return Found(objects, [])


async def get_submission_set_and_contents(run: Run) -> Found:
    """GetSubmissionSetAndContents: the set, its visible documents (filtered by format, confidentiality,
    type), their HasMember associations."""
    q = run.query
    ids = q.strings("$XDSSubmissionSetEntryUUID") or [
        v for u in q.strings("$XDSSubmissionSetUniqueId") for v in (u, f"urn:oid:{u}")]
    sets = (await _submission_sets(run, ids))[:1]
    if not sets:
        return Found([], [])
    docs: list[DmpDocument] = []
    if _stable_only(q) and sets[0].document_ids:
        docs = await _documents(run, DocumentSearch(
            statuses=VISIBLE, identifiers=list(sets[0].document_ids),
            format=tokens(q.codes("$XDSDocumentEntryFormatCode")),
            security_label_groups=[_labels(g) for g in q.code_groups("$XDSDocumentEntryConfidentialityCode")],
            count=run.cap + 1))
    objects = [ebrim_out.submission_set_package(sets[0], run.record), *_entries(run, docs)]
    objects += [ebrim_out.has_member(sets[0].id, d.id) for d in docs]
    return Found(objects, [d.id for d in docs])


async def find_submission_sets(run: Run) -> Found:
    """FindSubmissionSets: the ITI-66 search, from XDS parameters (a submission set is always Approved)."""
    q = run.query
    sources = [v for u in q.strings("$XDSSubmissionSetSourceId") for v in (u, f"urn:oid:{u}")]
    search = SubmissionSetSearch(
        submission_time=_times(q, "$XDSSubmissionSetSubmissionTime"), source_ids=sources,
        designation_type=tokens(q.codes("$XDSSubmissionSetContentType")),
        matches_nothing=ns.STATUS_APPROVED not in q.strings("$XDSSubmissionSetStatus"), count=run.cap + 1)
    sets, total = await service.search_submission_sets(run.call.session, record=run.record, search=search)
    if total > run.cap:
        raise query_error(XDS_TOO_MANY_RESULTS, f"FindSubmissionSets matches {total} sets, more than {run.cap}",
                          f"FindSubmissionSets trouve {total} lots, plus que {run.cap}", rule="DMP:max-results",
                          kind=Kind.UNPROCESSABLE)
    author = q.one("$XDSSubmissionSetAuthorPerson")
    if author is not None:
        pattern = like_pattern(str(author))
        sets = [s for s in sets if any(pattern.fullmatch(a) for a in ebrim_out.submission_set_authors(s))]
    return Found([ebrim_out.submission_set_package(s, run.record) for s in sets], [])


def like_pattern(pattern: str) -> re.Pattern[str]:
    """An XDS AuthorPerson pattern (SQL LIKE: ``%`` any run, ``_`` one character), case-insensitive."""
    return re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern),
                      re.IGNORECASE | re.DOTALL)


async def get_related_documents(run: Run) -> Found:
    """GetRelatedDocuments: the document and those it is related to by $AssociationTypes (the DMP keeps RPLC)."""
    docs = (await _by_ids(run, _id_values(run)))[:1]
    if not docs or ns.ASSOC_RPLC not in run.query.strings("$AssociationTypes"):
        return Found([], [])
    doc = docs[0]
    related = await _by_ids(run, [i for i in (doc.replaces_id, doc.replaced_by_id) if i])
    if not related:
        return Found([], [])
    associations = [a for a in await _associations(run, docs) if a.get("associationType") == ns.ASSOC_RPLC]
    return Found([*_entries(run, [doc, *related]), *associations], [doc.id, *(d.id for d in related)])


RUNNERS: dict[str, Callable[[Run], Awaitable[Found]]] = {
    ns.QUERY_FIND_DOCUMENTS: find_documents,
    ns.QUERY_FIND_DOCUMENTS_BY_REFERENCE_ID: find_documents,
    ns.QUERY_FIND_SUBMISSION_SETS: find_submission_sets,
    ns.QUERY_GET_DOCUMENTS: get_documents,
    ns.QUERY_GET_DOCUMENTS_AND_ASSOCIATIONS: get_documents_and_associations,
    ns.QUERY_GET_ASSOCIATIONS: get_associations,
    ns.QUERY_GET_SUBMISSION_SETS: get_submission_sets,
    ns.QUERY_GET_SUBMISSION_SET_AND_CONTENTS: get_submission_set_and_contents,
    ns.QUERY_GET_RELATED_DOCUMENTS: get_related_documents,
}
