"""The OpenAPI document of the mss routes renders and its references resolve."""

from __future__ import annotations

import json


async def test_openapi_refs_resolve(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    schemas = document["components"]["schemas"]
    text = json.dumps({k: v for k, v in document["paths"].items() if k.startswith(("/mss", "/fhir/v2"))})
    for name in {part.split('"')[0] for part in text.split('#/components/schemas/')[1:]}:
        assert name in schemas, name
    send = document["paths"]["/mss/v1/mailboxes/{address}/messages"]["post"]
    assert {"application/json", "message/rfc822"} <= set(send["requestBody"]["content"])
