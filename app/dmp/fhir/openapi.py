"""What ``/openapi.json`` says the FHIR face answers: the FHIR resources by their shape (declared schemas,
so no answer is serialised through a response model: the hot paths render FHIR JSON themselves)."""

from __future__ import annotations

from typing import Any

from app.api.openapi_errors import error_responses

PREFIX = "/dmp/fhir"


def _resource(name: str, description: str, **properties: Any) -> dict[str, Any]:
    return {"title": name, "description": description, "type": "object", "required": ["resourceType"],
            "properties": {"resourceType": {"type": "string", "enum": [name]}, "id": {"type": "string"},
                           **properties}, "additionalProperties": True}


BUNDLE = _resource("Bundle", "FHIR R4 Bundle (searchset, or the transaction-response of ITI-65).",
                   type={"type": "string"}, total={"type": "integer"},
                   link={"type": "array", "items": {"type": "object"}},
                   entry={"type": "array", "items": {"type": "object"}})
DOCUMENT_REFERENCE = _resource("DocumentReference", "PDSm comprehensive DocumentReference (FHIR R4).",
                               status={"type": "string"}, meta={"type": "object"})
LIST = _resource("List", "PDSm SubmissionSet (FHIR R4 List).")
PATIENT = _resource("Patient", "TD02 Patient: the DMP's state and the caller's authorisation.")
CAPABILITY_STATEMENT = _resource("CapabilityStatement", "The server's CapabilityStatement.")
BINARY = _resource("Binary", "FHIR R4 Binary (the document in base64).")


def answers(resource: dict[str, Any], description: str, *errors: int, status: int = 200) -> dict[int | str, Any]:
    """``responses=`` of a FHIR route: the resource, and the refusals it may answer. Declared under
    ``application/json`` as FastAPI does; the platform renames it ``application/fhir+json`` and adds
    ``application/fhir+xml`` on every FHIR route (:func:`app.api.openapi_errors.declare_error_responses`)."""
    return {status: {"description": description, "content": {"application/json": {"schema": resource}}},
            **error_responses(PREFIX, *errors)}
