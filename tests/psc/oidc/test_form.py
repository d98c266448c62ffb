"""The fast path's form reader (app.psc.oidc.http._urlencoded) reads every body as Starlette's request.form()
does: the same fields, the same 400s, whatever the chunks the body arrives in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.psc.oidc.http import FORM_MAX_FIELD_BYTES, _urlencoded

FORM = "application/x-www-form-urlencoded"


async def _chunks(parts: list[bytes], pulled: list[int]) -> AsyncIterator[bytes]:
    for part in parts:
        pulled[0] += 1
        yield part


def _split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(max(cut, 0), len(body)) for cut in cuts} | {0, len(body)})
    return [body[a:b] for a, b in zip(points, points[1:], strict=False)] or [b""]


async def _starlette(content_type: str, parts: list[bytes]) -> object:
    messages = [{"type": "http.request", "body": part, "more_body": True} for part in parts]
    messages.append({"type": "http.request", "body": b"", "more_body": False})
    received = 0

    async def receive() -> dict:
        nonlocal received
        received += 1
        return messages[received - 1]

    headers = [(b"content-type", content_type.encode("latin-1"))]
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "app": object()}
    try:
        return dict((await Request(scope, receive).form()).items()), min(received, len(parts))
    except HTTPException as exc:
        return (exc.status_code, exc.detail), min(received, len(parts))


async def _ours(content_type: str, parts: list[bytes]) -> object:
    """What the reader answers, and how many of the body's chunks it read (a refusal stops the reading)."""
    pulled = [0]
    try:
        return await _urlencoded(content_type, _chunks(parts, pulled)), pulled[0]
    except HTTPException as exc:
        return (exc.status_code, exc.detail), pulled[0]


BODIES = [
    b"", b"&", b"&&", b"=", b"==", b"a", b"a=", b"=b", b"a=b=c", b"a=1&a=2", b"&a=1&&b=2&", b"a+b=c+d", b"%41=%42",
    b"x=%ZZ%4", b"x=%C3%A9", b"x=\xe9\xff", b"x=1;y=2", b"x=a%00b", b"x=%2B+%20", b" a = b ",
    b"a=" + b"x" * (FORM_MAX_FIELD_BYTES - 1), b"a=" + b"x" * FORM_MAX_FIELD_BYTES,
    b"ab" + b"x" * (FORM_MAX_FIELD_BYTES - 1),
    b"a=" + b"x" * (FORM_MAX_FIELD_BYTES - 1) + b"&b=" + b"y" * (FORM_MAX_FIELD_BYTES + 5),
    b"&".join(b"f%d=1" % n for n in range(1000)), b"&".join(b"f%d=1" % n for n in range(1001)),
    b"&".join(b"f=1" for _ in range(1001)),
]
MEDIA_TYPES = [FORM, FORM + "; charset=utf-8", "Application/X-WWW-Form-URLEncoded", FORM + " ", FORM + "\t;a=b",
               FORM + "\xa0", FORM + "\x0c", FORM + "x", " " + FORM, FORM + ";", FORM + '; charset="utf-8"']


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
async def test_the_same_fields_and_refusals_in_one_chunk_or_many(body: bytes) -> None:
    for parts in ([body], _split(body, [1, 2, 3, len(body) // 2, len(body) - 1]), [bytes([b]) for b in body[:300]] +
                  ([body[300:]] if len(body) > 300 else [])):
        assert await _ours(FORM, parts) == await _starlette(FORM, parts), parts[:5]


@pytest.mark.parametrize("content_type", MEDIA_TYPES)
async def test_the_media_type_is_read_the_same(content_type: str) -> None:
    body = [b"grant_type=client_credentials&scope=email"]
    assert await _ours(content_type, body) == await _starlette(content_type, body)


ALPHABET = b"a=&%+;2Cx\xe9 \x00"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=80).map(lambda raw: bytes(ALPHABET[c % len(ALPHABET)] for c in raw)),
       cuts=st.lists(st.integers(0, 80), max_size=6))
async def test_any_body_any_chunks(body: bytes, cuts: list[int]) -> None:
    parts = _split(body, cuts)
    assert await _ours(FORM, parts) == await _starlette(FORM, parts)
