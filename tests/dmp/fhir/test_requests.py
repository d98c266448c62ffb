"""Reading FHIR requests (app/dmp/fhir/requests.py): a PATCH body by its content type, hostile bodies."""

from __future__ import annotations

import pytest

from app.api.errors import FhirError
from app.dmp.fhir.requests import parse_patch_body


def test_patch_body_content_types():
    assert parse_patch_body("application/json-patch+json", b"[]")[0] == "json-patch"
    assert parse_patch_body("application/fhir+json; charset=utf-8", b'{"resourceType":"Parameters"}')[0] == "fhirpath"
    with pytest.raises(FhirError) as info:
        parse_patch_body("application/xml", b"<x/>")
    assert info.value.status == 415


def test_hostile_patch_bodies_are_refused_not_crashed():
    with pytest.raises(FhirError) as deep:
        parse_patch_body("application/json-patch+json", b"[" * 100_000)
    assert deep.value.status == 400
