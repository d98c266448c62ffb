"""The patient's messaging pages (MSSanté "citoyenne": the mailbox ``<INS>@patient.mssante.fr``): the inbox, a
message, the reply form (only while the conversation a professional opened is open), and a message to the
organisational mailbox of a pharmacy that recently dispensed to the patient (the one exception where the patient
starts a conversation). The rules are the service's (:mod:`app.mes.service`, from ``app.mes.messaging``;
shared/reference/mss.md, patient mailboxes and the MES rules).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from app.api.deps import SessionDep, SettingsDep
from app.mes import service
from app.mes.pages_web import base_context, done, field, page_route, render, signed_in
from app.tenancy import tenant_path

router = APIRouter(include_in_schema=False)

MAX_TEXT = 100_000


async def _attachments(form: FormData, limit: int) -> tuple[service.Attachment, ...]:
    """The file attached to a message form, if any (read up to the body bound; the service checks the 25 MB
    rule of patient messages and what MSSanté accepts)."""
    part = form.get("file")
    if isinstance(part, UploadFile) and part.filename:
        content = await part.read(limit + 1)
        return (service.Attachment(filename=part.filename[:200], content_type=part.content_type or
                                   "application/octet-stream", content=content, size=len(content)),)
    return ()


@router.get("/mes/patients/{ins}/messages", name="mes_page_messages")
@page_route
async def inbox(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    messages = await service.inbox(session, actor=ctx.actor, ins=ins)
    return render(request, "messages.html", base_context(request, ctx, "/messages", messages=messages,
                                                         address=f"{ins}@patient.mssante.fr"))


@router.get("/mes/patients/{ins}/messages/pharmacie", name="mes_page_pharmacy_form")
@page_route
async def pharmacy_form(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    pharmacies = await service.pharmacies(session, settings=settings, actor=ctx.actor, ins=ins)
    return render(request, "pharmacy.html", base_context(request, ctx, "/messages", pharmacies=pharmacies))


@router.post("/mes/patients/{ins}/messages/pharmacie", name="mes_page_pharmacy_send")
@page_route
async def pharmacy_send(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form(max_files=1, max_fields=20)
    ctx = await signed_in(request, session, settings, ins=ins, form=form)
    await service.write_to_pharmacy(
        session, settings=settings, actor=ctx.actor, ins=ins, mailbox=field(form, "mailbox", max_length=254),
        subject=field(form, "subject", max_length=250), text=field(form, "text", max_length=MAX_TEXT),
        attachments=await _attachments(form, settings.max_body_bytes))
    return done(ins, "/messages", "envoye")


@router.get("/mes/patients/{ins}/messages/{message_id}", name="mes_page_message")
@page_route
async def message(request: Request, ins: str, message_id: str, session: SessionDep,
                  settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    detail = await service.read_message(session, settings=settings, actor=ctx.actor, ins=ins, message_id=message_id)
    return render(request, "message.html", base_context(request, ctx, "/messages", message=detail,
                                                        base=tenant_path(f"/mes/patients/{ins}/messages/{message_id}")))


@router.get("/mes/patients/{ins}/messages/{message_id}/pieces/{index}", name="mes_page_message_attachment")
@page_route
async def attachment(request: Request, ins: str, message_id: str, index: int, session: SessionDep,
                     settings: SettingsDep) -> Response:
    """An attachment, always as a download (a file of a message never runs as a page of this site)."""
    ctx = await signed_in(request, session, settings, ins=ins)
    found = await service.message_attachment(session, settings=settings, actor=ctx.actor, ins=ins,
                                             message_id=message_id, index=index)
    safe_name = "".join(c if c.isalnum() or c in "._-" else "_" for c in found.filename)[:100] or "piece"
    return Response(found.content, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{safe_name}"', "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox", "Cache-Control": "no-store"})


@router.post("/mes/patients/{ins}/messages/{message_id}/repondre", name="mes_page_message_reply")
@page_route
async def reply(request: Request, ins: str, message_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form(max_files=1, max_fields=20)
    ctx = await signed_in(request, session, settings, ins=ins, form=form)
    await service.reply(session, settings=settings, actor=ctx.actor, ins=ins, message_id=message_id,
                        text=field(form, "text", max_length=MAX_TEXT),
                        attachments=await _attachments(form, settings.max_body_bytes))
    return done(ins, f"/messages/{message_id}", "repondu")
