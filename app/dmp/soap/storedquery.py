"""A ``query:AdhocQueryRequest`` (ITI-18 Registry Stored Query) read into a typed :class:`StoredQuery`. No I/O.

Sources: IHE ITI TF-2a §3.18.4.1.2.3 (the request: ``ResponseOption returnType`` ObjectRef / LeafClass,
``rim:AdhocQuery id`` naming a stored query, its parameters as ``rim:Slot``), §3.18.4.1.2.3.5 (the value
syntax: a string in single quotes with ``''`` for a quote, a number bare, a list in parentheses
``('a','b')``, a multi-valued parameter spread over several ``rim:Value`` too; several Slots of the same name
only for the coded parameters that take AND/OR semantics, §3.18.4.1.2.3.6: the slots are ANDed, the values
of one slot ORed), §3.18.4.1.2.3.7 (each query's required and optional parameters, the pairs of which
exactly one must be given), §3.18.4.1.3 (errors). Coded values are ``code^^scheme`` (NIST Gazelle's ITI-18
test "$XDSDocumentEntryClassCode = [code]^^[scheme]"; the ``code^^^&oid&ISO`` and ``code^display^scheme``
forms clients also send are read too). Errors (IHE ITI TF-3 Table 4.2.4.1-2, IPF ``ErrorCode``):
``XDSUnknownStoredQuery``, ``XDSStoredQueryMissingParam`` (a required parameter missing),
``XDSStoredQueryParamNumber`` (several values for a single-valued parameter, a repeated slot that may not
repeat, both of an exclusive pair), ``XDSRegistryError`` (a malformed value or request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from app.dmp.exceptions import (
    XDS_REGISTRY_ERROR,
    XDS_STORED_QUERY_MISSING_PARAM,
    XDS_STORED_QUERY_PARAM_NUMBER,
    XDS_UNKNOWN_STORED_QUERY,
    DmpError,
    Kind,
)
from app.dmp.soap import namespaces as ns

Scalar = str | int

# --- the stored queries and their parameters (ITI TF-2a §3.18.4.1.2.3.7) ---------------------------------

_DOC_TIMES = ("$XDSDocumentEntryCreationTimeFrom", "$XDSDocumentEntryCreationTimeTo",
              "$XDSDocumentEntryServiceStartTimeFrom", "$XDSDocumentEntryServiceStartTimeTo",
              "$XDSDocumentEntryServiceStopTimeFrom", "$XDSDocumentEntryServiceStopTimeTo")
_FIND_DOCUMENTS_OPTIONAL = (
    "$XDSDocumentEntryClassCode", "$XDSDocumentEntryTypeCode", "$XDSDocumentEntryPracticeSettingCode",
    *_DOC_TIMES, "$XDSDocumentEntryHealthcareFacilityTypeCode", "$XDSDocumentEntryEventCodeList",
    "$XDSDocumentEntryConfidentialityCode", "$XDSDocumentEntryAuthorPerson", "$XDSDocumentEntryFormatCode",
    "$XDSDocumentEntryType",
)
AND_OR = frozenset({"$XDSDocumentEntryEventCodeList", "$XDSDocumentEntryConfidentialityCode"})
"""The parameters whose Slot may repeat (ITI TF-2a §3.18.4.1.2.3.6): slots ANDed, values ORed."""
SINGLE = frozenset({"$XDSDocumentEntryPatientId", "$XDSSubmissionSetPatientId", "$homeCommunityId", *_DOC_TIMES,
                    "$XDSSubmissionSetSubmissionTimeFrom", "$XDSSubmissionSetSubmissionTimeTo",
                    "$XDSSubmissionSetAuthorPerson", "$XDSSubmissionSetEntryUUID", "$XDSSubmissionSetUniqueId"})
"""Single-valued parameters (ITI TF-2a §3.18.4.1.2.3.7 tables, "M" column: No)."""
_ID_PAIR = ("$XDSDocumentEntryEntryUUID", "$XDSDocumentEntryUniqueId")


@dataclass(frozen=True)
class QuerySpec:
    """One stored query: its name, required parameters, optional ones, the pairs of which exactly one is
    required."""

    name: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    one_of: tuple[tuple[str, str], ...] = ()


QUERIES: dict[str, QuerySpec] = {
    ns.QUERY_FIND_DOCUMENTS: QuerySpec("FindDocuments", ("$XDSDocumentEntryPatientId", "$XDSDocumentEntryStatus"),
                                       _FIND_DOCUMENTS_OPTIONAL),
    ns.QUERY_FIND_DOCUMENTS_BY_REFERENCE_ID: QuerySpec(
        "FindDocumentsByReferenceId",
        ("$XDSDocumentEntryPatientId", "$XDSDocumentEntryStatus", "$XDSDocumentEntryReferenceIdList"),
        _FIND_DOCUMENTS_OPTIONAL),
    ns.QUERY_FIND_SUBMISSION_SETS: QuerySpec(
        "FindSubmissionSets", ("$XDSSubmissionSetPatientId", "$XDSSubmissionSetStatus"),
        ("$XDSSubmissionSetSourceId", "$XDSSubmissionSetSubmissionTimeFrom", "$XDSSubmissionSetSubmissionTimeTo",
         "$XDSSubmissionSetAuthorPerson", "$XDSSubmissionSetContentType")),
    ns.QUERY_GET_DOCUMENTS: QuerySpec("GetDocuments", (), ("$homeCommunityId",), (_ID_PAIR,)),
    ns.QUERY_GET_DOCUMENTS_AND_ASSOCIATIONS: QuerySpec("GetDocumentsAndAssociations", (), ("$homeCommunityId",),
                                                       (_ID_PAIR,)),
    ns.QUERY_GET_ASSOCIATIONS: QuerySpec("GetAssociations", ("$uuid",), ("$homeCommunityId",)),
    ns.QUERY_GET_SUBMISSION_SETS: QuerySpec("GetSubmissionSets", ("$uuid",), ("$homeCommunityId",)),
    ns.QUERY_GET_SUBMISSION_SET_AND_CONTENTS: QuerySpec(
        "GetSubmissionSetAndContents", (),
        ("$XDSDocumentEntryFormatCode", "$XDSDocumentEntryConfidentialityCode", "$XDSDocumentEntryType",
         "$homeCommunityId"), (("$XDSSubmissionSetEntryUUID", "$XDSSubmissionSetUniqueId"),)),
    ns.QUERY_GET_RELATED_DOCUMENTS: QuerySpec("GetRelatedDocuments", ("$AssociationTypes",),
                                              ("$XDSDocumentEntryType", "$homeCommunityId"), (_ID_PAIR,)),
}
NOT_SIMULATED = {ns.QUERY_FIND_FOLDERS: "FindFolders", ns.QUERY_GET_ALL: "GetAll", ns.QUERY_GET_FOLDERS: "GetFolders",
                 ns.QUERY_GET_FOLDER_AND_CONTENTS: "GetFolderAndContents",
                 ns.QUERY_GET_FOLDERS_FOR_DOCUMENT: "GetFoldersForDocument"}
"""Stored queries of ITI-18 on folders (and GetAll): the DMP keeps no folders (reference/dmp.md §1.1 lists
FindDocuments, FindSubmissionSets, GetAssociations, GetDocumentsAndAssociations, GetDocuments for TD3.1)."""


# --- errors ---------------------------------------------------------------------------------------------

def query_error(code: str, english: str, french: str, *, rule: str, kind: Kind = Kind.INVALID,
                element: str | None = None) -> DmpError:
    return DmpError(kind, english, french=french, rule=rule, xds_code=code, element=element)


def _malformed(name: str, text: str, why: str) -> DmpError:
    return query_error(XDS_REGISTRY_ERROR, f"{name}: value {text!r} is malformed ({why}); ITI TF-2a §3.18.4.1.2.3.5: "
                       "strings in single quotes, numbers bare, lists as ('a','b')",
                       f"{name} : valeur {text!r} mal formée ({why}) ; ITI TF-2a §3.18.4.1.2.3.5 : chaînes entre "
                       "apostrophes, nombres sans, listes sous la forme ('a','b')",
                       rule="ITI-18:value-syntax", element=name)


# --- the value syntax (ITI TF-2a §3.18.4.1.2.3.5) -------------------------------------------------------

_NUMBER = re.compile(r"-?[0-9]+")
_AFTER_NUMBER = ",) \t\r\n"


def parse_value(text: str, *, name: str = "Value") -> list[Scalar]:
    """One ``rim:Value``: ``'a'``, ``123``, or a list ``('a', 'b', 3)``. ``''`` inside quotes is one quote."""
    source = text.strip()
    if not source:
        raise _malformed(name, text, "empty")
    if source.startswith("("):
        if not source.endswith(")"):
            raise _malformed(name, text, "a list opened with '(' is not closed")
        items, pos = [], 1
        inner_end = len(source) - 1
        while True:
            pos = _skip_spaces(source, pos)
            item, pos = _scalar(source, pos, name, text)
            items.append(item)
            pos = _skip_spaces(source, pos)
            if pos == inner_end:
                return items
            if source[pos] != ",":
                raise _malformed(name, text, f"',' or ')' expected at {pos}")
            pos += 1
    item, pos = _scalar(source, 0, name, text)
    if pos != len(source):
        raise _malformed(name, text, "text after the value; use ('a','b') for several values")
    return [item]


def _skip_spaces(source: str, pos: int) -> int:
    while pos < len(source) and source[pos] in " \t\r\n":
        pos += 1
    return pos


def _scalar(source: str, pos: int, name: str, text: str) -> tuple[Scalar, int]:
    if pos < len(source) and source[pos] == "'":
        chars, pos = [], pos + 1
        while pos < len(source):
            if source[pos] == "'":
                if pos + 1 < len(source) and source[pos + 1] == "'":
                    chars.append("'")
                    pos += 2
                    continue
                return "".join(chars), pos + 1
            chars.append(source[pos])
            pos += 1
        raise _malformed(name, text, "a quoted string is not closed")
    match = _NUMBER.match(source, pos)
    if match is None or (match.end() < len(source) and source[match.end()] not in _AFTER_NUMBER):
        raise _malformed(name, text, "a string must be in single quotes")
    return int(match.group()), match.end()


# --- coded values, patient ids, times -------------------------------------------------------------------

@dataclass(frozen=True)
class CodeValue:
    """A coded parameter value: the code and its codingScheme (None when the client gave none)."""

    code: str
    scheme: str | None


def parse_code(value: Scalar, *, name: str) -> CodeValue:
    """``code^^scheme`` (ITI TF-2a), ``code^display^scheme``, ``code^^^&oid&ISO`` or a bare ``code``."""
    text = str(value)
    parts = text.split("^")
    code = parts[0]
    if not code:
        raise _malformed(name, text, "no code before '^'")
    scheme = next((p for p in reversed(parts[2:]) if p), None)
    if scheme and scheme.startswith("&"):
        scheme = scheme.split("&")[1] or None
    return CodeValue(code, scheme)


@dataclass(frozen=True)
class PatientValue:
    """A patient identifier CX ``id^^^&oid&ISO`` (ITI TF-3 §4.2.3.1.7)."""

    id: str
    oid: str | None


_CX = re.compile(r"^([^^]+)\^\^\^&([0-9.]+)&ISO(?:\^.*)?$")


def parse_patient(value: Scalar, *, name: str) -> PatientValue:
    text = str(value)
    match = _CX.match(text)
    if match is None:
        raise _malformed(name, text, "a patient id is a CX: <INS>^^^&<oid>&ISO")
    return PatientValue(match.group(1), match.group(2))


_DTM = re.compile(r"^([0-9]{4})([0-9]{2})?([0-9]{2})?([0-9]{2})?([0-9]{2})?([0-9]{2})?$")


def parse_time(value: Scalar, *, name: str) -> datetime:
    """An XDS DTM (ITI TF-3 §4.2.3.1.8: ``YYYY[MM[DD[hh[mm[ss]]]]]``, UTC) as the instant it starts at."""
    text = str(value)
    match = _DTM.match(text)
    if match is None:
        raise _malformed(name, text, "a time is YYYY[MM[DD[hh[mm[ss]]]]] in UTC")
    year, month, day, hour, minute, second = (int(g) if g else d for g, d in zip(
        match.groups(), (0, 1, 1, 0, 0, 0), strict=True))
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise _malformed(name, text, "not a calendar time") from None


# --- the request ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredQuery:
    """A read ``AdhocQueryRequest``: which query, how to answer, and its parameters — per name, one tuple of
    values per Slot (several only for :data:`AND_OR` parameters)."""

    query_id: str
    spec: QuerySpec
    return_type: str
    slots: dict[str, tuple[tuple[Scalar, ...], ...]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    def has(self, name: str) -> bool:
        return name in self.slots

    def values(self, name: str) -> list[Scalar]:
        """Every value of a parameter (ORed)."""
        return [v for group in self.slots.get(name, ()) for v in group]

    def strings(self, name: str) -> list[str]:
        return [str(v) for v in self.values(name)]

    def one(self, name: str) -> Scalar | None:
        values = self.values(name)
        return values[0] if values else None

    def codes(self, name: str) -> list[CodeValue]:
        return [parse_code(v, name=name) for v in self.values(name)]

    def code_groups(self, name: str) -> list[list[CodeValue]]:
        """An AND/OR parameter: one list (ORed) per Slot, the lists ANDed."""
        return [[parse_code(v, name=name) for v in group] for group in self.slots.get(name, ())]

    def time(self, name: str) -> datetime | None:
        value = self.one(name)
        return parse_time(value, name=name) if value is not None else None

    def patient(self, name: str) -> PatientValue | None:
        value = self.one(name)
        return parse_patient(value, name=name) if value is not None else None

    def describe(self) -> str:
        """The query as the trace records it: its name and parameters."""
        params = "&".join(f"{k}={','.join(str(v) for v in self.values(k))}" for k in sorted(self.slots))
        return f"{self.name}?{params}" if params else self.name


def parse_request(payload: etree._Element) -> StoredQuery:
    """Read a ``query:AdhocQueryRequest`` (the SOAP body's child) or refuse it with its XDS error."""
    if payload.tag != f"{{{ns.NS_QUERY}}}AdhocQueryRequest":
        raise query_error(XDS_REGISTRY_ERROR, f"ITI-18 expects query:AdhocQueryRequest, not {payload.tag}",
                          f"ITI-18 attend query:AdhocQueryRequest, pas {payload.tag}", rule="ITI-18:request")
    option = payload.find(f"{{{ns.NS_QUERY}}}ResponseOption")
    return_type = option.get("returnType", ns.RETURN_LEAF_CLASS) if option is not None else ns.RETURN_LEAF_CLASS
    if return_type not in (ns.RETURN_OBJECT_REF, ns.RETURN_LEAF_CLASS):
        raise query_error(XDS_REGISTRY_ERROR, f"ResponseOption returnType={return_type!r}: ObjectRef or LeafClass",
                          f"ResponseOption returnType={return_type!r} : ObjectRef ou LeafClass",
                          rule="ITI-18:returnType", element="ResponseOption/@returnType")
    query = payload.find(f"{{{ns.NS_RIM}}}AdhocQuery")
    if query is None:
        raise query_error(XDS_REGISTRY_ERROR, "AdhocQueryRequest holds no rim:AdhocQuery",
                          "AdhocQueryRequest ne contient aucun rim:AdhocQuery", rule="ITI-18:request",
                          kind=Kind.REQUIRED)
    query_id = (query.get("id") or "").strip()
    spec = QUERIES.get(query_id)
    if spec is None:
        known = NOT_SIMULATED.get(query_id)
        why = (f"{known} is a stored query on folders, which the DMP does not keep" if known
               else "not an ITI-18 stored query id")
        why_fr = (f"{known} porte sur les classeurs, que le DMP ne gère pas" if known
                  else "ce n'est pas un identifiant de requête stockée ITI-18")
        raise query_error(XDS_UNKNOWN_STORED_QUERY, f"AdhocQuery id={query_id!r}: {why}",
                          f"AdhocQuery id={query_id!r} : {why_fr}", rule="ITI-18:unknown-query",
                          kind=Kind.NOT_FOUND, element="AdhocQuery/@id")
    slots: dict[str, list[tuple[Scalar, ...]]] = {}
    for element in query.findall(f"{{{ns.NS_RIM}}}Slot"):
        name = element.get("name") or ""
        values: list[Scalar] = []
        for value in element.iterfind(f"{{{ns.NS_RIM}}}ValueList/{{{ns.NS_RIM}}}Value"):
            values += parse_value(value.text or "", name=name)
        if not values:
            raise _malformed(name, "", "a Slot with no Value")
        slots.setdefault(name, []).append(tuple(values))
    _check_numbers(spec, slots)
    return StoredQuery(query_id, spec, return_type, {k: tuple(v) for k, v in slots.items()})


def _check_numbers(spec: QuerySpec, slots: dict[str, list[tuple[Scalar, ...]]]) -> None:
    """Required present, exclusive pairs one-of, single-valued parameters single, repeated slots AND/OR only."""
    for name, groups in slots.items():
        if len(groups) > 1 and name not in AND_OR:
            raise query_error(XDS_STORED_QUERY_PARAM_NUMBER, f"{name} is given in {len(groups)} Slots; only "
                              "$XDSDocumentEntryEventCodeList and $XDSDocumentEntryConfidentialityCode may repeat "
                              "(ITI TF-2a §3.18.4.1.2.3.6)",
                              f"{name} figure dans {len(groups)} Slots ; seuls $XDSDocumentEntryEventCodeList et "
                              "$XDSDocumentEntryConfidentialityCode peuvent être répétés (ITI TF-2a §3.18.4.1.2.3.6)",
                              rule="ITI-18:param-number", element=name)
        if name in SINGLE and sum(len(g) for g in groups) > 1:
            raise query_error(XDS_STORED_QUERY_PARAM_NUMBER, f"{name} takes a single value",
                              f"{name} ne prend qu'une valeur", rule="ITI-18:param-number", element=name)
    for name in spec.required:
        if name not in slots:
            raise query_error(XDS_STORED_QUERY_MISSING_PARAM, f"{spec.name} requires {name} (ITI TF-2a "
                              "§3.18.4.1.2.3.7)", f"{spec.name} exige {name} (ITI TF-2a §3.18.4.1.2.3.7)",
                              rule="ITI-18:missing-param", kind=Kind.REQUIRED, element=name)
    for first, second in spec.one_of:
        given = [n for n in (first, second) if n in slots]
        if not given:
            raise query_error(XDS_STORED_QUERY_MISSING_PARAM, f"{spec.name} requires {first} or {second}",
                              f"{spec.name} exige {first} ou {second}", rule="ITI-18:missing-param",
                              kind=Kind.REQUIRED, element=first)
        if len(given) == 2:
            raise query_error(XDS_STORED_QUERY_PARAM_NUMBER, f"{spec.name} takes {first} or {second}, not both",
                              f"{spec.name} prend {first} ou {second}, pas les deux", rule="ITI-18:param-number",
                              element=second)
