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


def test_made_request_ids_are_32_hex_digits_and_distinct() -> None:
    import os
    import random

    from app.api.middleware import new_request_id

    made = {new_request_id() for _ in range(20_000)}
    assert len(made) == 20_000 and all(len(rid) == 32 and int(rid, 16) >= 0 for rid in made)
    # the random module is seeded again in a forked child: two workers forked from one parent differ
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    state = random.getstate()
    assert os.read(read, 64).decode() != new_request_id()
    random.setstate(state)
    os.close(read)
    os.close(write)


async def test_a_domain_sets_its_own_body_limit_on_its_prefix(client: httpx.AsyncClient, settings) -> None:
    """Domain.body_limits: the DMP's SOAP repository takes more than SEGUR_MAX_BODY_BYTES (a 20 MB document in
    base64), so a body over the platform's limit reaches its own reader, which answers in SOAP."""
    assert settings.dmp_soap_max_bytes > settings.max_body_bytes
    big = b"x" * (settings.max_body_bytes + 1)
    response = await client.post("/si-dmp-server/v2/services/repository", content=big,
                                 headers={"Content-Type": "application/soap+xml"})
    assert response.status_code == 500  # not well-formed XML: a SOAP fault (faults.py), not the platform's 413
    assert response.headers["content-type"].startswith("application/soap+xml")
    entry = (await client.get("/sandbox/v1/journal", params={"path": "/si-dmp-server", "limit": 1})).json()
    assert entry["entries"][0]["rule"] != "platform:max-body-bytes"
    elsewhere = await client.post("/sandbox/v1/reset", content=big)
    assert elsewhere.status_code == 413
