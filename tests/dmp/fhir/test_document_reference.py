"""ITI-105 checked against pdsm-simplified-publish, not the comprehensive DocumentReference
(app/dmp/fhir/document_reference.py, app/dmp/simplified.py): the server computes size and hash and fills
what XDS needs."""

from __future__ import annotations

import json

from tests.dmp.builders import iti105_example, sha1
from tests.dmp.conftest import ZOE

CDA = b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"/>'


async def _publish(client, auth, body):  # type: ignore[no-untyped-def]
    return await client.post("/dmp/fhir/DocumentReference", content=json.dumps(body),
                             headers={**await auth(), "Content-Type": "application/fhir+json"})


def _rules(issue):  # type: ignore[no-untyped-def]
    return {c["code"] for c in issue["details"]["coding"]}


async def test_pdsm4dmp_iti105_example_is_filed_with_server_computed_metadata(client, auth):  # type: ignore[no-untyped-def]
    """Shape of ansforge/IG-FHIR-PDSM4DMP-EEDS input/examples/DocumentReference-example-td2-iti105-publication-
    simplifiee.json @94d8b1d (+ custodian): it was refused for category, then size, hash, period,
    securityLabel... which the simplified profile leaves optional."""
    response = await _publish(client, auth, iti105_example(ZOE, data=CDA))
    assert response.status_code == 201, response.text
    stored = response.json()
    attachment = stored["content"][0]["attachment"]
    assert attachment["size"] == len(CDA) and attachment["hash"] == sha1(CDA)
    assert stored["category"][0]["coding"][0]["code"] == "10"  # derived from type 11488-4
    assert stored["securityLabel"][0]["coding"][0]["code"] == "N"
    assert stored["content"][0]["format"]["code"] == "urn:ihe:iti:xds:2017:mimeTypeSufficient"
    # period.start = date, the same instant, answered in UTC as every DMP instant (docs/dmp.md "Dates and instants")
    assert stored["context"]["period"]["start"] == "2026-06-12T08:00:00Z"
    found = await client.get(f"/dmp/fhir/DocumentReference?patient.identifier=urn:oid:1.2.250.1.213.1.4.8|{ZOE}"
                             "&status=current&category=10&type=11488-4", headers=await auth())
    assert stored["id"] in {e["resource"]["id"] for e in found.json().get("entry") or []}


async def test_what_the_simplified_profile_requires_is_refused_naming_it(client, auth):  # type: ignore[no-untyped-def]
    """The example exactly as published lacks custodian (pdsm-simplified-publish: custodian 1..): one issue,
    the simplified rule and profile, in French then English; nothing about category, size, hash..."""
    body = iti105_example(ZOE, data=CDA)
    del body["custodian"]
    response = await _publish(client, auth, body)
    assert response.status_code == 400, response.text
    issues = response.json()["issue"]
    assert len(issues) == 1
    assert "PDSm-simplified:DocumentReference.custodian" in _rules(issues[0])
    assert "pdsm-simplified-publish" in issues[0]["diagnostics"]
    assert issues[0]["diagnostics"].startswith("DocumentReference.custodian (1..1) est obligatoire")
    assert " — DocumentReference.custodian (1..1) is required" in issues[0]["diagnostics"]


async def test_given_size_and_hash_are_checked_url_refused(client, auth):  # type: ignore[no-untyped-def]
    body = iti105_example(ZOE, data=CDA)
    body["content"][0]["attachment"].update(size=3, hash=sha1(b"other"), url="Binary/x")
    response = await _publish(client, auth, body)
    assert response.status_code == 400, response.text
    rules = [_rules(i) for i in response.json()["issue"]]
    assert any("PDSm-simplified:DocumentReference.content.attachment.url" in r for r in rules)
    body["content"][0]["attachment"].pop("url")
    response = await _publish(client, auth, body)
    issues = response.json()["issue"]
    assert [i["expression"] for i in issues] == [["DocumentReference.content[0].attachment.size"],
                                                 ["DocumentReference.content[0].attachment.hash"]]
    assert all("XDSRepositoryMetadataError" in _rules(i) for i in issues)


async def test_type_is_required_by_the_dmp_and_unknown_types_need_a_category(client, auth):  # type: ignore[no-untyped-def]
    body = iti105_example(ZOE, data=CDA)
    del body["type"]
    issue = (await _publish(client, auth, body)).json()["issue"][0]
    assert "PDSm4DMP:DocumentEntry.type" in _rules(issue)
    body = iti105_example(ZOE, data=CDA)
    body["type"]["coding"][0]["code"] = "11369-6"  # in J66, not in the sandbox's ASS_X04 subset
    issue = (await _publish(client, auth, body)).json()["issue"][0]
    assert "PDSm4DMP:DocumentEntry.class" in _rules(issue) and issue["expression"] == ["DocumentReference.category"]
    body["category"] = [{"coding": [{"system": "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/"
                                               "TRE-A03-ClasseDocument", "code": "11"}]}]
    assert (await _publish(client, auth, body)).status_code == 201
