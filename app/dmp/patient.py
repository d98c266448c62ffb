"""What the patient (or a legal representative) does to their own DMP, through Mon espace santé: read their
documents, mask one from professionals and unmask it, hide one from the legal representatives, delete one
(logically), file a document of their own, and read the traces of the others' accesses.

The same store, rules and version bumps as the professionals' faces: visibility by :func:`app.dmp.rules.is_visible`
with the ``patient`` and ``legal_representative`` roles (reference/dmp.md §2.4), labels written as a metadata
update writes them (:func:`app.dmp.rows.label_flags`, so ITI-67 and ITI-18 filter a patient's masking exactly as an
author's), a new ``version_id`` per change (:func:`app.dmp.updates.bump_version`).

A patient action is not an access "by someone other than the patient" (reference/dmp.md §2.6): it writes no DMP
trace, so it never shows in the patient's own activity history; the HTTP journal records it.

Decisions (docs/mes.md):
- The patient may mask any of their documents from professionals, and unmask it, whoever masked it (Mon espace
  santé: the profile holder masks "tout document"; §2.5 "masking every document"); the author still sees it.
- The patient may delete any of their documents (logical deletion, availability ``Deleted``: gone for everyone,
  its author included); professionals delete only their own (TD3.3c).
- A patient's own document: class ``90`` "Autres documents déposés par le patient" (TRE_A03), facility and
  practice setting ``EXP_PATIENT`` (TRE_A00-ProducteurDocNonPS, §3), the patient as author (a contained FHIR
  ``Patient``), the PDF itself as content (``application/pdf``, format ``urn:ihe:iti:xds-sd:pdf:2008``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.dmp import documents as generated_documents
from app.dmp import rules
from app.dmp.documents import A03, LOINC
from app.dmp.exceptions import DmpError, Kind
from app.dmp.models import DmpAuditEvent, DmpBinary, DmpBinaryChunk, DmpDocument, DmpRecord, DmpSubmissionSet
from app.dmp.patch import TRE_A07, V3_CONFIDENTIALITY
from app.dmp.rows import binary_rows, document_row, label_flags
from app.dmp.submission import (
    EXT_DESIGNATION_TYPE,
    EXT_SOURCE_ID,
    MHD_LIST_TYPES,
    Code,
    DocumentIn,
    PatientId,
    sha1_b64,
)
from app.dmp.updates import bump_version, document_view, lock_documents
from app.shared import valuesets
from app.tenancy import current_tenant

TRE_A00 = "https://mos.esante.gouv.fr/NOS/TRE_A00-ProducteurDocNonPS/FHIR/TRE-A00-ProducteurDocNonPS"
A11 = generated_documents.A11
PATIENT_CLASS = Code(A03, "90", "Autres documents déposés par le patient")
PATIENT_PRODUCER = "EXP_PATIENT"  # TRE_A00: "Expression personnelle du patient"
PATIENT_SOURCE_ID = "urn:oid:1.2.250.1.213.1.4.8.99999.90"  # the sandbox's Mon espace santé as a document source
PDF_FORMAT = "urn:ihe:iti:xds-sd:pdf:2008"
LABEL_DISPLAYS = {rules.MASQUE_PS: "Masqué aux professionnels de santé",
                  rules.INVISIBLE_REPRESENTANTS_LEGAUX: "Invisible des représentants légaux"}


def patient_caller(*, representative: bool) -> rules.Caller:
    return rules.Caller(role=rules.Role.LEGAL_REPRESENTATIVE if representative else rules.Role.PATIENT)


def unknown(doc_id: str) -> DmpError:
    return DmpError(Kind.NOT_FOUND, f"no document {doc_id} in this DMP", french=f"aucun document {doc_id} dans ce DMP",
                    rule="DMP:patient-document-unknown")


async def patient_documents(session: AsyncSession, *, record: DmpRecord, representative: bool) -> list[DmpDocument]:
    """The current documents of the DMP the patient (or a legal representative) sees, newest first: neither
    deleted nor replaced, nor hidden from that role (INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX)."""
    caller = patient_caller(representative=representative)
    rows = (await session.execute(select(DmpDocument).where(
        DmpDocument.dmp_id == record.id, DmpDocument.availability == "Approved")
        .order_by(DmpDocument.date.desc(), DmpDocument.id))).scalars().all()
    return [doc for doc in rows if rules.is_visible(document_view(doc), caller)]


async def patient_document(session: AsyncSession, *, record: DmpRecord, document_id: str, representative: bool
                           ) -> DmpDocument:
    """One document of this DMP the patient (or representative) sees, else the answer of an unknown one."""
    doc = await session.get(DmpDocument, (current_tenant(), document_id[:64]))
    if (doc is None or doc.dmp_id != record.id or doc.availability != "Approved"
            or not rules.is_visible(document_view(doc), patient_caller(representative=representative))):
        raise unknown(document_id)
    return doc


def _labels_with(labels: Sequence[Sequence[str]], code: str, present: bool) -> list[tuple[str, str, str]]:
    kept = [(str(lab[0]), str(lab[1]), str(lab[2]) if len(lab) > 2 else "") for lab in labels if lab[1] != code]
    if present:
        kept.append((TRE_A07, code, LABEL_DISPLAYS.get(code, "")))
    if not any(lab[0] == V3_CONFIDENTIALITY for lab in kept):
        kept.insert(0, (V3_CONFIDENTIALITY, "N", "normal"))
    if len(kept) > 4:  # the DMP's model holds 1..4 confidentiality codes (reference/dmp.md §2.4)
        raise DmpError(Kind.INVALID_CHANGE, "this document already carries 4 confidentiality codes",
                       french="ce document porte déjà 4 codes de confidentialité",
                       rule="PDSm4DMP:confidentiality-1..4")
    return kept


async def set_label(session: AsyncSession, *, record: DmpRecord, document_id: str, code: str, present: bool,
                    representative: bool) -> DmpDocument:
    """Add or remove a TRE_A07 visibility code (``MASQUE_PS``, ``INVISIBLE_REPRESENTANTS_LEGAUX``) on a document
    the patient sees, as a new metadata version; nothing changes (and no version) when it is already so."""
    if code not in LABEL_DISPLAYS:
        raise DmpError(Kind.INVALID, f"the patient cannot set {code}", rule="DMP:patient-label")
    await patient_document(session, record=record, document_id=document_id, representative=representative)
    for _attempt in range(3):
        found = await lock_documents(session, [document_id])
        doc = found[0]
        if doc.availability != "Approved":
            raise unknown(document_id)
        if (code in {lab[1] for lab in doc.labels}) == present:
            return doc
        labels = _labels_with(doc.labels, code, present)
        if await bump_version(session, doc, doc.version_id, **label_flags(labels), last_updated=utcnow()):
            await session.flush()
            return doc
    raise DmpError(Kind.CONFLICT, f"document {document_id} kept changing: retry",
                   french=f"le document {document_id} n'a cessé de changer : réessayer", rule="FHIR:concurrent-update")


async def delete_by_patient(session: AsyncSession, *, record: DmpRecord, document_id: str) -> DmpDocument:
    """Logical deletion by the patient (availability ``Deleted``): gone from every search and read, the author's
    included, as after the author's own deletion (TD3.3c)."""
    await patient_document(session, record=record, document_id=document_id, representative=False)
    for _attempt in range(3):
        doc = (await lock_documents(session, [document_id]))[0]
        if doc.availability != "Approved":
            raise unknown(document_id)
        if await bump_version(session, doc, doc.version_id, DmpDocument.availability == "Approved",
                              availability="Deleted", last_updated=utcnow()):
            await session.flush()
            return doc
    raise DmpError(Kind.CONFLICT, f"document {document_id} kept changing: retry", rule="FHIR:concurrent-update")


def _patient_resource(*, doc_unique_id: str, ins: str, oid: str, given: str, family: str, type_: Code, title: str,
                      when: datetime, service_date: datetime) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "contained": [{"resourceType": "Patient", "id": "author",
                       "identifier": [{"system": f"urn:oid:{oid}", "value": ins}],
                       "name": [{"family": family, "given": given.split()}]}],
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": doc_unique_id},
        "status": "current",
        "type": {"coding": [{"system": type_.system, "code": type_.code, "display": type_.display}]},
        "category": [{"coding": [{"system": PATIENT_CLASS.system, "code": PATIENT_CLASS.code,
                                  "display": PATIENT_CLASS.display}]}],
        "date": when.isoformat(),
        "author": [{"reference": "#author"}],
        "description": title,
        "content": [{"attachment": {"contentType": "application/pdf", "language": "fr-FR", "title": title,
                                    "creation": when.isoformat()},
                     "format": {"system": A11, "code": PDF_FORMAT}}],
        "context": {"period": {"start": service_date.isoformat()},
                    "facilityType": {"coding": [{"system": TRE_A00, "code": PATIENT_PRODUCER,
                                                 "display": "Expression personnelle du patient"}]},
                    "practiceSetting": {"coding": [{"system": TRE_A00, "code": PATIENT_PRODUCER,
                                                    "display": "Expression personnelle du patient"}]}},
    }


def type_code(code: str) -> Code:
    """A document type of JDV_J66 (LOINC), or the refusal naming the value set."""
    j66 = valuesets.load("J66")
    if not j66.contains(LOINC, code):
        raise DmpError(Kind.UNKNOWN_CODE, f"type {code!r} is not in JDV_J66-TypeCode-DMP",
                       french=f"le type {code!r} n'est pas dans JDV_J66-TypeCode-DMP", rule="PDSm:type-J66")
    return Code(LOINC, code, j66.display(LOINC, code) or code)


async def file_patient_document(session: AsyncSession, settings: Settings, *, record: DmpRecord, given: str,
                                family: str, title: str, type_: str, content: bytes,
                                service_date: datetime | None) -> DmpDocument:
    """A PDF the patient adds to their own DMP: a submission set of one document, stored as a feed stores one
    (binary in chunks, the DocumentEntry columns), with no trace (the patient's own action)."""
    if not record.active:
        raise DmpError(Kind.UNPROCESSABLE, "the DMP is closed: reopen it first", rule="DMP:closed",
                       french="le DMP est fermé : le rouvrir d'abord")
    type_coded = type_code(type_)
    now = utcnow()
    when = service_date or now
    doc_id, bin_id, ss_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    unique_id = f"urn:oid:{PATIENT_SOURCE_ID.removeprefix('urn:oid:')}.{uuid.uuid4().int % 10**20}"
    resource = _patient_resource(doc_unique_id=unique_id, ins=record.ins, oid=record.ins_oid, given=given,
                                 family=family, type_=type_coded, title=title, when=now, service_date=when)
    hash_b64 = sha1_b64(content)
    doc = DocumentIn(
        entry_index=0, full_url="", unique_id=unique_id, patient=PatientId(record.ins_oid, record.ins),
        type=type_coded, category=PATIENT_CLASS, format=Code(A11, PDF_FORMAT),
        facility_type=Code(TRE_A00, PATIENT_PRODUCER), practice_setting=Code(TRE_A00, PATIENT_PRODUCER),
        labels=[(V3_CONFIDENTIALITY, "N", "normal")], title=title, content_type="application/pdf",
        language="fr-FR", size=len(content), hash_b64=hash_b64, creation=now, date=now, period_start=when,
        period_end=None, author_rpps=None, author_given=given.split(), author_family=[family], events=[],
        related=[], replaces=None, is_archived=False, data=content, resource=resource)
    brow, chunks = binary_rows(bin_id, content, "application/pdf", hash_b64, settings.dmp_chunk_size)
    await session.execute(insert(DmpSubmissionSet), [{
        "id": ss_id, "dmp_id": record.id, "unique_id": f"urn:uuid:{ss_id}", "source_id": PATIENT_SOURCE_ID,
        "designation_system": PATIENT_CLASS.system, "designation_code": PATIENT_CLASS.code,
        "designation_display": PATIENT_CLASS.display, "submission_time": now, "title": title, "author_rpps": None,
        "document_ids": [doc_id],
        "resource": {"resourceType": "List", "status": "current", "mode": "working",
                     "code": {"coding": [{"system": MHD_LIST_TYPES, "code": "submissionset"}]},
                     "extension": [
                         {"url": EXT_DESIGNATION_TYPE, "valueCodeableConcept": {"coding": [
                             {"system": PATIENT_CLASS.system, "code": PATIENT_CLASS.code,
                              "display": PATIENT_CLASS.display}]}},
                         {"url": EXT_SOURCE_ID, "valueIdentifier": {"system": "urn:ietf:rfc:3986",
                                                                    "value": PATIENT_SOURCE_ID}}]},
        "created_at": now}])
    await session.execute(insert(DmpBinary), [brow])
    await session.execute(insert(DmpBinaryChunk), chunks)
    await session.execute(insert(DmpDocument), [document_row(doc, doc_id=doc_id, dmp_id=record.id, ss_id=ss_id,
                                                             binary_id=bin_id, now=now)])
    await session.flush()
    stored = await session.get(DmpDocument, (current_tenant(), doc_id))
    assert stored is not None
    return stored


def origin_of(doc: DmpDocument) -> str:
    """Who filed a document, as the patient reads it: ``patient`` (their own), ``assurance_maladie`` (fed by the
    health insurance: reimbursement data, class 60, or an AMO practice setting), else ``professional``."""
    if doc.facility_code == PATIENT_PRODUCER and doc.author_rpps is None:
        return "patient"
    if doc.class_code == "60" or doc.practice_code == "AMO":
        return "assurance_maladie"
    return "professional"


async def fed_by_others(session: AsyncSession, *, record: DmpRecord) -> int:
    """How many documents anyone but the patient ever filed in this DMP: every version and availability, whatever
    its labels (deleted, replaced, hidden from the patient included: :func:`origin_of` is not ``patient``)."""
    return (await session.execute(select(func.count()).select_from(DmpDocument).where(
        DmpDocument.dmp_id == record.id,
        or_(DmpDocument.facility_code.is_distinct_from(PATIENT_PRODUCER), DmpDocument.author_rpps.is_not(None)))
    )).scalar_one()


async def audit_events(session: AsyncSession, *, ins: str, limit: int, before_id: int | None = None,
                       after_id: int | None = None) -> list[DmpAuditEvent]:
    """The traces of a DMP's accesses (every one is by someone other than the patient: the patient's own actions
    write none), newest first; ``before_id`` pages back, ``after_id`` reads what is new (oldest first)."""
    query = select(DmpAuditEvent).where(DmpAuditEvent.ins == ins)
    if after_id is not None:
        return list((await session.execute(query.where(DmpAuditEvent.id > after_id)
                                           .order_by(DmpAuditEvent.id).limit(limit))).scalars().all())
    if before_id is not None:
        query = query.where(DmpAuditEvent.id < before_id)
    return list((await session.execute(query.order_by(DmpAuditEvent.id.desc()).limit(limit))).scalars().all())


async def patient_document_titles(session: AsyncSession, ids: Sequence[str], *, representative: bool
                                  ) -> dict[str, tuple[str, str]]:
    """id -> (title, availability) of those of these documents the patient (or a legal representative) may know
    of, for the history's "what" and the notifications: a document hidden from that reader (``INVISIBLE_PATIENT``
    from the patient and the representatives, ``INVISIBLE_REPRESENTANTS_LEGAUX`` from the representatives:
    reference/dmp.md §2.4, :func:`rules.is_visible`) is left out, its id and its title. A deleted document keeps
    its title when its labels let the reader see it (the history tells what happened before the deletion, and the
    reader could see it then)."""
    if not ids:
        return {}
    caller = patient_caller(representative=representative)
    rows = (await session.execute(select(DmpDocument).where(DmpDocument.id.in_(sorted(set(ids)))))).scalars().all()
    out = {}
    for doc in rows:
        view = document_view(doc)
        if rules.is_visible(rules.DocumentView(author_rpps=view.author_rpps, labels=view.labels), caller):
            out[doc.id] = (doc.title, doc.availability)
    return out
