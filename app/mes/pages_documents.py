"""The patient's documents pages: the list, a document (its CDA rendered readably, a PDF shown inline from the
content route), mask/unmask, delete with confirmation, hide from legal representatives, and the upload of a PDF.

Rules (service side, :mod:`app.mes.service`; shared/reference/dmp.md §2.4): masking from professionals is
``MASQUE_PS`` (the author still sees the document); deletion is logical as the DMP's; ``INVISIBLE_REPRESENTANTS_
LEGAUX`` may only be set by the minor themself; an upload is a PDF checked by its magic bytes and bounded by
``SEGUR_MES_UPLOAD_MAX_BYTES``, and appears to professionals as a patient-authored document.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from starlette.datastructures import UploadFile

from app.api.deps import SessionDep, SettingsDep
from app.dmp import service as dmp_service
from app.mes import service
from app.mes.exceptions import MesInvalid
from app.mes.pages_web import (
    PENDING_FILE_MAX,
    base_context,
    done,
    field,
    page_route,
    read_form,
    refuse_nul,
    render,
    signed_in,
)
from app.shared import valuesets
from app.tenancy import tenant_path

router = APIRouter(include_in_schema=False)

# Media types shown inline in the page (in an <iframe>); anything else is only offered as a download, so a
# document can never run as a page of this site.
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "text/plain"})
CONTENT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
# Chromium's PDF viewer does not run in a sandboxed frame: a PDF gets no ``sandbox`` (it runs no script of ours).
PDF_CSP = "default-src 'none'; object-src 'self'; frame-ancestors 'self'"

# The document types the upload form offers (a few of JDV_J66-TypeCode-DMP, LOINC; the DMP checks the code
# against the whole value set), labelled by the value set itself.
UPLOAD_TYPE_CODES = ("11488-4", "11502-2", "18748-4", "57833-6", "87273-9", "34133-9")
UPLOAD_TYPES = tuple((code, valuesets.load("J66").display("http://loinc.org", code) or code)
                     for code in UPLOAD_TYPE_CODES)


def _doc_base(ins: str, document_id: str) -> str:
    """The document's page in the current tenant (the templates' ``base``: a path emitted as is)."""
    return tenant_path(f"/mes/patients/{ins}/documents/{document_id}")


@router.get("/mes/patients/{ins}/documents", name="mes_page_documents")
@page_route
async def documents(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    items = await service.list_documents(session, actor=ctx.actor, ins=ins)
    return render(request, "documents.html", base_context(
        request, ctx, "/documents", documents=items, upload_types=UPLOAD_TYPES,
        upload_max=f"{settings.mes_upload_max_bytes / 1024 / 1024:.3g}".replace(".", ",")))


@router.get("/mes/patients/{ins}/documents/{document_id}", name="mes_page_document")
@page_route
async def document(request: Request, ins: str, document_id: str, session: SessionDep,
                   settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    detail = await service.get_document(session, actor=ctx.actor, ins=ins, document_id=document_id)
    rendered = None
    shown_file = None
    if detail.is_cda:
        content, _ = await service.document_content(session, actor=ctx.actor, ins=ins, document_id=document_id)
        rendered = Markup(dmp_service.cda_to_html(content))  # noqa: S704 - every text escaped by cda_to_html
        wrapped = dmp_service.cda_embedded_file(content)
        if wrapped is not None and wrapped[1] in INLINE_TYPES:
            shown_file = (_doc_base(ins, document_id) + "/fichier", wrapped[1])
    elif detail.summary.content_type in INLINE_TYPES:
        shown_file = (_doc_base(ins, document_id) + "/contenu", detail.summary.content_type)
    return render(request, "document.html", base_context(
        request, ctx, "/documents", doc=detail, rendered=rendered, shown_file=shown_file,
        base=_doc_base(ins, document_id)))


def _file_response(content: bytes, media_type: str, name: str, *, download: bool) -> Response:
    inline = media_type in INLINE_TYPES and not download
    headers = {
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"',
        "Content-Security-Policy": PDF_CSP if media_type == "application/pdf" else CONTENT_CSP,
        "X-Frame-Options": "SAMEORIGIN", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
    }
    return Response(content, media_type=media_type if inline or download else "application/octet-stream",
                    headers=headers)


@router.get("/mes/patients/{ins}/documents/{document_id}/contenu", name="mes_page_document_content")
@page_route
async def content(request: Request, ins: str, document_id: str, session: SessionDep,
                  settings: SettingsDep) -> Response:
    """The document as stored (a CDA, a PDF): inline when it is a type shown in the page, else a download."""
    ctx = await signed_in(request, session, settings, ins=ins)
    data, media_type = await service.document_content(session, actor=ctx.actor, ins=ins, document_id=document_id)
    extension = {"application/pdf": "pdf", "text/plain": "txt"}.get(media_type, "xml")
    return _file_response(data, media_type, f"document-{document_id[:40]}.{extension}",
                          download=request.query_params.get("telecharger") == "1")


@router.get("/mes/patients/{ins}/documents/{document_id}/fichier", name="mes_page_document_file")
@page_route
async def wrapped_file(request: Request, ins: str, document_id: str, session: SessionDep,
                       settings: SettingsDep) -> Response:
    """The file a non-structured CDA wraps (the PDF of a CDA N1), for the page's <iframe>."""
    ctx = await signed_in(request, session, settings, ins=ins)
    data, _ = await service.document_content(session, actor=ctx.actor, ins=ins, document_id=document_id)
    wrapped = dmp_service.cda_embedded_file(data)
    if wrapped is None:
        raise MesInvalid("this document wraps no file", rule="mes:no-wrapped-file",
                         french="Ce document ne contient pas de fichier joint à afficher.")
    return _file_response(wrapped[0], wrapped[1], f"document-{document_id[:40]}.pdf", download=False)


@router.post("/mes/patients/{ins}/documents/{document_id}/masquage", name="mes_page_document_mask")
@page_route
async def mask(request: Request, ins: str, document_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    ctx = await signed_in(request, session, settings, ins=ins, form=form)
    masked = form.get("masked") == "1"
    await service.set_masked(session, actor=ctx.actor, ins=ins, document_id=document_id, masked=masked)
    return done(ins, f"/documents/{document_id}", "masque" if masked else "demasque")


@router.post("/mes/patients/{ins}/documents/{document_id}/representants", name="mes_page_document_hide")
@page_route
async def hide(request: Request, ins: str, document_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    ctx = await signed_in(request, session, settings, ins=ins, form=form)
    hidden = form.get("hidden") == "1"
    await service.set_hidden_from_representatives(session, actor=ctx.actor, ins=ins, document_id=document_id,
                                                  hidden=hidden)
    return done(ins, f"/documents/{document_id}", "cache-representants" if hidden else "montre-representants")


@router.get("/mes/patients/{ins}/documents/{document_id}/suppression", name="mes_page_document_delete_confirm")
@page_route
async def delete_confirm(request: Request, ins: str, document_id: str, session: SessionDep,
                         settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    detail = await service.get_document(session, actor=ctx.actor, ins=ins, document_id=document_id)
    return render(request, "delete.html", base_context(request, ctx, "/documents", doc=detail,
                                                       base=_doc_base(ins, document_id)))


@router.post("/mes/patients/{ins}/documents/{document_id}/suppression", name="mes_page_document_delete")
@page_route
async def delete(request: Request, ins: str, document_id: str, session: SessionDep,
                 settings: SettingsDep) -> Response:
    form = await request.form()
    ctx = await signed_in(request, session, settings, ins=ins, form=form)
    if form.get("confirmer") != "oui":
        raise MesInvalid("deletion not confirmed", rule="mes:delete-confirmation",
                         french="La suppression n'a pas été confirmée : cochez la case de confirmation.")
    await service.delete_document(session, actor=ctx.actor, ins=ins, document_id=document_id)
    return done(ins, "/documents", "supprime")


@router.post("/mes/patients/{ins}/documents/ajouter", name="mes_page_document_upload")
@page_route
async def upload(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    form = await read_form(request, max_files=1, max_fields=20)
    ctx = await signed_in(request, session, settings, ins=ins, form=form)
    title = field(form, "title", max_length=200)
    type_code = field(form, "type_code", max_length=20)
    if type_code not in dict(UPLOAD_TYPES):
        raise MesInvalid(f"unknown document type {type_code}", rule="mes:upload-type-code",
                         french="Choisissez un type de document dans la liste.")
    service_date = _date(field(form, "service_date", required=False, max_length=10))
    content, mime_type = await _uploaded(form, settings.mes_upload_max_bytes)
    await service.upload_document(session, settings=settings, actor=ctx.actor, ins=ins, title=title,
                                  type_code=type_code, content=content, mime_type=mime_type,
                                  service_date=service_date)
    return done(ins, "/documents", "ajoute")


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(hour=12, tzinfo=UTC)
    except ValueError:
        raise MesInvalid(f"invalid date {value!r}", rule="mes:upload-date",
                         french="La date de l'acte doit être une date (AAAA-MM-JJ).") from None


async def _uploaded(form: object, limit: int) -> tuple[bytes, str]:
    """The uploaded file (read up to the bound plus one byte: the service refuses what is over), or the one kept
    across an expired session (``pending_file``, base64)."""
    part = form.get("file")  # type: ignore[attr-defined]
    if isinstance(part, UploadFile) and part.filename:
        return await part.read(limit + 1), part.content_type or "application/octet-stream"
    kept = form.get("pending_file")  # type: ignore[attr-defined]
    if isinstance(kept, str) and kept and len(kept) <= 4 * PENDING_FILE_MAX // 3 + 4:
        try:
            data = base64.b64decode(kept, validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if data:
            kept_type = form.get("pending_file_type")  # type: ignore[attr-defined]
            kept_type = kept_type if isinstance(kept_type, str) else "application/pdf"
            refuse_nul(kept_type, "pending_file_type")
            return data, kept_type
    raise MesInvalid("no file uploaded", rule="mes:upload-file", french="Choisissez un fichier PDF à ajouter.")
