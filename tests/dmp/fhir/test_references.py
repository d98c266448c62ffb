"""FHIR R4 Bundle reference resolution (app/dmp/fhir/references.py) and its use by ITI-65 (app/dmp/fhir/bundle.py)."""

from __future__ import annotations

import json

import pytest

from app.dmp.fhir import references
from tests.dmp.builders import docref, provide_bundle, restful
from tests.dmp.conftest import ZOE

BASE = "https://lps.example/fhir/"
URLS = {f"{BASE}Binary/1", f"{BASE}DocumentReference/2", "urn:uuid:0e0e0e0e-0000-0000-0000-000000000003",
        "urn:oid:1.2.3.4", "http://other.example/base/Patient/p1"}


@pytest.mark.parametrize(("reference", "referrer", "expected"), [
    # absolute references: urn:uuid, urn:oid, absolute URLs match a fullUrl exactly
    ("urn:uuid:0e0e0e0e-0000-0000-0000-000000000003", None, "urn:uuid:0e0e0e0e-0000-0000-0000-000000000003"),
    ("urn:uuid:0e0e0e0e-0000-0000-0000-000000000003", f"{BASE}DocumentReference/2",
     "urn:uuid:0e0e0e0e-0000-0000-0000-000000000003"),
    ("urn:oid:1.2.3.4", "urn:uuid:x", "urn:oid:1.2.3.4"),
    ("urn:uuid:ffffffff-0000-0000-0000-000000000000", None, None),
    (f"{BASE}Binary/1", "urn:uuid:x", f"{BASE}Binary/1"),
    (f"{BASE}Binary/9", "urn:uuid:x", None),
    # a version-specific absolute reference matches the plain fullUrl
    (f"{BASE}Binary/1/_history/3", None, f"{BASE}Binary/1"),
    # relative: against the root of the referring entry's RESTful fullUrl
    ("Binary/1", f"{BASE}DocumentReference/2", f"{BASE}Binary/1"),
    ("Binary/1/_history/2", f"{BASE}DocumentReference/2", f"{BASE}Binary/1"),
    ("Binary/1", f"{BASE}DocumentReference/2/_history/1", f"{BASE}Binary/1"),
    ("Patient/p1", "http://other.example/base/List/x", "http://other.example/base/Patient/p1"),
    ("Patient/p1", f"{BASE}DocumentReference/2", None),  # another root: not this entry
    ("Binary/1", "http://other.example/base/List/x", None),
    # relative from a non-RESTful fullUrl (urn:uuid) or none: no meaning inside the Bundle (server resource)
    ("Binary/1", "urn:uuid:0e0e0e0e-0000-0000-0000-000000000003", None),
    ("Binary/1", None, None),
    ("Binary/1", "", None),
    # neither: fragments, conditional references, garbage
    ("#practitioner-author", f"{BASE}DocumentReference/2", None),
    ("Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|275126322074974", f"{BASE}DocumentReference/2", None),
    ("", f"{BASE}DocumentReference/2", None),
    (None, f"{BASE}DocumentReference/2", None),
    ("binary/1", f"{BASE}DocumentReference/2", None),  # a type starts with a capital
    ("Binary/" + "a" * 65, f"{BASE}DocumentReference/2", None),  # ids are 1..64 characters
    ("Binary/a b", f"{BASE}DocumentReference/2", None),
])
def test_resolve(reference, referrer, expected):
    assert references.resolve(reference, referrer=referrer, full_urls=URLS) == expected


def test_restful_root_and_tail_hint():
    assert references.restful_root(f"{BASE}Binary/1") == BASE
    assert references.restful_root("urn:uuid:0e0e0e0e-0000-0000-0000-000000000003") is None
    assert references.restful_root("Binary/1") is None
    assert references.restful_root(None) is None
    assert references.same_tail("Binary/1", URLS) == [f"{BASE}Binary/1"]
    assert references.same_tail("urn:oid:1.2.3.4", URLS) == []
    assert references.is_internal("urn:uuid:a") and not references.is_internal("Binary/1")


async def _post(client, auth, bundle):  # type: ignore[no-untyped-def]
    return await client.post("/dmp/fhir", content=json.dumps(bundle),
                             headers={**await auth(), "Content-Type": "application/fhir+json"})


async def test_relative_binary_reference_against_restful_full_urls(client, auth):  # type: ignore[no-untyped-def]
    """``attachment.url = Binary/[id]`` — the form of ansforge/IG-FHIR-PDSM4DMP-EEDS
    input/fsh/Example/ExampleTD31aOrdonnance.fsh and ExampleAnnexeDocRefCda.fsh @94d8b1d — beside a Binary entry
    whose fullUrl is ``<base>/Binary/[id]``, SubmissionSet members written relative too: it resolves (FHIR R4
    bundle.html#references), where it was refused as unresolved."""
    bundle = restful(provide_bundle(ZOE))
    assert docref(bundle)["content"][0]["attachment"]["url"] == "Binary/e2"
    assert bundle["entry"][2]["fullUrl"] == BASE + "Binary/e2"
    response = await _post(client, auth, bundle)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == ["201 Created"] * 3
    binary = response.json()["entry"][2]["response"]["location"]
    retrieved = await client.get(binary.removeprefix("http://testserver"), headers=await auth(Accept="*/*"))
    assert retrieved.status_code == 200 and retrieved.content.startswith(b"%PDF")


async def test_relative_reference_from_a_urn_uuid_entry_is_unresolved_with_a_hint(client, auth):  # type: ignore[no-untyped-def]
    """A relative ``Binary/[id]`` in an entry whose own fullUrl is a urn:uuid has no meaning inside the Bundle
    (FHIR R4): refused, naming the Binary entry the vendor probably meant."""
    bundle = restful(provide_bundle(ZOE))
    bundle["entry"][1]["fullUrl"] = "urn:uuid:0e0e0e0e-0000-0000-0000-00000000000d"
    bundle["entry"][0]["resource"]["entry"][0]["item"]["reference"] = bundle["entry"][1]["fullUrl"]
    response = await _post(client, auth, bundle)
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].resource.content[0].attachment.url"]
    assert "MHD:ITI-65.reference-resolution" in {c["code"] for c in issue["details"]["coding"]}
    assert BASE + "Binary/e2" in issue["diagnostics"]
