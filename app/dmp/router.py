"""The DMP's FHIR R4 interface at ``/dmp/fhir`` (PDSm 3.1.1 / IHE MHD 4.2.3 / PDSm4DMP), JSON and XML.

Thin endpoints: parse, authenticate (PSC bearer token), call :mod:`app.dmp.service`, shape the answer.
Access mode and reason travel in ``X-DMP-Access-Mode`` (``normal`` | ``bris_de_glace`` | ``centre_15``,
TRE_R248) and ``X-DMP-Access-Reason`` (UTF-8, percent-encoded if needed) — the FHIR route's stand-in for
the VIHF ``purposeofuse`` attribute and PSC's ``Mode_Acces_Raison`` claim (reference/dmp.md §1.1, §2.5).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from sqlalchemy import and_, func, or_, select
from starlette.responses import Response, StreamingResponse

from app.api.deps import CurrentProfessional, SessionDep, SettingsDep
from app.api.errors import FhirError
from app.api.urls import absolute_url
from app.config import Settings
from app.db import contains_text
from app.dmp import fhir, jsonio, mhd, rules, service
from app.dmp.models import DmpAuditEvent, DmpDocument, DmpSubmissionSet
from app.dmp.patch import PatchRefused, parse_patch_body
from app.numbers import ascii_count
from app.xmlsafe import InvalidXmlError, UnsafeXmlError


def _nul_refused(where: str) -> FhirError:
    # No FHIR string holds U+0000 (R4 datatypes.html#string); PostgreSQL text cannot either, so a NUL that
    # reached a query or a trace failed the request with a 500 there (SQLite took it).
    return FhirError(400, "invalid", f"{where} holds U+0000 (NUL), which no FHIR string may contain",
                     french=f"{where} contient U+0000 (NUL), qu'aucune chaîne FHIR ne peut contenir",
                     rule="FHIR:string")


async def _no_nul_in_url(request: Request) -> None:
    """Every DMP route: a NUL in the (decoded) path or the query string is the client's error."""
    if "\x00" in request.scope["path"]:
        raise _nul_refused("the URL path")
    if b"%00" in request.scope["query_string"]:
        raise _nul_refused("the query string")


router = APIRouter(prefix="/dmp/fhir", tags=["dmp"], dependencies=[Depends(_no_nul_in_url)])

MODE_HEADER = "X-DMP-Access-Mode"
REASON_HEADER = "X-DMP-Access-Reason"
FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"


# --- request / response helpers -------------------------------------------------------------------

def access_context(request: Request, professional: Any) -> service.AccessContext:
    raw_mode = (request.headers.get(MODE_HEADER) or "normal").strip()
    try:
        mode = rules.AccessMode(raw_mode)
    except ValueError:
        raise FhirError(400, "value", f"{MODE_HEADER} {raw_mode!r} must be one of normal, bris_de_glace, centre_15 "
                        "(TRE_R248-ModeAcces)",
                        french=f"{MODE_HEADER} {raw_mode!r} doit valoir normal, bris_de_glace ou centre_15 "
                               f"(TRE_R248-ModeAcces)",
                        rule="DMP:access-mode") from None
    reason = unquote(request.headers[REASON_HEADER]) if request.headers.get(REASON_HEADER) else None
    if reason is not None and "\x00" in reason:
        raise _nul_refused(REASON_HEADER)
    return service.AccessContext(professional=professional, mode=mode, reason=reason)


def wants_xml(request: Request) -> bool:
    fmt = request.query_params.get("_format", "")
    if fmt:
        return "xml" in fmt
    accept = request.headers.get("accept", "")
    return "xml" in accept and "json" not in accept.split(",")[0]


def fhir_answer(request: Request, resource: dict[str, Any], *, status: int = 200,
                headers: dict[str, str] | None = None) -> Response:
    if wants_xml(request):
        return Response(fhir.to_xml(resource), status_code=status, media_type=FHIR_XML, headers=headers)
    return Response(jsonio.dumps(resource), status_code=status, media_type=FHIR_JSON, headers=headers)


async def read_resource(request: Request) -> Any:
    body = await request.body()
    media = (request.headers.get("content-type") or FHIR_JSON).split(";", 1)[0].strip().lower()
    if "xml" in media:
        try:
            return fhir.from_xml(body, max_bytes=request.app.state.settings.max_body_bytes)
        except (UnsafeXmlError, InvalidXmlError) as exc:
            raise FhirError(400, "structure", f"the body is not acceptable XML: {exc}"[:500],
                            french=f"le corps n'est pas un XML acceptable : {exc}"[:500], rule="FHIR:xml") from None
        except ValidationError as exc:
            # Name the element and the rule, never echo the submitted value (it would reach the journal).
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "root"
            raise FhirError(400, "structure", f"the body is not a valid FHIR R4 XML resource ({exc.error_count()} "
                            f"error(s); first at {where}: {first.get('msg')})"[:500],
                            french=f"le corps n'est pas une ressource FHIR R4 XML valide ({exc.error_count()} "
                                   f"erreur(s) ; la première en {where} : {first.get('msg')})"[:500],
                            rule="FHIR:xml") from None
        except Exception as exc:  # noqa: BLE001 - any other parse failure is the client's too
            raise FhirError(400, "structure", f"the body is not a valid FHIR XML resource ({type(exc).__name__})",
                            french=f"le corps n'est pas une ressource FHIR XML valide ({type(exc).__name__})",
                            rule="FHIR:xml") from None
    if media not in (FHIR_JSON, "application/json"):
        raise FhirError(415, "not-supported", f"Content-Type {media!r}: send application/fhir+json or "
                        "application/fhir+xml",
                        french=f"Content-Type {media!r} : envoyer application/fhir+json ou application/fhir+xml",
                        rule="FHIR:content-type")
    try:
        return jsonio.loads(body)
    except ValueError as exc:
        raise FhirError(400, "structure", f"the body is not JSON: {exc}",
                        french=f"le corps n'est pas du JSON : {exc}", rule="FHIR:json") from None


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
        return mhd.parse_patient_token(system, value, expression="patient.identifier").ins
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


def date_clause(column: Any, values: list[str], *, name: str, end_column: Any = None) -> list[Any]:
    """FHIR date search (R4 search.html#date). The value's precision gives its range [low, high); its offset
    counts (no offset: UTC). A column is one instant; with ``end_column`` the target is the range
    [column, end] (an absent end: the start alone). Prefixes on a target range [t0, t1]: ``eq`` the
    value's range contains it; ``ne`` it does not; ``gt``/``ge`` the range from high/low up overlaps it
    (``t1 >= high`` / ``t1 >= low``); ``lt``/``le`` the range below low/high overlaps it (``t0 < low`` /
    ``t0 < high``); ``sa`` it starts after the value (``t0 >= high``); ``eb`` it ends before (``t1 < low``);
    ``ap`` is taken as ``eq`` (the spec leaves its width to the server). Every bound is bound through
    the column's type (:class:`app.db.Instant`), so it is compared as an instant on both engines."""
    clauses = []
    start = column
    end = column if end_column is None else func.coalesce(end_column, column)
    for raw in values:
        m = _DATE.match(_SPACED_OFFSET.sub(r"\1+\2", raw))
        if not m:
            raise FhirError(400, "invalid", f"{name}={raw!r} is not a FHIR date (e.g. ge2026-01-01)",
                            french=f"{name}={raw!r} n'est pas une date FHIR (par exemple ge2026-01-01)",
                            rule="FHIR:date")
        prefix, text = m.group(1) or "eq", m.group(2)
        try:
            low, high = _date_range(text)
            low, high = low.astimezone(UTC), high.astimezone(UTC)  # compared in UTC: must stay in years 1-9999
        except (ValueError, OverflowError):
            raise FhirError(400, "invalid", f"{name}={raw!r} is not a FHIR date (e.g. ge2026-01-01)",
                            french=f"{name}={raw!r} n'est pas une date FHIR (par exemple ge2026-01-01)",
                            rule="FHIR:date") from None
        if prefix == "ge":
            clauses.append(end >= low)
        elif prefix == "gt":
            clauses.append(end >= high)
        elif prefix == "le":
            clauses.append(start < high)
        elif prefix == "lt":
            clauses.append(start < low)
        elif prefix == "sa":
            clauses.append(start >= high)
        elif prefix == "eb":
            clauses.append(end < low)
        elif prefix == "ne":
            clauses.append(or_(start < low, end >= high))
        else:
            clauses.append(and_(start >= low, end < high))
    return clauses


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


def token_clause(system_col: Any, code_col: Any, values: list[str]) -> Any:
    options = []
    for value in ",".join(values).split(","):
        system, sep, code = value.partition("|")
        if not sep:
            options.append(code_col == value)
        elif system and system_col is not None:
            options.append(and_(system_col == system, code_col == code))
        else:
            options.append(code_col == code)
    return or_(*options)


def like_literal(text: str) -> str:
    """``text`` for a LIKE pattern with ``ESCAPE '\\'``: its ``%`` and ``_`` match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_tokens(column: Any, values: list[str], *, with_system: bool = True) -> Any:
    """Tokens kept in a text column as `` system|code ... `` (or `` code ... ``), the search values taken
    literally and case-sensitively on both engines (FHIR token search matches codes exactly; SQLite's LIKE
    would ignore ASCII case): a substring test, no pattern."""
    options = []
    for value in ",".join(values).split(","):
        system, sep, code = value.partition("|")
        if sep and system:
            needle = f" {system}|{code} "
        elif with_system:
            needle = f"|{code or value} "
        else:
            needle = f" {code or value} "
        options.append(contains_text(column, needle))
    return or_(*options)


def name_starts_with(column: Any, values: list[str]) -> Any:
    """Names kept lower-cased in a text column as `` name name ``: any of them starting with a value (taken
    literally, as in :func:`like_tokens`)."""
    return or_(*(column.like(f"% {like_literal(v.lower())}%", escape="\\") for v in values))


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


async def search_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method == "POST":
        body = await request.body()
        media = (request.headers.get("content-type") or "").split(";", 1)[0].strip()
        if body and media != "application/x-www-form-urlencoded":
            raise FhirError(415, "not-supported", "POST _search takes application/x-www-form-urlencoded",
                            french="POST _search prend application/x-www-form-urlencoded", rule="FHIR:search-post")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise FhirError(400, "invalid", "the POST _search body is not UTF-8",
                            french="le corps du POST _search n'est pas en UTF-8", rule="FHIR:search-post") from None
        for key, value in parse_qsl(text, keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                raise _nul_refused("the POST _search body")
            params.setdefault(key, []).append(value)
    return params


# --- metadata, Patient (TD02) ---------------------------------------------------------------------

@router.get("/metadata", summary="CapabilityStatement (PDSm gestionnaire de partage de documents)")
async def metadata(request: Request, settings: SettingsDep) -> Response:
    return fhir_answer(request, fhir.capability_statement(settings))


@router.get("/Patient", summary="TD02: DMP state for an INS (Patient?identifier=urn:oid:...|INS)")
async def patient_search(request: Request, session: SessionDep, settings: SettingsDep,
                         professional: CurrentProfessional) -> Response:
    identifier = request.query_params.get("identifier")
    if not identifier or "|" not in identifier:
        raise FhirError(400, "required", "identifier=urn:oid:1.2.250.1.213.1.4.8|<INS> is required (TD02)",
                        french="identifier=urn:oid:1.2.250.1.213.1.4.8|<INS> est obligatoire (TD02)",
                        rule="PDSm4DMP:TD02.identifier", expression="identifier")
    system, _, value = identifier.partition("|")
    ins = mhd.parse_patient_token(system, value, expression="identifier").ins
    record = await service.get_record(session, ins=ins)
    resources = []
    if record is not None:
        resources.append(await _td02_patient(session, request, professional, record))
    self_url = absolute_url(settings, "/dmp/fhir/Patient", {"identifier": identifier})
    return fhir_answer(request, fhir.searchset(settings, resources, self_url=self_url, next_url=None,
                                               total=len(resources)))


@router.get("/Patient/{ins}", summary="DMP state of a patient (Patient read)")
async def patient_read(ins: str, request: Request, session: SessionDep, professional: CurrentProfessional
                       ) -> Response:
    record = await service.get_record(session, ins=ins)
    if record is None:
        raise FhirError(404, "not-found", f"no DMP for Patient/{ins}",
                        french=f"aucun DMP pour Patient/{ins}", rule="DMP:exists")
    return fhir_answer(request, await _td02_patient(session, request, professional, record))


async def _td02_patient(session: Any, request: Request, professional: Any, record: Any) -> dict[str, Any]:
    """The TD02 Patient: the DMP's state, the caller's authorisation (``INTERDIT`` when blocked), the INS
    person's traits."""
    caller = await service.caller_on(session, record, access_context(request, professional))
    authorisation = "INTERDIT" if caller.blocked else caller.authorisation.value
    identity = await service.patient_identity(session, record)
    return fhir.patient(record, authorisation=authorisation, identity=identity)


# --- ITI-65 / ITI-105 -----------------------------------------------------------------------------

@router.post("", summary="ITI-65 Provide Document Bundle (transaction)", status_code=200)
async def provide_bundle(request: Request, session: SessionDep, settings: SettingsDep,
                         professional: CurrentProfessional) -> Response:
    ctx = access_context(request, professional)
    body = await read_resource(request)
    submission = mhd.parse_provide_bundle(body, lenient=settings.dmp_lenient)
    results = await service.submit(session, settings, submission=submission, ctx=ctx)
    response = {"resourceType": "Bundle", "type": "transaction-response", "entry": [
        {"response": {"status": r.status, "location": absolute_url(settings, f"/dmp/fhir/{r.location}"),
                      **({"etag": r.etag} if r.etag else {})}} for r in results]}
    return fhir_answer(request, response)


@router.post("/DocumentReference", summary="ITI-105 Simplified Publish", status_code=201)
async def simplified_publish(request: Request, session: SessionDep, settings: SettingsDep,
                             professional: CurrentProfessional) -> Response:
    ctx = access_context(request, professional)
    body = await read_resource(request)
    doc = mhd.parse_simplified_publish(body, lenient=settings.dmp_lenient)
    doc_id = await service.publish_simplified(session, settings, doc=doc, ctx=ctx)
    stored = await service.get_document(session, doc_id)
    assert stored is not None
    record = await service.get_record(session, ins=doc.patient.ins)
    assert record is not None
    location = absolute_url(settings, f"/dmp/fhir/DocumentReference/{doc_id}/_history/1")
    return fhir_answer(request, fhir.document_reference(stored, record, settings), status=201,
                       headers={"Location": location, "ETag": 'W/"1"'})


# --- ITI-67 ---------------------------------------------------------------------------------------

_DOC_PARAMS = {"patient", "patient.identifier", "status", "creation", "author.given", "author.family", "category",
               "type", "setting", "period", "facility", "event", "security-label", "format", "related", "identifier",
               "isArchived", "period-start", "period-end", "_count", "_offset", "_format"}


def document_filters(params: dict[str, list[str]]) -> list[Any]:
    d = DmpDocument
    filters: list[Any] = []
    if "creation" in params:
        filters += date_clause(d.date, params["creation"], name="creation")
    if "period" in params:
        filters += date_clause(d.period_start, params["period"], name="period", end_column=d.period_end)
    if "period-start" in params:
        filters += date_clause(d.period_start, params["period-start"], name="period-start")
    if "period-end" in params:
        filters += date_clause(d.period_end, params["period-end"], name="period-end")
    if "author.given" in params:
        filters.append(name_starts_with(d.author_given, params["author.given"]))
    if "author.family" in params:
        filters.append(name_starts_with(d.author_family, params["author.family"]))
    if "category" in params:
        filters.append(token_clause(d.class_system, d.class_code, params["category"]))
    if "type" in params:
        filters.append(token_clause(d.type_system, d.type_code, params["type"]))
    if "format" in params:
        filters.append(token_clause(d.format_system, d.format_code, params["format"]))
    if "setting" in params:
        filters.append(token_clause(None, d.practice_code, params["setting"]))
    if "facility" in params:
        filters.append(token_clause(None, d.facility_code, params["facility"]))
    if "event" in params:
        filters.append(like_tokens(d.event_codes, params["event"]))
    if "related" in params:
        filters.append(like_tokens(d.related_ids, params["related"]))
    if "security-label" in params:
        filters.append(like_tokens(d.label_codes, params["security-label"], with_system=False))
    if "identifier" in params:
        options = []
        for value in ",".join(params["identifier"]).split(","):
            _, _, val = value.rpartition("|")
            options += [d.unique_id == val, d.id == val.removeprefix("urn:uuid:")]
        filters.append(or_(*options))
    if "isArchived" in params:
        value = params["isArchived"][0].lower()
        if value not in ("true", "false"):
            raise FhirError(400, "invalid", "isArchived takes true or false",
                            french="isArchived prend true ou false", rule="PDSm:isArchived")
        filters.append(d.is_archived.is_(value == "true"))
    return filters


@router.get("/DocumentReference", summary="ITI-67 Find Document References")
@router.post("/DocumentReference/_search", summary="ITI-67 Find Document References (POST)",
             operation_id="dmp_find_documents_post")
async def find_documents(request: Request, session: SessionDep, settings: SettingsDep,
                         professional: CurrentProfessional) -> Response:
    params = await search_params(request)
    ins = parse_patient_param(params)
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
    ctx = access_context(request, professional)
    record, caller, _ = await service.authorise(session, ins=ins, ctx=ctx, action=rules.Action.CONSULT)
    count, offset = page_params(params, settings)
    rows, total = await service.search_documents(session, record=record, caller=caller, statuses=statuses,
                                                 filters=document_filters(params), count=count, offset=offset)
    ignored = sorted(set(params) - _DOC_PARAMS)
    outcome = None
    if ignored:
        outcome = {"resourceType": "OperationOutcome", "issue": [{
            "severity": "warning", "code": "not-supported",
            "diagnostics": f"search parameters ignored: {', '.join(ignored)}"}]}
    query = "&".join(f"{k}={v}" for k, vs in params.items() for v in vs)
    await service.trace(session, record=record, ctx=ctx, transaction="ITI-67", action="E",
                        documents_ids=[r.id for r in rows], query=query)
    self_url, next_url = links(settings, "/dmp/fhir/DocumentReference", params, offset=offset, count=count,
                               total=total)
    resources = [fhir.document_reference(r, record, settings) for r in rows]
    return fhir_answer(request, fhir.searchset(settings, resources, self_url=self_url, next_url=next_url,
                                               total=total, outcome=outcome))


async def _visible_document(session: Any, request: Request, professional: Any, doc_id: str, *, transaction: str
                            ) -> tuple[DmpDocument, Any, service.AccessContext]:
    doc = await service.get_document(session, doc_id)
    if doc is None:
        raise FhirError(404, "not-found", f"no DocumentReference/{doc_id}",
                        french=f"aucun DocumentReference/{doc_id}", rule="MHD:unknown")
    record = await session.get(service.DmpRecord, doc.dmp_id)
    ctx = access_context(request, professional)
    _, caller, _ = await service.authorise(session, ins=record.ins, ctx=ctx, action=rules.Action.CONSULT,
                                           transaction=transaction)
    view = service.document_view(doc)
    if view.availability is rules.Availability.DELETED:
        if caller.rpps and caller.rpps == doc.author_rpps:
            raise FhirError(410, "deleted", f"DocumentReference/{doc_id} was deleted by its author",
                            french=f"DocumentReference/{doc_id} a été supprimé par son auteur",
                            rule="PDSm4DMP:TD3.3c-deleted")
        raise FhirError(404, "not-found", f"no DocumentReference/{doc_id}",
                        french=f"aucun DocumentReference/{doc_id}", rule="MHD:unknown")
    if not rules.is_visible(view, caller):
        # 404, not 403, and the very answer of an unknown document: a 403 or another rule would tell the
        # caller a masked document exists (MHD ITI-68 §3.68.4.2.3).
        raise FhirError(404, "not-found", f"no DocumentReference/{doc_id}",
                        french=f"aucun DocumentReference/{doc_id}", rule="MHD:unknown")
    return doc, record, ctx


@router.get("/DocumentReference/{doc_id}", summary="DocumentReference read")
async def read_document(doc_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                        professional: CurrentProfessional) -> Response:
    doc, record, ctx = await _visible_document(session, request, professional, doc_id, transaction="READ")
    await service.trace(session, record=record, ctx=ctx, transaction="READ", action="R", documents_ids=[doc.id])
    return fhir_answer(request, fhir.document_reference(doc, record, settings),
                       headers={"ETag": f'W/"{doc.version_id}"'})


# --- ITI-68 ---------------------------------------------------------------------------------------

@router.get("/Binary/{binary_id}", summary="ITI-68 Retrieve Document (raw bytes or FHIR Binary)")
async def retrieve_document(binary_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                            professional: CurrentProfessional) -> Response:
    doc_id = (await session.execute(select(DmpDocument.id).where(DmpDocument.binary_id == binary_id))).scalar()
    if doc_id is None:
        raise FhirError(404, "not-found", f"no Binary/{binary_id}",
                        french=f"aucun Binary/{binary_id}", rule="MHD:ITI-68.unknown")
    try:
        doc, record, ctx = await _visible_document(session, request, professional, doc_id, transaction="ITI-68")
    except FhirError as exc:
        if exc.status == 404:  # masked (or deleted): the answer of an unknown Binary, not of its DocumentReference
            raise FhirError(404, "not-found", f"no Binary/{binary_id}",
                            french=f"aucun Binary/{binary_id}", rule="MHD:ITI-68.unknown") from None
        raise
    if doc.availability == "Deprecated":
        raise FhirError(410, "deleted", f"Binary/{binary_id} belongs to a superseded document: retrieve the version "
                        "that replaced it",
                        french=f"Binary/{binary_id} appartient à un document remplacé : récupérer la version qui "
                               f"l'a remplacé",
                        rule="MHD:ITI-68.deprecated")
    binary = await session.get(service.DmpBinary, binary_id)
    assert binary is not None
    accept = (request.headers.get("accept") or "*/*").lower()
    ranges = [a.split(";", 1)[0].strip() for a in accept.split(",")]
    etag = f'"{binary.hash_b64}"'
    await service.trace(session, record=record, ctx=ctx, transaction="ITI-68", action="R", documents_ids=[doc.id])
    if any(r in (FHIR_JSON, FHIR_XML, "application/json", "application/xml+fhir") for r in ranges) and not any(
            r == binary.content_type for r in ranges):
        data = await service.read_binary(session, binary_id)
        resource = {"resourceType": "Binary", "id": binary_id, "contentType": binary.content_type,
                    "data": base64.b64encode(data).decode("ascii")}
        if FHIR_XML in ranges and FHIR_JSON not in ranges:
            return Response(fhir.to_xml(resource), media_type=FHIR_XML, headers={"ETag": etag})
        return Response(json.dumps(resource), media_type=FHIR_JSON, headers={"ETag": etag})
    main, _, _ = binary.content_type.partition("/")
    if not any(r in ("*/*", binary.content_type, f"{main}/*") for r in ranges):
        raise FhirError(406, "not-supported", f"the document is {binary.content_type}; Accept {accept!r} cannot be "
                        "served (ask for it or for application/fhir+json)",
                        french=f"le document est {binary.content_type} ; Accept {accept!r} ne peut être servi (le "
                               f"demander, ou application/fhir+json)",
                        rule="MHD:ITI-68.format")
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    headers = {"ETag": etag, "Content-Length": str(binary.size)}
    return StreamingResponse(service.stream_binary(request.app.state.sessionmaker, binary_id, binary.chunks),
                             media_type=binary.content_type, headers=headers)


# --- PATCH ----------------------------------------------------------------------------------------

async def _patch(request: Request, session: Any, settings: Settings, professional: Any, doc: DmpDocument
                 ) -> Response:
    ctx = access_context(request, professional)
    try:
        kind, body = parse_patch_body(request.headers.get("content-type") or "", await request.body())
    except PatchRefused as exc:
        raise FhirError(exc.status, "invalid" if exc.status == 400 else "not-supported", exc.message,
                        rule=exc.rule) from None
    doc = await service.patch_document(session, settings, doc=doc, ctx=ctx, kind=kind, body=body,
                                       if_match=request.headers.get("if-match"))
    record = await session.get(service.DmpRecord, doc.dmp_id)
    return fhir_answer(request, fhir.document_reference(doc, record, settings),
                       headers={"ETag": f'W/"{doc.version_id}"'})


@router.patch("/DocumentReference", summary="Conditional PATCH DocumentReference?identifier= (metadata update)")
async def patch_conditional(request: Request, session: SessionDep, settings: SettingsDep,
                            professional: CurrentProfessional) -> Response:
    identifier = request.query_params.get("identifier")
    if not identifier:
        raise FhirError(400, "required", "conditional PATCH needs ?identifier=system|value (masterIdentifier)",
                        french="un PATCH conditionnel exige ?identifier=système|valeur (masterIdentifier)",
                        rule="PDSm:patch-conditional", expression="identifier")
    matches = await service.find_by_identifier(session, identifier.rpartition("|")[2])
    if not matches:
        raise FhirError(404, "not-found", f"no DocumentReference with identifier {identifier}",
                        french=f"aucun DocumentReference d'identifiant {identifier}", rule="MHD:unknown")
    if len(matches) > 1:
        raise FhirError(412, "multiple-matches", f"identifier {identifier} matches {len(matches)} documents",
                        french=f"l'identifiant {identifier} désigne {len(matches)} documents",
                        rule="FHIR:conditional-multiple")
    return await _patch(request, session, settings, professional, matches[0])


@router.patch("/DocumentReference/{doc_id}", summary="PATCH DocumentReference/<id> (metadata update)")
async def patch_by_id(doc_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                      professional: CurrentProfessional) -> Response:
    doc = await service.get_document(session, doc_id)
    if doc is None:
        raise FhirError(404, "not-found", f"no DocumentReference/{doc_id}",
                        french=f"aucun DocumentReference/{doc_id}", rule="MHD:unknown")
    return await _patch(request, session, settings, professional, doc)


# --- ITI-66 ---------------------------------------------------------------------------------------

@router.get("/List", summary="ITI-66 Find Lists (submission sets)")
async def find_lists(request: Request, session: SessionDep, settings: SettingsDep,
                     professional: CurrentProfessional) -> Response:
    params = await search_params(request)
    ins = parse_patient_param(params)
    ctx = access_context(request, professional)
    record, _, _ = await service.authorise(session, ins=ins, ctx=ctx, action=rules.Action.CONSULT,
                                           transaction="ITI-66")
    s = DmpSubmissionSet
    filters: list[Any] = []
    for code in params.get("code", []):
        if code.rpartition("|")[2] not in ("submissionset",):
            filters.append(s.id.is_(None))  # folders are not kept: nothing matches
    if "date" in params:
        filters += date_clause(s.submission_time, params["date"], name="date")
    if "sourceId" in params:
        filters.append(s.source_id.in_([v.rpartition("|")[2] for v in params["sourceId"]]))
    if "designationType" in params:
        filters.append(token_clause(s.designation_system, s.designation_code, params["designationType"]))
    if "identifier" in params:
        values = [v.rpartition("|")[2] for v in params["identifier"]]
        filters.append(or_(s.unique_id.in_(values), s.id.in_([v.removeprefix("urn:uuid:") for v in values])))
    statuses = {v for vs in params.get("status", []) for v in vs.split(",")}
    if statuses and "current" not in statuses:
        filters.append(s.id.is_(None))
    count, offset = page_params(params, settings)
    rows, total = await service.search_submission_sets(session, record=record, filters=filters, count=count,
                                                       offset=offset)
    await service.trace(session, record=record, ctx=ctx, transaction="ITI-66", action="E",
                        query="&".join(f"{k}={v}" for k, vs in params.items() for v in vs))
    self_url, next_url = links(settings, "/dmp/fhir/List", params, offset=offset, count=count, total=total)
    return fhir_answer(request, fhir.searchset(settings, [fhir.submission_set(r, record, settings) for r in rows],
                                               self_url=self_url, next_url=next_url, total=total))


@router.get("/List/{list_id}", summary="SubmissionSet read")
async def read_list(list_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                    professional: CurrentProfessional) -> Response:
    ss = await session.get(DmpSubmissionSet, list_id)
    if ss is None:
        raise FhirError(404, "not-found", f"no List/{list_id}", french=f"aucune List/{list_id}", rule="MHD:unknown")
    record = await session.get(service.DmpRecord, ss.dmp_id)
    if record is None:  # a submission set outlives no DMP (foreign key), but say so rather than crash
        raise FhirError(404, "not-found", f"no DMP for List/{list_id}",
                        french=f"aucun DMP pour List/{list_id}", rule="MHD:unknown")
    ctx = access_context(request, professional)
    await service.authorise(session, ins=record.ins, ctx=ctx, action=rules.Action.CONSULT, transaction="ITI-66")
    return fhir_answer(request, fhir.submission_set(ss, record, settings))


# --- AuditEvent -----------------------------------------------------------------------------------

@router.get("/AuditEvent", summary="Access traces of a patient's DMP (the patient's activity history)")
async def audit_events(request: Request, session: SessionDep, settings: SettingsDep,
                       professional: CurrentProfessional) -> Response:
    params = await search_params(request)
    ins = parse_patient_param(params)
    filters = date_clause(DmpAuditEvent.recorded, params["date"], name="date") if "date" in params else []
    if "subtype" in params:
        filters.append(DmpAuditEvent.transaction.in_([v.rpartition("|")[2] for v in params["subtype"]]))
    count, offset = page_params(params, settings)
    rows, total = await service.search_audit(session, ins=ins, filters=filters, count=count, offset=offset)
    self_url, next_url = links(settings, "/dmp/fhir/AuditEvent", params, offset=offset, count=count, total=total)
    return fhir_answer(request, fhir.searchset(settings, [fhir.audit_event(r, settings) for r in rows],
                                               self_url=self_url, next_url=next_url, total=total))

