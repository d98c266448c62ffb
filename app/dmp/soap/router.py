"""The endpoints of the DMP's SOAP face: ``POST /si-dmp-server/v2/services/<service>`` (SOAP 1.2, plain or MTOM)
and ``GET <same>?wsdl`` / ``?xsd=<name>``.

A call is read (:mod:`.envelope`, :mod:`.mtom`), its action checked against the endpoint (:mod:`.operations`),
its VIHF checked (:mod:`.vihf`), then its handler runs in one transaction: committed when it answers, rolled
back on any refusal so nothing is stored from a refused request. A :class:`~app.dmp.exceptions.DmpError` is the
transaction's own failure response, HTTP 200 as XDS.b answers (:mod:`.errors`; the TD services' HL7 V3 ``AE``
acknowledgement, :func:`.td.refused_reply`); a
:class:`~app.dmp.soap.faults.SoapFault` a SOAP 1.2 fault. The answer carries WS-Addressing's response headers
(WS-Addressing 1.0 SOAP Binding §5: ``wsa:Action``, ``wsa:MessageID``, ``wsa:RelatesTo``) and is MTOM when the
handler answers parts (ITI-43).
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from lxml import etree
from starlette.responses import Response, StreamingResponse

from app.api.journal import context_of, note_facts, note_refusal
from app.api.urls import absolute_url
from app.dmp.exceptions import DmpError
from app.dmp.soap import envelope, errors, faults, mtom, operations, td, vihf
from app.dmp.soap.call import SoapCall, SoapReply, SoapRequest
from app.dmp.soap.faults import NS_SANDBOX_FAULT, SoapFault
from app.dmp.soap.namespaces import (
    ACTION_ITI18,
    ACTION_ITI41,
    ACTION_ITI43,
    ACTION_ITI57,
    NS_SOAP12,
    NS_WSA,
    response_action,
)
from app.dmp.soap.vihf_read import wsse_fault
from app.faults import rules as fault_rules
from app.faults import service as fault_injection

WSDL_DIR = Path(__file__).with_name("wsdl")
"""Where ``<service>.wsdl`` and the XSDs it imports live (written with the TD service's WSDL, issue 11)."""
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_ADDRESS = re.compile(r'(<(?:[A-Za-z0-9_]+:)?address\b[^>]*?\blocation=")[^"]*(")')
_SCHEMA_LOCATION = re.compile(r'(\bschemaLocation=")(?![a-zA-Z][a-zA-Z0-9+.-]*:)([^"]+)(")')

router = APIRouter(prefix=operations.PREFIX, tags=["dmp-soap"])


def response_envelope(action: str, payload: etree._Element, *, relates_to: str) -> bytes:
    """A SOAP 1.2 response envelope with WS-Addressing's response headers around ``payload``."""
    root = etree.Element(f"{{{NS_SOAP12}}}Envelope", nsmap={"env": NS_SOAP12, "wsa": NS_WSA})
    header = etree.SubElement(root, f"{{{NS_SOAP12}}}Header")
    etree.SubElement(header, f"{{{NS_WSA}}}Action").text = action
    etree.SubElement(header, f"{{{NS_WSA}}}MessageID").text = f"urn:uuid:{uuid.uuid4()}"
    etree.SubElement(header, f"{{{NS_WSA}}}RelatesTo").text = relates_to
    etree.SubElement(root, f"{{{NS_SOAP12}}}Body").append(payload)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def soap_response(reply: SoapReply, *, relates_to: str) -> Response:
    """The reply as ``application/soap+xml`` (SOAP 1.2 part 2 §7, RFC 3902 ``action``), or MTOM."""
    body = response_envelope(reply.action, reply.payload, relates_to=relates_to)
    if reply.parts or reply.mtom:
        built = mtom.build_response(body, reply.parts, action=reply.action)
        return StreamingResponse(built.body, media_type=built.content_type)
    return Response(body, media_type=f'{envelope.SOAP12}; charset=utf-8; action="{reply.action}"')


TRANSACTIONS = {  # wsa:Action -> the transaction's name in the DMP integration guide / IHE
    td.ACTION_TD02: "TD0.2", td.ACTION_TD02_KIT: "TD0.2", td.ACTION_TD11: "TD1.1", ACTION_ITI18: "ITI-18",
    ACTION_ITI41: "ITI-41", ACTION_ITI43: "ITI-43", ACTION_ITI57: "ITI-57",
}


FAULT_TARGETS = {  # wsa:Action -> the fault-injection target (/sandbox/v1/faults)
    ACTION_ITI41: "dmp.iti41", ACTION_ITI18: "dmp.iti18", ACTION_ITI43: "dmp.iti43", ACTION_ITI57: "dmp.iti57",
    td.ACTION_TD02: "dmp.td02", td.ACTION_TD02_KIT: "dmp.td02", td.ACTION_TD11: "dmp.td11",
}


def injected_fault(injection: fault_injection.Injection) -> SoapFault:
    """The SOAP face's answer to an injected fault: unavailability is a SOAP 1.2 ``env:Receiver`` fault (SOAP 1.2
    part 1 §5.4.6: the processing failed for a reason of the receiver, the message may succeed later), answered 500
    as every fault; an expired or revoked token is the security token of the call (the VIHF, or the PSC token
    standing in for its signature) refused: WS-Security 1.0 §12 ``wsse:FailedAuthentication``."""
    if injection.kind in (fault_rules.EXPIRED_TOKEN, fault_rules.REVOKED_TOKEN):
        state = "expiré" if injection.kind == fault_rules.EXPIRED_TOKEN else "révoqué"
        return wsse_fault("FailedAuthentication", injection.name, f"Le jeton d'authentification est {state}",
                          f"the security token is {injection.kind.split('_')[0]} (fault injected by {injection.name})")
    return SoapFault("Receiver", "ServiceUnavailable",
                     "Le service DMP est temporairement indisponible, veuillez renouveler votre demande ultérieurement",
                     injection.name, detail=f"service temporarily unavailable (fault injected by {injection.name})",
                     subcode_ns=NS_SANDBOX_FAULT)


def _lps_actor(checked: Any) -> str | None:
    """The calling software as the VIHF names it: ``LPS_ID``, else its DMP approval number, else its name."""
    lps = checked.lps_id or checked.lps_approval or checked.lps_name
    return f"dmp:{lps}" if lps else None


def _journal(request: Request, **values: Any) -> None:
    context = context_of(request)
    if context is not None:
        context.extra.update(values)


def _failure(soap: SoapRequest, error: DmpError) -> tuple[SoapReply, str]:
    """The transaction's own answer to a refusal, and its code: the TD services' HL7 V3 ``AE`` acknowledgement
    (:func:`.td.refused_reply`), the XDS transactions' failed response (:mod:`.errors`)."""
    if soap.action in td.HL7_ACTIONS:
        refusal = td.refusal_of(error, soap.action)
        return td.refused_reply(soap.action, soap.payload, refusal), refusal.code
    payload = errors.failure_response(soap.action, error)
    return SoapReply(action=response_action(soap.action), payload=payload, mtom=soap.action == ACTION_ITI43), \
        errors.error_code(error)


async def _call(request: Request, soap: SoapRequest, service: str) -> Response:
    """Authenticate and run the handler in one transaction."""
    settings = request.app.state.settings
    sessionmaker = request.app.state.sessionmaker
    handler = operations.services()[service][soap.action]
    async with sessionmaker() as session:
        try:
            checked = await vihf.authenticate(soap, session=session, sessionmaker=sessionmaker, settings=settings)
            # what the conformance report checks of a DMP call (EX_GEN-1250/1530, SC.DMP/AIRS.06, UX.08, PSC.01)
            note_facts(request, actor=_lps_actor(checked), transaction=TRANSACTIONS.get(soap.action, soap.action),
                       patient_ins=checked.patient_ins, vihf_subject=checked.name_id,
                       psc=bool(soap.bearer_token))  # authenticate() verified it (SC.DMP/PSC.01), signed VIHF or not
            target = FAULT_TARGETS.get(soap.action)
            if target is not None and (injection := await fault_injection.check(request, target)) is not None:
                raise injected_fault(injection)
            call = SoapCall(request=soap, ctx=vihf.access_context(checked), vihf=checked, session=session,
                            sessionmaker=sessionmaker, settings=settings,
                            base_url=absolute_url(settings, "/").rstrip("/"))
            reply = await handler(call)
            await session.commit()
        except SoapFault as fault:
            await session.rollback()
            return faults.fault_response(request, fault, relates_to=soap.message_id)
        except DmpError as error:
            await session.rollback()
            failure, code = _failure(soap, error)
            note_refusal(request, rule=error.rule, detail=f"{code}: {error.english}", status=200)
            return soap_response(failure, relates_to=soap.message_id)
        except BaseException:
            await session.rollback()
            raise
    refused_by = call.journal.pop("rule", None)
    if refused_by:  # a refusal answered in the transaction's own success shape (TD's HL7 V3 "AE" answers)
        note_refusal(request, rule=refused_by, detail=str(call.journal.get("outcome") or refused_by), status=200)
    _journal(request, **call.journal)
    return soap_response(reply, relates_to=soap.message_id)


async def _endpoint(request: Request, service: str) -> Response:
    settings = request.app.state.settings
    limits = envelope.Limits.of(settings)
    try:
        body = await envelope.read_body(request, limits.max_bytes)
        soap = envelope.parse_request(request.headers.get("content-type"), body, limits=limits,
                                      served=operations.services()[service])
    except SoapFault as fault:
        return faults.fault_response(request, fault)
    soap.client_certificate_subject, soap.bearer_token = envelope.credentials(
        request, settings.dmp_soap_client_cert_header)
    _journal(request, soap_action=soap.action, soap_message_id=soap.message_id[:256])
    return await _call(request, soap, service)


def _soap_route(service: str, summary: str, description: str) -> None:
    async def endpoint(request: Request) -> Response:
        return await _endpoint(request, service)

    endpoint.__name__ = f"dmp_soap_{service}"
    router.add_api_route(
        f"/{service}", endpoint, methods=["POST"], summary=summary, description=description,
        operation_id=f"dmp_soap_{service}", response_class=Response,
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/soap+xml": {"schema": {"type": "string"}},
            "multipart/related": {"schema": {"type": "string", "format": "binary"}},
        }}},
        responses={
            200: {"description": "The transaction's response (a failed RegistryResponse too, as XDS.b answers)",
                  "content": {"application/soap+xml": {}, "multipart/related": {}}},
            413: {"description": "SOAP 1.2 fault: the message exceeds SEGUR_DMP_SOAP_MAX_BYTES",
                  "content": {"application/soap+xml": {}}},
            415: {"description": "SOAP 1.2 fault: not application/soap+xml nor MTOM multipart/related",
                  "content": {"application/soap+xml": {}}},
            500: {"description": "SOAP 1.2 fault, every code (env:Sender: malformed envelope, WS-Addressing, VIHF "
                                 "refused; env:Receiver, ...): answered 500 as Java SOAP stacks expect "
                                 "(app/dmp/soap/faults.py)", "content": {"application/soap+xml": {}}},
        },
    )


# --- WSDL -----------------------------------------------------------------------------------------------

def _rewrite(text: str, endpoint_url: str) -> str:
    """Point ``soap12:address`` at the sandbox and relative ``schemaLocation``s at ``?xsd=``."""
    text = _ADDRESS.sub(lambda m: f"{m.group(1)}{endpoint_url}{m.group(2)}", text)
    return _SCHEMA_LOCATION.sub(lambda m: f"{m.group(1)}{endpoint_url}?xsd={Path(m.group(2)).name}{m.group(3)}", text)


@lru_cache(maxsize=64)
def _served_file(directory: Path, name: str, endpoint_url: str) -> str | None:
    path = directory / name
    if not path.is_file():
        return None
    return _rewrite(path.read_text(encoding="utf-8"), endpoint_url)


def _not_found(request: Request, message: str) -> Response:
    note_refusal(request, rule="dmp-soap:wsdl", detail=message, status=404)
    return faults.render_generic(request, 404, message, "dmp-soap:wsdl")


@router.get(
    "/{service}", operation_id="dmp_soap_wsdl", response_class=Response,
    summary="WSDL (`?wsdl`) and XSDs (`?xsd=<name>`) of a DMP SOAP service",
    description="The WSDL of `registry`, `repository` or the TD service, whose `soap12:address` is this sandbox; "
    "`?xsd=<name>` serves the schemas it imports.",
    responses={200: {"content": {"text/xml": {}}},
               404: {"description": "SOAP 1.2 fault: unknown service or schema",
                     "content": {"application/soap+xml": {}}},
               405: {"description": "SOAP 1.2 fault: a service is called by POST; `Allow: POST`",
                     "content": {"application/soap+xml": {}}}},
)
async def wsdl(request: Request, service: str) -> Response:
    if service not in operations.services():
        return _not_found(request, f"service SOAP {service!r} inconnu (registry, repository, ...)")
    endpoint_url = absolute_url(request.app.state.settings, f"{operations.PREFIX}/{service}")
    query = {key.lower(): value for key, value in request.query_params.items()}
    if "xsd" in query:
        name = query["xsd"]
        text = _served_file(WSDL_DIR, name, endpoint_url) if _SAFE_NAME.fullmatch(name) and name.endswith(".xsd") \
            else None
        if text is None:
            return _not_found(request, f"schéma {name!r} inconnu")
    elif "wsdl" in query:
        text = _served_file(WSDL_DIR, f"{service}.wsdl", endpoint_url)
        if text is None:
            return _not_found(request, f"pas de WSDL pour le service {service!r}")
    else:
        message = f"le service {service} se consulte par POST ; son WSDL est en GET ?wsdl"
        note_refusal(request, rule="dmp-soap:wsdl", detail=message, status=405)
        response = faults.render_generic(request, 405, message, "dmp-soap:wsdl")
        response.headers["Allow"] = "POST"
        return response
    return Response(text, media_type="text/xml; charset=utf-8")


_soap_route(operations.REGISTRY, "DMP XDS.b registry (SOAP 1.2): ITI-18 Registry Stored Query, ITI-57 Update "
            "Document Set", "IHE XDS.b Document Registry as the DMP serves it (TD3.1, TD3.3a-d). SOAP 1.2 with "
            "WS-Addressing (wsa:Action, wsa:MessageID) and a signed VIHF in wsse:Security.")
_soap_route(operations.REPOSITORY, "DMP XDS.b repository (SOAP 1.2, MTOM): ITI-41 Provide and Register Document "
            "Set-b, ITI-43 Retrieve Document Set", "IHE XDS.b Document Repository as the DMP serves it (TD2.1, "
            "TD2.2, TD3.2). Documents as MTOM/XOP parts or inline base64; ITI-43 answers MTOM.")
_soap_route(operations.td.SERVICE, "DMP services TD0.2 / TD1.1 (SOAP 1.2)", "The DMP's own services: TD0.2 (DMP "
            "existence, status, authorisation, médecin traitant), TD1.1 (create a DMP).")


@router.post("/{service}", include_in_schema=False, operation_id="dmp_soap_unknown_service",
             summary="Any other service: 404 as a SOAP 1.2 fault")
async def unknown_service(request: Request, service: str) -> Response:
    """Any other path under the services: 404 as a SOAP fault (registered last, after the services)."""
    return _not_found(request, f"service SOAP {service!r} inconnu (registry, repository, {operations.td.SERVICE})")
