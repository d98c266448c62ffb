"""The MSSanté part of the control API (``/sandbox/v1/mailboxes``), for test harnesses: every mailbox
read without a PSC token (as Mailpit's API does), mailboxes created, SMTP failures scripted, client
certificates issued for applicative mailboxes. Included with the control API's own token check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import SessionDep
from app.mss import service
from app.mss.http.deps import AnyMailbox, any_mailbox
from app.mss.http.messages import add_message_routes
from app.mss.http.views import fault_read, mailbox_read
from app.mss.schemas import FaultCreate, FaultRead, MailboxCreate, MailboxRead
from app.mss.smtp.tls import issue_client_certificate

router = APIRouter(prefix="/sandbox/v1", tags=["sandbox"])
add_message_routes(router, any_mailbox, "sandbox_mss")


@router.get("/mailboxes", response_model=list[MailboxRead], operation_id="sandbox_list_mailboxes",
            summary="Every MSSanté mailbox of the sandbox (PER, CAB, ORG, APP, PAT)")
async def control_list_mailboxes(session: SessionDep) -> list[MailboxRead]:
    return [mailbox_read(m) for m in await service.list_mailboxes(session)]


@router.post("/mailboxes", response_model=MailboxRead, status_code=201, operation_id="sandbox_create_mailbox",
             summary="Create a mailbox on a local domain", responses={409: {"description": "exists"},
                                                                      422: {"description": "invalid"}})
async def control_create_mailbox(session: SessionDep, body: MailboxCreate) -> MailboxRead:
    return mailbox_read(await service.create_mailbox(session, data=body))


# --- fault injection ------------------------------------------------------------------------------

@router.post("/mailboxes/{address}/faults", response_model=FaultRead, status_code=201,
             operation_id="sandbox_mss_add_fault", responses={404: {"description": "unknown mailbox"}},
             summary="Script an SMTP failure for a mailbox (next `count` times, at MAIL, RCPT or DATA)")
async def add_fault(session: SessionDep, mailbox: AnyMailbox, body: FaultCreate) -> FaultRead:
    row = await service.add_fault(session, address=mailbox.address, stage=body.stage, reply=body.reply,
                                  count=body.count, disconnect=body.disconnect)
    return fault_read(row)


@router.get("/mailboxes/{address}/faults", response_model=list[FaultRead], operation_id="sandbox_mss_list_faults",
            summary="Pending scripted failures of a mailbox")
async def list_faults(session: SessionDep, mailbox: AnyMailbox) -> list[FaultRead]:
    return [fault_read(r) for r in await service.list_faults(session, address=mailbox.address)]


@router.delete("/mailboxes/{address}/faults", status_code=204, operation_id="sandbox_mss_clear_faults",
               summary="Remove the pending scripted failures of a mailbox")
async def clear_faults(session: SessionDep, mailbox: AnyMailbox) -> Response:
    await service.clear_faults(session, address=mailbox.address)
    return Response(status_code=204)


# --- client certificates of APP mailboxes ---------------------------------------------------------

@router.post(
    "/mailboxes/{address}/certificates", status_code=201, operation_id="sandbox_mss_issue_certificate",
    summary="Issue a TLS client certificate for an applicative (APP) mailbox, signed by the sandbox test CA",
    responses={422: {"description": "not an APP mailbox"}},
)
async def issue_certificate(request: Request, mailbox: AnyMailbox) -> dict[str, str]:
    """SC.MSS/CONF.12: an applicative mailbox authenticates with TLS client authentication, then AUTH PLAIN
    with its address (the password is then not checked). The sandbox CA stands in for IGC-Santé."""
    service.require_applicative(mailbox)
    ca_cert, ca_key = request.app.state.mss_client_ca
    cert, key = issue_client_certificate(ca_cert, ca_key, address=mailbox.address, organization=mailbox.display_name)
    return {"certificate_pem": cert.decode(), "private_key_pem": key.decode(), "ca_certificate_pem": ca_cert.decode()}
