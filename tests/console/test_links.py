"""The page of what a journal entry touched (app/console/links.py). Pure."""

from __future__ import annotations

import pytest

from app.console.links import target_of


@pytest.mark.parametrize(("path", "query", "protocol", "expected"), [
    ("/mss/v1/mailboxes/a@b.fr/messages/0123abcd", None, "http", "/console/mss/a%40b.fr/0123abcd"),
    ("/sandbox/v1/mailboxes/a@b.fr/messages/latest/raw", None, "http", "/console/mss/a%40b.fr/latest"),
    ("/mss/v1/mailboxes/a@b.fr/messages", "folder=INBOX", "http", "/console/mss/a%40b.fr"),
    ("/sandbox/v1/mailboxes/a@b.fr/faults", None, "http", "/console/mss/a%40b.fr"),
    ("/mss/v1/send", None, "http", "/console/mss"),
    ("/mail/config-v1.1.xml", "emailaddress=a@b.fr", "http", "/console/mss"),
    ("/fhir/v2/Practitioner", None, "http", "/console/mss"),
    ("-", None, "smtp", "/console/mss"),
    ("-", None, "imap", "/console/mss"),
    ("/sandbox/v1/dmps/275126322074974", None, "http", "/console/dmp/275126322074974"),
    ("/sandbox/v1/dmps/275126322074974/authorisations/10001", None, "http", "/console/dmp/275126322074974"),
    ("/sandbox/v1/dmps", None, "http", "/console/dmp"),
    ("/dmp/fhir/DocumentReference", "patient.identifier=urn:oid:1.2.250.1.213.1.4.8|275126322074974", "http",
     "/console/dmp/275126322074974"),
    ("/dmp/fhir/Patient", "identifier=urn%3Aoid%3A1.2.250.1.213.1.4.8%7C275126322074974", "http",
     "/console/dmp/275126322074974"),
    ("/dmp/fhir/DocumentReference", "patient.identifier=nonsense", "http", "/console/dmp"),
    ("/dmp/fhir/DocumentReference/abc-123", None, "http", "/console/dmp/documents/abc-123"),
    ("/dmp/fhir", None, "http", "/console/dmp"),
    ("/si-dmp-server/v2/services/registry", None, "http", "/console/dmp"),
    ("/auth", "client_id=x", "http", "/console/psc"),
    ("/auth/realms/esante-wallet/protocol/openid-connect/token", None, "http", "/console/psc"),
    ("/.well-known/openid-configuration", None, "http", "/console/psc"),
    ("/psc/v1/me", None, "http", "/console/psc"),
    ("/sandbox/v1/clients/abc", None, "http", "/console/psc"),
    ("/sandbox/v1/ciba/xyz", None, "http", "/console/psc"),
    ("/lps", None, "http", "/console/ins"),
    ("/insi/v1/search-traits", None, "http", "/console/ins"),
    ("/sandbox/v1/persons/275126322074974", None, "http", "/console/ins"),
    ("/sandbox/v1/journal", None, "http", None),
    ("/", None, "http", None),
    ("/console/psc", None, "http", None),
])
def test_target_of(path: str, query: str | None, protocol: str, expected: str | None) -> None:
    assert target_of(path, query, protocol) == expected
