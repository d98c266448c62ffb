"""The patient's documents: list, read, content, upload (a PDF, patient-authored), mask / unmask from
professionals, logical deletion, hiding from legal representatives — over the DMP's store through
:mod:`app.dmp.service` (:mod:`app.dmp.patient`), so each change shows at once on the FHIR and XDS.b faces.

Rules (reference/dmp.md §2.4, the issue 13 contract): a legal representative never sees a document marked
``INVISIBLE_REPRESENTANTS_LEGAUX`` (nor ``INVISIBLE_PATIENT``, hidden from the patient too); only the minor
themself may hide a document from their representatives (or show it again); uploads are PDFs only, checked by
their magic bytes, at most ``SEGUR_MES_UPLOAD_MAX_BYTES``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.dmp import service as dmp_service
from app.mes.dmpview import dmp_call, record_of, summary
from app.mes.exceptions import MesForbiddenAction, MesInvalid
from app.mes.persons import Person, is_representative, patient_for
from app.mes.views import DocumentDetail, DocumentSummary

PDF_MAGIC = b"%PDF-"
MASQUE_PS = "MASQUE_PS"
INVISIBLE_REPRESENTANTS_LEGAUX = "INVISIBLE_REPRESENTANTS_LEGAUX"


async def list_documents(session: AsyncSession, *, actor: Person, ins: str) -> list[DocumentSummary]:
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    docs = await dmp_service.patient_documents(session, record=record,
                                               representative=is_representative(actor, patient))
    return [summary(doc, patient) for doc in docs]


async def _document(session: AsyncSession, *, actor: Person, ins: str, document_id: str) -> tuple[Person, Any, Any]:
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    doc = await dmp_call(dmp_service.patient_document, session, record=record, document_id=document_id,
                         representative=is_representative(actor, patient))
    return patient, record, doc


async def get_document(session: AsyncSession, *, actor: Person, ins: str, document_id: str) -> DocumentDetail:
    patient, _, doc = await _document(session, actor=actor, ins=ins, document_id=document_id)
    own = not is_representative(actor, patient)
    return DocumentDetail(
        summary=summary(doc, patient),
        labels=tuple((str(lab[0]), str(lab[1]), str(lab[2]) if len(lab) > 2 else "") for lab in doc.labels),
        facility_code=doc.facility_code, practice_code=doc.practice_code,
        replaces=doc.replaces_id, replaced_by=doc.replaced_by_id,
        is_cda=doc.content_type in ("application/xml", "text/xml", "application/hl7-v3+xml"),
        may_mask=True, may_delete=True, may_hide_from_representatives=own and patient.minor_on(utcnow().date()))


async def document_content(session: AsyncSession, *, actor: Person, ins: str, document_id: str
                           ) -> tuple[bytes, str]:
    """The document's bytes and media type (a CDA: ``application/xml``; a patient's PDF: ``application/pdf``)."""
    _, _, doc = await _document(session, actor=actor, ins=ins, document_id=document_id)
    data = await dmp_service.read_binary(session, doc.binary_id)
    return data, doc.content_type


def check_upload(settings: Settings, *, title: str, content: bytes, mime_type: str) -> str:
    """The upload's bounds and type (pure): the title to store, else :class:`MesInvalid`."""
    limit = settings.mes_upload_max_bytes
    if len(content) > limit:
        raise MesInvalid(f"the file is {len(content)} bytes, more than the limit of {limit} bytes "
                         "(SEGUR_MES_UPLOAD_MAX_BYTES)", rule="MES:upload-size", too_large=True,
                         french=f"le fichier fait {len(content)} octets, plus que la limite de {limit} octets")
    if not content:
        raise MesInvalid("the file is empty", rule="MES:upload-empty", french="le fichier est vide",
                         unprocessable=True)
    if (mime_type or "").split(";")[0].strip().lower() != "application/pdf" or not content.startswith(PDF_MAGIC):
        raise MesInvalid("only PDF documents may be added (application/pdf, starting with %PDF-)",
                         rule="MES:upload-type", unsupported=True,
                         french="seuls des documents PDF peuvent être ajoutés (application/pdf, commençant par %PDF-)")
    cleaned = " ".join((title or "").split())
    if not cleaned or len(cleaned) > 256:
        raise MesInvalid("the title is required (at most 256 characters)", rule="MES:upload-title",
                         french="le titre est obligatoire (256 caractères au plus)", unprocessable=True)
    return cleaned


async def upload_document(session: AsyncSession, *, settings: Settings, actor: Person, ins: str, title: str,
                          type_code: str, content: bytes, mime_type: str,
                          service_date: datetime | None = None) -> DocumentSummary:
    """A PDF added by the patient (or their representative): on the professional side a patient-authored
    document (class 90, the patient as author)."""
    patient = await patient_for(session, actor=actor, ins=ins)
    cleaned = check_upload(settings, title=title, content=content, mime_type=mime_type)
    if service_date is not None and service_date.tzinfo is None:
        service_date = service_date.replace(tzinfo=UTC)
    if service_date is not None and service_date > utcnow():
        raise MesInvalid("the date of the act cannot be in the future", rule="MES:upload-date", unprocessable=True,
                         french="la date de l'acte ne peut pas être dans le futur")
    record = await record_of(session, patient)
    doc = await dmp_call(dmp_service.file_patient_document, session, settings, record=record,
                         given=patient.given_names, family=patient.birth_name, title=cleaned, type_=type_code,
                         content=content, service_date=service_date)
    return summary(doc, patient)


async def set_masked(session: AsyncSession, *, actor: Person, ins: str, document_id: str, masked: bool
                     ) -> DocumentSummary:
    """Mask the document from professionals (``MASQUE_PS``) or unmask it; its author still sees it."""
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    doc = await dmp_call(dmp_service.set_label, session, record=record, document_id=document_id, code=MASQUE_PS,
                         present=masked, representative=is_representative(actor, patient))
    return summary(doc, patient)


async def delete_document(session: AsyncSession, *, actor: Person, ins: str, document_id: str) -> None:
    """Logical deletion (as the DMP deletes): gone for every professional, the author included."""
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    if is_representative(actor, patient):
        await dmp_call(dmp_service.patient_document, session, record=record, document_id=document_id,
                       representative=True)
    await dmp_call(dmp_service.delete_by_patient, session, record=record, document_id=document_id)


async def set_hidden_from_representatives(session: AsyncSession, *, actor: Person, ins: str, document_id: str,
                                          hidden: bool) -> DocumentSummary:
    """``INVISIBLE_REPRESENTANTS_LEGAUX``: only the minor themself may set or clear it (reference/dmp.md §2.4,
    "Minors can ask for elements to be hidden")."""
    patient = await patient_for(session, actor=actor, ins=ins)
    record = await record_of(session, patient)
    if is_representative(actor, patient):
        await dmp_call(dmp_service.patient_document, session, record=record, document_id=document_id,
                       representative=True)
        raise MesForbiddenAction("only the minor themself may hide a document from their legal representatives",
                                 rule="MES:hide-minor-only",
                                 french="seul le mineur lui-même peut masquer un document à ses représentants légaux")
    if not patient.minor_on(utcnow().date()):
        raise MesInvalid("only a minor's documents can be hidden from legal representatives", unprocessable=True,
                         rule="MES:hide-minor-only",
                         french="seuls les documents d'un mineur peuvent être masqués à ses représentants légaux")
    doc = await dmp_call(dmp_service.set_label, session, record=record, document_id=document_id,
                         code=INVISIBLE_REPRESENTANTS_LEGAUX, present=hidden, representative=False)
    return summary(doc, patient)
