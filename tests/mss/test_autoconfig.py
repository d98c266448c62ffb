"""Mail client autoconfiguration (SC.MSS/CONF.04): what the document names. That each named endpoint answers
with each named method is tested against the listeners in ``tests/mss/imap/test_autoconfig.py``."""

from __future__ import annotations

from types import SimpleNamespace

from lxml import etree

from app.mss import autoconfig
from tests.mss.conftest import DOCTOR

APP_BOX = "resultats@labo-b.mssante.fr"
PATIENT_BOX = "275126322074974@patient.mssante.fr"


def servers_of(document: bytes | str) -> list[tuple[str, str, str, str, list[str]]]:
    root = etree.fromstring(document.encode() if isinstance(document, str) else document)
    return [(server.tag, server.get("type"), server.findtext("port"), server.findtext("socketType"),
             [a.text for a in server.findall("authentication")])
            for server in root.find("emailProvider").iterchildren("incomingServer", "outgoingServer")]


def test_only_the_listeners_that_run_are_named() -> None:
    settings = SimpleNamespace(smtp_host="127.0.0.1", smtp_port=2525, mss_imap_host=None)
    off = SimpleNamespace(smtp_port=2600, smtps_port=None, imap_port=None, imaps_port=None)
    document = autoconfig.render("medecin.mssante.fr", autoconfig.servers(off, settings, mailbox_type="PER",
                                                                           request_host="sandbox.test"))
    assert servers_of(document) == [("outgoingServer", "smtp", "2600", "STARTTLS", ["OAuth2", "password-cleartext"])]

    every = SimpleNamespace(smtp_port=2600, smtps_port=2465, imap_port=2143, imaps_port=2993)
    found = autoconfig.servers(every, settings, mailbox_type="APP", request_host="sandbox.test")
    # implicit TLS first (RFC 8314 §3.3), the APP mailbox's certificate first
    assert [(s.protocol, s.port, s.socket_type) for s in found] == [
        ("imap", 2993, "SSL"), ("imap", 2143, "STARTTLS"), ("smtp", 2465, "SSL"), ("smtp", 2600, "STARTTLS")]
    assert {s.authentications for s in found} == {("TLS-client-cert", "password-cleartext")}
    assert {s.hostname for s in found} == {"127.0.0.1"}

    # a listener bound to every interface is reached at the name the client used for this API
    wildcard = SimpleNamespace(smtp_host="0.0.0.0", smtp_port=2525, mss_imap_host="::")  # noqa: S104
    assert {s.hostname for s in autoconfig.servers(every, wildcard, mailbox_type=None, request_host="mss.example")} \
        == {"mss.example"}
    assert {s.hostname for s in autoconfig.servers(every, wildcard, mailbox_type=None, request_host=None)} \
        == {"localhost"}
    assert autoconfig.authentications("PAT") == ("password-cleartext",)  # no PSC professional owns it


def test_domain_is_escaped() -> None:
    document = autoconfig.render('a<b>&"c', [])
    assert etree.fromstring(document.encode()).findtext("emailProvider/domain") == 'a<b>&"c'


async def test_autoconfig(client, app):
    response = await client.get("/mail/config-v1.1.xml", params={"emailaddress": DOCTOR})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(response.content)
    assert root.findtext("emailProvider/domain") == "medecin.mssante.fr"
    expected = [("outgoingServer", "smtp", str(app.state.smtp_port), "STARTTLS", ["OAuth2", "password-cleartext"])]
    if getattr(app.state, "imap_port", None):
        expected.insert(0, ("incomingServer", "imap", str(app.state.imap_port), "STARTTLS",
                            ["OAuth2", "password-cleartext"]))
    assert servers_of(response.content) == expected

    for address, methods in ((APP_BOX, ["TLS-client-cert", "password-cleartext"]),
                             (PATIENT_BOX, ["password-cleartext"]),
                             ("nobody@medecin.mssante.fr", ["OAuth2", "password-cleartext"])):
        document = (await client.get("/mail/config-v1.1.xml", params={"emailaddress": address})).content
        assert {tuple(s[4]) for s in servers_of(document)} == {tuple(methods)}, address

    # not an address: answered (parseable, the request's host as the domain), never looked up in the store
    for junk in ("x\x00@evil<&>\x01", "a" * 5000, "@"):
        response = await client.get("/mail/config-v1.1.xml", params={"emailaddress": junk})
        assert response.status_code == 200
        assert etree.fromstring(response.content).findtext("emailProvider/domain") == "sandbox.test"

