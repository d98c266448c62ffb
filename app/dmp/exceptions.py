"""The DMP's errors, in the domain's words: what went wrong, never how a protocol says it.

Every refusal of the DMP's service and rules is a :class:`DmpError`: its :class:`Kind` (invalid, not
found, forbidden, conflict, gone, ...), the rule that refused (``rule``, recorded in the journal), the
English text (logs, journal, traces) and the French one (the DMP documents both), the element concerned
(``element``, a FHIRPath-like location) and the IHE XDS error code where one exists (``xds_code``, IHE ITI
TF-3 Table 4.2.4.1-2, which both the FHIR face — MHD returns them in ``issue.details`` — and an XDS.b
face put in their answers). Several independent refusals of one request travel as one :class:`DmpErrors`.

Each face maps these to its protocol (:mod:`app.dmp.fhir.errors` for FHIR, :mod:`app.dmp.control` for the
control API's problem details); nothing here chooses an HTTP status.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum

# IHE ITI TF-3 Table 4.2.4.1-2 error codes the DMP answers with.
XDS_METADATA = "XDSRegistryMetadataError"
XDS_REPOSITORY_METADATA = "XDSRepositoryMetadataError"
XDS_DUPLICATE = "XDSDuplicateUniqueIdInRegistry"
XDS_UNKNOWN_PATIENT = "XDSUnknownPatientId"
XDS_PATIENT_MISMATCH = "XDSPatientIdDoesNotMatch"
XDS_MISSING_DOCUMENT = "XDSMissingDocument"
XDS_UNRESOLVED_REFERENCE = "UnresolvedReferenceException"
# ITI-18 / ITI-43 (IHE ITI TF-3 Table 4.2.4.1-2; IPF ``ErrorCode``, oehf/ipf commons/ihe/xds)
XDS_REGISTRY_ERROR = "XDSRegistryError"
XDS_UNKNOWN_STORED_QUERY = "XDSUnknownStoredQuery"
XDS_STORED_QUERY_MISSING_PARAM = "XDSStoredQueryMissingParam"
XDS_STORED_QUERY_PARAM_NUMBER = "XDSStoredQueryParamNumber"
XDS_TOO_MANY_RESULTS = "XDSTooManyResults"
XDS_DOCUMENT_UNIQUE_ID_ERROR = "XDSDocumentUniqueIdError"
XDS_UNKNOWN_REPOSITORY = "XDSUnknownRepositoryId"
XDS_MISSING_METADATA = "XDSMissingDocumentMetadata"  # a document's bytes without its DocumentEntry
XDS_NON_IDENTICAL_HASH = "XDSNonIdenticalHash"  # a uniqueId already registered for other bytes
XDS_METADATA_VERSION = "XDSMetadataVersionError"  # ITI-57: PreviousVersion is not the current version
XDS_METADATA_UPDATE = "XDSMetadataUpdateOperationError"  # ITI-57: an update the registry does not accept


class Kind(StrEnum):
    """What kind of refusal: the faces choose their status and code from it."""

    INVALID = "invalid"  # a malformed or refused value
    REQUIRED = "required"  # something required is missing
    FORBIDDEN = "forbidden"  # an access rule refuses this caller
    NOT_FOUND = "not-found"  # no such thing (or one the caller may not know exists)
    GONE = "gone"  # it was there and was deleted
    CONFLICT = "conflict"  # conflicts with what the store holds now
    DUPLICATE = "duplicate"  # an identifier already registered
    PRECONDITION_FAILED = "precondition-failed"  # the caller's version is not the current one
    UNPROCESSABLE = "unprocessable"  # well-formed but against a business rule
    UNKNOWN_CODE = "unknown-code"  # a code outside its value set
    INVALID_CHANGE = "invalid-change"  # a metadata change the document's model cannot take
    NOT_ALLOWED = "not-allowed"  # an operation the DMP does not allow on this element
    UNSUPPORTED = "unsupported"  # a format or media type the DMP does not take


# Which refusal speaks for a request refused for several reasons: a malformed submission must be fixed
# whatever else is wrong; then what cannot be processed, what is not allowed, what is unknown, and last a
# conflict, which only means something for an otherwise valid submission.
PRECEDENCE: tuple[frozenset[Kind], ...] = (
    frozenset({Kind.INVALID, Kind.REQUIRED}),
    frozenset({Kind.UNPROCESSABLE, Kind.UNKNOWN_CODE, Kind.INVALID_CHANGE}),
    frozenset({Kind.NOT_ALLOWED}),
    frozenset({Kind.NOT_FOUND}),
    frozenset({Kind.CONFLICT, Kind.DUPLICATE}),
)


def rank(kind: Kind) -> int:
    return next((i for i, kinds in enumerate(PRECEDENCE) if kind in kinds), len(PRECEDENCE))


class DmpError(Exception):
    """One refusal of the DMP."""

    def __init__(self, kind: Kind, english: str, *, rule: str, french: str | None = None,
                 element: str | Sequence[str] | None = None, xds_code: str | None = None,
                 entry: int | None = None) -> None:
        super().__init__(english)
        self.kind, self.english, self.french, self.rule, self.xds_code = kind, english, french, rule, xds_code
        self.elements = [element] if isinstance(element, str) else list(element or [])
        self.entry = entry
        """The entry of a submission the refusal is about, when it is about one: that entry is invalid."""

    @property
    def errors(self) -> list[DmpError]:
        """The independent refusals this error stands for (itself, here)."""
        return [self]

    def __repr__(self) -> str:
        return f"DmpError({self.kind.value}, {self.rule!r}, {self.english!r})"


class DmpErrors(DmpError):
    """Several independent refusals of one request; it speaks as the first of the most important one
    (:data:`PRECEDENCE`)."""

    def __init__(self, errors: Sequence[DmpError]) -> None:
        flat = [error for group in errors for error in group.errors]
        if not flat:
            raise ValueError("DmpErrors needs at least one error")
        primary = min(flat, key=lambda e: rank(e.kind))  # min keeps the first of equals
        super().__init__(primary.kind, primary.english, rule=primary.rule, french=primary.french,
                         element=primary.elements, xds_code=primary.xds_code, entry=primary.entry)
        self.primary, self._errors = primary, flat

    @property
    def errors(self) -> list[DmpError]:
        return list(self._errors)


class Refusals:
    """Collects the independent refusals of one request, to answer them all at once: ``with
    refusals.check(): ...`` keeps the :class:`DmpError` of one check; :meth:`raise_any` raises them."""

    def __init__(self) -> None:
        self.errors: list[DmpError] = []

    def __bool__(self) -> bool:
        return bool(self.errors)

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except DmpError as error:
            self.errors.extend(error.errors)

    def raise_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise DmpErrors(self.errors)
