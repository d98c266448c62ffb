"""An HTTP request read into a :class:`~app.dmp.soap.call.SoapRequest`: SOAP 1.2 (plain or MTOM), WS-Addressing
2005/08, the security header, the caller's TLS certificate and bearer token.

Every refusal is a :class:`~app.dmp.soap.faults.SoapFault`, checked in the order a SOAP node reads a message:
size (before the body is all read), media type, MIME parts (:mod:`.mtom`), XML (hardened, :mod:`app.xmlsafe`),
the SOAP version (SOAP 1.2 part 1 §5.4.7 ``VersionMismatch``; an 1.1 envelope is ``text/xml``, SOAP 1.1 §6),
Envelope/Body (part 1 §5.1, §5.3), the header blocks the sandbox must understand (part 1 §5.2.3, §5.4.8
``MustUnderstand``), then WS-Addressing (1.0 SOAP Binding §6.4: ``wsa:MessageAddressingHeaderRequired``,
``wsa:InvalidAddressingHeader``, ``wsa:ActionNotSupported``; the ``action`` parameter of the media type must
match ``wsa:Action``: §6.4.1's ``wsa:ActionMismatch``). Real clients' shapes: DRIMBox builds
``soap:Envelope`` + ``MessageID``/``To``/``Action`` (ansforge/DRIM-M_DRIMbox
``Backend/src/main/java/com/bcom/drimbox/dmp/request/BaseRequest.java`` @4ae559df) and sends plain requests as
``application/soap+xml`` without ``action`` (``dmp/DMPConnect.java`` @791cbc21), MTOM ones with an ``action``
matching wsa:Action and a root part whose own ``action`` is a legacy name, which is not checked.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any

from lxml import etree
from starlette.requests import Request

from app.dmp.soap import faults, mtom
from app.dmp.soap.call import Attachment, SoapRequest
from app.dmp.soap.faults import SoapFault
from app.dmp.soap.namespaces import NS_SOAP11, NS_SOAP12, NS_WSA, NS_WSSE
from app.numbers import ascii_count
from app.xmlsafe import InvalidXmlError, UnsafeXmlError, parse_untrusted

SOAP12 = "application/soap+xml"
XOP = "application/xop+xml"
MULTIPART_RELATED = "multipart/related"
WSA_ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
UNDERSTOOD_HEADERS = frozenset({NS_WSA, NS_WSSE})  # every wsa:* block, and wsse:Security (the VIHF)


@dataclass(frozen=True)
class Limits:
    """The transport's bounds (settings ``dmp_soap_*``)."""

    max_bytes: int
    max_envelope_bytes: int
    max_parts: int

    @classmethod
    def of(cls, settings: Any) -> Limits:
        return cls(settings.dmp_soap_max_bytes, settings.dmp_soap_max_envelope_bytes, settings.dmp_soap_max_parts)


def media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """A Content-Type's media type (lower case) and parameters (names lower case, quotes removed, RFC 2045 §5.1)."""
    if not header:
        return "", {}
    message = Message()
    message["content-type"] = header
    params = message.get_params() or []
    kind = message.get_content_type() if params and "/" in params[0][0] else ""
    values = {str(name).lower(): str(value) for name, value in params[1:]}
    return kind, values


def too_large(limit: int) -> SoapFault:
    return faults.sender("MessageTooLarge", f"Message SOAP de plus de {limit} octets (limite du bac à sable, "
                         "SEGUR_DMP_SOAP_MAX_BYTES).", rule="dmp-soap:size", http_status=413)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it is known to exceed ``limit``: from Content-Length before
    reading, else while reading (a chunked body)."""
    declared = ascii_count(request.headers.get("content-length"), max_digits=18)
    if declared is not None and declared > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def credentials(request: Request, header_name: str) -> tuple[str | None, str | None]:
    """The client certificate's subject and the bearer token. The certificate comes from the ASGI TLS extension
    (``scope["extensions"]["tls"]``: ``client_cert_name``, else the first PEM of ``client_cert_chain``) when the
    server terminates TLS itself, else from the stand-in header ``header_name``."""
    subject: str | None = None
    tls = (request.scope.get("extensions") or {}).get("tls") or {}
    if tls.get("client_cert_name"):
        subject = str(tls["client_cert_name"])
    elif tls.get("client_cert_chain"):
        subject = _subject_of_pem(tls["client_cert_chain"][0])
    if subject is None:
        value = request.headers.get(header_name)
        subject = value.strip() if value and value.strip() else None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return subject, bearer


def _subject_of_pem(pem: str | bytes) -> str | None:
    from cryptography import x509

    try:
        certificate = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    except ValueError:
        return None
    return certificate.subject.rfc4514_string()


def _envelope_bytes(content_type: str | None, body: bytes, limits: Limits) -> tuple[bytes, str | None,
                                                                                    Mapping[str, Attachment]]:
    """The envelope's bytes, the media type's ``action`` parameter and the MTOM parts."""
    kind, params = media_type(content_type)
    if kind == MULTIPART_RELATED:
        if params.get("type", "").lower() != XOP:
            raise faults.sender("UnsupportedMediaType", "multipart/related sans type=\"application/xop+xml\" : "
                                "seul MTOM/XOP est accepté (SOAP 1.2 MTOM §4.3).", rule="dmp-soap:media-type",
                                http_status=415)
        start_info = params.get("start-info")
        if start_info is not None and media_type(start_info)[0] != SOAP12:
            raise faults.sender("UnsupportedMediaType", f"start-info={start_info!r} : application/soap+xml attendu "
                                "(SOAP 1.2 MTOM §4.3).", rule="dmp-soap:media-type", http_status=415)
        try:
            parsed = mtom.parse_multipart(body, boundary=params.get("boundary", ""), start=params.get("start"),
                                          max_parts=limits.max_parts)
        except mtom.MultipartError as error:
            raise faults.sender("InvalidMultipart", f"Corps MTOM illisible : {error}", rule="dmp-soap:mtom") from None
        root_kind = media_type(parsed.root.content_type)[0]
        if root_kind not in (XOP, SOAP12):
            raise faults.sender("UnsupportedMediaType", f"partie racine de type {root_kind or 'absent'!r} : "
                                "application/xop+xml attendu (XOP 1.0 §4.1).", rule="dmp-soap:media-type",
                                http_status=415)
        return parsed.root.data, params.get("action"), parsed.attachments
    if kind in (SOAP12, "text/xml"):  # text/xml: SOAP 1.1, answered VersionMismatch once its envelope is read
        return body, params.get("action"), {}
    raise faults.sender("UnsupportedMediaType", f"Content-Type {kind or 'absent'!r} : application/soap+xml ou "
                        "multipart/related (MTOM) attendu (SOAP 1.2 part 2 §7.1.4).", rule="dmp-soap:media-type",
                        http_status=415)


def _parse_xml(data: bytes, limits: Limits) -> etree._Element:
    if len(data) > limits.max_envelope_bytes:
        raise faults.sender("MessageTooLarge", f"Enveloppe SOAP de {len(data)} octets, limite "
                            f"{limits.max_envelope_bytes} (SEGUR_DMP_SOAP_MAX_ENVELOPE_BYTES) : envoyez les "
                            "documents en parties MTOM.", rule="dmp-soap:size", http_status=413)
    try:
        return parse_untrusted(data, max_bytes=limits.max_envelope_bytes)
    except UnsafeXmlError as error:
        raise faults.sender("UnsafeXml", f"XML refusé : {error}.", rule="dmp-soap:xml") from None
    except InvalidXmlError as error:
        raise faults.sender("MalformedXml", f"XML mal formé : {error}.", rule="dmp-soap:xml") from None


def _envelope_parts(root: etree._Element) -> tuple[etree._Element, etree._Element]:
    """The envelope's Header (an empty one if absent) and the Body's one child."""
    if root.tag == f"{{{NS_SOAP11}}}Envelope":
        raise SoapFault("VersionMismatch", "", "Enveloppe SOAP 1.1 : le DMP parle SOAP 1.2 "
                        "(http://www.w3.org/2003/05/soap-envelope).", "dmp-soap:version")
    if root.tag != f"{{{NS_SOAP12}}}Envelope":
        raise faults.sender("NotAnEnvelope", f"L'élément racine {root.tag!r} n'est pas une enveloppe SOAP 1.2.",
                            rule="dmp-soap:envelope")
    children = [child for child in root if isinstance(child.tag, str)]
    header = next((c for c in children if c.tag == f"{{{NS_SOAP12}}}Header"), None)
    body = next((c for c in children if c.tag == f"{{{NS_SOAP12}}}Body"), None)
    if body is None:
        raise faults.sender("MissingBody", "Enveloppe SOAP sans env:Body.", rule="dmp-soap:envelope")
    payload = [child for child in body if isinstance(child.tag, str)]
    if not payload:
        raise faults.sender("EmptyBody", "env:Body vide : la requête de la transaction manque.",
                            rule="dmp-soap:envelope")
    if len(payload) > 1:
        raise faults.sender("InvalidBody", f"env:Body porte {len(payload)} éléments : un seul attendu "
                            "(document/literal).", rule="dmp-soap:envelope")
    if header is None:
        header = etree.SubElement(root, f"{{{NS_SOAP12}}}Header")
    return header, payload[0]


def _check_must_understand(header: etree._Element) -> None:
    """SOAP 1.2 part 1 §5.2.3/§5.4.8: a header block marked ``env:mustUnderstand`` the sandbox does not process."""
    for block in header:
        if not isinstance(block.tag, str):
            continue
        flag = block.get(f"{{{NS_SOAP12}}}mustUnderstand", "").strip().lower()
        if flag in ("true", "1") and etree.QName(block).namespace not in UNDERSTOOD_HEADERS:
            raise SoapFault("MustUnderstand", "", f"En-tête {block.tag} marqué mustUnderstand : non traité par le "
                            "DMP.", "dmp-soap:must-understand")


def _single(header: etree._Element, name: str, *, required: bool) -> str | None:
    blocks = header.findall(f"{{{NS_WSA}}}{name}")
    qname = f"wsa:{name}"
    if not blocks:
        if required:
            raise faults.addressing(faults.WSA_HEADER_REQUIRED, f"En-tête WS-Addressing {qname} obligatoire absent.",
                                    rule=f"dmp-soap:wsa-{name.lower()}", problem_header=qname)
        return None
    if len(blocks) > 1:
        raise faults.addressing(faults.WSA_INVALID_HEADER, f"{len(blocks)} en-têtes {qname} : un seul permis "
                                "(wsa:InvalidCardinality).", rule=f"dmp-soap:wsa-{name.lower()}",
                                problem_header=qname)
    value = "".join(blocks[0].itertext()).strip() if name != "ReplyTo" else ""
    if name == "ReplyTo":
        address = blocks[0].find(f"{{{NS_WSA}}}Address")
        value = "".join(address.itertext()).strip() if address is not None else ""
    if not value:
        raise faults.addressing(faults.WSA_INVALID_HEADER, f"En-tête {qname} vide.",
                                rule=f"dmp-soap:wsa-{name.lower()}", problem_header=qname)
    return value


def parse_request(content_type: str | None, body: bytes, *, limits: Limits, served: Collection[str]) -> SoapRequest:
    """Read a request into a :class:`SoapRequest` (pure): ``served`` are the actions this endpoint serves."""
    if len(body) > limits.max_bytes:
        raise too_large(limits.max_bytes)
    data, media_action, attachments = _envelope_bytes(content_type, body, limits)
    root = _parse_xml(data, limits)
    header, payload = _envelope_parts(root)
    try:
        return _read_headers(content_type, header, payload, media_action, attachments, served)
    except SoapFault as fault:
        if fault.relates_to is None:  # a fault answers the request's MessageID whenever it could be read
            found = header.find(f"{{{NS_WSA}}}MessageID")
            if found is not None and found.text and found.text.strip():
                fault.relates_to = found.text.strip()
        raise


def _read_headers(content_type: str | None, header: etree._Element, payload: etree._Element,
                  media_action: str | None, attachments: Mapping[str, Attachment],
                  served: Collection[str]) -> SoapRequest:
    if media_type(content_type)[0] == "text/xml":
        raise faults.sender("UnsupportedMediaType", "Content-Type text/xml : application/soap+xml attendu pour "
                            "SOAP 1.2 (part 2 §7.1.4).", rule="dmp-soap:media-type", http_status=415)
    _check_must_understand(header)
    action = _single(header, "Action", required=True)
    message_id = _single(header, "MessageID", required=True)
    to = _single(header, "To", required=False)
    reply_to = _single(header, "ReplyTo", required=False)
    assert action is not None and message_id is not None
    if media_action is not None and media_action.strip() != action:
        raise faults.addressing(faults.WSA_INVALID_HEADER, f"Le paramètre action={media_action!r} du Content-Type "
                                f"contredit wsa:Action {action!r} (wsa:ActionMismatch).",
                                rule="dmp-soap:action-mismatch", problem_header="wsa:Action")
    if reply_to is not None and reply_to != WSA_ANONYMOUS:
        raise faults.addressing("OnlyAnonymousAddressSupported", f"wsa:ReplyTo {reply_to!r} : le DMP ne répond que "
                                "sur la connexion HTTP (adresse anonyme).", rule="dmp-soap:wsa-replyto",
                                problem_header="wsa:ReplyTo")
    if action not in served:
        raise faults.addressing(faults.WSA_ACTION_NOT_SUPPORTED, f"Action {action!r} non servie à cette adresse.",
                                rule="dmp-soap:action", problem_action=action)
    return SoapRequest(action=action, message_id=message_id, to=to, reply_to=reply_to, header=header,
                       payload=payload, security=header.find(f"{{{NS_WSSE}}}Security"), attachments=attachments)

