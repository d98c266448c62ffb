"""INSi SOAP 1.2 faults: the fault type, the recorded faults, their rendering, and the SOAP face's error mapper.

Faults: ``Code/Value`` ``soap:Sender|Receiver``, ``Subcode/Value`` ``soap:siram_NN``, ``Detail/siram:Erreur`` with
``code`` and ``severite`` (``urn:siram``); recorded faults ``siram_100-desir_500-fake-idam.fixtures.ts`` and the
siram_40/insi_102 fixture of ``insi-helper.test.ts`` (padoa/tlsi-ins). :func:`map_error` is the one mapping of the
domain's errors (:mod:`app.ins.exceptions`) to these faults; every fault is answered with HTTP 500, as the live
INSi answers (:attr:`SoapFault.http_status`, docs/ins.md "HTTP status of the faults").
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from fastapi import Request
from starlette.responses import Response

from app.api.journal import note_refusal
from app.ins.exceptions import IdamRefused, InsError, InsiTechnicalFault, TraitError
from app.ins.soap.namespaces import NS_SIRAM, NS_SOAP12

SOAP_MEDIA_TYPE = "application/soap+xml; charset=utf-8"
FAULT_HTTP_STATUS = 500  # every SOAP fault of /lps, as the live INSi answers (SoapFault.http_status)

# Recorded reason texts (French, as the live service sends them).
REASON_UNAVAILABLE = (
    "Le service est temporairement inaccessible. Veuillez renouveler votre demande ultérieurement. "
    "Si le problème persiste, contactez l'éditeur du progiciel ou votre responsable informatique."
)
REASON_LPS_REFUSED = (
    "L'accès par ce progiciel au service n'est pas autorisé. Contactez l'éditeur du progiciel ou votre "
    "responsable informatique."
)


@dataclass
class SoapFault(Exception):
    """A SOAP 1.2 fault in the INSi shape. ``code`` is ``Sender`` or ``Receiver``."""

    code: str
    subcode: str
    reason: str
    detail_code: str
    detail_text: str
    severite: str = "erreur"
    message_id: str | None = None
    rule: str | None = None
    reason_lang: str = "fr"

    def __post_init__(self) -> None:
        super().__init__(f"{self.subcode}/{self.detail_code}: {self.detail_text}")

    @property
    def http_status(self) -> int:
        """500 for every fault, ``Sender`` ones included, as the live INSi answers them.

        SOAP 1.2 part 2 §7.5.1.2 (table 5) would answer ``env:Sender`` with 400, but the live qualif INSi sends
        its ``soap:Sender`` faults (``siram_100``/``desir_550``, ``siram_40``/``desir_1020``) with HTTP 500, and
        clients are written for that: padoa/tlsi-ins reads a fault only when ``err.response.status === 500``
        (``src/ins/insi-client.service.ts`` @12ef794), in the test "should have a failed request if the
        software is not allowed" that its CI runs against the live service. docs/ins.md, "HTTP status".
        """
        return FAULT_HTTP_STATUS


def fault_technical(message_id: str | None = None, rule: str = "INSi:technical") -> SoapFault:
    """``siram_40`` / ``insi_102`` (severite ``fatal``, as the live server sends it): the CNDA 2.03 case 3
    answer of the test INSi (padoa ``insi-helper.test.ts``)."""
    return SoapFault(
        "Receiver", "siram_40", REASON_UNAVAILABLE, "insi_102",
        "L'appel au service de recherche avec les traits d'identité renvoie une erreur technique.",
        severite="fatal", message_id=message_id, rule=rule,
    )


def fault_unknown_idam(message_id: str | None = None) -> SoapFault:
    """``siram_100`` / ``desir_550``: unknown software authorisation number (padoa fake-IDAM fixture)."""
    return SoapFault(
        "Sender", "siram_100", REASON_LPS_REFUSED, "desir_550", "Numéro d'autorisation du logiciel inconnu.",
        severite="erreur", message_id=message_id, rule="INSi:IDAM",
    )


def fault_access_level(message_id: str | None = None, detail: str = "Niveau d'accès insuffisant.") -> SoapFault:
    """``DESIR_560``: certificate CN is not INSI-AUTO / INSI-MANU (padoa README). The subcode the live
    service pairs with it is not recorded; the sandbox uses ``siram_100`` like the other access refusal."""
    return SoapFault("Sender", "siram_100", REASON_LPS_REFUSED, "DESIR_560", detail,
                     severite="erreur", message_id=message_id, rule="INSi:certificate-CN")


def fault_request(detail_code: str, detail: str, message_id: str | None = None, rule: str | None = None) -> SoapFault:
    """A malformed request (XML, headers, body). The real codes of these cases are not public: the subcode
    ``siram_10`` was seen in a third-party parser test only and the ``sandbox_*`` detail codes are the
    sandbox's own (documented in docs/ins.md)."""
    return SoapFault("Sender", "siram_10", "La requête est invalide : " + detail, detail_code, detail,
                     severite="erreur", message_id=message_id, rule=rule or f"INSi:{detail_code}")


def build_fault(f: SoapFault) -> bytes:
    mid = f" messageID={quoteattr(f.message_id)}" if f.message_id else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap:Envelope xmlns:soap="{NS_SOAP12}"><soap:Body><soap:Fault>'
        f"<soap:Code><soap:Value>soap:{f.code}</soap:Value>"
        f"<soap:Subcode><soap:Value>soap:{escape(f.subcode)}</soap:Value></soap:Subcode></soap:Code>"
        f'<soap:Reason><soap:Text xml:lang="{f.reason_lang}">{escape(f.reason)}</soap:Text></soap:Reason>'
        f'<soap:Detail><siram:Erreur xmlns:siram="{NS_SIRAM}" code={quoteattr(f.detail_code)}{mid} '
        f"severite={quoteattr(f.severite)}>{escape(f.detail_text)}</siram:Erreur></soap:Detail>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def map_error(err: InsError, message_id: str | None = None, *, detail_code: str = "sandbox_traits") -> SoapFault:
    """The fault INSi answers for a domain error. An unknown IDAM is ``siram_100``/``desir_550``; INSi's technical
    error, and a trait outside INSi's character set (CNDA 2.03 case 3), ``siram_40``/``insi_102``; any other
    refused value a ``siram_10`` fault with ``detail_code`` (``sandbox_traits`` for ``RECSANSVITALE``,
    ``sandbox_vitale`` for ``RECVITALE``) and the rule that refused it."""
    if isinstance(err, IdamRefused):
        return fault_unknown_idam(message_id)
    if isinstance(err, InsiTechnicalFault) or (isinstance(err, TraitError) and err.rule == "INSi:charset"):
        return fault_technical(message_id, rule=err.rule)
    return fault_request(detail_code, err.message, message_id, rule=err.rule)


def fault_response(fault: SoapFault, status: int | None = None) -> Response:
    return Response(build_fault(fault), status_code=status or fault.http_status, media_type=SOAP_MEDIA_TYPE)


async def soap_fault_handler(request: Request, exc: SoapFault) -> Response:
    """Exception handler of :class:`SoapFault` (registered in ``DOMAIN.exception_handlers``)."""
    note_refusal(request, rule=exc.rule, detail=f"{exc.subcode}/{exc.detail_code}: {exc.detail_text}",
                 status=exc.http_status)
    return fault_response(exc)


# Answered at the HTTP layer, before any SOAP processing, so with their HTTP status (docs/ins.md, "HTTP status")
HTTP_LAYER_STATUSES = frozenset({404, 405})


def render_lps_error(request: Request, status: int, message: str, rule: str | None) -> Response:
    """Generic errors under ``/lps`` (unknown route, 405, 413, unexpected error) as INSi-shaped faults.

    An unknown path (404) or method (405) keeps its HTTP status; anything else (a body over the platform's
    limit, a body nested too deeply, an unexpected error) is a fault of the SOAP endpoint and is answered
    with the HTTP status of every INSi fault (:data:`FAULT_HTTP_STATUS`)."""
    if status >= 500:
        fault = fault_technical(rule=rule or "platform:unexpected")
        fault.detail_text = message
    else:
        fault = fault_request(f"sandbox_http_{status}", message, rule=rule)
    return fault_response(fault, status if status in HTTP_LAYER_STATUSES else fault.http_status)
