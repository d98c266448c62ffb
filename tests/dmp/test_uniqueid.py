"""masterIdentifier = the XDS DocumentEntry.uniqueId: an OID (IHE ITI TF-3 §4.2.3.2.26; app/dmp/uniqueid.py)."""

from __future__ import annotations

import json

import pytest

from app.dmp.uniqueid import unique_id_problem
from tests.dmp.builders import docref, provide_bundle
from tests.dmp.conftest import ZOE


@pytest.mark.parametrize("value", [
    "urn:oid:1.2.250.1.213.1.4.8.99999.1", "urn:oid:0.1", "urn:oid:2.999", "urn:oid:1.2.3^ABC-123",
    "urn:oid:1." + "2" * 62, "urn:oid:1.2.3^" + "x" * 16,
])
def test_oids_accepted(value):
    assert unique_id_problem(value) is None


@pytest.mark.parametrize("value", [
    "urn:uuid:abcd-efgh-ijkl-mnop",  # the PDSm simplified example's masterIdentifier
    "1.2.3", "urn:oid:", "urn:oid:3.1", "urn:oid:1", "urn:oid:1.02", "urn:oid:1..2", "urn:oid:1.2.", "urn:oid:a.b",
    "urn:oid:1." + "2" * 63,  # 65 characters
    "urn:oid:1.2.3^", "urn:oid:1.2.3^" + "x" * 17, "urn:oid:1.2.3^a^b", "urn:oid:1.2.3\x00", "urn:oid:1." + "1" * 300,
])
def test_not_an_xds_uniqueid(value):
    problem = unique_id_problem(value)
    assert problem is not None and all(problem)


async def test_a_uuid_master_identifier_is_refused_with_the_xds_code(client, auth):  # type: ignore[no-untyped-def]
    """Shape of ansforge/IG-fhir-partage-de-documents-de-sante input/fsh/Examples/DR_simplified.fsh @96bc12c
    (masterIdentifier urn:uuid:…) in an ITI-65 Bundle: accepted before, an XDS uniqueId must be an OID."""
    bundle = provide_bundle(ZOE)
    docref(bundle)["masterIdentifier"]["value"] = "urn:uuid:abcd-efgh-ijkl-mnop"
    response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                 headers={**await auth(), "Content-Type": "application/fhir+json"})
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].resource.masterIdentifier.value"]
    codes = {c["code"] for c in issue["details"]["coding"]}
    assert {"XDSRegistryMetadataError", "XDS:DocumentEntry.uniqueId"} <= codes
    assert "n'est pas un OID" in issue["diagnostics"] and "is not an OID" in issue["diagnostics"]
