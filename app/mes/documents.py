"""The patient's documents: list, read, content, upload (a PDF, patient-authored), mask / unmask from
professionals, logical deletion, hiding from legal representatives — over the DMP's store through
:mod:`app.dmp.service`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.mes.persons import Person
from app.mes.views import DocumentDetail, DocumentSummary


async def list_documents(session: AsyncSession, *, actor: Person, ins: str) -> list[DocumentSummary]:
    raise NotImplementedError


async def get_document(session: AsyncSession, *, actor: Person, ins: str, document_id: str) -> DocumentDetail:
    raise NotImplementedError


async def document_content(session: AsyncSession, *, actor: Person, ins: str, document_id: str
                           ) -> tuple[bytes, str]:
    """The document's bytes and media type (a CDA: ``text/xml``; a patient's PDF: ``application/pdf``)."""
    raise NotImplementedError


async def upload_document(session: AsyncSession, *, settings: Settings, actor: Person, ins: str, title: str,
                          type_code: str, content: bytes, mime_type: str,
                          service_date: datetime | None = None) -> DocumentSummary:
    raise NotImplementedError


async def set_masked(session: AsyncSession, *, actor: Person, ins: str, document_id: str, masked: bool
                     ) -> DocumentSummary:
    raise NotImplementedError


async def delete_document(session: AsyncSession, *, actor: Person, ins: str, document_id: str) -> None:
    raise NotImplementedError


async def set_hidden_from_representatives(session: AsyncSession, *, actor: Person, ins: str, document_id: str,
                                          hidden: bool) -> DocumentSummary:
    raise NotImplementedError
