"""``/livez`` (the process answers) and ``/readyz`` (the store answers, migrations applied, every
listener up) — what the Docker HEALTHCHECK and CI pipelines wait on."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["platform"])


@router.get("/livez", summary="The process is alive", operation_id="livez")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The sandbox is ready: store reachable and every listener started",
    operation_id="readyz",
    responses={503: {"description": "not ready; `checks` says which part is not"}},
)
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready", never a 500
        checks["database"] = f"unreachable: {type(exc).__name__}"
    for name, probe in getattr(request.app.state, "readiness_probes", {}).items():
        checks[name] = "ok" if probe() else "not ready"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)
