"""Access traces (app/dmp/traces.py): what a column cannot hold is clipped, never a server error."""

from __future__ import annotations

from tests.dmp.conftest import ZOE


async def test_long_reason_and_query_are_traced_clipped(client, auth):  # type: ignore[no-untyped-def]
    reason = "r" * 1500
    response = await client.get("/dmp/fhir/DocumentReference", params={
        "patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}", "status": "current", "unknown": "u" * 2500},
        headers={**await auth("810001000024"), "X-DMP-Access-Mode": "bris_de_glace", "X-DMP-Access-Reason": reason})
    assert response.status_code == 200, response.text
    traces = await client.get("/dmp/fhir/AuditEvent", headers=await auth(),
                              params={"patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"})
    event = traces.json()["entry"][0]["resource"]
    assert event["agent"][0]["purposeOfUse"][0]["text"] == reason[:1024]
