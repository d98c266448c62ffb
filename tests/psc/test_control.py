"""The control API (app/psc/control.py): clients, professionals, and its refusals."""

from __future__ import annotations

from tests.psc.helpers import (
    CONFIDENTIAL_CLIENT,
    PUBLIC_CLIENT,
    TOKEN,
    access_token_for,
)

BAD_PROFESSIONALS = [
    {"SubjectNameID": "810001000990", "given_name": "A", "family_name": "B", "SubjectRefPro": []},
    {"SubjectNameID": "810001000990", "given_name": "A", "family_name": "B", "SubjectRefPro": {"exercices": [1]}},
    {
        "SubjectNameID": "810001000990",
        "given_name": "A",
        "family_name": "B",
        "SubjectRefPro": {"exercices": [{"codeProfession": 10}]},
    },
    {
        "SubjectNameID": "810001000990",
        "given_name": "A",
        "family_name": "B",
        "SubjectRefPro": {"exercices": [{"activities": [{"codePostal": None}]}]},
    },
    {"SubjectNameID": "810001000990", "given_name": "A\x00", "family_name": "B"},
    {"SubjectNameID": "8100\x00", "given_name": "A", "family_name": "B"},
    {"SubjectNameID": 12, "given_name": "A", "family_name": "B"},
    {"SubjectNameID": "810001000990", "given_name": "A", "family_name": "B", "SubjectRole": "10"},
    {"given_name": "A"},
]


async def test_control_api_clients_and_professionals(client) -> None:  # type: ignore[no-untyped-def]
    created = await client.post(
        "/sandbox/v1/clients", json={"redirect_uris": ["https://app.example/cb"], "grant_types": ["client_credentials"]}
    )
    assert created.status_code == 201
    doc = created.json()
    assert doc["client_id"] and doc["client_secret"] and doc["token_endpoint_auth_method"] == "client_secret_basic"
    token = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "openid"},
        auth=(doc["client_id"], doc["client_secret"]),
    )
    assert token.status_code == 200
    listed = (await client.get("/sandbox/v1/clients")).json()
    assert {c["client_id"] for c in listed} >= {PUBLIC_CLIENT, CONFIDENTIAL_CLIENT, doc["client_id"]}
    assert all("client_secret" not in c for c in listed)
    dup = await client.post("/sandbox/v1/clients", json={"client_id": PUBLIC_CLIENT})
    assert dup.status_code == 409
    bad_public = await client.post(
        "/sandbox/v1/clients", json={"token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}
    )
    assert bad_public.status_code == 400

    pro = {
        "SubjectNameID": "810001000990",
        "given_name": "Alice",
        "family_name": "Durand",
        "SubjectRefPro": {
            "exercices": [
                {
                    "codeProfession": "60",
                    "activities": [
                        {"raisonSocialeSite": "CABINET INFIRMIER DURAND", "identifiantTechniqueDeLaStructure": "R1"}
                    ],
                }
            ]
        },
    }
    made = await client.post("/sandbox/v1/professionals", json=pro)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["SubjectRole"] == ["60^1.2.250.1.213.1.1.5.5"] and body["codeCivilite"] == ""
    assert body["SubjectRefPro"]["exercices"][0]["activities"][0]["numeroFinessSite"] == ""
    access = await access_token_for(client, "810001000990")
    me = (await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {access}"})).json()
    assert me["profession_code"] == "60" and me["rpps"] == "10001000990"
    assert (await client.post("/sandbox/v1/professionals", json=pro)).status_code == 409
    bad_key = await client.post("/sandbox/v1/professionals", json={**pro, "SubjectNameID": "810001000991"})
    assert bad_key.status_code == 422
    assert (await client.get("/sandbox/v1/professionals/810001000990")).status_code == 200
    assert len((await client.get("/sandbox/v1/professionals")).json()) >= 13


async def test_bad_professionals_are_422(client) -> None:  # type: ignore[no-untyped-def]
    for body in BAD_PROFESSIONALS:
        response = await client.post("/sandbox/v1/professionals", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    for body in ([], "x", None):
        response = await client.post("/sandbox/v1/professionals", json=body)
        assert 400 <= response.status_code < 500


async def test_over_long_professional_names(client) -> None:  # type: ignore[no-untyped-def]
    for data in (
        {"SubjectNameID": "ANS-LONG-1", "given_name": "A" * 300, "family_name": "B"},
        {"SubjectNameID": "ANS-LONG-2", "given_name": "A", "family_name": "B" * 300},
        {
            "SubjectNameID": "ANS-LONG-3",
            "given_name": "A",
            "family_name": "B",
            "SubjectRefPro": {"exercices": [{"codeProfession": "1" * 20, "activities": []}]},
        },
    ):
        response = await client.post("/sandbox/v1/professionals", json=data)
        assert response.status_code == 422, response.text
