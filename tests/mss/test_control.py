"""The MSSanté control API: any mailbox read without a PSC token, mailboxes created."""

from __future__ import annotations

import json

from tests.mss.asking import SECRET, auth, box
from tests.mss.conftest import DOCTOR, DOCTOR_SNI
from tests.mss.helpers import SAMPLE_INS


async def test_invalid_mailbox_address_not_echoed(client):
    body = {"address": f"{SECRET} not an address", "type": "ORG", "display_name": "x"}
    response = await client.post("/sandbox/v1/mailboxes", json=body)
    assert response.status_code == 422
    assert "SECRET" not in response.text
    entries = (await client.get("/sandbox/v1/journal", params={"protocol": "http", "limit": 1000})).json()
    assert "SECRET" not in json.dumps(entries)


async def test_control_api_reads_patient_mailbox(client):
    mailboxes = (await client.get("/sandbox/v1/mailboxes")).json()
    patients = [m for m in mailboxes if m["type"] == "PAT"]
    assert patients and all(m["address"].endswith("@patient.mssante.fr") for m in patients)
    corsican = [m for m in patients if "2A" in m["address"] or "2B" in m["address"]]
    assert corsican, "2A/2B matricules keep their letters in the address"
    patient = f"{SAMPLE_INS}@patient.mssante.fr"
    await client.post(box(DOCTOR), json={"to": [patient], "subject": "Résultats", "headers": {"X-MSS-MES": "FIN"}},
                      headers=await auth(client, DOCTOR_SNI))
    latest = await client.get(f"/sandbox/v1/mailboxes/{patient}/messages/latest")
    assert latest.status_code == 200 and latest.json()["subject"] == "Résultats"


async def test_control_create_mailbox(client):
    body = {"address": "secretariat.pediatrie@hopital-a.mssante.fr", "type": "ORG",
            "display_name": "Secrétariat de pédiatrie", "owners": [DOCTOR_SNI]}
    created = await client.post("/sandbox/v1/mailboxes", json=body)
    assert created.status_code == 201
    assert (await client.post("/sandbox/v1/mailboxes", json=body)).status_code == 409
    outside = await client.post("/sandbox/v1/mailboxes", json={**body, "address": "a@gmail.com"})
    assert outside.status_code == 422
    mine = (await client.get("/mss/v1/mailboxes", headers=await auth(client, DOCTOR_SNI))).json()
    assert body["address"] in {m["address"] for m in mine}
