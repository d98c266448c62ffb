"""ITI-43 Retrieve Document Set (TD3.2): documents streamed as MTOM/XOP parts.

IHE ITI TF-2b §3.43.4.1 (the request: one or more ``xdsb:DocumentRequest``, each with ``RepositoryUniqueId``,
``DocumentUniqueId`` and, for XCA, ``HomeCommunityId``), §3.43.4.2 (the response: ``rs:RegistryResponse``
Success, PartialSuccess when some documents are returned, Failure when none, one ``rs:RegistryError`` per
document not returned — ``XDSDocumentUniqueIdError`` for an unknown document, ``XDSUnknownRepositoryId`` for
another repository, IHE ITI TF-3 Table 4.2.4.1-2 —, one ``xdsb:DocumentResponse`` per document returned, its
bytes an ``xop:Include`` to a MIME part, answered MTOM always, §3.43.5). Request shape: ehealthsuisse
``EPR-by-example`` ``samples/ITI-43_request.xml`` (commit e4fd5cf6: HomeCommunityId, RepositoryUniqueId,
DocumentUniqueId); HomeCommunityId is optional (``minOccurs=0`` in the XDS.b schema, CONNECT-Solution/CONNECT
``RetrieveDocumentSetRequestType.java``) and is echoed, not checked: it matters to XCA, not to an XDS repository.

The access is FHIR ITI-68's (:mod:`app.dmp.reading`): the caller's access on the VIHF's patient's DMP first
(refused: the whole request fails, traced), then each document's visibility — a masked document the caller may
not see, a deleted one, or one of another patient is answered as an unknown document (word for word, so
nothing tells it exists; MHD ITI-68 §3.68.4.2.3). A superseded document is returned: an XDS repository has no
status (the deprecation lives in the registry; docs/dmp.md). Each document read is traced ``ITI-43``. Bytes
stream from the store chunk by chunk (:func:`app.dmp.service.stream_binary`): memory stays flat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from lxml import etree

from app.dmp import rules, service
from app.dmp.exceptions import (
    XDS_DOCUMENT_UNIQUE_ID_ERROR,
    XDS_REGISTRY_ERROR,
    XDS_UNKNOWN_REPOSITORY,
    DmpError,
    Kind,
)
from app.dmp.models import DmpDocument, DmpRecord
from app.dmp.soap import namespaces as ns
from app.dmp.soap.call import OutPart, SoapCall, SoapReply
from app.dmp.soap.ebrim_out import xds_unique_id
from app.dmp.soap.errors import registry_error

XDSB = f"{{{ns.NS_XDSB}}}"


@dataclass(frozen=True)
class DocumentRequest:
    """One ``xdsb:DocumentRequest``."""

    repository_unique_id: str
    document_unique_id: str
    home_community_id: str | None


def _refused(english: str, french: str, *, code: str, rule: str, element: str | None = None) -> DmpError:
    return DmpError(Kind.INVALID, english, french=french, rule=rule, xds_code=code, element=element)


def parse_request(payload: etree._Element, *, limit: int) -> list[DocumentRequest]:
    """The document requests of a ``xdsb:RetrieveDocumentSetRequest``, each with its two required ids."""
    if payload.tag != XDSB + "RetrieveDocumentSetRequest":
        raise _refused(f"ITI-43 expects xdsb:RetrieveDocumentSetRequest, not {payload.tag}",
                       f"ITI-43 attend xdsb:RetrieveDocumentSetRequest, pas {payload.tag}", code=XDS_REGISTRY_ERROR,
                       rule="ITI-43:request")
    requests = []
    for n, element in enumerate(payload.findall(XDSB + "DocumentRequest")):
        values = {tag: (element.findtext(XDSB + tag) or "").strip()
                  for tag in ("RepositoryUniqueId", "DocumentUniqueId", "HomeCommunityId")}
        for tag in ("RepositoryUniqueId", "DocumentUniqueId"):
            if not values[tag]:
                raise _refused(f"DocumentRequest[{n}] has no {tag} (ITI TF-2b §3.43.4.1.2)",
                               f"DocumentRequest[{n}] n'a pas de {tag} (ITI TF-2b §3.43.4.1.2)",
                               code=XDS_REGISTRY_ERROR, rule="ITI-43:request", element=f"DocumentRequest[{n}]/{tag}")
        requests.append(DocumentRequest(values["RepositoryUniqueId"], values["DocumentUniqueId"],
                                        values["HomeCommunityId"] or None))
    if not requests:
        raise _refused("RetrieveDocumentSetRequest holds no DocumentRequest",
                       "RetrieveDocumentSetRequest ne contient aucun DocumentRequest", code=XDS_REGISTRY_ERROR,
                       rule="ITI-43:request")
    if len(requests) > limit:
        raise _refused(f"{len(requests)} DocumentRequest in one request; the DMP takes at most {limit}",
                       f"{len(requests)} DocumentRequest dans une requête ; le DMP en prend au plus {limit}",
                       code=XDS_REGISTRY_ERROR, rule="ITI-43:too-many")
    return requests


def unknown_document(unique_id: str) -> DmpError:
    """The answer for a document that does not exist, and for one the caller may not know exists."""
    return DmpError(Kind.NOT_FOUND, f"no document {unique_id} in this repository",
                    french=f"aucun document {unique_id} dans cet entrepôt", rule="ITI-43:unknown-document",
                    xds_code=XDS_DOCUMENT_UNIQUE_ID_ERROR)


def unknown_repository(repository: str, ours: str) -> DmpError:
    return DmpError(Kind.NOT_FOUND, f"RepositoryUniqueId {repository} is not this repository ({ours})",
                    french=f"RepositoryUniqueId {repository} n'est pas cet entrepôt ({ours})",
                    rule="ITI-43:unknown-repository", xds_code=XDS_UNKNOWN_REPOSITORY)


async def _find(call: SoapCall, record: DmpRecord, caller: rules.Caller, unique_id: str) -> DmpDocument | None:
    """The document ``unique_id`` (XDS bare OID, or as MHD writes it) of this DMP the caller sees, else None."""
    candidates = [unique_id] if unique_id.startswith("urn:") else [unique_id, f"urn:oid:{unique_id}"]
    for value in candidates:
        for doc in await service.find_by_identifier(call.session, value):
            if doc.dmp_id == record.id and doc.unique_id == value and doc.availability != "Deleted" and \
                    rules.is_visible(service.document_view(doc), caller):
                return doc
    return None


def _stream(call: SoapCall, binary_id: str, chunks: int) -> Callable[[], AsyncIterator[bytes]]:
    return lambda: service.stream_binary(call.sessionmaker, binary_id, chunks)


async def retrieve_document_set(call: SoapCall) -> SoapReply:
    """Check the access once, then answer each document request: its bytes as a part, or its error."""
    requests = parse_request(call.request.payload, limit=call.settings.dmp_max_page_size)
    ins = call.vihf.patient_ins
    if not ins:
        raise _refused("ITI-43: the VIHF names no patient (urn:oasis:names:tc:xacml:2.0:resource:resource-id)",
                       "ITI-43 : le VIHF ne désigne aucun patient (urn:oasis:names:tc:xacml:2.0:resource:resource-id)",
                       code=XDS_REGISTRY_ERROR, rule="DMPi:VIHF-patient")
    record, caller, _ = await service.authorise(call.session, ins=ins, ctx=call.ctx, action=rules.Action.CONSULT,
                                                transaction="ITI-43")
    ours = getattr(call.settings, "dmp_repository_unique_id", ns.DEFAULT_REPOSITORY_UNIQUE_ID)
    response = etree.Element(XDSB + "RetrieveDocumentSetResponse",
                             nsmap={"xdsb": ns.NS_XDSB, "rs": ns.NS_RS, "xop": ns.NS_XOP})
    registry_response = etree.SubElement(response, f"{{{ns.NS_RS}}}RegistryResponse")
    errors: list[etree._Element] = []
    parts: list[OutPart] = []
    for n, request in enumerate(requests):
        location = f"DocumentRequest[{n}]"
        if request.repository_unique_id != ours:
            errors.append(registry_error(unknown_repository(request.repository_unique_id, ours), location=location))
            continue
        doc = await _find(call, record, caller, request.document_unique_id)
        if doc is None:
            errors.append(registry_error(unknown_document(request.document_unique_id),
                                         location=request.document_unique_id))
            continue
        binary = await service.get_binary(call.session, doc.binary_id)
        if binary is None:  # a row without its bytes: the store's own fault, answered as a missing document
            errors.append(registry_error(unknown_document(request.document_unique_id),
                                         location=request.document_unique_id))
            continue
        content_id = f"doc{n}.{doc.id}@segur-sandbox"
        answer = etree.SubElement(response, XDSB + "DocumentResponse")
        if request.home_community_id:
            etree.SubElement(answer, XDSB + "HomeCommunityId").text = request.home_community_id
        etree.SubElement(answer, XDSB + "RepositoryUniqueId").text = ours
        etree.SubElement(answer, XDSB + "DocumentUniqueId").text = xds_unique_id(doc.unique_id)
        etree.SubElement(answer, XDSB + "mimeType").text = binary.content_type
        document = etree.SubElement(answer, XDSB + "Document")
        etree.SubElement(document, f"{{{ns.NS_XOP}}}Include", href=f"cid:{content_id}")
        parts.append(OutPart(content_id=content_id, content_type=binary.content_type,
                             data=_stream(call, binary.id, binary.chunks)))
        await service.trace(call.session, record=record, ctx=call.ctx, transaction="ITI-43", action="R",
                            documents_ids=[doc.id])
    if errors:
        error_list = etree.SubElement(registry_response, f"{{{ns.NS_RS}}}RegistryErrorList")
        error_list.extend(errors)
    registry_response.set("status", ns.STATUS_SUCCESS if not errors else ns.STATUS_PARTIAL if parts
                          else ns.STATUS_FAILURE)
    call.journal.update({"documents": len(parts), "errors": len(errors)})
    return SoapReply(action=ns.response_action(ns.ACTION_ITI43), payload=response, parts=parts, mtom=True)
