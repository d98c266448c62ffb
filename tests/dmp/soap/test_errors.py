"""Domain errors as XDS.b failure responses (pure): IHE ITI TF-3 §4.2.4.1 RegistryError, ebRS 3.0 statuses, the
failure response of each transaction (TF-2a §3.18.4.1.3, TF-2b §3.41.4.2 / §3.43.4.2.3, TF-2c §3.57.4.1.3)."""

from __future__ import annotations

import pytest

from app.dmp.exceptions import XDS_UNKNOWN_PATIENT, DmpError, DmpErrors, Kind
from app.dmp.soap.errors import KIND_CODES, failure_response, registry_error, registry_error_list
from app.dmp.soap.namespaces import (
    ACTION_ITI18,
    ACTION_ITI41,
    ACTION_ITI43,
    ACTION_ITI57,
    NS_QUERY,
    NS_RIM,
    NS_RS,
    NS_XDSB,
    SEVERITY_ERROR,
    STATUS_FAILURE,
)

RS = f"{{{NS_RS}}}"


def _error(**overrides: object) -> DmpError:
    values: dict[str, object] = {"rule": "DMP:test", "french": "Refusé", **overrides}
    kind = values.pop("kind", Kind.INVALID)
    return DmpError(kind, "Refused", **values)  # type: ignore[arg-type]


def test_every_kind_has_an_ihe_code() -> None:
    assert set(KIND_CODES) == set(Kind)


def test_registry_error_carries_code_texts_location_and_severity() -> None:
    element = registry_error(_error(xds_code=XDS_UNKNOWN_PATIENT, element="$XDSDocumentEntryPatientId"))
    assert element.tag == RS + "RegistryError"
    assert element.get("errorCode") == "XDSUnknownPatientId"
    assert element.get("codeContext") == "Refusé — Refused [DMP:test]"  # French first, then English, then the rule
    assert element.get("location") == "$XDSDocumentEntryPatientId"
    assert element.get("severity") == SEVERITY_ERROR


@pytest.mark.parametrize("kind, code", [(Kind.FORBIDDEN, "XDSRegistryError"), (Kind.DUPLICATE,
                                         "XDSDuplicateUniqueIdInRegistry"),
                                        (Kind.PRECONDITION_FAILED, "XDSMetadataVersionError"),
                                        (Kind.REQUIRED, "XDSRegistryMetadataError")])
def test_code_from_the_kind_when_the_service_names_none(kind: Kind, code: str) -> None:
    assert registry_error(_error(kind=kind)).get("errorCode") == code


def test_explicit_location_and_entry_location() -> None:
    assert registry_error(_error(), location="Document01").get("location") == "Document01"
    assert registry_error(_error(entry=2)).get("location") == "entry[2]"
    assert registry_error(_error()).get("location") is None


def test_english_only_error_is_not_repeated() -> None:
    assert registry_error(_error(french=None)).get("codeContext") == "Refused [DMP:test]"


def test_several_refusals_one_error_each() -> None:
    errors = DmpErrors([_error(rule="A"), _error(kind=Kind.DUPLICATE, rule="B")])
    listed = registry_error_list([errors])
    assert [e.get("errorCode") for e in listed] == ["XDSRegistryMetadataError", "XDSDuplicateUniqueIdInRegistry"]


@pytest.mark.parametrize("action", [ACTION_ITI41, ACTION_ITI57, "urn:dmp:td:anything"])
def test_registry_response_failure(action: str) -> None:
    response = failure_response(action, _error())
    assert response.tag == RS + "RegistryResponse" and response.get("status") == STATUS_FAILURE
    assert response.find(f"{RS}RegistryErrorList/{RS}RegistryError") is not None


def test_adhoc_query_response_failure() -> None:
    response = failure_response(ACTION_ITI18, _error())
    assert response.tag == f"{{{NS_QUERY}}}AdhocQueryResponse" and response.get("status") == STATUS_FAILURE
    # ebRS 3.0 query.xsd: the RegistryErrorList (from RegistryResponseType) then the RegistryObjectList
    assert [child.tag for child in response] == [RS + "RegistryErrorList", f"{{{NS_RIM}}}RegistryObjectList"]


def test_retrieve_document_set_response_failure() -> None:
    response = failure_response(ACTION_ITI43, _error())
    assert response.tag == f"{{{NS_XDSB}}}RetrieveDocumentSetResponse"
    inner = response.find(RS + "RegistryResponse")
    assert inner is not None and inner.get("status") == STATUS_FAILURE
    assert inner.find(f"{RS}RegistryErrorList/{RS}RegistryError") is not None
