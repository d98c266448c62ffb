"""FHIR search parameters -> the service's typed searches (:class:`~app.dmp.queries.DocumentSearch`,
:class:`~app.dmp.queries.SubmissionSetSearch`, :class:`~app.dmp.traces.AuditSearch`), paging and links.

Sources: FHIR R4 search.html (date prefixes and precision, tokens, ``_count``/``_offset``), IHE MHD ITI-67
and ITI-66 parameters, PDSm's ``isArchived``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.api.errors import FhirError
from app.api.urls import absolute_url
from app.config import Settings
from app.dmp.fhir.elements import parse_patient_token
from app.dmp.filters import DateRange, Token
from app.dmp.queries import DocumentSearch, SubmissionSetSearch
from app.dmp.traces import AuditSearch
from app.numbers import ascii_count

Params = dict[str, list[str]]


def parse_patient_param(params: dict[str, list[str]]) -> str:
    """``patient.identifier=urn:oid:...|INS`` or ``patient=Patient/<INS>`` -> the INS."""
    if params.get("patient.identifier"):
        token = params["patient.identifier"][0]
        system, sep, value = token.partition("|")
        if not sep:
            raise FhirError(400, "invalid", "patient.identifier takes system|value, e.g. "
                            "urn:oid:1.2.250.1.213.1.4.8|<INS>",
                            french="patient.identifier prend système|valeur, par exemple "
                                   "urn:oid:1.2.250.1.213.1.4.8|<INS>",
                            rule="MHD:ITI-67.patient")
        return parse_patient_token(system, value, expression="patient.identifier").ins
    if params.get("patient"):
        value = params["patient"][0].rstrip("/").rsplit("/", 1)[-1]
        if not re.fullmatch(r"[0-9AB]{15}", value):
            raise FhirError(400, "invalid", f"patient {params['patient'][0]!r}: use Patient/<INS> as returned by "
                            "Patient?identifier=",
                            french=f"patient {params['patient'][0]!r} : utiliser Patient/<INS> tel que "
                                   f"Patient?identifier= le renvoie",
                            rule="MHD:ITI-67.patient")
        return value
    raise FhirError(400, "required", "patient or patient.identifier is required (IHE MHD ITI-67)",
                    french="patient ou patient.identifier est obligatoire (IHE MHD ITI-67)",
                    rule="MHD:ITI-67.patient-required", expression="patient.identifier")


_DATE = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(\d{4}(?:-\d{2}(?:-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?)?)?)$")
# "+" left unencoded in a query string reaches us as a space (application/x-www-form-urlencoded): the offset
_SPACED_OFFSET = re.compile(r"(T[0-9:.]+) (\d{2}:\d{2})$")

def dates(params: Params, name: str) -> list[DateRange]:
    """The values of a date parameter (R4 search.html#date). The value's precision gives its range [low,
    high); its offset counts (no offset: UTC); ``ap`` is taken as ``eq`` (the spec leaves its width to the
    server)."""
    ranges = []
    for raw in params.get(name, ()):
        m = _DATE.match(_SPACED_OFFSET.sub(r"\1+\2", raw))
        if not m:
            raise _not_a_date(name, raw)
        prefix, text = m.group(1) or "eq", m.group(2)
        try:
            low, high = _date_range(text)
            low, high = low.astimezone(UTC), high.astimezone(UTC)  # compared in UTC: must stay in years 1-9999
        except (ValueError, OverflowError):
            raise _not_a_date(name, raw) from None
        ranges.append(DateRange("eq" if prefix == "ap" else prefix, low, high))
    return ranges


def _not_a_date(name: str, raw: str) -> FhirError:
    return FhirError(400, "invalid", f"{name}={raw!r} is not a FHIR date (e.g. ge2026-01-01)",
                     french=f"{name}={raw!r} n'est pas une date FHIR (par exemple ge2026-01-01)", rule="FHIR:date")



def _date_range(text: str) -> tuple[datetime, datetime]:
    if len(text) == 4:
        low = datetime(int(text), 1, 1, tzinfo=UTC)
        return low, low.replace(year=low.year + 1)
    if len(text) == 7:
        y, mo = int(text[:4]), int(text[5:7])
        low = datetime(y, mo, 1, tzinfo=UTC)
        return low, (low.replace(year=y + 1, month=1) if mo == 12 else low.replace(month=mo + 1))
    if len(text) == 10:
        low = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return low, low + timedelta(days=1)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    clock = text.partition("T")[2].rstrip("Z").split("+")[0].split("-")[0]
    if clock.count(":") == 1:  # hh:mm: a minute
        return value, value + timedelta(minutes=1)
    if "." in clock:  # fractional seconds: to the digit given
        return value, value + timedelta(microseconds=10 ** (6 - min(len(clock.partition(".")[2]), 6)))
    return value, value + timedelta(seconds=1)

def tokens(params: Params, name: str) -> list[Token]:
    """``system|code``, ``|code`` or ``code`` values, comma-separated or repeated."""
    found = []
    for value in ",".join(params.get(name, ())).split(","):
        system, sep, code = value.partition("|")
        found.append(Token(system, code) if sep else Token(None, value))
    return found


def codes(params: Params, name: str) -> list[str]:
    """The code (or value) of each ``system|code`` value, repeated parameters each taken whole."""
    return [v.rpartition("|")[2] for v in params.get(name, ())]


_MAX_OFFSET = 2**31 - 1  # beyond, PostgreSQL refuses the OFFSET (and no page is there anyway)
_SIGNED_ASCII = re.compile(r"(-?)([0-9]+)")


def _page_number(text: str) -> int | None:
    """An optionally negative integer in ASCII digits (:func:`app.numbers.ascii_count`: not ``int()``, which
    takes ``"١٢"``, ``" 5"`` or ``"1_0"``), else None. More than 18 digits is only ever too large."""
    match = _SIGNED_ASCII.fullmatch(text)
    if match is None:
        return None
    value = ascii_count(match.group(2), max_digits=18)
    magnitude = value if value is not None else 10**18
    return -magnitude if match.group(1) else magnitude


def page_params(params: dict[str, list[str]], settings: Settings) -> tuple[int, int]:
    count = _page_number(params["_count"][0]) if "_count" in params else settings.dmp_page_size
    offset = _page_number(params["_offset"][0]) if "_offset" in params else 0
    if count is None or offset is None:
        raise FhirError(400, "invalid", "_count and _offset take integers",
                        french="_count et _offset prennent des entiers", rule="FHIR:paging")
    if count < 0 or offset < 0:
        raise FhirError(400, "invalid", "_count and _offset must be positive",
                        french="_count et _offset doivent être positifs", rule="FHIR:paging")
    if offset > _MAX_OFFSET:
        raise FhirError(400, "invalid", f"_offset must be at most {_MAX_OFFSET}",
                        french=f"_offset vaut au plus {_MAX_OFFSET}", rule="FHIR:paging")
    return min(count, settings.dmp_max_page_size), offset


def links(settings: Settings, path: str, params: dict[str, list[str]], *, offset: int, count: int, total: int
          ) -> tuple[str, str | None]:
    flat = [(k, v) for k, vs in params.items() if k != "_offset" for v in vs]
    self_url = absolute_url(settings, path, [*flat, ("_offset", offset)] if offset else flat)
    if offset + count < total and count > 0:
        return self_url, absolute_url(settings, path, [*(p for p in flat if p[0] != "_count"), ("_count", count),
                                                       ("_offset", offset + count)])
    return self_url, None


DOCUMENT_PARAMS = {"patient", "patient.identifier", "status", "creation", "author.given", "author.family",
                   "category", "type", "setting", "period", "facility", "event", "security-label", "format",
                   "related", "identifier", "isArchived", "period-start", "period-end", "_count", "_offset",
                   "_format"}


def document_statuses(params: Params) -> frozenset[str]:
    """ITI-67's required ``status`` (current, superseded, entered-in-error)."""
    if not params.get("status"):
        raise FhirError(400, "required", "status is required (IHE MHD ITI-67): current, superseded",
                        french="status est obligatoire (IHE MHD ITI-67) : current, superseded",
                        rule="MHD:ITI-67.status-required", expression="status")
    statuses = {s.strip().rpartition("|")[2] for v in params["status"] for s in v.split(",")}
    unknown_status = statuses - {"current", "superseded", "entered-in-error"}
    if unknown_status:
        raise FhirError(400, "invalid", f"status {sorted(unknown_status)} is not current, superseded or "
                        "entered-in-error",
                        french=f"status {sorted(unknown_status)} n'est ni current, ni superseded, ni entered-in-error",
                        rule="MHD:ITI-67.status", expression="status")
    return frozenset(statuses)


def document_search(params: Params, *, statuses: frozenset[str], count: int, offset: int) -> DocumentSearch:
    """The ITI-67 parameters as a :class:`DocumentSearch`."""
    archived = None
    if "isArchived" in params:
        value = params["isArchived"][0].lower()
        if value not in ("true", "false"):
            raise FhirError(400, "invalid", "isArchived takes true or false",
                            french="isArchived prend true ou false", rule="PDSm:isArchived")
        archived = value == "true"
    return DocumentSearch(
        statuses=statuses, creation=dates(params, "creation"), period=dates(params, "period"),
        period_start=dates(params, "period-start"), period_end=dates(params, "period-end"),
        author_given=params.get("author.given", []), author_family=params.get("author.family", []),
        category=tokens(params, "category") if "category" in params else [],
        type=tokens(params, "type") if "type" in params else [],
        format=tokens(params, "format") if "format" in params else [],
        setting=tokens(params, "setting") if "setting" in params else [],
        facility=tokens(params, "facility") if "facility" in params else [],
        event=tokens(params, "event") if "event" in params else [],
        related=tokens(params, "related") if "related" in params else [],
        security_label=tokens(params, "security-label") if "security-label" in params else [],
        identifiers=[v.rpartition("|")[2] for v in ",".join(params["identifier"]).split(",")]
        if "identifier" in params else [],
        is_archived=archived, count=count, offset=offset)


def submission_set_search(params: Params, *, count: int, offset: int) -> SubmissionSetSearch:
    """The ITI-66 parameters as a :class:`SubmissionSetSearch` (folders are not kept: a folder code, or a
    status other than current, matches nothing)."""
    statuses = {v for vs in params.get("status", []) for v in vs.split(",")}
    nothing = any(c != "submissionset" for c in codes(params, "code")) or bool(statuses and "current" not in statuses)
    return SubmissionSetSearch(
        submission_time=dates(params, "date"), source_ids=codes(params, "sourceId"),
        designation_type=tokens(params, "designationType") if "designationType" in params else [],
        identifiers=codes(params, "identifier"), matches_nothing=nothing, count=count, offset=offset)


def audit_search(params: Params, *, ins: str, count: int, offset: int) -> AuditSearch:
    return AuditSearch(ins=ins, recorded=dates(params, "date"), transactions=codes(params, "subtype"),
                       count=count, offset=offset)
