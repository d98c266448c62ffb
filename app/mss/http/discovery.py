"""The open routes of the mailbox API (``/mss/v1``, no token): what a client needs before it connects, the
checks applied to every message and the SMTP listener's TLS certificate."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import SettingsDep
from app.api.errors import ProblemError
from app.mss import rules

router = APIRouter(prefix="/mss/v1", tags=["mss"])


@router.get("/checks", operation_id="mss_list_checks", summary="The MSSanté checks applied to every message")
async def list_checks(settings: SettingsDep) -> list[dict[str, Any]]:
    enforced = rules.enforced_rules(settings.mss_enforced_check_ids)
    return [{"id": r.id, "title": r.title, "severity": r.severity, "enforced": r.id in enforced,
             "reply": r.reply, "source": r.source} for r in rules.RULES.values()]


@router.get("/tls/certificate", operation_id="mss_tls_certificate", response_class=Response,
            summary="The SMTP listener's TLS certificate (PEM), to trust it in a test client")
async def tls_certificate(request: Request) -> Response:
    pem = getattr(request.app.state, "mss_tls_certificate", None)
    if pem is None:
        raise ProblemError(503, "SMTP listener not started", "no TLS certificate yet", rule="MSS:tls")
    return Response(pem, media_type="application/x-pem-file")
