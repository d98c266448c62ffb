"""The patient's messaging pages (MSSanté "citoyenne": the mailbox ``<INS>@patient.mssante.fr``): the inbox, a
message, the reply form (only while the conversation a professional opened is open), and a message to the
organisational mailbox of a pharmacy that recently dispensed to the patient (the one exception where the patient
starts a conversation). The rules are the service's (:mod:`app.mes.service`, from ``app.mes.messaging``;
shared/reference/mss.md, patient mailboxes and the MES rules).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.mes import service
from app.mes.exceptions import MesNotFound
from app.mes.pages_web import base_context, done, field, page_route, render, signed_in

router = APIRouter(include_in_schema=False)

MAX_TEXT = 100_000


def _messaging(name: str) -> Any:
    """A messaging function of the service (helper M's part, re-exported by :mod:`app.mes.service`)."""
    function = getattr(service, name, None)
    if function is None:
        raise MesNotFound(f"messaging is not available ({name})", rule="mes:messaging-unavailable",
                          french="La messagerie n'est pas encore disponible dans ce bac à sable.")
    return function


@router.get("/mes/patients/{ins}/messages", name="mes_page_messages")
@page_route
async def inbox(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    messages = await _messaging("inbox")(session, actor=ctx.actor, ins=ins)
    return render(request, "messages.html", base_context(request, ctx, "/messages", messages=messages,
                                                         address=f"{ins}@patient.mssante.fr"))


@router.get("/mes/patients/{ins}/messages/pharmacie", name="mes_page_pharmacy_form")
@page_route
async def pharmacy_form(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    pharmacies = await _messaging("pharmacies")(session, actor=ctx.actor, ins=ins)
    return render(request, "pharmacy.html", base_context(request, ctx, "/messages", pharmacies=pharmacies))


@router.post("/mes/patients/{ins}/messages/pharmacie", name="mes_page_pharmacy_send")
@page_route
async def pharmacy_send(request: Request, ins: str, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    ctx = await signed_in(request, session, settings, ins=ins, form=form)
    await _messaging("write_to_pharmacy")(
        session, actor=ctx.actor, ins=ins, mailbox=field(form, "mailbox", max_length=254),
        subject=field(form, "subject", max_length=250), text=field(form, "text", max_length=MAX_TEXT),
        attachments=())
    return done(ins, "/messages", "envoye")


@router.get("/mes/patients/{ins}/messages/{message_id}", name="mes_page_message")
@page_route
async def message(request: Request, ins: str, message_id: str, session: SessionDep,
                  settings: SettingsDep) -> Response:
    ctx = await signed_in(request, session, settings, ins=ins)
    detail = await _messaging("read_message")(session, actor=ctx.actor, ins=ins, message_id=message_id)
    return render(request, "message.html", base_context(request, ctx, "/messages", message=detail,
                                                        base=f"/mes/patients/{ins}/messages/{message_id}"))


@router.post("/mes/patients/{ins}/messages/{message_id}/repondre", name="mes_page_message_reply")
@page_route
async def reply(request: Request, ins: str, message_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    ctx = await signed_in(request, session, settings, ins=ins, form=form)
    await _messaging("reply")(session, actor=ctx.actor, ins=ins, message_id=message_id,
                              text=field(form, "text", max_length=MAX_TEXT), attachments=())
    return done(ins, f"/messages/{message_id}", "repondu")
