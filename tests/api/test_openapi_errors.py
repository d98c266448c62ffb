"""The OpenAPI document tells vendors how each route refuses: every error status it declares carries the
protocol's media type and body schema (problem JSON, OperationOutcome, OAuth error, SOAP fault), the
platform's own refusals (400, 413, 422, 401 on the control API) are declared, and FastAPI's
``HTTPValidationError``, which the sandbox never answers, is gone. The fuzzer
(tests/test_openapi_fuzz.py) checks the answers against these declarations."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings


@pytest.fixture(scope="module")
def document() -> dict:
    from app.main import create_app

    return create_app(make_settings("sqlite+aiosqlite:///:memory:")).openapi()


def _content(document: dict, method: str, path: str, status: str) -> dict:
    return document["paths"][path][method]["responses"][status]["content"]


def test_every_error_response_has_a_body_shape(document: dict) -> None:
    bare = [
        f"{method.upper()} {path} {status}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.isdigit() and int(status) >= 400 and not response.get("content")
    ]
    assert bare == []
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "HTTPValidationError" not in str(document["paths"])


@pytest.mark.parametrize(("method", "path", "status", "media_type", "schema"), [
    ("post", "/sandbox/v1/cards", "422", "application/problem+json", "Problem"),
    ("post", "/sandbox/v1/cards", "401", "application/problem+json", "Problem"),  # SEGUR_CONTROL_TOKEN
    ("post", "/sandbox/v1/cards", "413", "application/problem+json", "Problem"),
    ("get", "/sandbox/v1/journal", "400", "application/problem+json", "Problem"),
    ("get", "/sandbox/v1/persons/{ins}", "404", "application/problem+json", "Problem"),
    ("post", "/sandbox/v1/dmps", "409", "application/problem+json", "Problem"),
    ("post", "/sandbox/v1/dmps/{ins}/reopen", "409", "application/problem+json", "Problem"),
    ("get", "/dmp/fhir/DocumentReference", "400", "application/fhir+json", "OperationOutcome"),
    ("get", "/dmp/fhir/DocumentReference", "403", "application/fhir+json", "OperationOutcome"),
    ("get", "/fhir/v2/Practitioner", "401", "application/fhir+json", "OperationOutcome"),
    ("post", "/auth/realms/esante-wallet/protocol/openid-connect/token", "400", "application/json", "OAuthError"),
    ("post", "/auth/realms/esante-wallet/protocol/openid-connect/token", "401", "application/json", "OAuthError"),
])
def test_refusals_are_declared_in_the_protocol_shape(
    document: dict, method: str, path: str, status: str, media_type: str, schema: str,
) -> None:
    content = _content(document, method, path, status)
    assert list(content) == [media_type]
    assert content[media_type]["schema"] == {"$ref": f"#/components/schemas/{schema}"}
    assert schema in document["components"]["schemas"]


def test_soap_and_html_refusals_keep_their_media_types(document: dict) -> None:
    assert list(_content(document, "post", "/lps", "413")) == ["application/soap+xml"]
    assert list(_content(document, "get", "/lps", "405")) == ["application/soap+xml"]
    assert list(_content(document, "get", "/auth", "400")) == ["text/html"]
    assert "302" in document["paths"]["/auth"]["get"]["responses"]


def test_fhir_and_jwks_answers_declare_their_media_types(document: dict) -> None:
    assert set(_content(document, "get", "/dmp/fhir/metadata", "200")) == {
        "application/fhir+json", "application/fhir+xml"}
    assert list(_content(document, "get", "/fhir/v2/Organization", "200")) == ["application/fhir+json"]
    certs = "/auth/realms/esante-wallet/protocol/openid-connect/certs"
    assert list(_content(document, "get", certs, "200")) == ["application/jwk-set+json"]


async def test_a_refused_journal_range_matches_its_declaration(client) -> None:
    window = {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    r = await client.get("/sandbox/v1/journal", params=window)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["rule"] == "sandbox:journal-range"
