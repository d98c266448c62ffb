"""The fast FHIR structure walk (app/dmp/fhir/fhircheck.py) only accepts what fhir.resources accepts.

Thousands of mutated Bundles and DocumentReferences (deleted elements, nulls, wrong JSON types, invalid
primitives, unknown keys, ``_element`` extensions, unknown resource types, doubled choice elements...):
whenever the walk says "accepted", building the fhir.resources model must succeed too. The walk must also
accept the usual vendor shapes, or it would be useless."""

from __future__ import annotations

import copy
import json
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from app.api.errors import FhirError
from app.dmp import rows
from app.dmp.fhir import bundle as bundle_parser
from app.dmp.fhir import document_reference, fhircheck
from tests.dmp.builders import IS_ARCHIVED, docref, provide_bundle, simplified_publish

INS = "275126322074974"

ODD_VALUES: list[Any] = [
    None, "", " ", " x", "x ", "a  b", "a\nb", "\x00", 0, -1, 1.5, True, False, [], {}, [None], [{}], ["x"],
    "not a date", "2026-13-01", "2026-02-30", "2026-06-12T10:00:00", "2026-06-12T25:00:00Z", "2026", "2026-06",
    "2026-06-12T10:00:00+02:00", "urn:uuid:0e0e0e0e-0000-0000-0000-000000000000", "http://x y", "#x", "a" * 70,
    "id with space", "Patient/1", {"resourceType": "Foo"}, {"resourceType": "Patient"}, {"reference": "x"},
    {"coding": [{"system": "s", "code": "c"}]}, {"extension": [{"url": "u", "valueString": "v"}]},
    {"fhir_comments": "c"}, "-5", "+5", 10**12, "AAAA", "***",
]


def _light(body: dict[str, Any]) -> dict[str, Any]:
    """What the Bundle reader passes to the structure check: Binary payloads left out."""
    if body.get("resourceType") != "Bundle" or not isinstance(body.get("entry"), list):
        return body
    entries = []
    for entry in body["entry"]:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Binary" and "data" in resource:
            entry = {**entry, "resource": {k: v for k, v in resource.items() if k != "data"}}
        entries.append(entry)
    return {**body, "entry": entries}


def _bases() -> list[dict[str, Any]]:
    one = provide_bundle(INS)
    two = provide_bundle(INS, documents=2, replaces="old-id")
    archived = provide_bundle(INS)
    docref(archived)["extension"] = [{"url": IS_ARCHIVED, "valueBoolean": True}]
    docref(archived)["context"]["event"] = [{"coding": [{"system": "http://loinc.org", "code": "x"}]}]
    docref(archived)["context"]["related"] = [{"identifier": {"system": "urn:oid:1.2.3", "value": "v"}}]
    docref(archived)["context"]["period"]["end"] = "2026-06-12"
    published = simplified_publish(INS)
    del published["content"][0]["attachment"]["data"]
    return [one, two, archived, published]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


def _mutate(body: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    body = copy.deepcopy(body)
    path = rng.choice(_paths(body)[1:])
    parent, last = _get(body, path[:-1]), path[-1]
    roll = rng.random()
    if roll < 0.2 and isinstance(parent, dict):
        del parent[last]
    elif roll < 0.3 and isinstance(parent, list):
        parent.pop(last)
    elif roll < 0.45:
        target = _get(body, path)
        if isinstance(target, dict):
            extra_key = rng.choice(["foo", "_status", "_value", "fhir_comments", "resourceType", "resource_type",
                                    "status__ext", "valueString", "valueBoolean", "id", "extension"])
            target[extra_key] = rng.choice(ODD_VALUES + ["current"])
        else:
            parent[last] = [target]
    elif roll < 0.55:
        target = _get(body, path)
        parent[last] = target[0] if isinstance(target, list) and target else rng.choice(ODD_VALUES)
    elif roll < 0.62 and isinstance(parent, dict) and "resourceType" in parent:
        parent["resourceType"] = rng.choice(["Foo", "Patient", "Identifier", "Binary", "List", "Element", ""])
    else:
        parent[last] = copy.deepcopy(rng.choice(ODD_VALUES))
    return body


VALID_CHOICES = {"valueString": "ok", "valueBoolean": True, "valueCode": "ok", "valueInteger": 1}


def _add_choice(body: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A second, *valid* ``value[x]`` next to an element's (an extension's, a parameter's...): only the
    choice rule refuses it, so a walk that forgot that rule would be caught."""
    body = copy.deepcopy(body)
    holders = [p for p in _paths(body) if isinstance(_get(body, p), dict)
               and any(k.startswith("value") for k in _get(body, p))]
    if holders:
        target = _get(body, rng.choice(holders))
        key = rng.choice([k for k in VALID_CHOICES if k not in target])
        target[key] = VALID_CHOICES[key]
    return body


def test_usual_shapes_take_the_fast_path():
    bundle = get_fhir_model_class("Bundle")
    document = get_fhir_model_class("DocumentReference")
    for body in _bases():
        model = bundle if body["resourceType"] == "Bundle" else document
        assert fhircheck.accepts(model, _light(body)), body["resourceType"]


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_never_accepts_what_fhir_resources_refuses(seed):
    rng = random.Random(seed)
    accepted = refused = 0
    for n in range(600):
        base = _bases()[n % 4]
        body = _mutate(base, rng)
        if rng.random() < 0.3:
            body = _mutate(body, rng)
        if rng.random() < 0.1:
            body = _add_choice(body, rng)
        body = _light(body) if isinstance(body, dict) else body
        model = get_fhir_model_class(base["resourceType"])
        if not fhircheck.accepts(model, body):
            refused += 1
            continue
        accepted += 1
        try:
            model.model_validate(body)
        except ValidationError as exc:  # pragma: no cover - the failure this test exists for
            pytest.fail(f"fast path accepted what fhir.resources refuses: {exc.errors()[0]} in {body!r}")
    assert accepted > 50 and refused > 50


def test_structure_errors_are_still_worded_by_fhir_resources():
    bundle = provide_bundle(INS)
    docref(bundle)["statuz"] = "current"
    with pytest.raises(FhirError) as info:
        bundle_parser.parse_provide_bundle(bundle, fast=True)
    assert info.value.rule == "FHIR:R4-structure" and "statuz" in info.value.diagnostics
    bundle = provide_bundle(INS)
    docref(bundle)["date"] = "2026-06-12T10:00:00"  # an instant without its zone
    with pytest.raises(FhirError) as info:
        bundle_parser.parse_provide_bundle(bundle, fast=True)
    assert info.value.rule == "FHIR:R4-structure"
    assert info.value.expression == ["Bundle.entry.1.resource.date"]
    assert "Instant value string does not match spec regex" in info.value.diagnostics


@pytest.mark.parametrize("resource_type", ["Foo", 7])
def test_unknown_resource_type_in_an_entry_is_a_400_not_a_crash(resource_type):
    bundle = provide_bundle(INS)
    bundle["entry"][0]["resource"]["resourceType"] = resource_type
    with pytest.raises(FhirError) as info:
        bundle_parser.parse_provide_bundle(bundle, fast=True)
    assert (info.value.status, info.value.rule) == (400, "FHIR:R4-structure")


def test_mutated_bodies_are_refused_with_an_operation_outcome_never_a_crash():
    """Bad input is the client's error: parsing raises FhirError (an OperationOutcome), nothing else."""
    rng = random.Random(7)
    bases = [provide_bundle(INS), provide_bundle(INS, documents=2, replaces="old-id"), simplified_publish(INS)]
    for n in range(900):
        base = bases[n % 3]
        body = _mutate(base, rng)
        if rng.random() < 0.3:
            body = _mutate(body, rng)
        try:
            if base["resourceType"] == "Bundle":
                documents = bundle_parser.parse_provide_bundle(body, fast=True).documents
            else:
                documents = [document_reference.parse_simplified_publish(body, fast=True)]
        except FhirError:
            continue
        for doc in documents:  # and what parsing accepted, the store can take
            rows.document_row(doc, doc_id="d", dmp_id=1, ss_id="s", binary_id="b", now=datetime.now(UTC))


def test_null_given_name_placeholder_is_skipped():
    bundle = provide_bundle(INS)
    docref(bundle)["contained"][1]["name"][0]["given"] = [None, "Claire"]
    assert bundle_parser.parse_provide_bundle(bundle, fast=True).documents[0].author_given == ["Claire"]


def test_choice_elements_are_one_at_most_and_present_when_required():
    """value[x]: two types at once are refused by fhir.resources (so not accepted by the walk); a required
    choice left out too (MedicationRequest.medication[x]); one of them is fine."""
    basic = get_fhir_model_class("Basic")
    one = {"resourceType": "Basic", "code": {"text": "x"}, "extension": [{"url": "http://x", "valueString": "a"}]}
    assert fhircheck.accepts(basic, one)
    two = copy.deepcopy(one)
    two["extension"][0]["valueBoolean"] = True
    assert not fhircheck.accepts(basic, two)
    with pytest.raises(ValidationError):
        basic.model_validate(two)
    request = get_fhir_model_class("MedicationRequest")
    body = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "subject": {"reference": "Patient/1"}}
    assert not fhircheck.accepts(request, body)
    with pytest.raises(ValidationError):
        request.model_validate(body)
    assert fhircheck.accepts(request, {**body, "medicationReference": {"reference": "Medication/1"}})
    assert not fhircheck.accepts(request, {**body, "medicationReference": {"reference": "Medication/1"},
                                           "medicationCodeableConcept": {"text": "x"}})


def _nested(levels: int) -> dict[str, Any]:
    """An extension nesting ``levels`` extensions in the DocumentReference of an ITI-65 Bundle."""
    bundle = provide_bundle(INS)
    extension: dict[str, Any] = {"url": "http://x", "valueString": "v"}
    for _ in range(levels):
        extension = {"url": "http://x", "extension": [extension]}
    docref(bundle)["extension"] = [extension]
    return _light(bundle)


def test_nesting_beyond_the_limit_is_never_taken_by_the_fast_path():
    bundle = get_fhir_model_class("Bundle")
    # Bundle > entry[] > {} > resource > extension[] > {} > (extension[] > {}) * levels: 6 + 2 * levels
    at_limit, beyond = _nested((fhircheck.MAX_DEPTH - 6) // 2), _nested((fhircheck.MAX_DEPTH - 6) // 2 + 1)
    assert not fhircheck.deeper_than(at_limit) and fhircheck.accepts(bundle, at_limit)
    assert fhircheck.deeper_than(beyond) and not fhircheck.accepts(bundle, beyond)
    assert not fhircheck.deeper_than([[[1]]], 3) and fhircheck.deeper_than([[[[1]]]], 3)


@pytest.mark.parametrize("levels", [60, 200, 600])
def test_deeply_nested_bodies_are_a_400_not_a_crash(levels):
    """fhir.resources exhausted the recursion limit (600 levels) and orjson could not store the document
    (over 255 levels): both were 500s."""
    bundle = _nested(levels)
    with pytest.raises(FhirError) as info:
        bundle_parser.parse_provide_bundle(bundle, fast=True)
    assert (info.value.status, info.value.rule) == (400, "DMP:nesting-depth")
    published = simplified_publish(INS)
    published["extension"] = docref(bundle)["extension"]
    with pytest.raises(FhirError) as info:
        document_reference.parse_simplified_publish(published, fast=True)
    assert (info.value.status, info.value.rule) == (400, "DMP:nesting-depth")


async def test_mutated_bundles_over_http_are_never_a_server_error(client, auth):  # type: ignore[no-untyped-def]
    """The same mutations end to end, on both engines: what parsing lets through must be storable by
    PostgreSQL as by SQLite (a value its columns cannot hold was a 500 on PostgreSQL only)."""
    rng = random.Random(11)
    headers = {**await auth(), "Content-Type": "application/fhir+json"}
    bundle, published = provide_bundle(INS), simplified_publish(INS)  # ZOE ADRUN: open to the default caller
    statuses: dict[int, int] = {}
    for n in range(200):
        base, path = (bundle, "/dmp/fhir") if n % 2 else (published, "/dmp/fhir/DocumentReference")
        document = docref(base) if base is bundle else base
        document["masterIdentifier"]["value"] = f"urn:oid:1.2.250.1.213.1.4.8.99999.{uuid.uuid4().int % 10**12}"
        body = _mutate(base, rng)
        if rng.random() < 0.3:
            body = _mutate(body, rng)
        response = await client.post(path, content=json.dumps(body), headers=headers)
        assert response.status_code < 500, (response.text, body)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    assert statuses.get(200, 0) >= 5 and statuses.get(201, 0) >= 5 and statuses.get(400, 0) >= 20, statuses


def _outcome(parse, body, fast):  # type: ignore[no-untyped-def]
    try:
        parsed = parse(body, fast=fast)
    except FhirError as error:
        return ("refused", error.status, [issue.issue() for issue in error.issues])
    documents = parsed.documents if hasattr(parsed, "documents") else [parsed]
    return ("accepted", [(d.unique_id, d.patient, d.type, d.labels, d.hash_b64) for d in documents])


def test_fast_and_plain_structure_checks_answer_the_same():
    """settings.fast_paths off: the models alone check the structure; same answers on the same inputs."""
    rng = random.Random(11)
    bases = [provide_bundle(INS), provide_bundle(INS, documents=2, replaces="old-id"), simplified_publish(INS)]
    for n in range(300):
        base = bases[n % 3]
        body = base if n < 3 else _mutate(base, rng)
        parse = bundle_parser.parse_provide_bundle if base["resourceType"] == "Bundle" else \
            document_reference.parse_simplified_publish
        assert _outcome(parse, body, True) == _outcome(parse, body, False), n
