"""Metadata updates of a DocumentReference, from JSON Patch (RFC 6902) or FHIRPath Patch, without I/O.

PDSm (reference/dmp.md §1.2, "Metadata update") lets only ``status``, ``securityLabel`` and
``extension[isArchived]`` change; any other path is refused (``Kind.NOT_ALLOWED``, a 405 over FHIR). This
module turns a patch document into a new :class:`MetadataState` or raises
:class:`~app.dmp.exceptions.DmpError`.

Decisions (reference/dmp.md §5.2-§5.4, docs/dmp.md):
- JSON Patch paths are RFC 6901 pointers on the DocumentReference as this sandbox renders it: the
  isArchived extension is always ``/extension/0`` (``/extension/0/valueBoolean``). The illustrative
  PDSm syntax ``/extension[url:'<url>']/valueBoolean`` is accepted too; with the SearchParameter URL
  the PDSm example wrongly uses, only in lenient mode.
- ``replace /securityLabel/0`` (the PDSm4DMP TD3.3a idiom) *merges*: a TRE_A07 code is added to the
  labels already there; an HL7 level (N/R/V) replaces the level and removes ``MASQUE_PS`` (the
  documented unmask). Any other pointer under ``/securityLabel`` follows RFC 6902 to the letter.
- ``TRE_A07#N`` (PDSm example) is accepted and stored as ``v3-Confidentiality#N``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from app.dmp.exceptions import DmpError, Kind
from app.numbers import ascii_count

IS_ARCHIVED_URL = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-is-archived"
IS_ARCHIVED_SP_URL = "https://interop.esante.gouv.fr/ig/fhir/pdsm/SearchParameter/pdsm-isarchived"
V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
TRE_A08 = "https://mos.esante.gouv.fr/NOS/TRE_A08-HL7Confidentiality/FHIR/TRE-A08-HL7Confidentiality"
TRE_A07 = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument"
TRE_A07_SYSTEMS = {TRE_A07, "urn:oid:1.2.250.1.213.1.1.4.13"}
HL7_LEVELS = {"N", "R", "V"}
HL7_SYSTEMS = {V3_CONFIDENTIALITY, TRE_A08, "urn:oid:2.16.840.1.113883.5.25"}
STATUSES = {"current", "superseded", "entered-in-error"}


@dataclass(frozen=True)
class MetadataState:
    status: str  # FHIR status: current / superseded / entered-in-error
    labels: tuple[tuple[str, str, str], ...]  # (system, code, display)
    is_archived: bool


def normalise_label(system: str | None, code: str | None, display: str | None = None) -> tuple[str, str, str]:
    """HL7 levels are emitted as v3-Confidentiality, TRE_A07 codes with their NOS URL (§5.3)."""
    if not code:
        raise DmpError(Kind.INVALID, "securityLabel coding without a code", rule="PDSm:securityLabel",
                       element="securityLabel")
    if code in HL7_LEVELS and (system in HL7_SYSTEMS or system in TRE_A07_SYSTEMS):
        return (V3_CONFIDENTIALITY, code, display or {"N": "normal", "R": "restricted", "V": "very restricted"}[code])
    if system in TRE_A07_SYSTEMS:
        return (TRE_A07, code, display or "")
    return (system or "", code, display or "")


def _label_from_value(value: Any) -> tuple[str, str, str]:
    """A securityLabel value: a CodeableConcept (``{"coding": [...]}``) or a bare Coding."""
    if isinstance(value, dict) and "coding" in value:
        codings = value.get("coding") or []
        if len(codings) != 1:
            raise DmpError(Kind.INVALID, "a securityLabel value must carry exactly one coding",
                           rule="PDSm:securityLabel")
        value = codings[0]
    if not isinstance(value, dict):
        raise DmpError(Kind.INVALID, "a securityLabel value must be a CodeableConcept", rule="PDSm:securityLabel")
    return normalise_label(value.get("system"), value.get("code"), value.get("display"))


def _merge_label(labels: list[tuple[str, str, str]], label: tuple[str, str, str]) -> list[tuple[str, str, str]]:
    system, code, _ = label
    if system == V3_CONFIDENTIALITY:
        kept = [lab for lab in labels if lab[0] != V3_CONFIDENTIALITY and lab[1] != "MASQUE_PS"]
        return [label, *kept]
    if any(lab[0] == system and lab[1] == code for lab in labels):
        return labels
    return [*labels, label]


def _not_allowed(path: str) -> DmpError:
    return DmpError(
        Kind.NOT_ALLOWED,
        f"Seuls status, securityLabel et extension[isArchived] sont modifiables / only status, securityLabel "
        f"and extension[isArchived] may change (path {path!r}).",
        rule="PDSm:patch-allowed-paths", element=path,
    )


def _status(value: Any) -> str:
    if value not in STATUSES:
        raise DmpError(Kind.INVALID_CHANGE, f"status {value!r} is not one of {sorted(STATUSES)}",
                       rule="PDSm:DocumentReference.status", element="DocumentReference.status")
    return value


def _archived(value: Any) -> bool:
    if not isinstance(value, bool):
        raise DmpError(Kind.INVALID_CHANGE, "isArchived takes a boolean", rule="PDSm:isArchived",
                       element="extension[isArchived]")
    return value


_EXT_ILLUSTRATIVE = re.compile(r"^/extension\[url:'(?P<url>[^']+)'\]/valueBoolean$")


def _archived_url_ok(url: str, lenient: bool) -> bool:
    return url == IS_ARCHIVED_URL or (lenient and url == IS_ARCHIVED_SP_URL)


def apply_json_patch(state: MetadataState, operations: Any, *, lenient: bool = False) -> MetadataState:
    if not isinstance(operations, list) or not operations:
        raise DmpError(Kind.INVALID, "a JSON Patch body is a non-empty array of operations (RFC 6902)", rule="RFC6902")
    labels = list(state.labels)
    status, archived = state.status, state.is_archived
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise DmpError(Kind.INVALID, "each JSON Patch operation needs 'op' and 'path' (RFC 6902 §4)",
                           rule="RFC6902")
        kind, path, value = op["op"], str(op["path"]), op.get("value")
        if kind not in ("add", "replace", "remove", "test"):
            raise _not_allowed(path) if kind in ("move", "copy") else DmpError(
                Kind.INVALID, f"unknown JSON Patch op {kind!r}", rule="RFC6902")
        if path == "/status":
            if kind == "test":
                if status != value:
                    raise DmpError(Kind.CONFLICT, "JSON Patch test on /status failed", rule="RFC6902:test")
                continue
            if kind == "remove":
                raise _not_allowed(path)
            status = _status(value)
        elif path == "/securityLabel":
            if kind in ("add", "replace"):
                if not isinstance(value, list):
                    raise DmpError(Kind.INVALID, "/securityLabel takes an array", rule="PDSm:securityLabel")
                labels = [_label_from_value(v) for v in value]
            elif kind == "remove":
                labels = []
        elif path.startswith("/securityLabel/"):
            index_text = path.removeprefix("/securityLabel/")
            if index_text == "-" and kind == "add":
                labels = _merge_label(labels, _label_from_value(value))
                continue
            parsed_index = ascii_count(index_text, max_digits=4)
            if parsed_index is None:
                raise _not_allowed(path)
            index = parsed_index
            if kind == "replace" and index == 0:
                labels = _merge_label(labels, _label_from_value(value))
            elif kind == "replace":
                if index >= len(labels):
                    raise DmpError(Kind.INVALID_CHANGE, f"no securityLabel at index {index}", rule="RFC6902",
                                   element=path)
                labels[index] = _label_from_value(value)
            elif kind == "add":
                if index > len(labels):
                    raise DmpError(Kind.INVALID_CHANGE, f"index {index} out of range", rule="RFC6902", element=path)
                labels.insert(index, _label_from_value(value))
            elif kind == "remove":
                if index >= len(labels):
                    raise DmpError(Kind.INVALID_CHANGE, f"no securityLabel at index {index}", rule="RFC6902",
                                   element=path)
                labels.pop(index)
        elif path in ("/extension/0/valueBoolean",) or (
            (m := _EXT_ILLUSTRATIVE.match(path)) and _archived_url_ok(m.group("url"), lenient)
        ):
            if kind in ("add", "replace"):
                archived = _archived(value)
            elif kind == "remove":
                archived = False
        elif path in ("/extension/0", "/extension/-"):
            if kind == "remove" and path == "/extension/0":
                archived = False
            elif kind in ("add", "replace") and isinstance(value, dict) and value.get("url") == IS_ARCHIVED_URL:
                archived = _archived(value.get("valueBoolean"))
            else:
                raise _not_allowed(path)
        else:
            raise _not_allowed(path)
    return _checked(replace(state, status=status, labels=tuple(labels), is_archived=archived))


_FP_LABEL_INDEX = re.compile(r"^DocumentReference\.securityLabel\[(\d+)\]$")
_FP_LABEL_WHERE = re.compile(r"^DocumentReference\.securityLabel\.where\(coding\.code\s*=\s*'([^']+)'\)$")
_FP_ARCHIVED = re.compile(
    r"^DocumentReference\.extension\.where\(url\s*=\s*'([^']+)'\)(?:\.value(?:\.ofType\(boolean\))?|\.valueBoolean)?$"
)


def _part_value(parts: dict[str, Any]) -> Any:
    for key, value in parts.items():
        if key.startswith("value"):
            return value
    return None


def _fhirpath_parts(parameters: Any) -> list[dict[str, Any]]:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise DmpError(Kind.INVALID, "a FHIRPath Patch body is a Parameters resource", rule="FHIR:fhirpatch")
    operations = []
    for parameter in parameters.get("parameter") or []:
        if parameter.get("name") != "operation":
            raise DmpError(Kind.INVALID, "FHIRPath Patch parameters are all named 'operation'", rule="FHIR:fhirpatch")
        parts: dict[str, Any] = {}
        for part in parameter.get("part") or []:
            name = part.get("name")
            value = next((v for k, v in part.items() if k.startswith("value")), None)
            parts[name] = value
        operations.append(parts)
    if not operations:
        raise DmpError(Kind.INVALID, "a FHIRPath Patch needs at least one operation", rule="FHIR:fhirpatch")
    return operations


def apply_fhirpath_patch(state: MetadataState, parameters: Any, *, lenient: bool = False) -> MetadataState:
    labels = list(state.labels)
    status, archived = state.status, state.is_archived
    for op in _fhirpath_parts(parameters):
        kind, path, name, value = op.get("type"), str(op.get("path") or ""), op.get("name"), op.get("value")
        if kind == "replace" and path == "DocumentReference.status":
            status = _status(value)
        elif kind == "add" and path == "DocumentReference" and name == "securityLabel":
            labels = _merge_label(labels, _label_from_value(value))
        elif (m := _FP_LABEL_INDEX.match(path)) and kind in ("replace", "delete"):
            index = int(m.group(1))
            if index >= len(labels):
                raise DmpError(Kind.INVALID_CHANGE, f"no securityLabel at index {index}", rule="FHIR:fhirpatch",
                               element=path)
            if kind == "delete":
                labels.pop(index)
            elif index == 0:
                labels = _merge_label(labels, _label_from_value(value))
            else:
                labels[index] = _label_from_value(value)
        elif (m := _FP_LABEL_WHERE.match(path)) and kind == "delete":
            labels = [lab for lab in labels if lab[1] != m.group(1)]
        elif (
            (m := _FP_ARCHIVED.match(path)) and _archived_url_ok(m.group(1), lenient) and kind in ("replace", "delete")
        ):
            archived = False if kind == "delete" else _archived(value)
        elif kind == "add" and path == "DocumentReference" and name == "extension":
            # {"name": "value", "part": [...]} is not supported; an add of isArchived is written as replace.
            raise _not_allowed(f"{path}.extension")
        else:
            raise _not_allowed(path or "(no path)")
    return _checked(replace(state, status=status, labels=tuple(labels), is_archived=archived))


def _checked(state: MetadataState) -> MetadataState:
    """The DMP metadata model allows 1..4 confidentiality codes, one HL7 level at most (§2.4)."""
    if not 1 <= len(state.labels) <= 4:
        raise DmpError(Kind.INVALID_CHANGE, f"securityLabel must hold 1 to 4 codes, not {len(state.labels)} (DMP "
                       "confidentiality 1..4)", rule="PDSm4DMP:confidentiality-1..4",
                       element="DocumentReference.securityLabel")
    if sum(1 for lab in state.labels if lab[0] == V3_CONFIDENTIALITY) > 1:
        raise DmpError(Kind.INVALID_CHANGE, "securityLabel holds more than one HL7 confidentiality level",
                       rule="PDSm4DMP:confidentiality-level", element="DocumentReference.securityLabel")
    return state


def apply_patch(state: MetadataState, kind: str, parsed: Any, *, lenient: bool = False) -> MetadataState:
    if kind == "json-patch":
        return apply_json_patch(state, parsed, lenient=lenient)
    return apply_fhirpath_patch(state, parsed, lenient=lenient)
