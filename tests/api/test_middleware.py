"""The request-context middleware: body limit (buffered and streamed), request ids."""

from __future__ import annotations

import httpx


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient, settings) -> None:
    big = b"x" * (settings.max_body_bytes + 1)
    response = await client.post("/sandbox/v1/reset", content=big)
    assert response.status_code == 413
    assert response.json()["rule"] == "platform:max-body-bytes"


async def test_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient, settings) -> None:
    chunk = b"y" * (1024 * 1024)
    count = settings.max_body_bytes // len(chunk) + 2

    async def body():
        for _ in range(count):
            yield chunk

    response = await client.post("/dmp/fhir/nowhere", content=body())
    # the route does not exist, so the body is never read: 404 wins; a route that reads is limited
    assert response.status_code in (404, 413)


async def test_request_id_is_honoured_or_made(client: httpx.AsyncClient) -> None:
    mine = await client.get("/livez", headers={"X-Request-ID": "ci-run-42.step-7"})
    assert mine.headers["x-request-id"] == "ci-run-42.step-7"
    made = await client.get("/livez", headers={"X-Request-ID": "bad id with spaces\x01"})
    assert made.headers["x-request-id"] != "bad id with spaces\x01"
    assert len(made.headers["x-request-id"]) == 32
