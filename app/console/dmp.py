"""The console's DMP pages: the patients' DMPs, each with its state, objections, authorisations, blocked
professionals, documents and access traces; a document's metadata, its CDA rendered and its PDF shown inline.
Read as the control API reads them (no access trace is written: the console is the harness's view, not a
professional's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup

from app.api.deps import SessionDep
from app.console.access import require_sign_in
from app.console.cda import read_cda
from app.console.pages import ConsoleRoute, error_page, render
from app.dmp import service as dmp_service

router = APIRouter(prefix="/console/dmp", route_class=ConsoleRoute, include_in_schema=False,
                   dependencies=[Depends(require_sign_in)])

TRACES_SHOWN = 100
INLINE_TYPES = {"application/pdf", "text/plain", "image/png", "image/jpeg"}


@router.get("", name="console_dmp")
async def dmp_list(request: Request, session: SessionDep) -> Response:
    records = await dmp_service.list_records(session)
    rows = [(r, await dmp_service.count_documents(session, record=r)) for r in records]
    return render(request, "dmp_list.html", {"page": "dmp", "rows": rows})


class UnknownDocument(Exception):
    """No DMP document has this id (the console's 404 page, through :func:`unknown_document`)."""


async def _document(session: Any, doc_id: str) -> Any:
    document = await dmp_service.get_document(session, doc_id[:64])
    if document is None:
        raise UnknownDocument(doc_id)
    return document


async def unknown_document(request: Request, exc: UnknownDocument) -> Response:
    return error_page(request, 404, f"aucun document {exc.args[0]!r} — no such document", "DMP:document.unknown")


def _is_xml(content_type: str, data: bytes) -> bool:
    return content_type in ("text/xml", "application/xml") or data.lstrip()[:5] == b"<?xml"


def _shown_body(content_type: str, data: bytes) -> tuple[str, bytes] | None:
    """What the page shows inline: a CDA's level-1 body, or the document itself when it is a PDF or an image."""
    if _is_xml(content_type, data):
        view = read_cda(data)
        if view is not None and view.body is not None and view.media_type in INLINE_TYPES:
            return view.media_type, view.body
        return None
    return (content_type, data) if content_type in INLINE_TYPES else None


@router.get("/documents/{doc_id}", name="console_dmp_document")
async def document_page(request: Request, doc_id: str, session: SessionDep) -> Response:
    document = await _document(session, doc_id)
    record = await dmp_service.record_by_id(session, dmp_id=document.dmp_id)
    data = await dmp_service.read_binary(session, document.binary_id)
    is_xml = _is_xml(document.content_type, data)
    # The DMP's CDA renderer (the patient pages' too) escapes every text it writes, and answers a notice for a
    # document it cannot read; the XML source stays beside it.
    rendered = Markup(dmp_service.cda_to_html(data)) if is_xml else None  # noqa: S704
    shown = _shown_body(document.content_type, data)
    return render(request, "dmp_document.html", {
        "page": "dmp", "document": document, "record": record, "rendered": rendered,
        "xml": data.decode("utf-8", errors="replace") if is_xml else None,
        "inline_type": shown[0] if shown else None,
    })


@router.get("/documents/{doc_id}/content", name="console_dmp_document_content")
async def document_content(doc_id: str, session: SessionDep) -> Response:
    """The document as filed (ITI-68's bytes), as a download."""
    document = await _document(session, doc_id)
    data = await dmp_service.read_binary(session, document.binary_id)
    return Response(data, media_type=document.content_type,
                    headers={"Content-Disposition": f'attachment; filename="{document.id}"',
                             "X-Content-Type-Options": "nosniff"})


@router.get("/documents/{doc_id}/body", name="console_dmp_document_body")
async def document_body(request: Request, doc_id: str, session: SessionDep) -> Response:
    """What the document's page shows inline: a CDA's level-1 body (a PDF), or the document if it is a PDF."""
    document = await _document(session, doc_id)
    shown = _shown_body(document.content_type, await dmp_service.read_binary(session, document.binary_id))
    if shown is None:
        return error_page(request, 404, "ce document n'a pas de contenu à afficher ici "
                          "(no PDF, image or text body to show)", "console:document-body")
    media_type, body = shown
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": "inline",
                             "Content-Security-Policy": "frame-ancestors 'self'; default-src 'none'",
                             "X-Frame-Options": "SAMEORIGIN", "X-Content-Type-Options": "nosniff"})


@router.get("/{ins}", name="console_dmp_record")
async def record_page(request: Request, ins: str, session: SessionDep) -> Response:
    record = await dmp_service.require_record(session, ins=ins[:32])
    traces, total = await dmp_service.search_audit(
        session, search=dmp_service.AuditSearch(ins=record.ins, count=TRACES_SHOWN))
    return render(request, "dmp_record.html", {
        "page": "dmp", "record": record,
        "identity": await dmp_service.patient_identity(session, record),
        "authorisations": await dmp_service.list_authorisations(session, record=record),
        "blocked": await dmp_service.list_blocked(session, record=record),
        "documents": await dmp_service.documents_for(session, record=record),
        "traces": traces, "traces_total": total,
    })
