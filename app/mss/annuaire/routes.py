"""HTTP routes of the Annuaire Santé FHIR API v2 stub (``/fhir/v2``).

As the real API (``ansforge/annuaire-sante-fhir-documentation`` @9f3d7d0 getting-started/api-basics.md):
``GET [type]`` and ``POST [type]/_search`` (form-encoded; the query string may carry parameters too),
``GET [type]/[id]``, ``GET metadata``, paging through ``GET _page?id=…`` links (use-case/uc-call-type.md),
header ``ESANTE-API-KEY``; an unknown resource type answers the documented ``HAPI-0302`` OperationOutcome.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from app.api.deps import SessionDep, SettingsDep
from app.api.errors import FhirError
from app.api.urls import absolute_url
from app.mss.annuaire import capability, resources, search
from app.mss.annuaire import codes as c
from app.mss.annuaire import params as p

TYPES = tuple(p.SEARCH_PARAMS)


async def check_api_key(settings: SettingsDep,
                        esante_api_key: Annotated[str | None, Header(alias="ESANTE-API-KEY")] = None) -> None:
    expected = settings.mss_annuaire_api_key
    if expected and not hmac.compare_digest((esante_api_key or "").encode(), expected.encode()):
        raise FhirError(401, "security",
                        "En-tête ESANTE-API-KEY absent ou invalide / missing or invalid ESANTE-API-KEY header "
                        "(SEGUR_MSS_ANNUAIRE_API_KEY)", rule="ANN:api-key")


router = APIRouter(prefix="/fhir/v2", tags=["annuaire"], dependencies=[Depends(check_api_key)])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "parameter refused (OperationOutcome, issue.code processing)"},
    401: {"description": "missing or invalid ESANTE-API-KEY (OperationOutcome)"},
}


def _fhir(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, media_type=c.FHIR_JSON)


def _base(request: Request) -> str:
    """The base of the links and ``fullUrl``s: the public base URL in the tenant's world (``/t/{tenant}``)."""
    return absolute_url(request.app.state.settings, "/fhir/v2")


def _page_token(resource_type: str, kept: list[tuple[str, str]], offset: int) -> str:
    raw = json.dumps([resource_type, kept, offset], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_page_token(token: str) -> tuple[str, list[tuple[str, str]], int]:
    gone = FhirError(410, "processing", f"HAPI-0417: Search ID \"{token[:80]}\" does not exist and may have "
                     "expired (lien de pagination inconnu / unknown paging link)", rule="ANN:search.page")
    try:
        kind, kept, offset = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise gone from None
    if (kind not in TYPES or not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= 10**9
            or not isinstance(kept, list)
            or not all(isinstance(x, list) and len(x) == 2 and all(isinstance(y, str) for y in x) for x in kept)):
        raise gone
    return kind, [(k, v) for k, v in kept], offset


async def _answer(request: Request, session: Any, resource_type: str, pairs: list[tuple[str, str]],
                  offset: int = 0) -> JSONResponse:
    query = search.parse(resource_type, pairs)
    data = await resources.directory(session)
    found = search.run(query, data)
    base = _base(request)
    page = [] if query.summary_count else found[offset:offset + query.count]
    links = [{"relation": "self", "url": f"{base}/{resource_type}" + (f"?{urlencode(query.kept)}" if query.kept else "")
              if offset == 0 else f"{base}/_page?id={_page_token(resource_type, query.kept, offset)}"}]
    if not query.summary_count and query.count and offset + query.count < len(found):
        links.append({"relation": "next",
                      "url": f"{base}/_page?id={_page_token(resource_type, query.kept, offset + query.count)}"})
    if offset and query.count and not query.summary_count:
        links.append({"relation": "previous",
                      "url": f"{base}/_page?id={_page_token(resource_type, query.kept, max(0, offset - query.count))}"})
    shown = [search.subset(r, query.elements) for r in page] if query.elements else page
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": resources.lastupdated(datetime.now(UTC))},
        "type": "searchset",
    }
    if query.total or query.summary_count:
        bundle["total"] = len(found)
    bundle["link"] = links
    bundle["entry"] = [
        {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": mode}}
        for mode, group in (("match", shown), ("include", search.included(query, page, data))) for r in group
    ]
    return _fhir(bundle)


async def _form(request: Request) -> list[tuple[str, str]]:
    """The body of POST [type]/_search (FHIR R4 http.html#search: application/x-www-form-urlencoded)."""
    body = await request.body()
    if not body:
        return []
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise FhirError(415, "processing", f"POST _search attend / expects application/x-www-form-urlencoded, "
                        f"not {ctype or 'no Content-Type'}", rule="ANN:search.post-content-type")
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise FhirError(400, "processing", "corps non UTF-8 / body is not UTF-8", rule="ANN:search.post-body") from None


@router.get("/metadata", summary="CapabilityStatement of the Annuaire Santé FHIR API stub",
            operation_id="annuaire_metadata", response_class=JSONResponse, responses=ERRORS)
async def metadata(request: Request) -> JSONResponse:
    return _fhir(capability.capability_statement(absolute_url(request.app.state.settings, "/").rstrip("/")))


@router.get("/_page", summary="Next or previous page of a search (link of a searchset Bundle)",
            operation_id="annuaire_page", response_class=JSONResponse,
            responses={**ERRORS, 410: {"description": "unknown paging link (OperationOutcome)"}})
async def page(request: Request, session: SessionDep, id: str = "") -> JSONResponse:  # noqa: A002 - the documented name
    kind, kept, offset = _read_page_token(id)
    return await _answer(request, session, kind, kept, offset)


def _register(resource_type: str) -> None:
    async def search_get(request: Request, session: SessionDep) -> JSONResponse:
        return await _answer(request, session, resource_type, list(request.query_params.multi_items()))

    async def search_post(request: Request, session: SessionDep) -> JSONResponse:
        pairs = list(request.query_params.multi_items()) + await _form(request)
        return await _answer(request, session, resource_type, pairs)

    async def read(session: SessionDep, resource_id: str) -> JSONResponse:
        resource = (await resources.directory(session))[resource_type].get(resource_id)
        if resource is None:
            raise FhirError(404, "processing", f"HAPI-2001: Resource {resource_type}/{resource_id} is not known "
                            "(ressource inconnue / not found)", rule="ANN:read.not-found")
        return _fhir(resource)

    router.add_api_route(f"/{resource_type}", search_get, methods=["GET"],
                         operation_id=f"annuaire_search_{resource_type}",
                         summary=f"Search {resource_type} (Annuaire Santé FHIR API stub)",
                         response_class=JSONResponse, responses=ERRORS)
    router.add_api_route(f"/{resource_type}/_search", search_post, methods=["POST"],
                         operation_id=f"annuaire_search_post_{resource_type}",
                         summary=f"Search {resource_type} with a form-encoded body",
                         response_class=JSONResponse,
                         responses={**ERRORS, 415: {"description": "body not form-encoded"}})
    router.add_api_route(f"/{resource_type}/{{resource_id}}", read, methods=["GET"],
                         operation_id=f"annuaire_read_{resource_type}", summary=f"Read one {resource_type}",
                         response_class=JSONResponse,
                         responses={**ERRORS, 404: {"description": "unknown id (OperationOutcome)"}})


for _type in TYPES:
    _register(_type)


@router.api_route("/{resource_type}", methods=["GET", "POST"], include_in_schema=False)
@router.api_route("/{resource_type}/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
async def other_paths(request: Request, resource_type: str) -> JSONResponse:
    """An unknown resource type answers as api-basics.md shows (HAPI-0302); on a served type, only the
    search and read interactions exist (api-basics.md: GET and POST …/_search; PUT and DELETE forbidden)."""
    if resource_type not in TYPES:
        raise FhirError(404, "processing", f"HAPI-0302: Unknown resource type '{resource_type}' - Server knows "
                        f"how to handle: [{', '.join(TYPES)}]", rule="ANN:resource-type")
    if request.method == "POST" and request.url.path.rstrip("/").endswith(f"/{resource_type}"):
        raise FhirError(405, "not-supported", f"POST {resource_type}: seule la recherche est servie (POST "
                        f"{resource_type}/_search) / only search is served", rule="ANN:method",
                        headers={"Allow": "GET"})
    raise FhirError(404, "processing", f"{request.method} {request.url.path}: opération inconnue / unknown "
                    "operation (GET [type], GET [type]/[id], POST [type]/_search)", rule="ANN:route")
