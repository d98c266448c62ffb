"""SOAP message parsing and building (pure): only SoapFault ever escapes, answers keep the recorded shape."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from app.ins import nir, search
from app.ins.soap import answers, bodies, envelope, faults
from app.ins.soap.client import build_request, recsansvitale_xml, saml_security
from app.ins.soap.namespaces import NS_RECSANS, NS_RESULTAT, NS_SIRAM, NS_SOAP12
from app.shared.identifiers import OID_INS_NIR

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


def test_fault_shape_matches_the_recorded_fault() -> None:
    xml = faults.build_fault(faults.fault_unknown_idam("uuid:1"))
    root = etree.fromstring(xml)
    ns = {"s": NS_SOAP12, "siram": NS_SIRAM}
    assert root.findtext("s:Body/s:Fault/s:Code/s:Value", namespaces=ns) == "soap:Sender"
    assert root.findtext("s:Body/s:Fault/s:Code/s:Subcode/s:Value", namespaces=ns) == "soap:siram_100"
    assert root.find("s:Body/s:Fault/s:Reason/s:Text", ns).get("{http://www.w3.org/XML/1998/namespace}lang") == "fr"
    err = root.find("s:Body/s:Fault/s:Detail/siram:Erreur", ns)
    assert (err.get("code"), err.get("severite"), err.get("messageID")) == ("desir_550", "erreur", "uuid:1")


def test_answer_escapes_and_keeps_order() -> None:
    person = search.PersonRecord("D'ARTAGNAN", "JEAN", "M", "1950-00-00", None,
                                 search.InsRecord("1502099350001", nir.compute_key("1502099350001"), "NIR"))
    xml = answers.resultat_xml(search.Outcome("00", "OK", person), lambda r: OID_INS_NIR, with_prenom=True)
    root = etree.fromstring(xml.encode())
    tiq = root.find(f"{{{NS_RESULTAT}}}INDIVIDU/{{{NS_RESULTAT}}}TIQ")
    assert [etree.QName(c).localname for c in tiq] == ["NomNaissance", "Prenom", "ListePrenom", "Sexe",
                                                        "DateNaissance"]
    assert tiq.findtext(f"{{{NS_RESULTAT}}}DateNaissance") == "1950-00-00"


# --- the one-pass child lookups of parse_request / parse_traits against lxml's own find (docs/ins.md, Performance)

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


def _reference_parse_traits(payload: etree._Element) -> tuple:
    """parse_traits as it was written with etree.QName (the outcome, or the fault's detail and rule)."""
    order = ["NomNaissance", "Prenom", "Sexe", "DateNaissance", "LieuNaissance"]
    seen: list[str] = []
    values: dict[str, list[str]] = {k: [] for k in order}
    for child in payload:
        qn = etree.QName(child)
        if qn.namespace != NS_RECSANS or qn.localname not in values:
            return ("fault", f"élément inattendu dans RECSANSVITALE : {qn.localname}", "INSi:RECSANSVITALE")
        if seen and order.index(qn.localname) < order.index(seen[-1]):
            return ("fault", f"ordre des éléments de RECSANSVITALE : {qn.localname} après {seen[-1]}",
                    "INSi:RECSANSVITALE-order")
        if qn.localname != "Prenom" and values[qn.localname]:
            return ("fault", f"{qn.localname} répété", "INSi:RECSANSVITALE")
        seen.append(qn.localname)
        values[qn.localname].append((child.text or "").strip())
    return ("ok", {k: v for k, v in values.items()})


_ELEMENTS = st.sampled_from([
    ("ns", "NomNaissance"), ("ns", "Prenom"), ("ns", "Sexe"), ("ns", "DateNaissance"), ("ns", "LieuNaissance"),
    ("other", "Prenom"), ("none", "Sexe"), ("ns", "Autre"),
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_ELEMENTS, st.text("AB -", max_size=4)), max_size=8))
def test_parse_traits_matches_the_qname_reading(elements: list) -> None:
    ns = {"ns": NS_RECSANS, "other": "urn:other", "none": None}
    payload = etree.Element(f"{{{NS_RECSANS}}}RECSANSVITALE")
    for (space, name), text in elements:
        child = etree.SubElement(payload, f"{{{ns[space]}}}{name}" if ns[space] else name)
        child.text = text
    expected = _reference_parse_traits(payload)
    try:
        t = bodies.parse_traits(payload)
    except faults.SoapFault as fault:
        assert expected == ("fault", fault.detail_text, fault.rule)
        return
    assert expected[0] == "ok"
    values = expected[1]
    one = {k: (v[0] if v else None) for k, v in values.items()}
    assert (t.NomNaissance, t.Prenom, t.Sexe, t.DateNaissance, t.LieuNaissance) == (
        one["NomNaissance"], values["Prenom"], one["Sexe"], one["DateNaissance"], one["LieuNaissance"])
