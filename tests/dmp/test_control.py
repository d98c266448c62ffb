"""The control API /sandbox/v1/dmps (app/dmp/control.py): what a harness arranges; domain errors as problem
details (404 unknown INS or DMP, 409 a DMP already there)."""

from __future__ import annotations

from tests.dmp.conftest import ZOE


async def test_control_api(client):  # type: ignore[no-untyped-def]
    listing = await client.get("/sandbox/v1/dmps")
    assert listing.status_code == 200 and len(listing.json()) >= 10
    assert (await client.post("/sandbox/v1/dmps", json={"ins": ZOE})).status_code == 409
    assert (await client.post("/sandbox/v1/dmps", json={"ins": "199999999999999"})).status_code == 404
    assert (await client.get("/sandbox/v1/dmps/199999999999999")).status_code == 404
    state = (await client.get(f"/sandbox/v1/dmps/{ZOE}")).json()
    assert state["documents"] == 5 and state["authorisations"][0]["status"] == "VALIDE"
    unknown = await client.get("/sandbox/v1/dmps/199999999999999")
    assert unknown.headers["content-type"] == "application/problem+json"
    assert (unknown.json()["title"], unknown.json()["rule"]) == ("Not Found", "DMP:exists")
    closed = await client.post(f"/sandbox/v1/dmps/{ZOE}/close", json={"motifFermeture": "patient-demande"})
    assert closed.status_code == 200
    again = await client.post(f"/sandbox/v1/dmps/{ZOE}/close", json={"motifFermeture": "patient-demande"})
    assert (again.status_code, again.json()["title"], again.json()["rule"]) == (409, "Conflict", "DMP:closed")
