"""Input PostgreSQL cannot take is the client's error on the patient API, never a 500: integers beyond the 32-bit
ids, and U+0000 (NUL), which a PostgreSQL text cannot hold (SQLite took both)."""

from __future__ import annotations

from app.dmp.documents import make_pdf
from tests.mes.helpers import ZOE, auth

BASE = f"/mes/api/v1/patients/{ZOE}"
PHARMACY = "pharmacie.du-marche@medecin.mssante.fr"


async def test_notification_ids_beyond_32_bits_are_refused(client) -> None:
    headers = await auth(client, ZOE)
    for ids in ([99999999999], [0], [-1]):
        response = await client.post(f"{BASE}/notifications/read", json={"ids": ids}, headers=headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert (await client.post(f"{BASE}/notifications/read", json={"ids": [2**31 - 1]}, headers=headers)
            ).json() == {"marked": 0}


async def test_nul_characters_are_refused(client) -> None:
    headers = await auth(client, ZOE)
    pdf = make_pdf("x", ("y",))
    answers = [
        await client.post(f"{BASE}/documents", params={"title": "a\x00b"}, content=pdf,
                          headers={**headers, "Content-Type": "application/pdf"}),
        await client.post(f"{BASE}/close", json={"reason": "a\x00b"}, headers=headers),
        await client.post(f"{BASE}/messages", json={"to": PHARMACY, "subject": "a\x00b", "text": "t"},
                          headers=headers),
        await client.post(f"{BASE}/messages", json={"to": PHARMACY, "subject": "ok", "text": "t\x00t"},
                          headers=headers),
    ]
    for response in answers:
        assert response.status_code == 422, response.text
        assert response.json()["rule"] == "platform:nul-character"
    profile = (await client.get(BASE, headers=headers)).json()
    assert profile["dmp_state"] == "active" and all(
        d["title"] != "a\x00b" for d in (await client.get(f"{BASE}/documents", headers=headers)).json())
