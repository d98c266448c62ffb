"""FHIR XML <-> FHIR JSON through fhir.resources (R4B models, 4.0.1-compatible), the XML read hardened first."""

from __future__ import annotations

import json
from typing import Any


def to_xml(resource: dict[str, Any]) -> bytes:
    """FHIR XML through fhir.resources (R4B models, 4.0.1-compatible)."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    xml = model.model_dump_xml()
    return xml.encode("utf-8") if isinstance(xml, str) else xml


def from_xml(body: bytes, *, max_bytes: int = 20 * 1024 * 1024) -> dict[str, Any]:
    """Parse a FHIR XML resource into FHIR JSON (dict)."""
    from fhir.resources.R4B import get_fhir_model_class
    from lxml import etree

    from app.xmlsafe import parse_untrusted

    # The hardened parse refuses any DTD first, so fhir.resources' own (default lxml) parse of the same
    # bytes can meet no entity to expand.
    root = parse_untrusted(body, max_bytes=max_bytes)
    resource_type = etree.QName(root).localname
    model = get_fhir_model_class(resource_type).model_validate_xml(body)
    return json.loads(model.model_dump_json(exclude_none=True))
