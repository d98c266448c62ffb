"""The JSON answers of the INS domain (JSON face and control API): one small interface over a fast path.

Fast path (``fast``: ``settings.fast_paths``, a required keyword the caller passes from the settings it already
holds, so the hot JSON search reads them once per request): orjson, compact UTF-8 with non-ASCII kept as is
(~10x faster than the standard library on a found person with its FR Core Patient: 11.5 -> 0.9 µs, docs/ins.md
"Performance").
Plain path: FastAPI's own :class:`~fastapi.responses.JSONResponse` (``json.dumps(ensure_ascii=False,
separators=(",", ":"))``): the same bytes for the values these answers hold (strings, integers, booleans,
null, lists, objects; tests/ins/test_jsonbody.py compares them).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse
from starlette.responses import Response

JSON = "application/json"


def json_response(body: Any, status: int = 200, *, fast: bool) -> Response:
    if fast:
        return Response(orjson.dumps(body), status_code=status, media_type=JSON)
    return JSONResponse(body, status_code=status)
