"""The OpenAPI document of the mss routes renders and its references resolve."""

from __future__ import annotations

import json

from tests.mss.conftest import DOCTOR


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


async def test_mailbox_api_routes_need_a_psc_token_but_discovery(client):
    """Every route of the protected router answers 401 without a token, whatever its path and body; the
    open ones (discovery) answer without one."""
    from app.mss import autoconfig, http
    from app.mss.http import discovery

    for route in http.router.routes:
        path = route.path.format(address=DOCTOR, uid="latest", index=0)  # type: ignore[attr-defined]
        for method in route.methods:  # type: ignore[attr-defined]
            response = await client.request(method, path)
            assert response.status_code == 401, (method, path, response.text)
    for route in [*discovery.router.routes, *autoconfig.router.routes]:
        response = await client.get(route.path)  # type: ignore[attr-defined]
        assert response.status_code in (200, 503), (route.path, response.text)  # type: ignore[attr-defined]
