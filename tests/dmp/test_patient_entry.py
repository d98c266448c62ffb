"""One ``entry[Patient]`` in an ITI-65 Bundle (IHE MHD 4.2.3 ``IHE.MHD.Minimal.ProvideBundle`` slice Patient
0..1, request.method GET/POST/PUT; app/dmp/mhd.py)."""

from __future__ import annotations

import json
from typing import Any

from tests.dmp.builders import INS_OID, docref, provide_bundle
from tests.dmp.conftest import DOMINIQUE, ZOE

PATIENT_URL = "urn:uuid:0e0e0e0e-0000-0000-0000-0000000000aa"


def with_patient(ins: str, *, referenced: bool = True, method: str = "GET", patient_ins: str | None = None
                 ) -> dict[str, Any]:
    """Shape of IHE/ITI.MHD input/fsh/ex-ProvideBundles*.fsh @24c374c (a Patient entry the subjects reference),
    on the PDSm Bundle of ansforge/IG-FHIR-PDSM4DMP-EEDS Bundle-example-td2-iti65-lot-soumission.json @94d8b1d."""
    bundle = provide_bundle(ins)
    patient = {"resourceType": "Patient",
               "identifier": [{"system": f"urn:oid:{INS_OID}", "value": patient_ins or ins}]}
    url = "Patient" if method == "POST" else f"Patient?identifier=urn:oid:{INS_OID}|{patient_ins or ins}"
    bundle["entry"].append({"fullUrl": PATIENT_URL, "resource": patient, "request": {"method": method, "url": url}})
    if referenced:
        bundle["entry"][0]["resource"]["subject"] = {"reference": PATIENT_URL}
        docref(bundle)["subject"] = {"reference": PATIENT_URL}
    return bundle


async def _post(client, auth, bundle):  # type: ignore[no-untyped-def]
    return await client.post("/dmp/fhir", content=json.dumps(bundle),
                             headers={**await auth(), "Content-Type": "application/fhir+json"})


async def test_one_patient_entry_referenced_by_the_subjects_is_accepted(client, auth):  # type: ignore[no-untyped-def]
    response = await _post(client, auth, with_patient(ZOE))
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["201 Created", "201 Created", "201 Created", "200 OK"]
    assert entries[3]["response"]["location"].endswith(f"/dmp/fhir/Patient/{ZOE}")
    response = await _post(client, auth, with_patient(ZOE, referenced=False, method="POST"))
    assert response.status_code == 200, response.text


async def test_patient_entry_rules(client, auth):  # type: ignore[no-untyped-def]
    two = with_patient(ZOE)
    two["entry"].append({**two["entry"][-1], "fullUrl": "urn:uuid:0e0e0e0e-0000-0000-0000-0000000000ab"})
    issue = (await _post(client, auth, two)).json()["issue"][0]
    assert "MHD:ITI-65.Patient" in {c["code"] for c in issue["details"]["coding"]}
    other = await _post(client, auth, with_patient(ZOE, referenced=False, patient_ins=DOMINIQUE))
    assert other.status_code == 400
    assert "XDSPatientIdDoesNotMatch" in {c["code"] for c in other.json()["issue"][0]["details"]["coding"]}
    deleted = await _post(client, auth, with_patient(ZOE, method="DELETE"))
    assert deleted.status_code == 400
    assert deleted.json()["issue"][0]["expression"] == ["Bundle.entry[3].request.method"]
    no_ins = with_patient(ZOE)
    no_ins["entry"][-1]["resource"]["identifier"] = [{"system": "urn:oid:1.2.3", "value": "IPP-1"}]
    response = await _post(client, auth, no_ins)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[3].resource.identifier"]
