"""The mailbox API's own routes (``/mss/v1``, PSC access token): the professional's mailboxes, and sending
a message (JSON with attachments, or a raw RFC 5322 message)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from app.api.deps import CurrentProfessional, SessionDep, SettingsDep
from app.api.errors import ProblemError
from app.mss import service
from app.mss.exceptions import MessageRefused, MssError
from app.mss.http.deps import OwnedMailbox
from app.mss.http.messages import PROBLEMS
from app.mss.http.problems import journal_refusal, problem, validation_detail
from app.mss.http.views import mailbox_read
from app.mss.schemas import MailboxRead, MessageCreate, RecipientResult, SendResult


def _inline_schema(model: type[MessageCreate]) -> dict[str, Any]:
    """The JSON schema of ``model`` with its ``$defs`` inlined (the body is read by hand, so FastAPI does
    not register the model in ``components``)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def add_mailbox_routes(router: APIRouter) -> None:
    @router.get("/mailboxes", response_model=list[MailboxRead], operation_id="mss_list_my_mailboxes",
                summary="The mailboxes the authenticated professional may use", responses=PROBLEMS)
    async def my_mailboxes(session: SessionDep, professional: CurrentProfessional) -> list[MailboxRead]:
        return [mailbox_read(m) for m in await service.mailboxes_of(session, professional.subject_name_id)]

    @router.post(
        "/mailboxes/{address}/messages",
        response_model=SendResult,
        status_code=202,
        operation_id="mss_send_message",
        summary="Send a message (JSON with attachments, or a raw RFC 5322 message as message/rfc822)",
        responses={**PROBLEMS, 413: {"description": "larger than SEGUR_MSS_MAX_MESSAGE_BYTES (MSS:size)"},
                   422: {"description": "no valid recipient, or refused by an enforced check (rule in the problem)"}},
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": _inline_schema(MessageCreate)},
            "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
        }}},
    )
    async def send_message(request: Request, session: SessionDep, settings: SettingsDep, mailbox: OwnedMailbox,
                           professional: CurrentProfessional) -> SendResult:
        try:
            result = await _send(request, session, settings, mailbox, professional.subject_name_id)
        except MssError as exc:
            refusal = problem(exc)
            journal_refusal(request, refusal, f"Message refused ({exc.reply}) by rule {exc.rule}"
                            if isinstance(exc, MessageRefused) else None)
            raise refusal from None
        except ProblemError as exc:
            journal_refusal(request, exc)
            raise
        statuses = {v.address: "accepted" for v in result.verdicts if v.accepted}
        return SendResult(
            uid=result.message.uid, message_id=result.message.message_id,
            recipients=[RecipientResult(address=v.address, status=statuses.get(v.address, "refused"), reply=v.reply)
                        for v in result.verdicts],
            report=result.report.to_dict(),
        )


async def _send(request: Request, session: SessionDep, settings: SettingsDep, mailbox: Any,
                subject: str) -> service.Submission:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw_body = await request.body()
    if content_type == "message/rfc822":
        return await service.send_raw(session, settings, mailbox=mailbox, raw=raw_body, auth_identity=subject)
    try:
        body = MessageCreate.model_validate_json(raw_body or b"{}")
    except ValidationError as exc:
        raise ProblemError(422, "Invalid message", validation_detail(exc), rule="MSS:request.invalid") from None
    except ValueError:
        raise ProblemError(422, "Invalid message", "the body is not a valid message (JSON)",
                           rule="MSS:request.invalid") from None
    return await service.send_composed(session, settings, mailbox=mailbox, body=body, auth_identity=subject)
