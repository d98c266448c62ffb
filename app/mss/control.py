"""The MSSanté part of the control API (``/sandbox/v1/mailboxes``), for test harnesses: every mailbox
read without a PSC token (as Mailpit's API does), mailboxes created, SMTP failures scripted, client
certificates issued for applicative mailboxes. Included with the control API's own token check."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.api.deps import SessionDep, SettingsDep
from app.db import as_utc, utcnow
from app.mss import autoconfig, service
from app.mss.citizen import is_recent
from app.mss.http.deps import AnyMailbox, any_mailbox
from app.mss.http.messages import add_message_routes
from app.mss.http.views import fault_read, mailbox_read
from app.mss.schemas import (
    DispensationCreate,
    DispensationRead,
    FaultCreate,
    FaultRead,
    MailboxCreate,
    MailboxRead,
)
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


# --- dispensations (Mon espace santé's pharmacy exception) -------------------------------------------

def dispensation_read(row: Any, mailbox: Any, settings: Any) -> DispensationRead:
    at = as_utc(row.dispensed_at)
    return DispensationRead(id=row.id, pharmacy=mailbox.address, pharmacy_name=mailbox.display_name,
                            ins=row.patient_ins, dispensed_at=at,
                            recent=is_recent(at, now=utcnow(), window_days=settings.mss_pharmacy_window_days))


@router.post("/dispensations", response_model=DispensationRead, status_code=201,
             operation_id="sandbox_mss_add_dispensation",
             summary="Declare that a pharmacy (its organisational mailbox) dispensed to a patient",
             responses={404: {"description": "unknown pharmacy mailbox or patient"},
                        422: {"description": "not an organisational mailbox, or invalid body"}})
async def add_dispensation(session: SessionDep, settings: SettingsDep, body: DispensationCreate) -> DispensationRead:
    """Mon espace santé lets a patient start a conversation only with the organisational mailbox of a pharmacy
    that dispensed to them "au cours de l'année écoulée" (``SEGUR_MSS_PHARMACY_WINDOW_DAYS``, 365 by default).
    This is how a harness arranges that; the reset seeds one (Pharmacie du Marché for ADRUN ZOE)."""
    row, mailbox = await service.declare_dispensation(session, pharmacy=body.pharmacy, ins=body.ins,
                                                      dispensed_at=body.dispensed_at)
    return dispensation_read(row, mailbox, settings)


@router.get("/dispensations", response_model=list[DispensationRead], operation_id="sandbox_mss_list_dispensations",
            summary="The dispensations declared (newest first), of one patient with `ins`")
async def list_dispensations(session: SessionDep, settings: SettingsDep,
                             ins: str | None = Query(None, max_length=15)) -> list[DispensationRead]:
    return [dispensation_read(r, m, settings) for r, m in await service.list_dispensations(session, ins=ins)]


# --- client certificates of APP mailboxes ---------------------------------------------------------

MECHANISMS = {
    "imap": ["AUTHENTICATE EXTERNAL", "LOGIN <address> <any password>", "AUTHENTICATE PLAIN <address>"],
    "smtp": ["AUTH PLAIN <address>", "AUTH LOGIN <address>"],
}
"""How each protocol takes the certificate as the credential (the password is then not checked)."""


class CertificateEndpoint(BaseModel):
    """A listener where the certificate authenticates its mailbox."""

    protocol: Literal["imap", "smtp"]
    host: str
    port: int
    tls: Literal["STARTTLS", "implicit"] = Field(description="STARTTLS on a plain port, or TLS from the first byte "
                                                              "(RFC 8314)")
    mechanisms: list[str] = Field(description="what to send once TLS is up with the certificate")


class IssuedCertificate(BaseModel):
    """A client certificate of an APP mailbox, its key, the CA that signed it, and where it is accepted."""

    address: str
    certificate_pem: str
    private_key_pem: str
    ca_certificate_pem: str = Field(description="the sandbox test CA (stands in for IGC-Santé): what the "
                                                "listeners verify client certificates against")
    endpoints: list[CertificateEndpoint]
    how: str


@router.post(
    "/mailboxes/{address}/certificates", status_code=201, operation_id="sandbox_mss_issue_certificate",
    response_model=IssuedCertificate,
    summary="Issue a TLS client certificate for an applicative (APP) mailbox, signed by the sandbox test CA",
    responses={422: {"description": "not an APP mailbox"}},
)
async def issue_certificate(request: Request, settings: SettingsDep, mailbox: AnyMailbox) -> IssuedCertificate:
    """SC.MSS/CONF.12: an applicative mailbox authenticates with TLS client authentication, then with its
    address as the login (the password is then not checked): SMTP AUTH PLAIN or LOGIN; IMAP
    ``AUTHENTICATE EXTERNAL`` (RFC 4422 Appendix A), LOGIN or AUTHENTICATE PLAIN. The answer names every
    listener that accepts it, with its bound port. The sandbox CA stands in for IGC-Santé."""
    service.require_applicative(mailbox)
    ca_cert, ca_key = request.app.state.mss_client_ca
    cert, key = issue_client_certificate(ca_cert, ca_key, address=mailbox.address, organization=mailbox.display_name)
    endpoints = [
        CertificateEndpoint(protocol=s.protocol, host=s.hostname, port=s.port,  # type: ignore[arg-type]
                            tls="implicit" if s.socket_type == "SSL" else "STARTTLS",
                            mechanisms=[m.replace("<address>", mailbox.address) for m in MECHANISMS[s.protocol]])
        for s in autoconfig.servers(request.app.state, settings, mailbox_type=mailbox.type,
                                    request_host=request.url.hostname)
    ]
    return IssuedCertificate(
        address=mailbox.address, certificate_pem=cert.decode(), private_key_pem=key.decode(),
        ca_certificate_pem=ca_cert.decode(), endpoints=endpoints,
        how=(f"Present this certificate and key in the TLS handshake (after STARTTLS, or at once on an implicit-TLS "
             f"port), then authenticate as {mailbox.address}: the certificate is the credential and any password "
             f"is accepted. The listeners verify it against ca_certificate_pem (the sandbox test CA); a certificate "
             f"from another CA fails the handshake, one naming another mailbox is refused at authentication."),
    )
