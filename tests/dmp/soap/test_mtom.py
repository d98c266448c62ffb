"""MTOM/XOP in and out (pure): bodies in the shapes DRIMBox and Axis2/CXF send, bounds, streaming."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from app.dmp.soap.call import OutPart
from app.dmp.soap.mtom import MultipartError, build_response, parse_multipart, strip_cid
from tests.dmp.soap.client import mtom

ENVELOPE = b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body/></soap:Envelope>'
PDF = b"%PDF-1.4\r\n\x00\x01\x02binary\r\n--not-a-boundary\r\n%%EOF"


def _params(content_type: str) -> dict[str, str]:
    from app.dmp.soap.envelope import media_type

    return media_type(content_type)[1]


def _parse(content_type: str, body: bytes, max_parts: int = 10):  # type: ignore[no-untyped-def]
    params = _params(content_type)
    return parse_multipart(body, boundary=params["boundary"], start=params.get("start"), max_parts=max_parts)


def test_cxf_style_body_gives_the_root_by_start_and_the_parts_by_content_id() -> None:
    content_type, body = mtom(ENVELOPE, {"doc1@segur.test": ("application/pdf", PDF)})
    parsed = _parse(content_type, body)
    assert parsed.root.data == ENVELOPE
    assert parsed.root.content_type.startswith("application/xop+xml")
    assert parsed.attachments["doc1@segur.test"].data == PDF  # CRLF and "--" inside the bytes kept as they are


def test_drimbox_style_body_lf_lines_and_base64_part() -> None:
    """DRIMBox writes lines with System.lineSeparator() (LF on Linux), its document part ``BASE64``, Content-IDs
    ``<0.1>``, ``<0.2>`` (ProvideAndRegisterRequest.java @8ca15111)."""
    content_type, body = mtom(ENVELOPE, {"0.2": ("application/octet-stream", PDF)}, line_end=b"\n",
                              boundary="MIMEBoundary_Bound", root_cid="0.1", encodings={"0.2": "BASE64"})
    parsed = _parse(content_type, body)
    assert parsed.root.content_id == "0.1"
    assert parsed.attachments["0.2"].data == PDF


def test_root_is_the_first_part_without_start() -> None:
    content_type, body = mtom(ENVELOPE, {"a": ("text/plain", b"A")})
    parsed = parse_multipart(body, boundary=_params(content_type)["boundary"], start=None, max_parts=10)
    assert parsed.root.data == ENVELOPE and set(parsed.attachments) == {"a"}


def test_root_found_by_start_even_when_not_first() -> None:
    boundary = "b1"
    body = (b"--b1\r\nContent-ID: <doc>\r\nContent-Type: text/plain\r\n\r\nDOC\r\n"
            b"--b1\r\nContent-ID: <root>\r\nContent-Type: application/xop+xml\r\n\r\n" + ENVELOPE + b"\r\n--b1--\r\n")
    parsed = parse_multipart(body, boundary=boundary, start="<root>", max_parts=10)
    assert parsed.root.data == ENVELOPE and parsed.attachments["doc"].data == b"DOC"


@pytest.mark.parametrize("value, expected", [("<a@b>", "a@b"), ("a@b", "a@b"), (" <0.1> ", "0.1")])
def test_content_id_with_and_without_brackets(value: str, expected: str) -> None:
    assert strip_cid(value) == expected


def test_too_many_parts_refused() -> None:
    content_type, body = mtom(ENVELOPE, {f"p{i}": ("text/plain", b"x") for i in range(5)})
    with pytest.raises(MultipartError, match="plus de 3 parties"):
        _parse(content_type, body, max_parts=3)


@pytest.mark.parametrize("body, message", [
    (b"no boundary here", "sans parties"),
    (b"--b1\r\nContent-ID: <r>\r\n\r\nX\r\n--b1\r\nContent-ID: <d>\r\n\r\nY", "sans frontière de fin"),
    (b"--b1\r\nContent-ID: <r>\r\n\r\nX\r\n--b1\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <d>\r\n\r\n"
     b"@@@\r\n--b1--", "base64 mal formée"),
    (b"--b1\r\nContent-ID: <r>\r\n\r\nX\r\n--b1\r\nContent-Transfer-Encoding: x-uuencode\r\nContent-ID: <d>\r\n\r\n"
     b"Y\r\n--b1--", "non pris en charge"),
    (b"--b1\r\nContent-ID: <r>\r\n\r\nX\r\n--b1\r\nContent-ID: <d>\r\n\r\nA\r\n--b1\r\nContent-ID: <d>\r\n\r\nB"
     b"\r\n--b1--", "même Content-ID"),
    (b"--b1\r\nContent-ID: <r>\r\n\r\nX\r\n--b1\r\nContent-Type: text/plain\r\n\r\nB\r\n--b1--", "sans Content-ID"),
    (b"--b1\r\nbroken header line\r\n\r\nX\r\n--b1--", "illisible"),
])
def test_malformed_bodies_refused_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(MultipartError, match=message):
        parse_multipart(body, boundary="b1", start=None, max_parts=10)


def test_start_naming_no_part_refused() -> None:
    content_type, body = mtom(ENVELOPE, {})
    with pytest.raises(MultipartError, match="start"):
        parse_multipart(body, boundary=_params(content_type)["boundary"], start="<elsewhere>", max_parts=10)


async def _collect(iterator: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in iterator])


def test_response_round_trips_through_the_parser() -> None:
    built = build_response(ENVELOPE, [OutPart("doc-1@sandbox", "application/pdf", PDF)], action="urn:x:Response")
    params = _params(built.content_type)
    assert params["type"] == "application/xop+xml" and params["start-info"] == "application/soap+xml"
    assert params["action"] == "urn:x:Response"
    parsed = parse_multipart(asyncio.run(_collect(built.body)), boundary=params["boundary"], start=params["start"],
                             max_parts=10)
    assert parsed.root.data == ENVELOPE
    assert parsed.root.content_type == 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'
    assert parsed.attachments["doc-1@sandbox"].data == PDF


def test_streamed_part_keeps_memory_flat() -> None:
    """A 20 MB part pulled 1 MB at a time: the response never holds more than a chunk or two."""
    chunk, count = 1024 * 1024, 20

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(count):
            yield bytes([index]) * chunk

    async def drain() -> tuple[int, int]:
        built = build_response(ENVELOPE, [OutPart("big@sandbox", "application/pdf", chunks)])
        total = 0
        tracemalloc.start()
        try:
            async for piece in built.body:
                total += len(piece)
            return total, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    total, peak = asyncio.run(drain())
    assert total > chunk * count
    assert peak < 4 * chunk, f"peak {peak} bytes while streaming {chunk * count} bytes"

