"""The console's MSSanté pages, like Mailpit's: every mailbox, a folder's messages, and a message with its
headers, text, attachments (downloadable), the decoded ``IHE_XDM.ZIP`` and the MSSanté check report. Read
through the MSSanté service as the control API's mailbox routes read them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.console.access import require_sign_in
from app.console.pages import HEADERS, ConsoleRoute, error_page, render, templates
from app.mss import service as mss_service

router = APIRouter(prefix="/console/mss", route_class=ConsoleRoute, include_in_schema=False,
                   dependencies=[Depends(require_sign_in)])

live_router = APIRouter(prefix="/console/live", route_class=ConsoleRoute, include_in_schema=False,
                        dependencies=[Depends(require_sign_in)])

PAGE = 50


async def _mailbox(session: Any, address: str) -> Any:
    mailbox = await mss_service.get_mailbox(session, address[:320])
    if mailbox is None:
        raise mss_service.MssError(f"aucune boîte aux lettres {address!r} — no such mailbox",
                                   rule="MSS:mailbox.unknown")
    return mailbox


@router.get("", name="console_mss")
async def mailboxes_page(request: Request, session: SessionDep) -> Response:
    return render(request, "mss_list.html", {"page": "mss", "mailboxes": await mss_service.list_mailboxes(session)})


@router.get("/{address}", name="console_mss_mailbox")
async def mailbox_page(request: Request, address: str, session: SessionDep,
                       folder: str = Query("INBOX", max_length=200),  # noqa: B008
                       offset: int = Query(0, ge=0, le=1_000_000)) -> Response:  # noqa: B008
    mailbox = await _mailbox(session, address)
    name = mss_service.normalise_folder_name(folder)
    total, rows = await mss_service.list_deliveries(
        session, mailbox=mailbox, flt=mss_service.MessageFilter(folder=name, limit=PAGE, offset=offset))
    folders = await mss_service.list_folders(session, mailbox)
    return render(request, "mss_mailbox.html", {
        "page": "mss", "mailbox": mailbox, "folder": name, "folders": folders, "rows": rows, "total": total,
        "offset": offset, "size": PAGE, "last_id": max((d.id for d, _ in rows), default=0),
        "live_url": "" if offset else (f"/console/live/mss/{quote(mailbox.address, safe='')}?"
                                       + urlencode({"folder": name})),
    })


@live_router.get("/mss/{address}", name="console_live_mss")
async def live_rows(request: Request, address: str, session: SessionDep,
                    folder: str = Query("INBOX", max_length=200),  # noqa: B008
                    after: int = Query(0, ge=0, le=2**62)) -> Response:  # noqa: B008
    """The folder's messages delivered after IMAP UID ``after`` (HTML rows, newest first) for the page's polling
    script; ``X-Last-Id`` is the newest UID. Under ``/console/live/``: not journaled."""
    mailbox = await _mailbox(session, address)
    name = mss_service.normalise_folder_name(folder)
    _, rows = await mss_service.list_deliveries(
        session, mailbox=mailbox, flt=mss_service.MessageFilter(folder=name, limit=PAGE))
    fresh = [(d, m) for d, m in rows if d.id > after]
    html = templates.get_template("mss_rows.html").render(mailbox=mailbox, rows=fresh)
    return Response(html, media_type="text/html; charset=utf-8",
                    headers={**HEADERS, "X-Last-Id": str(max([after, *(d.id for d, _ in fresh)]))})


@router.get("/{address}/{uid}", name="console_mss_message")
async def message_page(request: Request, address: str, uid: str, session: SessionDep,
                       settings: SettingsDep) -> Response:
    mailbox = await _mailbox(session, address)
    delivery, message = await mss_service.load_delivery(session, mailbox=mailbox, uid=uid[:64])
    parsed = await mss_service.parsed(settings, message)
    return render(request, "mss_message.html", {
        "page": "mss", "mailbox": mailbox, "delivery": delivery, "message": message, "text": parsed.text_body,
        "folder": await mss_service.folder_name(session, delivery),
        "related_uid": await mss_service.message_uid(session, message.related_id),
    })


@router.get("/{address}/{uid}/raw", name="console_mss_raw")
async def message_raw(address: str, uid: str, session: SessionDep) -> Response:
    mailbox = await _mailbox(session, address)
    _, message = await mss_service.load_delivery(session, mailbox=mailbox, uid=uid[:64])
    return Response(message.raw, media_type="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="{message.uid}.eml"'})


@router.get("/{address}/{uid}/parts/{index}", name="console_mss_part")
async def message_part(request: Request, address: str, uid: str, index: int, session: SessionDep,
                       settings: SettingsDep) -> Response:
    mailbox = await _mailbox(session, address)
    _, message = await mss_service.load_delivery(session, mailbox=mailbox, uid=uid[:64])
    if not 0 <= index < 10_000:
        return error_page(request, 404, f"aucune partie {index} — no such part", "MSS:part.unknown")
    part, payload = await mss_service.load_part(settings, message, index)
    # Served as bytes to download, never rendered on the console's origin (an HTML attachment would run there).
    return Response(payload, media_type="application/octet-stream",
                    headers={"Content-Disposition": attachment(part.filename or f"part-{index}"),
                             "X-Content-Type-Options": "nosniff"})


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` naming ``filename``: an ASCII fallback and RFC 6266 / RFC 8187's UTF-8 form."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)[:200] or "part"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename[:200], safe='')}"
