"""Fast JSON for the DMP's hot paths (documents stored and rendered by the hundred): orjson when it is
installed, the standard library otherwise — same output either way (UTF-8, compact)."""

from __future__ import annotations

import json
from typing import Any

try:  # pragma: no cover - depends on the environment
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(value: bytes | str) -> Any:
        return orjson.loads(value)

except ImportError:  # pragma: no cover
    def dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def loads(value: bytes | str) -> Any:
        return json.loads(value)


def dumps_text(value: Any) -> str:
    return dumps(value).decode("utf-8")
