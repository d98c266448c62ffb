"""Reading a FHIR request: the body (JSON or XML), the search parameters (query string or POST _search
form), a PATCH body, the access mode and reason headers, and the NUL character no FHIR string may hold.

Access mode and reason travel in ``X-DMP-Access-Mode`` (``normal`` | ``bris_de_glace`` | ``centre_15``,
TRE_R248) and ``X-DMP-Access-Reason`` (UTF-8, percent-encoded if needed) — the FHIR route's stand-in for
the VIHF ``purposeofuse`` attribute and PSC's ``Mode_Acces_Raison`` claim (reference/dmp.md §1.1, §2.5).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote

from fastapi import Request
from pydantic import ValidationError

from app.api.errors import FhirError
from app.dmp import jsonio, rules
from app.dmp.context import AccessContext
from app.dmp.fhir.xml import from_xml
from app.shared.professional import Professional
from app.xmlsafe import InvalidXmlError, UnsafeXmlError

MODE_HEADER = "X-DMP-Access-Mode"
REASON_HEADER = "X-DMP-Access-Reason"
FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"


def nul_refused(where: str) -> FhirError:
    # No FHIR string holds U+0000 (R4 datatypes.html#string); PostgreSQL text cannot either, so a NUL that
    # reached a query or a trace failed the request with a 500 there (SQLite took it).
    return FhirError(400, "invalid", f"{where} holds U+0000 (NUL), which no FHIR string may contain",
                     french=f"{where} contient U+0000 (NUL), qu'aucune chaîne FHIR ne peut contenir",
                     rule="FHIR:string")


async def no_nul_in_url(request: Request) -> None:
    """Every DMP route: a NUL in the (decoded) path or the query string is the client's error."""
    if "\x00" in request.scope["path"]:
        raise nul_refused("the URL path")
    if b"%00" in request.scope["query_string"]:
        raise nul_refused("the query string")


def access_context(request: Request, professional: Professional) -> AccessContext:
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
        raise nul_refused(REASON_HEADER)
    return AccessContext(professional=professional, mode=mode, reason=reason)


async def read_resource(request: Request) -> Any:
    body = await request.body()
    media = (request.headers.get("content-type") or FHIR_JSON).split(";", 1)[0].strip().lower()
    if "xml" in media:
        try:
            return from_xml(body, max_bytes=request.app.state.settings.max_body_bytes)
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
                raise nul_refused("the POST _search body")
            params.setdefault(key, []).append(value)
    return params

def parse_patch_body(content_type: str, body: bytes) -> tuple[str, Any]:
    """Return ("json-patch" | "fhirpath", parsed) from a PATCH request, or raise (415 / 400)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in ("application/json-patch+json", "application/fhir+json", "application/json"):
        raise FhirError(415, "not-supported", f"PATCH content type {media!r} is not supported: use "
                        "application/json-patch+json or a FHIRPath Patch Parameters in application/fhir+json",
                        rule="FHIR:patch-content-type")
    try:
        parsed = json.loads(body or b"null")
    except (ValueError, RecursionError) as exc:
        raise FhirError(400, "invalid", f"the PATCH body is not JSON: {exc}", rule="FHIR:patch-body") from None
    if media == "application/json-patch+json":
        return "json-patch", parsed
    if isinstance(parsed, list):
        return "json-patch", parsed
    return "fhirpath", parsed


