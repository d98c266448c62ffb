"""The FHIR face's error mapper: a :class:`~app.dmp.exceptions.DmpError` as a FHIR ``OperationOutcome``.

Each kind of refusal has its HTTP status and issue code (FHIR R4 ValueSet issue-type); the rule, the IHE
XDS code (``issue.details``), the element (``expression``) and both texts (``"<français> — <English>"``)
travel as they are. Several refusals are one OperationOutcome with one issue each, answered with the status
of the most important (:data:`app.api.errors.STATUS_PRECEDENCE`). A refusal about one entry of a submission
says that entry is invalid (``invalid``), whatever its status.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from app.api.errors import FhirError, FhirErrors, fhir_response
from app.api.journal import note_refusal
from app.dmp.exceptions import DmpError, Kind

# kind -> (HTTP status, OperationOutcome.issue.code)
FHIR_SHAPES: dict[Kind, tuple[int, str]] = {
    Kind.INVALID: (400, "invalid"),
    Kind.REQUIRED: (400, "required"),
    Kind.FORBIDDEN: (403, "forbidden"),
    Kind.NOT_FOUND: (404, "not-found"),
    Kind.NOT_ALLOWED: (405, "not-supported"),
    Kind.CONFLICT: (409, "conflict"),
    Kind.DUPLICATE: (409, "duplicate"),
    Kind.GONE: (410, "deleted"),
    Kind.PRECONDITION_FAILED: (412, "conflict"),
    Kind.UNSUPPORTED: (415, "not-supported"),
    Kind.UNPROCESSABLE: (422, "business-rule"),
    Kind.UNKNOWN_CODE: (422, "code-invalid"),
    Kind.INVALID_CHANGE: (422, "invalid"),
}


def http_status(kind: Kind) -> int:
    return FHIR_SHAPES[kind][0]


def to_fhir(error: DmpError) -> FhirError:
    """The FHIR error of a domain error (one issue per independent refusal)."""
    issues = [_one(e) for e in error.errors]
    return issues[0] if len(issues) == 1 else FhirErrors(issues)


def _one(error: DmpError) -> FhirError:
    status, code = FHIR_SHAPES[error.kind]
    if error.entry is not None:
        code = "invalid"
    return FhirError(status, code, error.english, rule=error.rule, expression=error.elements,
                     details_code=error.xds_code, french=error.french)


async def dmp_error_response(request: Request, exc: DmpError) -> Response:
    """The handler of a domain error raised under ``/dmp/fhir``: rendered as FHIR's handler renders."""
    fhir = to_fhir(exc)
    note_refusal(request, rule=fhir.rule, detail=fhir.diagnostics, status=fhir.status)
    body = {"resourceType": "OperationOutcome", "issue": [issue.issue() for issue in fhir.issues]}
    return fhir_response(fhir.status, body, fhir.headers)
