"""Shared steps of the patient-side tests: sign in as a seeded person over HTTP, as a harness does."""

from __future__ import annotations

import httpx

from app.mes.signin import GRANT_TYPE

ZOE = "275126322074974"  # ADRUN ZOE, an adult with a seeded DMP
THOMAS = "180098708555433"  # FAURE THOMAS, legal representative of LEA
LEA = "212018708555384"  # FAURE LEA, born 2012: a minor
ISABELLE = "279033818555702"  # BONNET ISABELLE, represents JULES (minor) and CHLOE (of age since 2026-10-10)
JULES = "110123818555686"
CHLOE = "208103818555506"


async def start(client: httpx.AsyncClient, ins: str) -> tuple[str, str]:
    """A challenge for ``ins`` and its code, read from the control API as a harness reads the SMS."""
    response = await client.post("/mes/api/v1/sign-in", json={"ins": ins})
    assert response.status_code == 201, response.text
    challenge = response.json()["challenge"]
    codes = await client.get("/sandbox/v1/mes/one-time-codes", params={"ins": ins})
    assert codes.status_code == 200, codes.text
    code = next(c["code"] for c in codes.json() if c["challenge"] == challenge)
    return challenge, code


async def exchange(client: httpx.AsyncClient, challenge: str, code: str) -> httpx.Response:
    return await client.post("/mes/api/v1/token", data={"grant_type": GRANT_TYPE, "challenge": challenge,
                                                        "code": code})


async def token_for(client: httpx.AsyncClient, ins: str) -> str:
    challenge, code = await start(client, ins)
    response = await exchange(client, challenge, code)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def auth(client: httpx.AsyncClient, ins: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await token_for(client, ins)}"}
