"""Reading a request envelope (pure): only SoapFault ever escapes the parsers, whatever the bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from app.ins.soap import bodies, envelope, faults
from app.ins.soap.client import build_request, recsansvitale_xml, saml_security

VALID = build_request(recsansvitale_xml("ADRUN", "ZOE", "F", "1975-12-31"))


def _parse_all(body: bytes) -> None:
    try:
        req = envelope.parse_request(body)
        if req.operation == "rechercherInsAvecTraitsIdentite":
            bodies.parse_traits(req.body, req.message_id)
        else:
            bodies.parse_vitale(req.body)
    except faults.SoapFault as fault:
        assert fault.code in ("Sender", "VersionMismatch")
        assert fault.subcode.startswith("siram_")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes(body: bytes) -> None:
    _parse_all(body)


@settings(max_examples=300, deadline=None)
@given(start=st.integers(0, len(VALID)), length=st.integers(1, 200), junk=st.binary(max_size=20))
def test_damaged_valid_requests(start: int, length: int, junk: bytes) -> None:
    _parse_all(VALID[:start] + junk + VALID[start + length:])


def test_valid_request_round_trip() -> None:
    req = envelope.parse_request(VALID)
    assert (req.operation, req.lps.idam, req.lps.idam_r, req.message_id) == (
        "rechercherInsAvecTraitsIdentite", "SEGURSANDBOX01", "4", "uuid:b3549edd-4ae9-472a-b26f-fd2fb4ef397f")
    t = bodies.parse_traits(req.body)
    assert (t.NomNaissance, t.Prenom, t.Sexe, t.DateNaissance, t.LieuNaissance) == (
        "ADRUN", ["ZOE"], "F", "1975-12-31", None)
    assert not req.saml_assertion
    cpx = envelope.parse_request(build_request(recsansvitale_xml("A", "B", "M", "2000-01-01"),
                                                security=saml_security("CN=X")))
    assert cpx.saml_assertion and cpx.saml_issuer == "CN=X"


DUPLICATES = (
    b'<a xmlns:x="urn:x"><x:b>1</x:b><b>2</b><x:b>3</x:b><!-- c --><x:c/><?pi x?><x:b><x:d/></x:b></a>'
)


def _tags(root: etree._Element) -> set:
    return {el.tag for el in root.iter()} | {"{urn:x}missing", "missing"}


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, len(VALID)), length=st.integers(1, 200), junk=st.binary(max_size=20))
def test_children_is_find(start: int, length: int, junk: bytes) -> None:
    for document in (VALID, DUPLICATES, VALID[:start] + junk + VALID[start + length:]):
        try:
            root = etree.fromstring(document, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            continue
        tags = _tags(root)
        for el in root.iter():
            children = envelope._children(el)
            for tag in tags:
                if isinstance(tag, str):
                    assert children.get(tag) is el.find(tag), (tag, document)
    assert envelope._children(None) == {}
