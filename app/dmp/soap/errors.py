"""The SOAP face's error mapper: a :class:`~app.dmp.exceptions.DmpError` as the transaction's own failure response.

XDS.b answers a refused transaction with HTTP 200 and a failed response, never a SOAP fault (IHE ITI TF-3
§4.2.4, ebRS 3.0 §2.1.6): ITI-41 and ITI-57 a ``rs:RegistryResponse status=Failure`` (TF-2b §3.41.4.2,
TF-2c §3.57.4.1.3), ITI-18 a ``query:AdhocQueryResponse status=Failure`` (TF-2a §3.18.4.1.3), ITI-43 an
``xdsb:RetrieveDocumentSetResponse`` holding a failed ``rs:RegistryResponse`` (TF-2b §3.43.4.2.3). Each
independent refusal is one ``rs:RegistryError`` (TF-3 §4.2.4.1): ``errorCode`` the IHE code (``xds_code``, else
the generic one of the refusal's :class:`~app.dmp.exceptions.Kind`, :data:`KIND_CODES`), ``codeContext`` the
French text then the English (the DMP documents both), ``location`` the element or entry concerned,
``severity`` Error.
"""

from __future__ import annotations

from lxml import etree

from app.dmp.exceptions import DmpError, Kind
from app.dmp.soap.namespaces import (
    ACTION_ITI18,
    ACTION_ITI43,
    NS_QUERY,
    NS_RIM,
    NS_RS,
    NS_XDSB,
    SEVERITY_ERROR,
    STATUS_FAILURE,
)

# IHE ITI TF-3 Table 4.2.4.1-2, the code that fits each kind of refusal when the service names none. No
# public DMPi client in the corpus searched (DRIMBox com.bcom.drimbox, reference/dmp.md's clients) shows the
# DMP's own codes for access refusals, so they take the generic XDSRegistryError with the DMP's rule and text in
# codeContext; a refusal that knows its IHE code (unknown patient, duplicate, hash...) carries it as xds_code.
KIND_CODES: dict[Kind, str] = {
    Kind.INVALID: "XDSRegistryMetadataError",
    Kind.REQUIRED: "XDSRegistryMetadataError",
    Kind.UNKNOWN_CODE: "XDSRegistryMetadataError",
    Kind.UNPROCESSABLE: "XDSRegistryMetadataError",
    Kind.UNSUPPORTED: "XDSRegistryMetadataError",
    Kind.INVALID_CHANGE: "XDSMetadataUpdateError",  # ITI-57: the update cannot be applied (TF-2c §3.57.4.1.3)
    Kind.PRECONDITION_FAILED: "XDSMetadataVersionError",  # ITI-57: not the current version (TF-2c §3.57.4.1.3)
    Kind.NOT_ALLOWED: "XDSMetadataUpdateError",
    Kind.DUPLICATE: "XDSDuplicateUniqueIdInRegistry",
    Kind.CONFLICT: "XDSRegistryError",
    Kind.NOT_FOUND: "XDSRegistryError",
    Kind.GONE: "XDSRegistryError",
    Kind.FORBIDDEN: "XDSRegistryError",
}


def error_code(error: DmpError) -> str:
    return error.xds_code or KIND_CODES.get(error.kind, "XDSRegistryError")


def code_context(error: DmpError) -> str:
    """The French text then the English, separated as the FHIR face separates them, and the rule."""
    french = error.french or error.english
    text = french if french == error.english else f"{french} — {error.english}"
    return f"{text} [{error.rule}]"


def registry_error(error: DmpError, *, location: str | None = None) -> etree._Element:
    """One ``rs:RegistryError`` (ebRS 3.0 §2.1.6, TF-3 §4.2.4.1)."""
    where = location
    if where is None and error.elements:
        where = ", ".join(error.elements)
    if where is None and error.entry is not None:
        where = f"entry[{error.entry}]"
    element = etree.Element(f"{{{NS_RS}}}RegistryError", nsmap={"rs": NS_RS})
    element.set("errorCode", error_code(error))
    element.set("codeContext", code_context(error))
    element.set("severity", SEVERITY_ERROR)
    if where:
        element.set("location", where)
    return element


def registry_error_list(errors: list[DmpError]) -> etree._Element:
    """A ``rs:RegistryErrorList`` with one error per independent refusal (a ``DmpErrors`` is flattened)."""
    element = etree.Element(f"{{{NS_RS}}}RegistryErrorList", nsmap={"rs": NS_RS})
    for error in errors:
        for one in error.errors:
            element.append(registry_error(one))
    return element


def registry_response(error: DmpError) -> etree._Element:
    """``rs:RegistryResponse status=Failure`` with every refusal of ``error``."""
    response = etree.Element(f"{{{NS_RS}}}RegistryResponse", nsmap={"rs": NS_RS})
    response.set("status", STATUS_FAILURE)
    response.append(registry_error_list([error]))
    return response


def failure_response(action: str, error: DmpError) -> etree._Element:
    """The failure response of the transaction ``action`` (its request action) for ``error``."""
    if action == ACTION_ITI18:
        response = etree.Element(f"{{{NS_QUERY}}}AdhocQueryResponse",
                                 nsmap={"query": NS_QUERY, "rs": NS_RS, "rim": NS_RIM})
        response.set("status", STATUS_FAILURE)
        response.append(registry_error_list([error]))
        etree.SubElement(response, f"{{{NS_RIM}}}RegistryObjectList")  # required by query.xsd, empty on failure
        return response
    if action == ACTION_ITI43:
        response = etree.Element(f"{{{NS_XDSB}}}RetrieveDocumentSetResponse", nsmap={"xdsb": NS_XDSB, "rs": NS_RS})
        response.append(registry_response(error))
        return response
    return registry_response(error)  # ITI-41, ITI-57 (the TD services answer HL7 V3: td.refused_reply)
