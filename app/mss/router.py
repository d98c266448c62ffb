"""HTTP API of the MSSanté operator (``/mss/v1``) and its control API (``/sandbox/v1/mailboxes``).

The mailbox owner authenticates with a PSC access token (``CurrentProfessional``), as the API LPS does
for personal and organisational mailboxes (Référentiel socle MSSanté #2, mss.md §3). Errors are RFC 9457
problem documents; each refusal names its rule. The control API reads any mailbox without a token,
for test harnesses (as Mailpit's API does).
"""


import asyncio
import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from app.api.deps import CurrentProfessional, SessionDep, SettingsDep
from app.api.errors import ProblemError
from app.api.journal import note_refusal
from app.mss import checks, service, xdm
from app.mss.models import MssDelivery, MssMailbox, MssMessage
from app.mss.schemas import (
    FaultCreate,
    FaultRead,
    MailboxCreate,
    MailboxRead,
    MessageCreate,
    MessageDetail,
    MessageList,
    MessageSummary,
    ReadRequest,
    ReadResult,
    RecipientResult,
    SendResult,
)

router = APIRouter(prefix="/mss/v1", tags=["mss"])
control = APIRouter(prefix="/sandbox/v1", tags=["sandbox"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or refused PSC access token"},
    403: {"description": "the professional does not own this mailbox (rule MSS:mailbox.owner)"},
    404: {"description": "unknown mailbox or message"},
}


def _problem_type(rule: str) -> str:
    return f"urn:segur-sandbox:mss:{rule.split(':', 1)[-1]}"


def _journal_refusal(request: Request, exc: ProblemError, detail: str | None = None) -> None:
    """Note for the journal a refusal of a request *body*: its rule and a fixed text, never the problem's
    detail, which may quote the body (a file name, an XDM entry, a CDA fragment). The journal keeps the
    first detail noted, so the problem handler does not overwrite this one."""
    note_refusal(request, rule=exc.rule, detail=detail or f"{exc.title} (request body not journaled)",
                 status=exc.status)


def validation_detail(exc: ValidationError) -> str:
    """A pydantic error as ``field: rule (type)`` items, without the submitted values (``input_value``)."""
    items = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error.get("loc", ())) or "body"
        items.append(f"{where}: {error.get('msg', 'invalid')} ({error.get('type', 'invalid')})")
    return "; ".join(items)[:1000] or "invalid request body"


# --- dependencies ---------------------------------------------------------------------------------

async def _mailbox(session: SessionDep, address: str) -> MssMailbox:
    mailbox = await service.get_mailbox(session, address)
    if mailbox is None:
        raise ProblemError(404, "Unknown mailbox", f"no mailbox {address} at this operator", rule="MSS:mailbox.unknown",
                           type=_problem_type("MSS:mailbox.unknown"))
    return mailbox


async def owned_mailbox(
    session: SessionDep,
    professional: CurrentProfessional,
    address: Annotated[str, Path(description="the mailbox address, e.g. claire.fontaine@medecin.mssante.fr")],
) -> MssMailbox:
    mailbox = await _mailbox(session, address)
    if not service.may_use(mailbox, professional.subject_name_id):
        raise ProblemError(403, "Not your mailbox",
                           f"{professional.subject_name_id} does not own {mailbox.address}",
                           rule="MSS:mailbox.owner", type=_problem_type("MSS:mailbox.owner"))
    return mailbox


async def any_mailbox(session: SessionDep, address: Annotated[str, Path()]) -> MssMailbox:
    return await _mailbox(session, address)


OwnedMailbox = Annotated[MssMailbox, Depends(owned_mailbox)]


# --- views ----------------------------------------------------------------------------------------

def _mailbox_read(m: MssMailbox) -> MailboxRead:
    return MailboxRead(address=m.address, type=m.type, display_name=m.display_name, owner_subject=m.owner_subject,
                       owners=list(m.owners or []), patient_ins=m.patient_ins, structure_id=m.structure_id,
                       service=m.service, active=m.active)


def _summary(d: MssDelivery, m: MssMessage) -> dict[str, Any]:
    return {
        "uid": m.uid, "kind": m.kind, "sender": m.envelope_from, "from_header": m.from_header,
        "subject": m.subject, "received_at": m.received_at, "size": m.size, "has_xdm": m.has_xdm,
        "seen": d.seen, "conformant": (m.report or {}).get("conformant"),
    }


async def _detail(session: SessionDep, d: MssDelivery, m: MssMessage) -> MessageDetail:
    parsed = await service.parse_message(m.raw)
    return MessageDetail(
        **_summary(d, m), message_id=m.message_id, envelope_from=m.envelope_from, recipient=d.recipient,
        delivery_status=d.status, transport=m.transport, auth_identity=m.auth_identity,
        headers=[(k, v) for k, v in m.headers], parts=m.parts, text=parsed.text_body, xdm=m.xdm, report=m.report,
        related_uid=await service.message_uid(session, m.related_id),
    )


# --- mailbox routes (shared by the API and the control API) --------------------------------------

def add_message_routes(target: APIRouter, mailbox_dep: Callable[..., Any], op: str) -> None:
    MailboxDep = Annotated[MssMailbox, Depends(mailbox_dep)]

    async def load(session: SessionDep, mailbox: MailboxDep, uid: str) -> tuple[MssDelivery, MssMessage]:
        found = await service.get_delivery(session, mailbox=mailbox, uid=uid)
        if found is None:
            raise ProblemError(404, "Unknown message", f"no message {uid} in {mailbox.address}",
                               rule="MSS:message.unknown", type=_problem_type("MSS:message.unknown"))
        return found

    @target.get("/mailboxes/{address}/messages", response_model=MessageList, operation_id=f"{op}_list_messages",
                summary="List and search a mailbox (newest first)", responses=PROBLEMS)
    async def list_messages(
        session: SessionDep, mailbox: MailboxDep,
        sender: Annotated[str | None, Query(description="substring of the sender (envelope or From)")] = None,
        subject: Annotated[str | None, Query(description="substring of the subject")] = None,
        since: Annotated[datetime | None, Query(description="received at or after (ISO 8601)")] = None,
        before: Annotated[datetime | None, Query(description="received before (ISO 8601)")] = None,
        has_xdm: Annotated[bool | None, Query(description="with (true) or without (false) an IHE_XDM.ZIP")] = None,
        unread: Annotated[bool | None, Query()] = None,
        kind: Annotated[str | None, Query(description="message, dsn or mdn")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> MessageList:
        flt = service.MessageFilter(sender=sender, subject=subject, since=since, before=before, has_xdm=has_xdm,
                                    unread=unread, kind=kind, limit=limit, offset=offset)
        total, rows = await service.list_deliveries(session, mailbox=mailbox, flt=flt)
        return MessageList(total=total, items=[MessageSummary(**_summary(d, m)) for d, m in rows])

    @target.get("/mailboxes/{address}/messages/{uid}", response_model=MessageDetail,
                operation_id=f"{op}_get_message", responses=PROBLEMS,
                summary="Read a message: headers, parts, decoded XDM metadata, check report (`latest` = newest)")
    async def get_message(session: SessionDep, mailbox: MailboxDep, uid: str) -> MessageDetail:
        d, m = await load(session, mailbox, uid)
        return await _detail(session, d, m)

    @target.get("/mailboxes/{address}/messages/{uid}/raw", operation_id=f"{op}_get_raw", responses=PROBLEMS,
                summary="The message as received (.eml)", response_class=Response)
    async def get_raw(session: SessionDep, mailbox: MailboxDep, uid: str) -> Response:
        _, m = await load(session, mailbox, uid)
        return Response(m.raw, media_type="message/rfc822",
                        headers={"Content-Disposition": f'attachment; filename="{m.uid}.eml"'})

    @target.get("/mailboxes/{address}/messages/{uid}/parts/{index}", operation_id=f"{op}_get_part",
                responses=PROBLEMS, summary="One MIME part (attachment), decoded", response_class=Response)
    async def get_part(session: SessionDep, mailbox: MailboxDep, uid: str, index: int) -> Response:
        _, m = await load(session, mailbox, uid)
        parsed = await service.parse_message(m.raw)
        if not 0 <= index < len(parsed.parts):
            raise ProblemError(404, "Unknown part", f"message {m.uid} has {len(parsed.parts)} parts",
                               rule="MSS:part.unknown")
        part = parsed.parts[index]
        filename = (part.filename or f"part-{index}").replace('"', "")
        return Response(parsed.payloads[index], media_type=part.content_type,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @target.post("/mailboxes/{address}/messages/{uid}/read", response_model=ReadResult,
                 operation_id=f"{op}_mark_read", responses=PROBLEMS,
                 summary="Mark read; sends the MDN (RFC 8098) when the message asked for one")
    async def mark_read(session: SessionDep, settings: SettingsDep, mailbox: MailboxDep, uid: str,
                        body: ReadRequest | None = None) -> ReadResult:
        d, m = await load(session, mailbox, uid)
        mdn = await service.mark_read(session, settings, mailbox=mailbox, delivery=d, message=m,
                                      disposition=(body or ReadRequest()).disposition)
        mdn_uid = mdn.uid if mdn else await service.message_uid(session, d.mdn_id)
        return ReadResult(uid=m.uid, seen=True, mdn_uid=mdn_uid)

    @target.delete("/mailboxes/{address}/messages/{uid}", status_code=204, operation_id=f"{op}_delete_message",
                   responses=PROBLEMS, summary="Delete a message from this mailbox")
    async def delete_message(session: SessionDep, mailbox: MailboxDep, uid: str) -> Response:
        d, _ = await load(session, mailbox, uid)
        await service.delete_delivery(session, delivery=d)
        return Response(status_code=204)


add_message_routes(router, owned_mailbox, "mss")
add_message_routes(control, any_mailbox, "sandbox_mss")


@router.get("/mailboxes", response_model=list[MailboxRead], operation_id="mss_list_my_mailboxes",
            summary="The mailboxes the authenticated professional may use", responses=PROBLEMS)
async def my_mailboxes(session: SessionDep, professional: CurrentProfessional) -> list[MailboxRead]:
    return [_mailbox_read(m) for m in await service.mailboxes_of(session, professional.subject_name_id)]


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


def _set_header(msg: EmailMessage, name: str, value: str, field: str) -> None:
    """A header from the request; CR or LF in it (header injection, RFC 5322 §2.2) is the caller's error."""
    try:
        msg[name] = value
    except ValueError as exc:
        raise ProblemError(422, "Invalid header", f"{field}: {exc}", rule="MSS:header.invalid",
                           extra={"field": field}) from None


def _compose(mailbox: MssMailbox, body: MessageCreate) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((mailbox.display_name, mailbox.address))
    _set_header(msg, "To", ", ".join(body.to), "to")
    if body.cc:
        _set_header(msg, "Cc", ", ".join(body.cc), "cc")
    _set_header(msg, "Subject", body.subject, "subject")
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=mailbox.domain)
    if body.disposition_notification:
        msg["Disposition-Notification-To"] = mailbox.address
    attachments: list[tuple[str, str, bytes]] = []
    for att in body.attachments:
        try:
            content = base64.b64decode(att.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ProblemError(422, "Invalid attachment", f"attachments[{len(attachments)}].content_base64 is "
                               "not base64", rule="MSS:attachment.base64") from None
        attachments.append((att.filename, att.content_type, content))
    extra = dict(body.headers)
    if body.xdm_from_cda_base64:
        try:
            cda = base64.b64decode(body.xdm_from_cda_base64, validate=True)
            archive = xdm.build_xdm(cda)
        except (binascii.Error, ValueError) as exc:
            code = exc.code if isinstance(exc, xdm.XdmError) else "base64"
            raise ProblemError(422, "Invalid CDA", f"xdm_from_cda_base64: {exc}", rule=f"MSS:xdm.{code}") from None
        package = xdm.read_xdm(archive)
        extra.setdefault("X-MSS-CODECDA", ",".join(package.cda_codes))
        extra.setdefault("X-MSS-INS", "O" if package.has_qualified_ins else "N")
        attachments.append(("IHE_XDM.ZIP", "application/zip", archive))
    for key, value in extra.items():
        if key.lower() in ("from", "to", "cc", "bcc", "message-id", "date"):
            continue
        _set_header(msg, key, value, f"headers.{key}")
    msg.set_content(body.body or "")
    for filename, content_type, content in attachments:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(content, maintype=maintype or "application", subtype=subtype or "octet-stream",
                           filename=filename)
    return msg.as_bytes(policy=policy.SMTP)


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
        return await _send_message(request, session, settings, mailbox, professional)
    except ProblemError as exc:
        _journal_refusal(request, exc)
        raise


async def _send_message(request: Request, session: SessionDep, settings: SettingsDep, mailbox: MssMailbox,
                        professional: Any) -> SendResult:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw_body = await request.body()
    notify = "FAILURE"
    if content_type == "message/rfc822":
        raw = raw_body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        parsed = await service.parse_message(raw)
        recipients = parsed.addresses("To", "Cc", "Bcc")
        from_addr = parsed.from_address[1].lower()
        if from_addr and from_addr != mailbox.address.lower():
            raise ProblemError(422, "From is not the mailbox", f"From <{from_addr}> differs from {mailbox.address}",
                               rule="MSS:sender.owner")
    else:
        try:
            body = MessageCreate.model_validate_json(raw_body or b"{}")
        except ValidationError as exc:
            raise ProblemError(422, "Invalid message", validation_detail(exc), rule="MSS:request.invalid") from None
        except ValueError:
            raise ProblemError(422, "Invalid message", "the body is not a valid message (JSON)",
                               rule="MSS:request.invalid") from None
        raw = await asyncio.to_thread(_compose, mailbox, body)  # builds/reads an XDM: off the event loop
        recipients = body.to + body.cc
        notify = ",".join(body.notify)
    try:
        result = await service.submit(session, settings, raw=raw, mail_from=mailbox.address, recipients=recipients,
                                      notify=notify, auth_identity=professional.subject_name_id)
    except service.MessageRefused as exc:
        problem = ProblemError(exc.status, "Message refused", exc.detail, rule=exc.rule,
                               type=_problem_type(exc.rule), extra={"smtp_reply": exc.reply})
        _journal_refusal(request, problem, f"Message refused ({exc.reply}) by rule {exc.rule}")
        raise problem from None
    statuses = {d: s for d, s in [(v.address, "accepted") for v in result.verdicts if v.accepted]}
    return SendResult(
        uid=result.message.uid, message_id=result.message.message_id,
        recipients=[RecipientResult(address=v.address, status=statuses.get(v.address, "refused"), reply=v.reply)
                    for v in result.verdicts],
        report=result.report.to_dict(),
    )


# --- XDM helper -----------------------------------------------------------------------------------

@router.post(
    "/xdm",
    operation_id="mss_build_xdm",
    summary="Build a conformant IHE_XDM.ZIP around a CDA R2 document (body: the CDA XML)",
    description="The document entry's formatCode is the CI-SIS one (JDV_J10) of the CDA's kind: a level 1 "
    "document by its wrapped media type (urn:ihe:iti:xds-sd:pdf:2008...), a structured one by its volet's "
    "templateId (urn:asip:ci-sis:vsm:2012...). `formatCode` overrides it (any JDV_J10 code).",
    response_class=Response,
    responses={401: PROBLEMS[401], 200: {"content": {"application/zip": {}}},
               422: {"description": "not a CDA, no INS in it, or a format code the sandbox cannot tell"}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/xml": {"schema": {"type": "string"}}}}},
)
async def build_xdm_endpoint(
    request: Request,
    professional: CurrentProfessional,
    format_code: Annotated[str | None, Query(alias="formatCode", max_length=256,
                                             description="a JDV_J10 format code, instead of the CDA's own")] = None,
) -> Response:
    cda = await request.body()

    def build() -> tuple[bytes, xdm.XdmPackage]:
        archive = xdm.build_xdm(cda, format_code=format_code)
        return archive, xdm.read_xdm(archive)

    try:
        archive, package = await asyncio.to_thread(build)  # XML parsing and zip work: off the event loop
    except xdm.XdmError as exc:
        problem = ProblemError(422, "Cannot build the XDM", exc.message, rule=f"MSS:{exc.code}")
        _journal_refusal(request, problem, f"Cannot build the XDM ({exc.code})")
        raise problem from None
    return Response(archive, media_type="application/zip", headers={
        "Content-Disposition": 'attachment; filename="IHE_XDM.ZIP"',
        "X-MSS-CODECDA": ",".join(package.cda_codes),
        "X-MSS-INS": "O" if package.has_qualified_ins else "N",
    })


@router.post(
    "/xdm/inspect",
    operation_id="mss_inspect_xdm",
    summary="Read an IHE_XDM.ZIP safely and return its decoded metadata and issues (compare yours)",
    responses={401: PROBLEMS[401], 422: {"description": "unsafe or unreadable archive (code in the problem)"}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/zip": {"schema": {
        "type": "string", "format": "binary"}}}}},
)
async def inspect_xdm(request: Request, professional: CurrentProfessional) -> dict[str, Any]:
    data = await request.body()
    try:
        package = await asyncio.to_thread(xdm.read_xdm, data)  # zip and XML parsing: off the event loop
    except xdm.XdmError as exc:
        problem = ProblemError(422, "Unreadable or unsafe XDM", exc.message, rule=f"MSS:{exc.code}",
                               extra={"code": exc.code, "unsafe": exc.unsafe})
        _journal_refusal(request, problem, f"Unreadable or unsafe XDM ({exc.code})")
        raise problem from None
    return package.to_dict()


@router.get("/checks", operation_id="mss_list_checks", summary="The MSSanté checks applied to every message")
async def list_checks(settings: SettingsDep) -> list[dict[str, Any]]:
    enforced = checks.enforced_rules(settings.mss_enforced_check_ids)
    return [{"id": r.id, "title": r.title, "severity": r.severity, "enforced": r.id in enforced,
             "reply": r.reply, "source": r.source} for r in checks.RULES.values()]


@router.get("/tls/certificate", operation_id="mss_tls_certificate", response_class=Response,
            summary="The SMTP listener's TLS certificate (PEM), to trust it in a test client")
async def tls_certificate(request: Request) -> Response:
    pem = getattr(request.app.state, "mss_tls_certificate", None)
    if pem is None:
        raise ProblemError(503, "SMTP listener not started", "no TLS certificate yet", rule="MSS:tls")
    return Response(pem, media_type="application/x-pem-file")


# --- control API ----------------------------------------------------------------------------------

@control.get("/mailboxes", response_model=list[MailboxRead], operation_id="sandbox_list_mailboxes",
             summary="Every MSSanté mailbox of the sandbox (PER, CAB, ORG, APP, PAT)")
async def control_list_mailboxes(session: SessionDep) -> list[MailboxRead]:
    return [_mailbox_read(m) for m in await service.list_mailboxes(session)]


@control.post("/mailboxes", response_model=MailboxRead, status_code=201, operation_id="sandbox_create_mailbox",
              summary="Create a mailbox on a local domain", responses={409: {"description": "exists"},
                                                                       422: {"description": "invalid"}})
async def control_create_mailbox(session: SessionDep, body: MailboxCreate) -> MailboxRead:
    try:
        row = await service.create_mailbox(session, data=body)
    except LookupError as exc:
        raise ProblemError(409, "Mailbox exists", str(exc), rule="MSS:mailbox.exists") from None
    except ValueError as exc:
        raise ProblemError(422, "Invalid mailbox", str(exc), rule="MSS:mailbox.invalid") from None
    return _mailbox_read(row)


# --- autoconfiguration (SC.MSS/CONF.04) -----------------------------------------------------------

autoconfig = APIRouter(tags=["mss"])


@autoconfig.get(
    "/mail/config-v1.1.xml",
    operation_id="mss_autoconfig",
    response_class=Response,
    summary="Mail client autoconfiguration (Thunderbird format), as served at https://autoconfig.<domain>/",
    responses={200: {"content": {"application/xml": {}}}},
)
async def mail_autoconfig(
    request: Request, settings: SettingsDep,
    emailaddress: Annotated[str | None, Query(description="the mailbox, e.g. jean.dupont@medecin.mssante.fr")] = None,
) -> Response:
    """SC.MSS/CONF.04: the LPS fetches ``https://autoconfig.<domain>/mail/config-v1.1.xml``, applies it and
    tests the connection. The sandbox describes its own SMTP listener (STARTTLS, OAuth2 with a PSC token;
    no IMAP: read mailboxes with the HTTP API)."""
    from xml.sax.saxutils import escape as xml_escape

    domain = (emailaddress or "").rsplit("@", 1)[-1] or request.headers.get("host", "").split(":")[0]
    host = settings.smtp_host if settings.smtp_host not in ("0.0.0.0", "::") else "localhost"  # noqa: S104
    port = getattr(request.app.state, "smtp_port", settings.smtp_port)
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{xml_escape(domain)}">
    <domain>{xml_escape(domain)}</domain>
    <displayName>Ségur Sandbox MSSanté</displayName>
    <displayShortName>MSSanté (sandbox)</displayShortName>
    <outgoingServer type="smtp">
      <hostname>{xml_escape(host)}</hostname>
      <port>{port}</port>
      <socketType>STARTTLS</socketType>
      <authentication>OAuth2</authentication>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""
    return Response(body, media_type="application/xml")


# --- fault injection (control API) ----------------------------------------------------------------

def _fault_read(row: Any) -> FaultRead:
    return FaultRead(id=row.id, address=row.address, stage=row.stage, reply=row.reply, count=row.remaining,
                     remaining=row.remaining, disconnect=row.disconnect)


@control.post("/mailboxes/{address}/faults", response_model=FaultRead, status_code=201,
              operation_id="sandbox_mss_add_fault", responses={404: {"description": "unknown mailbox"}},
              summary="Script an SMTP failure for a mailbox (next `count` times, at MAIL, RCPT or DATA)")
async def add_fault(session: SessionDep, mailbox: Annotated[MssMailbox, Depends(any_mailbox)],
                    body: FaultCreate) -> FaultRead:
    row = await service.add_fault(session, address=mailbox.address, stage=body.stage, reply=body.reply,
                                  count=body.count, disconnect=body.disconnect)
    return _fault_read(row)


@control.get("/mailboxes/{address}/faults", response_model=list[FaultRead], operation_id="sandbox_mss_list_faults",
             summary="Pending scripted failures of a mailbox")
async def list_faults(session: SessionDep, mailbox: Annotated[MssMailbox, Depends(any_mailbox)]) -> list[FaultRead]:
    return [_fault_read(r) for r in await service.list_faults(session, address=mailbox.address)]


@control.delete("/mailboxes/{address}/faults", status_code=204, operation_id="sandbox_mss_clear_faults",
                summary="Remove the pending scripted failures of a mailbox")
async def clear_faults(session: SessionDep, mailbox: Annotated[MssMailbox, Depends(any_mailbox)]) -> Response:
    await service.clear_faults(session, address=mailbox.address)
    return Response(status_code=204)


# --- client certificates of APP mailboxes (control API) -------------------------------------------

@control.post(
    "/mailboxes/{address}/certificates", status_code=201, operation_id="sandbox_mss_issue_certificate",
    summary="Issue a TLS client certificate for an applicative (APP) mailbox, signed by the sandbox test CA",
    responses={422: {"description": "not an APP mailbox"}},
)
async def issue_certificate(request: Request, mailbox: Annotated[MssMailbox, Depends(any_mailbox)]) -> dict[str, str]:
    """SC.MSS/CONF.12: an applicative mailbox authenticates with TLS client authentication, then AUTH PLAIN
    with its address (the password is then not checked). The sandbox CA stands in for IGC-Santé."""
    from app.mss.smtp import issue_client_certificate

    if mailbox.type != "APP":
        raise ProblemError(422, "Not an applicative mailbox",
                           f"{mailbox.address} is a {mailbox.type} mailbox; client certificates are for APP mailboxes "
                           "(SC.MSS/CONF.12)", rule="MSS:certificate.type")
    ca_cert, ca_key = request.app.state.mss_client_ca
    cert, key = issue_client_certificate(ca_cert, ca_key, address=mailbox.address, organization=mailbox.display_name)
    return {"certificate_pem": cert.decode(), "private_key_pem": key.decode(), "ca_certificate_pem": ca_cert.decode()}
