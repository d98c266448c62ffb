"""The XDM helpers of the mailbox API (``/mss/v1/xdm``, PSC access token): build a conformant
``IHE_XDM.ZIP`` around a CDA, and read one safely to compare a vendor's own."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.mss import xdm
from app.mss.http.messages import PROBLEMS
from app.mss.http.problems import journal_refusal, problem


def add_xdm_routes(router: APIRouter) -> None:
    @router.post(
        "/xdm",
        operation_id="mss_build_xdm",
        summary="Build a conformant IHE_XDM.ZIP around a CDA R2 document (body: the CDA XML)",
        description="The document entry's formatCode is the CI-SIS one (JDV_J10) of the CDA's kind: a level 1 "
        "document by its wrapped media type (urn:ihe:iti:xds-sd:pdf:2008...), a structured one by its volet's "
        "templateId (urn:asip:ci-sis:vsm:2012...). `formatCode` overrides it (any JDV_J10 code).",
        response_class=Response,
        responses={401: PROBLEMS[401], 200: {"content": {"application/zip": {}}},
                   422: {"description": "not a CDA, no INS in it, or a format code the sandbox cannot tell"}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/xml": {"schema": {
            "type": "string"}}}}},
    )
    async def build_xdm_endpoint(
        request: Request,
        format_code: Annotated[str | None, Query(alias="formatCode", max_length=256,
                                                 description="a JDV_J10 format code, instead of the CDA's own")] = None,
    ) -> Response:
        cda = await request.body()

        def build() -> tuple[bytes, xdm.XdmPackage]:
            archive = xdm.build_xdm(cda, format_code=format_code)
            return archive, xdm.read_xdm(archive)

        try:
            archive, package = await asyncio.to_thread(build)  # XML parsing and zip work: off the event loop
        except xdm.XdmError as exc:
            refusal = problem(exc, title="Cannot build the XDM")
            journal_refusal(request, refusal, f"Cannot build the XDM ({exc.code})")
            raise refusal from None
        return Response(archive, media_type="application/zip", headers={
            "Content-Disposition": 'attachment; filename="IHE_XDM.ZIP"',
            "X-MSS-CODECDA": ",".join(package.cda_codes),
            "X-MSS-INS": "O" if package.has_qualified_ins else "N",
        })

    @router.post(
        "/xdm/inspect",
        operation_id="mss_inspect_xdm",
        summary="Read an IHE_XDM.ZIP safely and return its decoded metadata and issues (compare yours)",
        responses={401: PROBLEMS[401], 422: {"description": "unsafe or unreadable archive (code in the problem)"}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/zip": {"schema": {
            "type": "string", "format": "binary"}}}}},
    )
    async def inspect_xdm(request: Request) -> dict[str, Any]:
        data = await request.body()
        try:
            package = await asyncio.to_thread(xdm.read_xdm, data)  # zip and XML parsing: off the event loop
        except xdm.XdmError as exc:
            refusal = problem(exc)
            refusal.extra.update(code=exc.code, unsafe=exc.unsafe)
            journal_refusal(request, refusal, f"Unreadable or unsafe XDM ({exc.code})")
            raise refusal from None
        return package.to_dict()
