"""Reading an INSi request envelope: the hardened XML parse, then the SOAP 1.2 envelope and its headers.

Wire shapes (reference ``ins.md`` §1; WSDL ``DESIR_ICIR_EXP_1.5.0.wsdl`` and XSDs in padoa/tlsi-ins ``src/wsdl``):

- envelope SOAP 1.2 (``http://www.w3.org/2003/05/soap-envelope``), document/literal;
- headers ``ctxbam:ContexteBAM Version="01_02"``, ``ctxlps:ContexteLPS Version="01_00"`` with
  ``LPS/IDAM R="4"``, ``wsa:Action``, ``wsa:MessageID`` (WS-Addressing 2005/08), ``wsse:Security`` (CPx mode);
- bodies ``RECSANSVITALE`` (``http://www.cnamts.fr/INSiRecSans``) and ``RECVITALE``
  (``http://www.cnamts.fr/INSiRecVit``), read by :mod:`app.ins.soap.bodies`.

Anything malformed is a :class:`~app.ins.soap.faults.SoapFault` (Sender). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from app.ins.soap.faults import SoapFault, fault_request
from app.ins.soap.namespaces import (
    NS_CTXBAM,
    NS_CTXLPS,
    NS_SAML2,
    NS_SOAP11,
    NS_SOAP12,
    NS_WSA,
    NS_WSSE,
    OPERATIONS,
)
from app.xmlsafe import InvalidXmlError, UnsafeXmlError, parse_untrusted

DEFAULT_MAX_BYTES = 256 * 1024  # an INSi request is ~2-10 kB (with a SAML assertion)


def parse_xml(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse an untrusted document with the sandbox's hardened parser (:mod:`app.xmlsafe`: size limit,
    no DTD at all so no entity expansion of any kind, no network, no huge trees). Raises
    :class:`SoapFault` (Sender) on anything else."""
    if len(body) > max_bytes:
        raise fault_request("sandbox_size", f"message de {len(body)} octets, limite {max_bytes}",
                            rule="INSi:size")
    try:
        return parse_untrusted(body, max_bytes=max_bytes)
    except UnsafeXmlError:
        raise fault_request("sandbox_dtd", "DTD et entités interdites dans un message SOAP",
                            rule="INSi:xml-dtd") from None
    except InvalidXmlError as err:
        raise fault_request("sandbox_xml", f"XML mal formé ({err})", rule="INSi:xml") from None


@dataclass
class Lps:
    idam: str | None
    idam_r: str | None
    version: str | None = None
    instance: str | None = None
    nom: str | None = None


@dataclass
class SoapRequest:
    action: str
    operation: str
    message_id: str
    lps: Lps
    body: etree._Element
    bam_version: str
    lps_version: str
    has_security: bool = False
    saml_assertion: bool = False
    saml_issuer: str | None = None
    couverture: dict = field(default_factory=dict)


def _text(el: etree._Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip()


def _child(parent: etree._Element | None, ns: str, name: str) -> etree._Element | None:
    if parent is None:
        return None
    return parent.find(f"{{{ns}}}{name}")


def _children(parent: etree._Element | None) -> dict[Any, etree._Element]:
    """The first child of each tag, in one pass: ``_children(p).get(tag)`` is ``p.find(tag)`` (a ``find`` costs
    about 1 µs, and an envelope needs twenty of them)."""
    found: dict[Any, etree._Element] = {}
    if parent is not None:
        for child in parent:
            if child.tag not in found:
                found[child.tag] = child
    return found


_SOAP_HEADER, _SOAP_BODY = f"{{{NS_SOAP12}}}Header", f"{{{NS_SOAP12}}}Body"
_WSA_MESSAGE_ID, _WSA_ACTION = f"{{{NS_WSA}}}MessageID", f"{{{NS_WSA}}}Action"
_WSSE_SECURITY = f"{{{NS_WSSE}}}Security"
_BAM, _BAM_ID, _BAM_TEMPS = f"{{{NS_CTXBAM}}}ContexteBAM", f"{{{NS_CTXBAM}}}Id", f"{{{NS_CTXBAM}}}Temps"
_BAM_COUVERTURE = f"{{{NS_CTXBAM}}}COUVERTURE"
_BAM_BENEFICIAIRE, _BAM_ASSURE = f"{{{NS_CTXBAM}}}BENEFICIAIRE", f"{{{NS_CTXBAM}}}ASSURE"
_LPS, _LPS_ID, _LPS_TEMPS = f"{{{NS_CTXLPS}}}ContexteLPS", f"{{{NS_CTXLPS}}}Id", f"{{{NS_CTXLPS}}}Temps"
_LPS_LPS, _LPS_IDAM, _LPS_VERSION = f"{{{NS_CTXLPS}}}LPS", f"{{{NS_CTXLPS}}}IDAM", f"{{{NS_CTXLPS}}}Version"
_LPS_INSTANCE, _LPS_NOM = f"{{{NS_CTXLPS}}}Instance", f"{{{NS_CTXLPS}}}Nom"


def parse_request(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> SoapRequest:
    """Parse and check an INSi request envelope (everything but the IDAM registry and the certificate)."""
    root = parse_xml(body, max_bytes=max_bytes)
    if root.tag == f"{{{NS_SOAP11}}}Envelope":
        raise SoapFault("VersionMismatch", "siram_10", "INSi parle SOAP 1.2 uniquement",
                        "sandbox_soap_version", "Enveloppe SOAP 1.1 reçue ; INSi attend SOAP 1.2 "
                        f"({NS_SOAP12})", rule="INSi:soap12")
    if root.tag != f"{{{NS_SOAP12}}}Envelope":
        raise fault_request("sandbox_envelope", "la racine n'est pas une enveloppe SOAP 1.2", rule="INSi:envelope")
    envelope = _children(root)
    header = envelope.get(_SOAP_HEADER)
    body_el = envelope.get(_SOAP_BODY)
    headers = _children(header)
    message_id = _text(headers.get(_WSA_MESSAGE_ID))
    if header is None:
        raise fault_request("sandbox_header", "en-tête SOAP absent (ContexteBAM, ContexteLPS, Action, MessageID)",
                            rule="INSi:header")
    if not message_id:
        raise fault_request("sandbox_wsa_messageid", "wsa:MessageID absent", rule="INSi:wsa-MessageID")
    action = _text(headers.get(_WSA_ACTION))
    if not action:
        raise fault_request("sandbox_wsa_action", "wsa:Action absent", message_id, rule="INSi:wsa-Action")
    if action not in OPERATIONS:
        raise fault_request("sandbox_wsa_action", f"wsa:Action inconnue : {action}", message_id,
                            rule="INSi:wsa-Action")
    bam = headers.get(_BAM)
    if bam is None:
        raise fault_request("sandbox_ctxbam", "ContexteBAM absent", message_id, rule="INSi:ContexteBAM")
    if bam.get("Version") != "01_02":
        raise fault_request("sandbox_ctxbam", f"ContexteBAM Version {bam.get('Version')!r}, 01_02 attendu",
                            message_id, rule="INSi:ContexteBAM-Version")
    lps = headers.get(_LPS)
    if lps is None:
        raise fault_request("sandbox_ctxlps", "ContexteLPS absent", message_id, rule="INSi:ContexteLPS")
    if lps.get("Version") != "01_00":
        raise fault_request("sandbox_ctxlps", f"ContexteLPS Version {lps.get('Version')!r}, 01_00 attendu",
                            message_id, rule="INSi:ContexteLPS-Version")
    bam_children, lps_children = _children(bam), _children(lps)
    for children, name, id_tag, temps_tag in ((bam_children, "ContexteBAM", _BAM_ID, _BAM_TEMPS),
                                              (lps_children, "ContexteLPS", _LPS_ID, _LPS_TEMPS)):
        if not _text(children.get(id_tag)) or not _text(children.get(temps_tag)):
            raise fault_request("sandbox_" + name.lower(), f"{name} : Id et Temps sont obligatoires", message_id,
                                rule=f"INSi:{name}-Id-Temps")
    software = _children(lps_children.get(_LPS_LPS))
    idam_el = software.get(_LPS_IDAM)
    lps_info = Lps(
        idam=_text(idam_el), idam_r=idam_el.get("R") if idam_el is not None else None,
        version=_text(software.get(_LPS_VERSION)), instance=_text(software.get(_LPS_INSTANCE)),
        nom=_text(software.get(_LPS_NOM)),
    )
    security = headers.get(_WSSE_SECURITY)
    assertion = security.find(f".//{{{NS_SAML2}}}Assertion") if security is not None else None
    if body_el is None or len(body_el) == 0:
        raise fault_request("sandbox_body", "corps SOAP vide", message_id, rule="INSi:body")
    payload = body_el[0]
    operation, ns, element = OPERATIONS[action]
    if payload.tag != f"{{{ns}}}{element}":
        raise fault_request("sandbox_body", f"l'action {operation} attend {{{ns}}}{element}, reçu {payload.tag}",
                            message_id, rule="INSi:body-action")
    couverture: dict = {}
    cov = bam_children.get(_BAM_COUVERTURE)
    if cov is not None:
        coverage = _children(cov)  # usually empty
        ben = coverage.get(_BAM_BENEFICIAIRE)
        if ben is not None:
            couverture = {
                "Nir": _text(_child(_child(ben, NS_CTXBAM, "Nir"), NS_CTXBAM, "Num")),
                "DateNai": _text(_child(ben, NS_CTXBAM, "DateNai")),
                "Rang": _text(_child(ben, NS_CTXBAM, "Rang")),
            }
        ass = coverage.get(_BAM_ASSURE)
        if ass is not None:
            couverture["Assure"] = _text(_child(_child(ass, NS_CTXBAM, "Id"), NS_CTXBAM, "Num"))
    return SoapRequest(
        action=action, operation=operation, message_id=message_id, lps=lps_info, body=payload,
        bam_version="01_02", lps_version="01_00", has_security=security is not None,
        saml_assertion=assertion is not None,
        saml_issuer=_text(assertion.find(f"{{{NS_SAML2}}}Issuer")) if assertion is not None else None,
        couverture=couverture,
    )
