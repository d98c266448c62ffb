"""The test client of the DMP's SOAP face: envelopes, MTOM bodies and answers in the shapes real XDS.b clients use.

- :func:`envelope` writes a SOAP 1.2 envelope as DRIMBox does (``soap:Envelope``, then ``MessageID``, ``To``,
  ``Action`` with mustUnderstand in the WS-Addressing 2005/08 namespace, the VIHF in ``wsse:Security``:
  ansforge/DRIM-M_DRIMbox ``Backend/src/main/java/com/bcom/drimbox/dmp/request/BaseRequest.java`` @4ae559df);
- :func:`mtom` a multipart/related body as Axis2/CXF and DRIMBox send one (``type="application/xop+xml"``,
  ``start="<root>"``, ``start-info="application/soap+xml"``, ``action=`` the wsa:Action; root part
  ``application/xop+xml; charset=UTF-8; type="application/soap+xml"``, each document a binary part with its
  Content-ID: ``dmp/xades/request/ProvideAndRegisterRequest.java`` @8ca15111 ``getContentType``/``addRequestPart``);
- :func:`post_soap` posts one to ``/si-dmp-server/v2/services/<service>`` and reads the answer (plain or MTOM)
  into a :class:`SoapAnswer`; :func:`get_vihf` asks the control API for a signed VIHF.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from email.message import Message

import httpx
from lxml import etree

from app.dmp.soap import mtom as transport_mtom
from app.dmp.soap.namespaces import NS_SOAP12, NS_WSA, NS_WSSE

PREFIX = "/si-dmp-server/v2/services"
CLIENT_CERTIFICATE_HEADER = "X-Segur-Client-Certificate"  # settings.dmp_soap_client_cert_header's default
NS = {"env": NS_SOAP12, "soap": NS_SOAP12, "wsa": NS_WSA, "wsse": NS_WSSE}


def envelope(action: str, payload: str | etree._Element, *, vihf: str | None = None,
             message_id: str | None = None, to: str | None = None, extra_headers: str = "",
             include_action: bool = True, include_message_id: bool = True) -> bytes:
    """A SOAP 1.2 request envelope (bytes, UTF-8). ``payload`` is the body's one child; ``vihf`` the
    ``saml2:Assertion`` to put in ``wsse:Security``; ``extra_headers`` raw XML appended to ``soap:Header``."""
    body = payload if isinstance(payload, str) else etree.tostring(payload, encoding="unicode")
    message_id = message_id or f"urn:uuid:{uuid.uuid4()}"
    headers = []
    if include_message_id:
        headers.append(f'<MessageID xmlns="{NS_WSA}">{message_id}</MessageID>')
    if to is not None:
        headers.append(f'<To xmlns="{NS_WSA}">{to}</To>')
    if include_action:
        headers.append(f'<Action xmlns="{NS_WSA}" soap:mustUnderstand="true">{action}</Action>')
    if vihf is not None:
        headers.append(f'<wsse:Security xmlns:wsse="{NS_WSSE}">{vihf}</wsse:Security>')
    return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{NS_SOAP12}">'
            f'<soap:Header>{"".join(headers)}{extra_headers}</soap:Header><soap:Body>{body}</soap:Body>'
            "</soap:Envelope>").encode()


def mtom(envelope_bytes: bytes, parts: dict[str, tuple[str, bytes]], *, action: str | None = None,
         boundary: str = "MIMEBoundary_urn_uuid_5e1f1d3b", root_cid: str = "0.root@segur.test",
         line_end: bytes = b"\r\n", encodings: dict[str, str] | None = None) -> tuple[str, bytes]:
    """An MTOM request: (Content-Type, body). ``parts`` maps a Content-ID (without ``<>``) to (content type,
    bytes); ``encodings`` a Content-ID to its Content-Transfer-Encoding (``base64`` encodes the bytes)."""
    import base64

    encodings = encodings or {}
    out = [b"--" + boundary.encode() + line_end,
           b'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"' + line_end,
           b"Content-Transfer-Encoding: binary" + line_end, f"Content-ID: <{root_cid}>".encode() + line_end,
           line_end, envelope_bytes]
    for cid, (content_type, data) in parts.items():
        encoding = encodings.get(cid, "binary")
        content = base64.encodebytes(data) if encoding.lower() == "base64" else data
        out += [line_end + b"--" + boundary.encode() + line_end, f"Content-Type: {content_type}".encode() + line_end,
                f"Content-Transfer-Encoding: {encoding}".encode() + line_end,
                f"Content-ID: <{cid}>".encode() + line_end, line_end, content]
    out.append(line_end + b"--" + boundary.encode() + b"--" + line_end)
    content_type = (f'multipart/related; boundary="{boundary}"; type="application/xop+xml"; start="<{root_cid}>"; '
                    'start-info="application/soap+xml"')
    if action:
        content_type += f'; action="{action}"'
    return content_type, b"".join(out)


mtom_body = mtom  # post_soap's ``mtom`` flag hides the function's name there


@dataclass
class SoapAnswer:
    """An answer of the SOAP face, read."""

    status: int
    content_type: str
    root: etree._Element  # the envelope
    action: str | None
    message_id: str | None
    relates_to: str | None
    payload: etree._Element | None  # the Body's child (the fault for a fault)
    parts: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # MTOM parts by Content-ID
    fault_code: str | None = None
    fault_subcode: str | None = None  # "{namespace}local"
    fault_reason: str | None = None

    @property
    def is_fault(self) -> bool:
        return self.fault_code is not None


def _media(header: str) -> tuple[str, dict[str, str]]:
    message = Message()
    message["content-type"] = header
    params = message.get_params() or []
    return message.get_content_type(), {str(k).lower(): str(v) for k, v in params[1:]}


def _qname(element: etree._Element, value: str | None) -> str | None:
    if not value:
        return None
    prefix, _, local = value.strip().rpartition(":")
    return f"{{{element.nsmap.get(prefix or None)}}}{local}"


def read_answer(response: httpx.Response) -> SoapAnswer:
    content_type = response.headers.get("content-type", "")
    kind, params = _media(content_type)
    parts: dict[str, tuple[str, bytes]] = {}
    data = response.content
    if kind == "multipart/related":
        parsed = transport_mtom.parse_multipart(data, boundary=params["boundary"], start=params.get("start"),
                                                max_parts=1000)
        data = parsed.root.data
        parts = {cid: (part.content_type, part.data) for cid, part in parsed.attachments.items()}
    root = etree.fromstring(data)
    body = root.find("env:Body", NS)
    payload = next(iter(body), None) if body is not None else None
    answer = SoapAnswer(status=response.status_code, content_type=content_type, root=root,
                        action=root.findtext("env:Header/wsa:Action", namespaces=NS),
                        message_id=root.findtext("env:Header/wsa:MessageID", namespaces=NS),
                        relates_to=root.findtext("env:Header/wsa:RelatesTo", namespaces=NS),
                        payload=payload, parts=parts)
    if payload is not None and payload.tag == f"{{{NS_SOAP12}}}Fault":
        code = payload.find("env:Code/env:Value", NS)
        sub = payload.find("env:Code/env:Subcode/env:Value", NS)
        answer.fault_code = _qname(code, code.text) if code is not None else None
        answer.fault_subcode = _qname(sub, sub.text) if sub is not None else None
        answer.fault_reason = payload.findtext("env:Reason/env:Text", namespaces=NS)
    return answer


async def post_soap(client: httpx.AsyncClient, service: str, action: str, payload: str | etree._Element, *,
                    vihf: str | None = None, parts: dict[str, tuple[str, bytes]] | None = None, mtom: bool = False,
                    headers: dict[str, str] | None = None, message_id: str | None = None) -> SoapAnswer:
    """POST one request (MTOM when ``parts`` or ``mtom``) and read the answer."""
    url = f"{PREFIX}/{service}"
    body = envelope(action, payload, vihf=vihf, message_id=message_id, to=f"{client.base_url}{url}")
    if parts or mtom:
        content_type, body = mtom_body(body, parts or {}, action=action)
    else:
        content_type = f'application/soap+xml; charset=UTF-8; action="{action}"'
    sent = {"Content-Type": content_type}
    subject = getattr(vihf, "client_certificate_subject", None)
    if subject:
        sent[CLIENT_CERTIFICATE_HEADER] = subject
    response = await client.post(url, content=body, headers={**sent, **(headers or {})})
    return read_answer(response)


class IssuedVihf(str):
    """A VIHF's assertion (the string) and the client certificate subject to present with it (INDIRECTE: the
    structure's certificate, sent by :func:`post_soap` in the stand-in header when no TLS carries it)."""

    client_certificate_subject: str | None = None


async def get_vihf(client: httpx.AsyncClient, **attributes: object) -> IssuedVihf:
    """A signed VIHF from the control API (``POST /sandbox/v1/dmps/vihf``: ``subject_name_id``, ``patient_ins``,
    ``patient_oid``, ``access_mode``, ``access_reason``, ``authentication_mode``, ...)."""
    response = await client.post("/sandbox/v1/dmps/vihf", json=attributes)
    assert response.status_code == 201, response.text
    issued = response.json()
    assertion = IssuedVihf(issued["assertion"])
    assertion.client_certificate_subject = issued.get("client_certificate_subject")
    return assertion
