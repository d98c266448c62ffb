"""What the store can hold (app/dmp/fhir/storable.py, app/dmp/fhir/elements.py): values longer than their
column, control characters and dates outside the UTC range are refused by name, on every engine."""

from __future__ import annotations

import json

from tests.dmp.builders import docref, filed_ids, provide_bundle
from tests.dmp.conftest import ZOE

LONG = [
    # masterIdentifier: an XDS uniqueId is at most 89 characters, refused before its column's 256
    # (XDS:DocumentEntry.uniqueId, tests/dmp/test_uniqueid.py)
    (lambda b: docref(b)["content"][0]["attachment"].update(title="t" * 600),
     "Bundle.entry[1].resource.content[0].attachment.title"),
    (lambda b: b["entry"][0]["resource"]["extension"][1]["valueIdentifier"].update(value="x" * 300),
     "Bundle.entry[0].resource.extension[sourceId]"),
    (lambda b: docref(b)["contained"][1]["identifier"][0].update(value="8" + "1" * 40),
     "Bundle.entry[1].resource.author"),
    (lambda b: b["entry"][0]["resource"].update(title="t" * 513), "Bundle.entry[0].resource.title"),
]


async def test_values_longer_than_the_store_are_400_on_every_engine(client, auth):  # type: ignore[no-untyped-def]
    """PostgreSQL refused such an INSERT (a 500) where SQLite kept the value: now a 400 naming the element."""
    for mutate, expression in LONG:
        bundle = provide_bundle(ZOE)
        mutate(bundle)
        response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                     headers={**await auth(), "Content-Type": "application/fhir+json"})
        assert response.status_code == 400, response.text
        outcome = response.json()["issue"][0]
        assert outcome["expression"] == [expression]
        assert "DMP:element-length" in {c["code"] for c in outcome["details"]["coding"]}


async def test_dates_outside_the_utc_range_are_400(client, auth):  # type: ignore[no-untyped-def]
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-10:00"):
        bundle = provide_bundle(ZOE)
        docref(bundle)["date"] = value
        response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                     headers={**await auth(), "Content-Type": "application/fhir+json"})
        assert response.status_code == 400, response.text
        assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.date"]


CONTROL = [
    (lambda b: docref(b)["content"][0]["attachment"].update(title="CR\x00"),
     "Bundle.entry[1].resource.content[0].attachment.title"),
    # masterIdentifier: not an OID, refused as such (XDS:DocumentEntry.uniqueId, tests/dmp/test_uniqueid.py)
    (lambda b: docref(b)["contained"][1]["name"][0].update(family="Fontaine\x01"),
     "Bundle.entry[1].resource.author.name.family"),
    (lambda b: docref(b)["context"].update(event=[{"coding": [{"system": "http://x", "code": "a\x00"}]}]),
     "Bundle.entry[1].resource.context.event.coding.code"),
    (lambda b: b["entry"][0]["resource"].update(title="Lot\x00"), "Bundle.entry[0].resource.title"),
]


async def test_control_characters_in_stored_values_are_400_on_every_engine(client, auth):  # type: ignore[no-untyped-def]
    """PostgreSQL cannot store U+0000 in a text column (the INSERT failed: a 500) where SQLite kept it; FHIR
    strings may not hold control characters but tab, CR and LF anyway."""
    for mutate, expression in CONTROL:
        bundle = provide_bundle(ZOE)
        mutate(bundle)
        response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                     headers={**await auth(), "Content-Type": "application/fhir+json"})
        assert response.status_code == 400, (expression, response.text)
        outcome = response.json()["issue"][0]
        assert outcome["expression"] == [expression]
        assert "FHIR:string" in {c["code"] for c in outcome["details"]["coding"]}
    bundle = provide_bundle(ZOE, title="CR\tde consultation")  # tab, CR and LF are fine
    await filed_ids(client, auth, bundle)
