"""SOAP 1.2 faults of the DMP's SOAP face: a request the transport or the security check refuses before any
transaction runs (malformed envelope, wrong action, missing WS-Addressing, content type, VIHF refused), and
their rendering.

Shape: SOAP 1.2 part 1 §5.4 (``env:Code/env:Value``, ``env:Subcode/env:Value`` a QName, ``env:Reason/env:Text``
with ``xml:lang``, ``env:Detail``); response headers: WS-Addressing 1.0 SOAP Binding §6 (the [action] of a
WS-Addressing fault is ``.../addressing/fault`` (§6.4), of any other SOAP fault ``.../addressing/soap/fault``
(§6.3); ``wsa:RelatesTo`` the request's MessageID when it was read).

HTTP status — decision: **every SOAP fault is answered with HTTP 500**, ``env:Sender`` ones included; only the
HTTP-level refusals keep their own status (413 a body over the size limits, 415 a media type that is no SOAP 1.2
one, 404/405 an unknown path or method). SOAP 1.2 part 2 §7.5.1.2 would answer ``env:Sender`` with 400, but the
Java stacks DMP clients are built on read a fault's body only on a 500 and turn a 400 into a transport error that
hides the fault: SAAJ's ``HttpSOAPConnection`` (eclipse-ee4j/metro-saaj issue #74: only a 500 is "let through
because it is used for SOAP faults"), the JAX-WS runtime (javaee/metro-jax-ws issue #795), Spring-WS before
SWS-868, Apache CXF before CXF-6198. The INSi face of this sandbox answers every fault with 500 as the live INSi does
(docs/ins.md, "HTTP status of the faults"; :data:`app.ins.soap.faults.FAULT_HTTP_STATUS`): the DMP face does the
same (docs/dmp.md, "Errors").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import Request
from lxml import etree
from starlette.responses import Response

from app.api.journal import note_refusal
from app.dmp.soap.namespaces import NS_SOAP12, NS_WSA

ACTION_WSA_FAULT = "http://www.w3.org/2005/08/addressing/fault"  # WS-Addressing 1.0 SOAP Binding §6.4
ACTION_SOAP_FAULT = "http://www.w3.org/2005/08/addressing/soap/fault"  # WS-Addressing 1.0 SOAP Binding §6.3
NS_SANDBOX_FAULT = "urn:segur-sandbox:dmp:fault"
"""The namespace of the sandbox's own subcodes (transport refusals no specification names) and of the
``env:Detail`` element carrying the refusal's detail text."""
NS_XML = "http://www.w3.org/XML/1998/namespace"
SOAP12_MEDIA_TYPE = "application/soap+xml"

# WS-Addressing 1.0 SOAP Binding §6.4 subcodes
WSA_HEADER_REQUIRED = "MessageAddressingHeaderRequired"
WSA_INVALID_HEADER = "InvalidAddressingHeader"
WSA_ACTION_NOT_SUPPORTED = "ActionNotSupported"

FAULT_HTTP_STATUS = 500  # every SOAP fault, Sender ones included (the decision above)
HTTP_LAYER_STATUSES = frozenset({404, 405, 413, 415})  # refused at the HTTP level, before any SOAP is read


@dataclass
class SoapFault(Exception):
    """A SOAP 1.2 fault (SOAP 1.2 part 1 §5.4): ``code`` is ``Sender``, ``Receiver``, ``VersionMismatch`` or
    ``MustUnderstand``; ``subcode`` the DMP's or WS-Addressing's code (a QName's local part, e.g.
    ``InvalidAddressingHeader``, or a DMPi code; empty: none); ``reason`` in French first, as the DMP answers;
    ``rule`` the rule recorded in the journal."""

    code: str
    subcode: str
    reason: str
    rule: str
    detail: str | None = None
    subcode_ns: str | None = None  # the namespace of the subcode's QName (WS-Addressing's, the DMP's, ...)
    http_status: int = FAULT_HTTP_STATUS  # 413 / 415 for the HTTP-level refusals (size, media type)
    problem_header: str | None = None  # wsa:ProblemHeaderQName (WS-Addressing SOAP Binding §6.4.1), e.g. wsa:Action
    problem_action: str | None = None  # wsa:ProblemAction/wsa:Action (§6.4.2, ActionNotSupported)
    relates_to: str | None = None  # the request's wsa:MessageID, when it was read (wsa:RelatesTo of the fault)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}/{self.subcode}: {self.reason}")


def sender(subcode: str, reason: str, *, rule: str, detail: str | None = None, http_status: int = FAULT_HTTP_STATUS,
           subcode_ns: str | None = None) -> SoapFault:
    """A refusal of the caller's message, under a subcode of the sandbox's namespace unless told."""
    return SoapFault("Sender", subcode, reason, rule, detail=detail, http_status=http_status,
                     subcode_ns=subcode_ns or NS_SANDBOX_FAULT)


def addressing(subcode: str, reason: str, *, rule: str, problem_header: str | None = None,
               problem_action: str | None = None) -> SoapFault:
    """A WS-Addressing fault (WS-Addressing 1.0 SOAP Binding §6.4): Sender, subcode in the wsa namespace."""
    return SoapFault("Sender", subcode, reason, rule, subcode_ns=NS_WSA, problem_header=problem_header,
                     problem_action=problem_action)


def status_of(fault: SoapFault) -> int:
    """500 for every fault (the decision above), unless it carries an HTTP-level status (413, 415)."""
    return fault.http_status if fault.http_status in HTTP_LAYER_STATUSES else FAULT_HTTP_STATUS


def _e(parent: etree._Element, ns: str, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        element.text = text
    return element


def fault_envelope(fault: SoapFault, *, relates_to: str | None) -> bytes:
    """The SOAP 1.2 envelope of ``fault`` with its WS-Addressing response headers."""
    nsmap = {"env": NS_SOAP12, "wsa": NS_WSA}
    subcode_ns = fault.subcode_ns or NS_SANDBOX_FAULT
    if fault.subcode and subcode_ns not in nsmap.values():
        nsmap["dmpf"] = subcode_ns
    if fault.detail and NS_SANDBOX_FAULT not in nsmap.values():
        nsmap["sbx"] = NS_SANDBOX_FAULT
    envelope = etree.Element(f"{{{NS_SOAP12}}}Envelope", nsmap=nsmap)  # type: ignore[arg-type]
    header = _e(envelope, NS_SOAP12, "Header")
    is_wsa_fault = fault.subcode_ns == NS_WSA
    _e(header, NS_WSA, "Action", ACTION_WSA_FAULT if is_wsa_fault else ACTION_SOAP_FAULT)
    _e(header, NS_WSA, "MessageID", f"urn:uuid:{uuid.uuid4()}")
    if relates_to:
        _e(header, NS_WSA, "RelatesTo", relates_to)
    if fault.code == "VersionMismatch":  # SOAP 1.2 part 1 §5.4.7: the envelope versions the node supports
        supported = _e(_e(header, NS_SOAP12, "Upgrade"), NS_SOAP12, "SupportedEnvelope")
        supported.set("qname", "env:Envelope")
    body = _e(envelope, NS_SOAP12, "Body")
    element = _e(body, NS_SOAP12, "Fault")
    code = _e(element, NS_SOAP12, "Code")
    _e(code, NS_SOAP12, "Value", f"env:{fault.code}")
    if fault.subcode:
        prefix = next(p for p, ns in nsmap.items() if ns == subcode_ns)
        _e(_e(code, NS_SOAP12, "Subcode"), NS_SOAP12, "Value", f"{prefix}:{fault.subcode}")
    text = _e(_e(element, NS_SOAP12, "Reason"), NS_SOAP12, "Text", fault.reason)
    text.set(f"{{{NS_XML}}}lang", "fr")
    if fault.detail or fault.problem_header or fault.problem_action:
        detail = _e(element, NS_SOAP12, "Detail")
        if fault.problem_header:
            _e(detail, NS_WSA, "ProblemHeaderQName", fault.problem_header)
        if fault.problem_action:
            _e(_e(detail, NS_WSA, "ProblemAction"), NS_WSA, "Action", fault.problem_action)
        if fault.detail:
            _e(detail, NS_SANDBOX_FAULT, "Detail", fault.detail)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def fault_response(request: Request, fault: SoapFault, *, relates_to: str | None = None) -> Response:
    """``fault`` as the HTTP response, its rule journaled (as INSi's faults are)."""
    status = status_of(fault)
    note_refusal(request, rule=fault.rule, detail=f"{fault.code}/{fault.subcode}: {fault.reason}", status=status)
    action = ACTION_WSA_FAULT if fault.subcode_ns == NS_WSA else ACTION_SOAP_FAULT
    body = fault_envelope(fault, relates_to=relates_to or fault.relates_to)
    return Response(body, status_code=status,
                    media_type=f'{SOAP12_MEDIA_TYPE}; charset=utf-8; action="{action}"')


def render_generic(request: Request, status: int, message: str, rule: str | None) -> Response:
    """The platform's generic errors under the SOAP face's paths (unknown route, 405, 413, ...) as SOAP 1.2
    faults (``Domain.error_renderers``): 4xx a Sender fault, 5xx a Receiver fault. An HTTP-level refusal
    (404, 405, 413, 415) keeps its status; any other is answered 500, as every fault is."""
    code = "Sender" if status < 500 else "Receiver"
    fault = SoapFault(code, f"http{status}", message, rule or f"http:{status}", subcode_ns=NS_SANDBOX_FAULT,
                      http_status=status)
    response = Response(fault_envelope(fault, relates_to=None), status_code=status_of(fault),
                        media_type=f'{SOAP12_MEDIA_TYPE}; charset=utf-8; action="{ACTION_SOAP_FAULT}"')
    return response
