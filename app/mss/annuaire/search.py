"""FHIR R4 search over the directory (pure: no I/O), driven by the table of ``params.py``.

Semantics follow FHIR R4 search (https://hl7.org/fhir/R4/search.html) where the Annuaire documentation
(``ansforge/annuaire-sante-fhir-documentation`` @9f3d7d0 advanced/common-search-params.md) is silent:
repeated parameters are ANDed, comma-separated values ORed (``\\,`` escapes a comma); string search is
a case- and accent-insensitive "starts with" (``:exact`` exact, ``:contains`` anywhere); tokens take
``code``, ``system|code``, ``|code`` and ``system|``; ``:not`` and ``:missing``; dates take the nine prefixes
and year, month, day or full precision. Errors are 400 OperationOutcomes with issue code ``processing``,
the code of the documented answer (getting-started/api-basics.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from app.api.errors import FhirError
from app.mss import addresses
from app.mss.annuaire import codes as c
from app.mss.annuaire import params as p
from app.numbers import ascii_count

Resource = dict[str, Any]


def refuse(diagnostics: str, rule: str, status: int = 400, code: str = "processing") -> FhirError:
    return FhirError(status, code, diagnostics, rule=rule)


@dataclass(frozen=True)
class Criterion:
    param: p.SearchParam
    modifier: str | None
    values: tuple[str, ...]


@dataclass
class Query:
    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    revincludes: list[str] = field(default_factory=list)
    count: int = p.DEFAULT_COUNT
    total: bool = True
    elements: tuple[str, ...] | None = None
    summary_count: bool = False
    kept: list[tuple[str, str]] = field(default_factory=list)
    """The parameters that took part, in request order: the ``self`` link (ignored ones left out)."""


def split_values(value: str) -> list[str]:
    """Comma-separated values, ``\\,`` escaping a comma (FHIR R4 search §escaping)."""
    parts, current, escaped = [], [], False
    for ch in value:
        if escaped:
            current.append(ch if ch == "," else "\\" + ch)  # \| and \$ stay escaped for the token split
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current) + ("\\" if escaped else ""))
    return [v for v in parts if v != ""]


def parse(resource_type: str, pairs: list[tuple[str, str]]) -> Query:
    table = p.SEARCH_PARAMS[resource_type]
    query = Query(resource_type)
    for key, value in pairs:
        if key in p.IGNORED_PARAMS:
            if key == "_format" and value not in ("json", "application/json", "application/fhir+json", c.FHIR_JSON):
                raise refuse(f"_format={value}: seul JSON est servi / only JSON is served", "ANN:search.format",
                             status=406, code="not-supported")
            continue
        if value == "":
            continue  # an empty parameter is ignored, as FHIR servers do, and left out of the self link
        key = p.ALIASES.get((resource_type, key), key)
        name, _, modifier = key.partition(":")
        if name in p.RESULT_PARAMS:
            _result_param(query, name, modifier, value)
        elif name in table:
            param = table[name]
            if modifier and modifier not in p.MODIFIERS[param.type]:
                raise refuse(f"HAPI-1223: Invalid modifier ':{modifier}' for parameter '{name}' "
                             f"(modificateurs acceptés / accepted: {sorted(p.MODIFIERS[param.type])})",
                             "ANN:search.modifier")
            values = tuple(split_values(value))
            for v in values:
                _check_value(param, modifier or None, v)
            query.criteria.append(Criterion(param, modifier or None, values))
        else:
            raise refuse(f'HAPI-0524: Unknown search parameter "{key}" for resource type "{resource_type}". '
                         f"Valid search parameters for this search are: {sorted(table)} "
                         f"(paramètre inconnu / unknown parameter)", "ANN:search.parameter")
        query.kept.append((key, value))
    return query


def _result_param(query: Query, name: str, modifier: str, value: str) -> None:
    rt = query.resource_type
    if modifier:
        raise refuse(f"{name}:{modifier}: modificateur non supporté / modifier not supported", "ANN:search.modifier")
    if name == "_count":
        count = ascii_count(value)
        if count is None:
            raise refuse(f"_count={value!r}: entier positif attendu / a non-negative integer (1 to 9 ASCII "
                         "digits) is expected", "ANN:search.count")
        query.count = min(count, p.MAX_COUNT)
    elif name == "_total":
        if value not in ("none", "estimate", "accurate"):
            raise refuse(f"_total={value}: none, estimate ou accurate attendu / expected", "ANN:search.total")
        query.total = value != "none"
    elif name == "_include":
        for v in split_values(value):
            if not (v == "*" and rt in p.WILDCARD_INCLUDE) and _include_key(v) not in p.INCLUDES[rt]:
                raise refuse(f"_include={v} non supporté sur / not supported on {rt}; valeurs / values: "
                             f"{sorted(p.INCLUDES[rt]) + (['*'] if rt in p.WILDCARD_INCLUDE else [])}",
                             "ANN:search.include")
            query.includes.append(v)
    elif name == "_revinclude":
        for v in split_values(value):
            if _include_key(v) not in p.REVINCLUDES[rt]:
                raise refuse(f"_revinclude={v} non supporté sur / not supported on {rt}; valeurs / values: "
                             f"{sorted(p.REVINCLUDES[rt])}", "ANN:search.revinclude")
            query.revincludes.append(v)
    elif name == "_elements":
        query.elements = tuple(e.strip() for e in value.split(",") if e.strip())
    elif name == "_summary":
        if value not in ("count", "false"):
            raise refuse(f"_summary={value}: seuls count et false sont servis / only count and false are served",
                         "ANN:search.summary")
        query.summary_count = value == "count"


def _include_key(value: str) -> str:
    """``Source:param[:Target]`` -> ``Source:param`` (FHIR R4 search §_include: the target type is optional)."""
    parts = value.split(":")
    if len(parts) == 3 and parts[2] in ("Practitioner", "PractitionerRole", "Organization"):
        return f"{parts[0]}:{parts[1]}"
    return value


# --- values ---------------------------------------------------------------------------------------

_DATE = re.compile(r"(eq|ne|gt|lt|ge|le|sa|eb|ap)?(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})"
                   r"(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?")


def date_range(value: str) -> tuple[str, datetime, datetime]:
    """(prefix, start, end) of a FHIR date search value; end excluded. No zone: UTC (the documentation
    says "(GMT)" for _lastUpdated=lt2022-12-15T15:00:00)."""
    m = _DATE.fullmatch(value.replace(" ", "+"))  # a "+" left unencoded in a query reads as a space
    if not m:
        raise ValueError(value)
    prefix, year, month, day, hour, minute, second, fraction, zone = m.groups()
    tz = UTC
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    y = int(year)
    if month is None:
        start, end = datetime(y, 1, 1, tzinfo=tz), datetime(y + 1, 1, 1, tzinfo=tz)
    elif day is None:
        mo = int(month)
        start = datetime(y, mo, 1, tzinfo=tz)
        end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=tz)
    elif hour is None:
        start = datetime(y, int(month), int(day), tzinfo=tz)
        end = start + timedelta(days=1)
    else:
        start = datetime(y, int(month), int(day), int(hour), int(minute), int(second or 0),
                         int(float(fraction or 0) * 1_000_000), tzinfo=tz)
        end = start + (timedelta(minutes=1) if second is None else
                       timedelta(microseconds=1) if fraction else timedelta(seconds=1))
    return prefix or "eq", start, end


def _check_value(param: p.SearchParam, modifier: str | None, value: str) -> None:
    if modifier == "missing":
        if value not in ("true", "false"):
            raise refuse(f"{param.name}:missing={value}: true ou false attendu / expected", "ANN:search.missing")
    elif param.type == "date":
        try:
            date_range(value)
        except ValueError:
            raise refuse(f"HAPI-1882: Invalid date/time format: \"{value}\" ({param.name}: yyyy, yyyy-MM, "
                         "yyyy-MM-dd ou/or yyyy-MM-ddThh:mm[:ss][zone], préfixe/prefix eq ne gt lt ge le sa eb ap)",
                         "ANN:search.date") from None
    elif param.name == "active" and value.rpartition("|")[2] not in ("true", "false"):
        raise refuse(f"active={value}: true ou false attendu / expected", "ANN:search.active")


def _fold(value: str) -> str:
    return addresses.fold(value).replace("-", " ")


def _string_match(values: list[str], wanted: str, modifier: str | None) -> bool:
    if modifier == "exact":
        return wanted in values
    w = _fold(wanted)
    if modifier == "contains":
        return any(w in _fold(v) for v in values)
    return any(_fold(v).startswith(w) for v in values)


_PIPE = re.compile(r"(?<!\\)\|")


def _unescape(value: str) -> str:
    return re.sub(r"\\([\\|$,])", r"\1", value)


def _token_match(values: list[tuple[str | None, str]], wanted: str, param: str) -> bool:
    parts = _PIPE.split(wanted, maxsplit=1)
    if len(parts) == 1:
        return any(code == _unescape(wanted) for _, code in values)
    system, code = _unescape(parts[0]), _unescape(parts[1])
    systems = c.FINESS_ALIASES if system in c.FINESS_ALIASES else {system}
    if system == "":
        return any(s is None and cd == code for s, cd in values)
    return any(s in systems and (code == "" or cd == code) for s, cd in values)


def _reference_match(values: list[str], wanted: str, target: str) -> bool:
    """``id``, ``Type/id`` or ``http…/Type/id`` (FHIR R4 search §reference)."""
    parts = [x for x in wanted.split("/") if x]
    if not parts:
        return False
    wanted_type = parts[-2] if len(parts) >= 2 else target
    return f"{wanted_type}/{parts[-1]}" in values


_EARLIEST, _LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


def _date_match(values: list[str], wanted: str) -> bool:
    prefix, start, end = date_range(wanted)
    for text in values:
        t = datetime.fromisoformat(text)
        if prefix == "ap":
            slack = abs(datetime.now(UTC) - start) / 10
            low = start - slack if start - _EARLIEST > slack else _EARLIEST  # no overflow at year 1 or 9999
            high = end + slack if _LATEST - end > slack else _LATEST
            hit = low <= t < high
        else:
            hit = {"eq": start <= t < end, "ne": not start <= t < end, "gt": t >= end, "sa": t >= end,
                   "lt": t < start, "eb": t < start, "ge": t >= start, "le": t < end}[prefix]
        if hit:
            return True
    return False


_TARGETS = {"practitioner": "Practitioner", "organization": "Organization", "partof": "Organization"}


def matches(resource: Resource, criterion: Criterion) -> bool:
    param, modifier = criterion.param, criterion.modifier
    values = param.values(resource)
    if modifier == "missing":
        return all((not values) == (v == "true") for v in criterion.values)
    if param.type == "string":
        hit = any(_string_match(values, _unescape(v), modifier) for v in criterion.values)
    elif param.type == "token":
        hit = any(_token_match(values, v, param.name) for v in criterion.values)
        return not hit if modifier == "not" else hit
    elif param.type == "reference":
        hit = any(_reference_match(values, v, _TARGETS[param.name]) for v in criterion.values)
    else:
        hit = any(_date_match(values, v) for v in criterion.values)
    return hit


def run(query: Query, data: dict[str, dict[str, Resource]]) -> list[Resource]:
    found = [r for r in data[query.resource_type].values() if all(matches(r, cr) for cr in query.criteria)]
    return sorted(found, key=lambda r: r["id"])


def included(query: Query, page: list[Resource], data: dict[str, dict[str, Resource]]) -> list[Resource]:
    """The resources _include and _revinclude add to a page of matches (each once, never a match again)."""
    seen = {(r["resourceType"], r["id"]) for r in page}
    out: list[Resource] = []

    def add(resource: Resource | None) -> None:
        if resource is not None and (resource["resourceType"], resource["id"]) not in seen:
            seen.add((resource["resourceType"], resource["id"]))
            out.append(resource)

    rules = p.INCLUDES[query.resource_type]
    for inc in query.includes:
        fields = list(rules.values()) if inc == "*" else [rules[_include_key(inc)]]
        for fld, _target in fields:
            for r in page:
                rtype, _, rid = r.get(fld, {}).get("reference", "").partition("/")
                add(data.get(rtype, {}).get(rid))
    for rev in query.revincludes:
        source, fld = p.REVINCLUDES[query.resource_type][_include_key(rev)]
        refs = {f"{query.resource_type}/{r['id']}" for r in page}
        for candidate in sorted(data.get(source, {}).values(), key=lambda r: r["id"]):
            if candidate.get(fld, {}).get("reference") in refs:
                add(candidate)
    return out


def subset(resource: Resource, elements: tuple[str, ...]) -> Resource:
    """_elements (advanced/modifying-search-results.md §5): the listed top-level elements, the kept ones,
    and meta.tag SUBSETTED."""
    keep = set(elements) | set(p.ELEMENTS_KEPT)
    out = {k: v for k, v in resource.items() if k in keep or (k.startswith("_") and k[1:] in keep)}
    out["meta"] = {**resource["meta"], "tag": [dict(c.SUBSETTED)]}
    return out
