"""GET /fhir/v2/metadata says exactly what the stub supports: every advertised search parameter,
_include and _revinclude is accepted over HTTP, and every name of the documented universe that is not
advertised is refused.

The universe: the per-resource tables of ansforge/annuaire-sante-fhir-documentation @9f3d7d0
(docs/pages/guide/version-2/resources/{practitioner,practitioner-role,organization}.md), the IG
CapabilityStatement and SearchParameters (ansforge/IG-fhir-annuaire @5fbc358
input/fsh/CapabilityStatement/AsServerDPCapabilityStatement.fsh, input/fsh/SearchParameters/), the
FHIR R4 common parameters, and the parameters of the other resource types.
"""

from __future__ import annotations

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from tests.mss.annuaire.test_routes import KEY

UNIVERSE = {
    "Practitioner": {"_id", "_lastUpdated", "active", "data-information-system", "data-registration-authority",
                     "family", "given", "identifier", "identifier-type", "mailbox-mss", "mailbox-mss-type", "name",
                     "number-smartcard", "qualification-code", "type-smartcard", "_profile", "_tag", "_text",
                     "_content", "_has", "_type", "_security", "_source", "address", "gender", "phone", "email",
                     "telecom", "role", "organization", "type", "partof"},
    "PractitionerRole": {"_id", "_lastUpdated", "active", "data-information-system", "data-registration-authority",
                         "identifier", "mailbox-mss", "mailbox-mss-type", "organization", "practitioner", "role",
                         "specialty", "service", "location", "date", "email", "phone", "telecom", "endpoint",
                         "number-smartcard", "type-smartcard", "_profile", "_tag", "name", "family"},
    "Organization": {"_id", "_lastUpdated", "active", "address", "address-city", "address-line",
                     "address-postalcode", "address-country", "address-state", "address-use", "address-insee",
                     "data-information-system", "data-registration-authority", "identifier", "identifier-type",
                     "mailbox-mss", "mailbox-mss-type", "name", "partof", "pharmacy-licence", "type", "period",
                     "phonetic", "endpoint", "_profile", "_tag", "family", "role"},
}
SAMPLE = {"token": "true", "string": "x", "reference": "Organization/001-01-1", "date": "ge2020"}


async def metadata(client):
    response = await client.get("/fhir/v2/metadata", headers=KEY)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    CapabilityStatement.model_validate(body)
    return body


async def test_capability_statement_shape(client):
    """Shape of the documented answer (getting-started/test-api.md): status active, fhirVersion 4.0.1,
    format application/fhir+json and json, one resource per served type with its as-dp profile."""
    body = await metadata(client)
    assert body["status"] == "active" and body["fhirVersion"] == "4.0.1"
    assert body["format"] == ["application/fhir+json", "json"]
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert set(resources) == {"Practitioner", "PractitionerRole", "Organization"}
    assert resources["Organization"]["profile"] == (
        "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-dp-organization")
    for r in resources.values():
        assert [i["code"] for i in r["interaction"]] == ["search-type", "read"]


@pytest.mark.parametrize("kind", sorted(UNIVERSE))
async def test_every_advertised_parameter_is_accepted_and_no_other(client, kind):
    resource = next(r for r in (await metadata(client))["rest"][0]["resource"] if r["type"] == kind)
    advertised = {p["name"]: p["type"] for p in resource["searchParam"]}
    assert set(advertised) <= UNIVERSE[kind]
    for name in sorted(UNIVERSE[kind]):
        value = SAMPLE.get(advertised.get(name, "token"), "x")
        response = await client.get(f"/fhir/v2/{kind}", params={name: value}, headers=KEY)
        if name in advertised:
            assert response.status_code == 200, (name, response.text)
        else:
            assert response.status_code == 400, (name, response.text)


@pytest.mark.parametrize("kind", sorted(UNIVERSE))
async def test_every_advertised_include_is_accepted_and_no_other(client, kind):
    resource = next(r for r in (await metadata(client))["rest"][0]["resource"] if r["type"] == kind)
    candidates = {"*", "PractitionerRole:practitioner", "PractitionerRole:organization", "Organization:partof",
                  "Device:organization", "HealthcareService:organization", "Practitioner:organization"}
    for parameter, field in (("_include", "searchInclude"), ("_revinclude", "searchRevInclude")):
        advertised = set(resource.get(field, []))
        for value in sorted(candidates):
            response = await client.get(f"/fhir/v2/{kind}", params={parameter: value}, headers=KEY)
            assert response.status_code == (200 if value in advertised else 400), (parameter, value, response.text)
