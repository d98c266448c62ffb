"""``GET /fhir/v2/metadata``: the CapabilityStatement, generated from the search table (``params.py``),
so what it advertises is what the search code accepts.

Shape: the IG's AsServerDPCapabilityStatement (``ansforge/IG-fhir-annuaire`` @5fbc358
input/fsh/CapabilityStatement/AsServerDPCapabilityStatement.fsh) and the documented answer
(``ansforge/annuaire-sante-fhir-documentation`` @9f3d7d0 getting-started/test-api.md: status active,
fhirVersion 4.0.1, format application/fhir+json and json, one rest.resource per type with its profile).
Device and HealthcareService are not served by the sandbox, so they are not listed.
"""

from __future__ import annotations

from typing import Any

from app.mss.annuaire import codes as c
from app.mss.annuaire import params as p


def capability_statement(base_url: str) -> dict[str, Any]:
    resources = []
    for kind, table in p.SEARCH_PARAMS.items():
        entry: dict[str, Any] = {
            "type": kind,
            "profile": c.PROFILES[kind][1],
            "supportedProfile": list(c.PROFILES[kind]),
            "interaction": [{"code": "search-type"}, {"code": "read"}],
        }
        includes = sorted(p.INCLUDES[kind]) + (["*"] if kind in p.WILDCARD_INCLUDE else [])
        if includes:
            entry["searchInclude"] = includes
        if p.REVINCLUDES[kind]:
            entry["searchRevInclude"] = sorted(p.REVINCLUDES[kind])
        entry["searchParam"] = [
            {"name": param.name, **({"definition": param.definition} if param.definition else {}),
             "type": param.type, "documentation": param.documentation}
            for param in table.values()
        ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-04",
        "publisher": "Ségur Sandbox",
        "kind": "instance",
        "software": {"name": "Ségur Sandbox — Annuaire Santé FHIR API v2 stub"},
        "implementation": {"description": "Annuaire Santé FHIR API v2 (sandbox data)", "url": f"{base_url}/fhir/v2"},
        "fhirVersion": "4.0.1",
        "format": [c.FHIR_JSON, "json"],
        "rest": [{
            "mode": "server",
            "documentation": "GET et POST [type]/_search (application/x-www-form-urlencoded); en-tête ESANTE-API-KEY.",
            "resource": resources,
        }],
    }
