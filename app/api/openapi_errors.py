"""What ``/openapi.json`` says about errors: declared once per protocol and attached to every route by its path
(the prefixes :func:`app.api.errors.render_generic` uses), so vendors read the status codes, media type and body
shape each route may refuse with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from app.api.errors import FHIR_JSON, FHIR_PREFIXES, OAUTH_PREFIXES, PROBLEM_JSON, SOAP_PREFIXES, SOAP_XML

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `rule` names the sandbox rule that refused the request.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"}, "request_id": {"type": "string"},
        "rule": {"type": "string"},
    },
}
OPERATION_OUTCOME_SCHEMA: dict[str, Any] = {
    "title": "OperationOutcome",
    "description": "FHIR R4 OperationOutcome; `issue.details.coding` carries the IHE XDS code and the sandbox rule.",
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object", "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string", "enum": ["fatal", "error", "warning", "information"]},
                    "code": {"type": "string"}, "diagnostics": {"type": "string"},
                    "details": {"type": "object"}, "expression": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "title": "OAuthError",
    "description": "RFC 6749 §5.2 error response.",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
ERROR_SCHEMAS = {
    "Problem": PROBLEM_SCHEMA, "OperationOutcome": OPERATION_OUTCOME_SCHEMA, "OAuthError": OAUTH_ERROR_SCHEMA,
}

_GENERIC_DESCRIPTIONS = {
    400: "malformed request (unreadable body, nesting too deep) or a refused value",
    401: "missing or refused credentials",
    403: "refused for this caller",
    404: "unknown resource",
    409: "conflicts with what the store holds",
    413: "request body larger than SEGUR_MAX_BODY_BYTES (rule platform:max-body-bytes)",
    422: "request fails validation (rule platform:request-validation names each field)",
}


def error_content_for(path: str, renderers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``content`` of an error response on ``path``, in the shape :func:`render_generic` answers."""
    for prefix, renderer in (renderers or {}).items():
        if path.startswith(prefix):
            # A renderer may say what it answers on a path (``documented_content(path)``, ``None``: the platform's
            # problem JSON, e.g. the patient API under the patient pages' HTML renderer); else it is a SOAP face's.
            documented = getattr(renderer, "documented_content", None)
            content = documented(path) if documented is not None else {SOAP_XML: {}}
            if content is not None:
                return content
            break
    if path.startswith(SOAP_PREFIXES):
        return {SOAP_XML: {}}
    if path.startswith(FHIR_PREFIXES):
        return {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}}
    if path.startswith(OAUTH_PREFIXES):
        return {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}}}
    return {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def error_responses(path: str, *statuses: int, renderers: Mapping[str, Any] | None = None) -> dict[int | str, Any]:
    """``responses=`` for a route on ``path``: each status with the protocol's error body."""
    content = error_content_for(path, renderers)
    return {status: {"description": _GENERIC_DESCRIPTIONS.get(status, "refused"), "content": content}
            for status in statuses}


# The refusals every operation with input of a protocol face may answer, beyond the platform's own:
# FHIR searches refuse unknown or malformed parameters (400), the DMP and the Annuaire refuse a missing
# PSC token or API key (401) and the DMP an access rule (403); an OAuth endpoint answers RFC 6749 §5.2
# errors (400, and 401 invalid_client).
FACE_STATUSES: Mapping[str, tuple[int, ...]] = {
    "/dmp/fhir": (400, 401, 403),
    "/fhir/": (400, 401),
    "/auth": (400, 401),
}


def _generic_statuses(path: str, method: str, operation: Mapping[str, Any], *, control: bool) -> list[int]:
    """What the platform (or the protocol face) may answer on an operation, whatever its endpoint does."""
    statuses = []
    takes_body = method in ("post", "put", "patch")
    parameters = operation.get("parameters", ())
    if takes_body:
        statuses += [400, 413]  # unreadable or too deep a body; SEGUR_MAX_BODY_BYTES
    if takes_body or parameters or control or "422" in operation.get("responses", {}):
        statuses.append(422)  # on the control API, also a NUL anywhere in the request (platform:nul-character)
    if any(parameter.get("in") == "path" for parameter in parameters):
        statuses.append(404)
    if control:
        statuses.append(401)  # SEGUR_CONTROL_TOKEN
    for prefix, face in FACE_STATUSES.items():
        # FHIR searches read their parameters themselves (so they are not listed); the CapabilityStatement
        # refuses nothing.
        if path.startswith(prefix) and not path.endswith("/metadata") and (takes_body or parameters
                                                                            or path.startswith(FHIR_PREFIXES)):
            statuses += face
    return statuses


def declare_error_responses(
    document: dict[str, Any], *, renderers: Mapping[str, Any] | None = None, control_prefix: str = "/sandbox/",
) -> dict[str, Any]:
    """Give every operation of an OpenAPI ``document`` the error responses of its protocol: the platform's
    own (400, 413, 422, and 401 on the control API) and, in the protocol's shape, every error status an
    operation declares without a body of its own (FastAPI's ``HTTPValidationError`` is never answered)."""
    for path, operations in document.get("paths", {}).items():
        content = error_content_for(path, renderers)
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            validation = responses.get("422", {}).get("content", {}).get("application/json", {})
            if validation.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
            if path.startswith(FHIR_PREFIXES):
                _fhir_media_types(responses, xml=not path.startswith("/fhir/"))  # the Annuaire answers JSON only
            for status in _generic_statuses(path, method, operation, control=path.startswith(control_prefix)):
                responses.setdefault(str(status), {"description": _GENERIC_DESCRIPTIONS[status]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400 and "content" not in response:
                    response["content"] = content
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(ERROR_SCHEMAS)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _fhir_media_types(responses: dict[str, Any], *, xml: bool) -> None:
    """A FHIR answer is ``application/fhir+json`` (or ``+xml`` with ``_format``/``Accept``), not the
    ``application/json`` FastAPI assumes for a route that builds its own response."""
    for status, response in responses.items():
        content = response.get("content", {})
        if status.startswith("2") and set(content) == {"application/json"}:
            schema = content.pop("application/json")
            content[FHIR_JSON] = schema
            if xml:
                content["application/fhir+xml"] = {"schema": {"type": "string"}}


def install_error_responses(app: FastAPI) -> None:
    """Let ``/openapi.json`` declare the error responses :func:`declare_error_responses` adds."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_error_responses(
                generate(), renderers=getattr(app.state, "error_renderers", {}),
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
