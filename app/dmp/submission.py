"""What a submission files, whichever face it came through (FHIR ITI-65 / ITI-105, later XDS.b ITI-41).

A face reads its protocol into a :class:`Submission` (the submission set, its :class:`DocumentIn`, the
metadata patches of replaced documents); :mod:`app.dmp.feeding` files it. No I/O.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.dmp.exceptions import DmpError
from app.dmp.models import DmpDocument, DmpSubmissionSet
from app.dmp.patch import MetadataState, apply_patch

# The stored resources keep their FHIR shape (IHE MHD 4.2.3): the vocabulary a submission set is written in.
MHD_LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
EXT_DESIGNATION_TYPE = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType"
EXT_SOURCE_ID = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId"
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"  # identifiant national PS (8 + RPPS), ANS


def _column_lengths(table: Any) -> dict[str, int]:
    return {name: column.type.length for name, column in table.c.items()
            if isinstance(getattr(column.type, "length", None), int)}


DOCUMENT_LENGTHS = _column_lengths(DmpDocument.__table__)
SUBMISSION_LENGTHS = _column_lengths(DmpSubmissionSet.__table__)

# FHIR R4 string: "Strings SHALL NOT contain Unicode character points below 32, except for u0009 (horizontal
# tab), u0010 (carriage return) and u0013 (line feed)" (https://hl7.org/fhir/R4/datatypes.html#string); the
# stored resources are FHIR, whichever face filed them (PostgreSQL text cannot hold U+0000, SQLite keeps it).
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def storable_problem(value: str | None, limit: int | None) -> tuple[str, str, str] | None:
    """Why the store cannot hold ``value`` (a column of ``limit`` characters; None for text), as
    ``(kind, english, french)`` with kind ``length`` or ``control``; None when it can. Each face words it."""
    if value is None:
        return None
    if limit is not None and len(value) > limit:
        return ("length", f"is {len(value)} characters long; the DMP stores at most {limit}",
                f"fait {len(value)} caractères ; le DMP en conserve au plus {limit}")
    control = _CONTROL_CHARACTER.search(value)
    if control is not None:
        return ("control", f"holds the control character U+{ord(control.group()):04X}, which a FHIR string may "
                "not contain", f"contient le caractère de contrôle U+{ord(control.group()):04X}, interdit dans une "
                "chaîne FHIR (string)")
    return None


def sha1_b64(data: bytes) -> str:
    """The XDS hash of a document: SHA-1, here in base64 as FHIR's ``attachment.hash`` carries it."""
    return base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")  # noqa: S324 - XDS hash is SHA-1


@dataclass(frozen=True)
class PatientId:
    oid: str
    ins: str

    @property
    def token(self) -> str:
        return f"urn:oid:{self.oid}|{self.ins}"


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str | None = None

    def as_coding(self) -> dict[str, str]:
        coding = {"system": self.system, "code": self.code}
        if self.display:
            coding["display"] = self.display
        return coding


@dataclass
class DocumentIn:
    """One DocumentReference to file, checked against the PDSm comprehensive (ITI-65) or simplified-publish
    (ITI-105) profile; ``resource`` is what is stored (for ITI-105, with what the server filled)."""

    entry_index: int
    full_url: str
    unique_id: str
    patient: PatientId
    type: Code
    category: Code
    format: Code
    facility_type: Code
    practice_setting: Code
    labels: list[tuple[str, str, str]]
    title: str
    content_type: str
    language: str | None
    size: int
    hash_b64: str
    creation: datetime | None
    date: datetime
    period_start: datetime
    period_end: datetime | None
    author_rpps: str | None
    author_given: list[str]
    author_family: list[str]
    events: list[Code]
    related: list[tuple[str | None, str]]
    replaces: str | None  # logical id of the replaced DocumentReference
    is_archived: bool
    data: bytes
    resource: dict[str, Any]  # the DocumentReference as sent, urn:uuid references left as they were
    entry_uuid: str | None = None  # the client's entryUUID (XDS.b), kept as the id; None: the server assigns one


@dataclass
class PatchIn:
    entry_index: int
    target_id: str
    kind: str  # "fhirpath" | "json-patch"
    body: Any

    def apply(self, state: MetadataState, *, lenient: bool = False) -> MetadataState:
        """The replaced document's metadata after this patch; a refusal names the entry."""
        try:
            return apply_patch(state, self.kind, self.body, lenient=lenient)
        except DmpError as exc:
            raise DmpError(exc.kind, f"entry[{self.entry_index}] PATCH: {exc.english}", rule=exc.rule,
                           french=f"entry[{self.entry_index}] PATCH refusé : {exc.english}",
                           element=f"Bundle.entry[{self.entry_index}]", entry=self.entry_index) from None


@dataclass
class Submission:
    patient: PatientId
    unique_id: str | None
    source_id: str
    designation_type: Code
    submission_time: datetime
    title: str | None
    submission_set: dict[str, Any]
    documents: list[DocumentIn] = field(default_factory=list)
    patches: list[PatchIn] = field(default_factory=list)
    entry_kinds: list[tuple[str, int]] = field(default_factory=list)  # per request entry: (kind, index)
    # Binary fullUrl, and each attachment.url as written (Binary/<id> relative to a RESTful fullUrl...) -> entry index
    binary_entries: dict[str, int] = field(default_factory=dict)
    entry_uuid: str | None = None  # the client's SubmissionSet entryUUID (XDS.b); None: the server assigns one
