"""Shared steps of the patient-side tests: sign in as a seeded person over HTTP, as a harness does."""

from __future__ import annotations

import json

import httpx

from app.mes.signin import GRANT_TYPE
from tests.dmp import builders
from tests.dmp.soap.test_iti18 import find_documents, objects, query
from tests.psc.helpers import access_token_for

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


# --- the professional side, through the real protocols (the helpers of tests/dmp) ------------------------------

FONTAINE = "810001000016"  # médecin traitant DMP, VALIDE on every seeded DMP
LEFEVRE = "810001000024"  # no authorisation
BERNARD = "810001000032"  # author of seeded documents, no authorisation
INS_OID = "1.2.250.1.213.1.4.8"


async def pro_headers(client: httpx.AsyncClient, subject: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await access_token_for(client, subject)}", "Accept": "application/fhir+json",
            **extra}


async def iti67(client: httpx.AsyncClient, subject: str, ins: str, **extra: str) -> httpx.Response:
    """A professional's ITI-67 search of the patient's current documents."""
    return await client.get("/dmp/fhir/DocumentReference",
                            params={"patient.identifier": f"urn:oid:{INS_OID}|{ins}", "status": "current"},
                            headers=await pro_headers(client, subject, **extra))


async def iti67_ids(client: httpx.AsyncClient, subject: str, ins: str, **extra: str) -> set[str]:
    response = await iti67(client, subject, ins, **extra)
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json().get("entry", [])
            if e["resource"]["resourceType"] == "DocumentReference"}


async def iti18_ids(client: httpx.AsyncClient, subject: str, ins: str, **attributes: str) -> set[str]:
    """A professional's XDS.b ITI-18 FindDocuments (a signed VIHF): the entryUUIDs, without ``urn:uuid:``."""
    found = objects(await query(client, find_documents(ins), subject=subject, patient=ins, **attributes))
    return {eo.get("id").removeprefix("urn:uuid:") for eo in found}


async def file_document(client: httpx.AsyncClient, subject: str = FONTAINE, ins: str = ZOE, **kwargs: object) -> str:
    """A document a professional files over FHIR ITI-65: its id."""
    bundle = builders.provide_bundle(ins, rpps=subject[1:], **kwargs)
    headers = {**await pro_headers(client, subject), "Content-Type": "application/fhir+json"}
    response = await client.post("/dmp/fhir", content=json.dumps(bundle), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["entry"][1]["response"]["location"].split("/DocumentReference/")[1].split("/")[0]
