"""The routes of one mailbox's messages (list, read, raw, part, mark read, delete), added twice: to the
mailbox API (``/mss/v1``, the mailbox owner's PSC token) and to the control API (``/sandbox/v1``, any
mailbox, for test harnesses, as Mailpit's API does)."""


from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from app.api.deps import IsoInstant, SessionDep, SettingsDep
from app.mss import service
from app.mss.http.views import detail, summary
from app.mss.models import MssDelivery, MssMailbox, MssMessage
from app.mss.schemas import MessageDetail, MessageList, MessageSummary, ReadRequest, ReadResult

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or refused PSC access token"},
    403: {"description": "the professional does not own this mailbox (rule MSS:mailbox.owner)"},
    404: {"description": "unknown mailbox or message"},
}
LIST_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    404: {"description": "unknown mailbox, or unknown folder (rule MSS:folder.unknown)"},
    422: {"description": "invalid query parameter, or invalid folder name (rule MSS:folder.name)"},
}


def add_message_routes(target: APIRouter, mailbox_dep: Callable[..., Any], op: str) -> None:
    MailboxDep = Annotated[MssMailbox, Depends(mailbox_dep)]

    async def load(session: SessionDep, mailbox: MailboxDep, uid: str) -> tuple[MssDelivery, MssMessage]:
        return await service.load_delivery(session, mailbox=mailbox, uid=uid)

    Loaded = Annotated[tuple[MssDelivery, MssMessage], Depends(load)]

    @target.get("/mailboxes/{address}/messages", response_model=MessageList, operation_id=f"{op}_list_messages",
                summary="List and search a folder of a mailbox (newest first)", responses=LIST_PROBLEMS)
    async def list_messages(
        session: SessionDep, mailbox: MailboxDep,
        folder: Annotated[str, Query(description="the folder (`INBOX`, case-insensitive; `Sent`, `Drafts`, `Trash`, "
                                                 "or one created over IMAP)")] = "INBOX",
        sender: Annotated[str | None, Query(description="substring of the sender (envelope or From)")] = None,
        subject: Annotated[str | None, Query(description="substring of the subject")] = None,
        since: Annotated[IsoInstant | None, Query(description="received at or after (ISO 8601)")] = None,
        before: Annotated[IsoInstant | None, Query(description="received before (ISO 8601)")] = None,
        has_xdm: Annotated[bool | None, Query(description="with (true) or without (false) an IHE_XDM.ZIP")] = None,
        unread: Annotated[bool | None, Query()] = None,
        kind: Annotated[str | None, Query(description="message, dsn or mdn")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> MessageList:
        name = service.normalise_folder_name(folder)
        flt = service.MessageFilter(sender=sender, subject=subject, since=since, before=before, has_xdm=has_xdm,
                                    unread=unread, kind=kind, folder=name, limit=limit, offset=offset)
        total, rows = await service.list_deliveries(session, mailbox=mailbox, flt=flt)
        return MessageList(total=total, items=[MessageSummary(**summary(d, m, name)) for d, m in rows])

    @target.get("/mailboxes/{address}/messages/{uid}", response_model=MessageDetail,
                operation_id=f"{op}_get_message", responses=PROBLEMS,
                summary="Read a message: headers, parts, decoded XDM metadata, check report (`latest` = newest)")
    async def get_message(session: SessionDep, settings: SettingsDep, found: Loaded) -> MessageDetail:
        d, m = found
        return await detail(session, settings, d, m)

    @target.get("/mailboxes/{address}/messages/{uid}/raw", operation_id=f"{op}_get_raw", responses=PROBLEMS,
                summary="The message as received (.eml)", response_class=Response)
    async def get_raw(found: Loaded) -> Response:
        _, m = found
        return Response(m.raw, media_type="message/rfc822",
                        headers={"Content-Disposition": f'attachment; filename="{m.uid}.eml"'})

    @target.get("/mailboxes/{address}/messages/{uid}/parts/{index}", operation_id=f"{op}_get_part",
                responses=PROBLEMS, summary="One MIME part (attachment), decoded", response_class=Response)
    async def get_part(session: SessionDep, settings: SettingsDep, mailbox: MailboxDep, uid: str,
                       index: int) -> Response:
        # Loaded here, not as a dependency: an index that does not validate is answered first (422), as before.
        _, m = await service.load_delivery(session, mailbox=mailbox, uid=uid)
        part, payload = await service.load_part(settings, m, index)
        filename = (part.filename or f"part-{index}").replace('"', "")
        return Response(payload, media_type=part.content_type,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @target.post("/mailboxes/{address}/messages/{uid}/read", response_model=ReadResult,
                 operation_id=f"{op}_mark_read", responses=PROBLEMS,
                 summary="Mark read; sends the MDN (RFC 8098) when the message asked for one")
    async def mark_read(session: SessionDep, settings: SettingsDep, mailbox: MailboxDep, uid: str,
                        body: ReadRequest | None = None) -> ReadResult:
        # Loaded here, not as a dependency: a body that does not validate is answered first (422), as before.
        d, m = await service.load_delivery(session, mailbox=mailbox, uid=uid)
        mdn = await service.mark_read(session, settings, mailbox=mailbox, delivery=d, message=m,
                                      disposition=(body or ReadRequest()).disposition)
        mdn_uid = mdn.uid if mdn else await service.message_uid(session, d.mdn_id)
        return ReadResult(uid=m.uid, seen=True, mdn_uid=mdn_uid)

    @target.delete("/mailboxes/{address}/messages/{uid}", status_code=204, operation_id=f"{op}_delete_message",
                   responses=PROBLEMS,
                   summary="Delete a message from its folder (its IMAP UID is not reused; the folder's UIDNEXT stays)")
    async def delete_message(session: SessionDep, mailbox: MailboxDep, found: Loaded) -> Response:
        d, _ = found
        await service.delete_delivery(session, mailbox=mailbox, delivery=d)
        return Response(status_code=204)
