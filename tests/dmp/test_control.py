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


async def test_vihf_issuing(client):  # type: ignore[no-untyped-def]
    """POST /sandbox/v1/dmps/vihf (a signed VIHF for a test professional) and /vihf-certificates (a signing
    certificate of the sandbox's CA): 201 with the documented fields; problem details on bad input."""
    answer = await client.post("/sandbox/v1/dmps/vihf", json={"subject_name_id": "810001000016", "patient_ins": ZOE})
    assert answer.status_code == 201
    body = answer.json()
    assert set(body) == {"assertion", "not_on_or_after", "issuer", "authentication_mode", "client_certificate_subject"}
    assert body["assertion"].startswith("<saml2:Assertion") and body["issuer"].startswith("CN=")
    unknown = await client.post("/sandbox/v1/dmps/vihf", json={"subject_name_id": "899999999999", "patient_ins": ZOE})
    assert (unknown.status_code, unknown.json()["title"]) == (404, "Not Found")
    invalid = await client.post("/sandbox/v1/dmps/vihf", json={"subject_name_id": "810001000016", "patient_ins": "1"})
    assert invalid.status_code == 422 and invalid.headers["content-type"] == "application/problem+json"
    certificate = await client.post("/sandbox/v1/dmps/vihf-certificates", json={"common_name": "LOGICIEL"})
    assert certificate.status_code == 201
    assert set(certificate.json()) == {"certificate", "private_key", "ca_certificate", "subject"}
    assert certificate.json()["subject"] == "CN=LOGICIEL,C=FR"
