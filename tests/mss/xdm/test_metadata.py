"""The ebRIM child lookups of the XDM reader give what the ElementPath expressions they replace give."""

from __future__ import annotations

import io
import re
import time
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lxml import etree

from app.mss import xdm
from app.mss.xdm import metadata as xdm_metadata
from tests.mss.helpers import (
    SAMPLE_CDA,
    SAMPLE_INS,
    rezip,
    sample_xdm,
)

R = xdm.RIM
TRICKY = f"""<rim:RegistryObjectList xmlns:rim="{R}" xmlns:x="urn:other">
  <rim:ExtrinsicObject id="a">
    <rim:Slot name="URI"><rim:ValueList><rim:Value>one</rim:Value><rim:Value/></rim:ValueList>
      <rim:ValueList><rim:Value>two</rim:Value></rim:ValueList><x:Value>not rim</x:Value></rim:Slot>
    <rim:Slot name="URI"><rim:ValueList><rim:Value>three</rim:Value></rim:ValueList></rim:Slot>
    <rim:Slot><rim:ValueList><rim:Value>no name</rim:Value></rim:ValueList></rim:Slot>
    <x:Slot name="URI"><rim:ValueList><rim:Value>foreign slot</rim:Value></rim:ValueList></x:Slot>
    <rim:Name/><rim:Name><rim:LocalizedString value="second name"/><rim:LocalizedString value="x"/></rim:Name>
    <rim:Classification classificationScheme="s1" nodeRepresentation="c1"/>
    <rim:Classification classificationScheme="s1" nodeRepresentation="c2"/>
    <rim:Classification classificationScheme="s2"><rim:Slot name="codingScheme"><rim:ValueList>
      <rim:Value>cs</rim:Value></rim:ValueList></rim:Slot><rim:Name><rim:LocalizedString value="d"/></rim:Name>
    </rim:Classification>
    <rim:ExternalIdentifier identificationScheme="e1" value="v1"/>
    <rim:ExternalIdentifier identificationScheme="e1" value="v2"/>
    <rim:Wrapper><rim:Slot name="URI"><rim:ValueList><rim:Value>nested</rim:Value></rim:ValueList></rim:Slot>
    </rim:Wrapper>
  </rim:ExtrinsicObject>
</rim:RegistryObjectList>""".encode()


def reference_slot(obj, name):  # type: ignore[no-untyped-def]
    values = []
    for slot in obj.findall("rim:Slot", xdm.NS):
        if slot.get("name") == name:
            values.extend(v.text or "" for v in slot.findall("rim:ValueList/rim:Value", xdm.NS))
    return values


def reference_localized(obj, tag):  # type: ignore[no-untyped-def]
    el = obj.find(f"rim:{tag}/rim:LocalizedString", xdm.NS)
    return None if el is None else el.get("value")


def reference_classification(obj, scheme):  # type: ignore[no-untyped-def]
    for cl in obj.findall("rim:Classification", xdm.NS):
        if cl.get("classificationScheme") == scheme:
            coding = reference_slot(cl, "codingScheme")
            return xdm.Code(cl.get("nodeRepresentation") or "", coding[0] if coding else None,
                            reference_localized(cl, "Name"))
    return None


def reference_first(obj, tag, attribute, value, wanted):  # type: ignore[no-untyped-def]
    for el in obj.findall(f"rim:{tag}", xdm.NS):
        if el.get(attribute) == value:
            return el.get(wanted)
    return None


def test_lookups_match_elementpath() -> None:
    with zipfile.ZipFile(io.BytesIO(sample_xdm())) as zf:
        metadata = zf.read(xdm.METADATA_PATH)
    for document in (metadata, TRICKY):
        root = etree.fromstring(document)
        objects = list(root.iter(f"{{{R}}}ExtrinsicObject", f"{{{R}}}RegistryPackage", f"{{{R}}}Classification"))
        assert objects
        for obj in objects:
            for name in ("URI", "hash", "size", "codingScheme", "submissionTime", "nothing"):
                assert xdm_metadata._slot(obj, name) == reference_slot(obj, name)
            for tag in ("Name", "Description"):
                assert xdm_metadata._localized(obj, tag) == reference_localized(obj, tag)
            schemes = {cl.get("classificationScheme") for cl in obj.findall("rim:Classification", xdm.NS)}
            for scheme in schemes | {"absent"}:
                assert xdm_metadata._classification(obj, scheme) == reference_classification(obj, scheme)
            identifiers = {ei.get("identificationScheme") for ei in obj.findall("rim:ExternalIdentifier", xdm.NS)}
            for scheme in identifiers | {"x"}:
                assert xdm_metadata._external_id(obj, scheme) == reference_first(obj, "ExternalIdentifier",
                                                                        "identificationScheme", scheme, "value")
    tricky = etree.fromstring(TRICKY)[0]
    assert xdm_metadata._slot(tricky, "URI") == ["one", "", "two", "three"]
    assert xdm_metadata._localized(tricky, "Name") == "second name"
    assert xdm_metadata._external_id(tricky, "e1") == "v1"
    code = xdm_metadata._classification(tricky, "s2")
    assert code == xdm.Code("", "cs", "d")


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0">&xxe;
</lcm:SubmitObjectsRequest>"""


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0">&lol3;
</lcm:SubmitObjectsRequest>"""


UTF16_XXE = (
    XXE.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-16"?>')
    .decode()
    .encode("utf-16")
)


_VALID = sample_xdm()


def _metadata(archive: bytes) -> str:
    return xdm.read_zip_entries(archive)[xdm.METADATA_PATH].decode()


def _with_size_slot(value: str) -> bytes:
    archive = sample_xdm()
    with zipfile.ZipFile(__import__("io").BytesIO(archive)) as zf:
        metadata = zf.read(xdm.METADATA_PATH).decode()
    metadata, count = re.subn(r'(<rim:Slot name="size"><rim:ValueList><rim:Value>)[0-9]+', rf"\g<1>{value}",
                              metadata)
    assert count
    return rezip(archive, replace={xdm.METADATA_PATH: metadata.encode()})


def test_missing_index_and_readme_are_warnings():
    archive = rezip(sample_xdm(), drop=("INDEX.HTM", "README.TXT"))
    package = xdm.read_xdm(archive)
    assert sorted(i.code for i in package.issues) == ["xdm.layout", "xdm.layout"]
    assert all(i.severity == "warning" for i in package.issues)


def test_missing_metadata_is_an_error():
    archive = rezip(sample_xdm(), drop=("IHE_XDM/SUBSET01/METADATA.XML",))
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(archive)
    assert info.value.code == "xdm.layout.metadata"
    assert not info.value.unsafe


def test_hash_and_size_mismatch_flagged():
    archive = rezip(sample_xdm(), replace={"IHE_XDM/SUBSET01/DOC0001.XML": SAMPLE_CDA + b"\n"})
    codes = {i.code for i in xdm.read_xdm(archive).issues}
    assert {"xdm.document.hash", "xdm.document.size"} <= codes


def test_document_missing_from_archive_flagged():
    archive = rezip(sample_xdm(), drop=("IHE_XDM/SUBSET01/DOC0002.PDF",))
    assert "xdm.document.missing" in {i.code for i in xdm.read_xdm(archive).issues}


def test_patient_mismatch_between_metadata_and_cda():
    other = SAMPLE_CDA.replace(SAMPLE_INS.encode(), b"297022A02077878")
    archive = rezip(sample_xdm(), replace={"IHE_XDM/SUBSET01/DOC0001.XML": other})
    assert "xdm.patient.mismatch" in {i.code for i in xdm.read_xdm(archive).issues}


@pytest.mark.parametrize("payload", [XXE, LAUGHS, UTF16_XXE], ids=["xxe", "billion-laughs", "utf16-xxe"])
def test_xml_entity_attacks_in_metadata(payload):
    archive = rezip(sample_xdm(), replace={"IHE_XDM/SUBSET01/METADATA.XML": payload})
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(archive)
    assert info.value.code == "xdm.xml.unsafe"
    assert info.value.unsafe


def test_xml_entity_attack_in_cda():
    archive = rezip(sample_xdm(), replace={"IHE_XDM/SUBSET01/DOC0001.XML": XXE})
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(archive)
    assert info.value.code == "xdm.xml.unsafe"


@pytest.mark.parametrize("payload", [b"<not-closed>", b"", b"\xff\xfe garbage", b"<html><body/></html>"])
def test_invalid_metadata(payload):
    archive = rezip(sample_xdm(), replace={"IHE_XDM/SUBSET01/METADATA.XML": payload})
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(archive)
    assert info.value.code == "xdm.metadata.invalid"
    assert not info.value.unsafe


def test_invalid_cda_flagged_not_fatal():
    archive = rezip(sample_xdm(), replace={"IHE_XDM/SUBSET01/DOC0001.XML": b"<broken"})
    package = xdm.read_xdm(archive)
    assert "xdm.cda.invalid" in {i.code for i in package.issues}
    assert package.cda_codes == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzzed_archives_never_crash_the_reader(mutations):
    data = bytearray(_VALID)
    for offset, value in mutations:
        data[offset] = value
    try:
        xdm.read_xdm(bytes(data))
    except xdm.XdmError:
        pass


def test_metadata_with_many_packages_reads_in_linear_time() -> None:
    """Per RegistryPackage, the reader walked every Classification of the document: 4,000 packages in
    a 20 KB zip took seconds."""
    base = sample_xdm()
    extra = "".join(f'<rim:RegistryPackage id="p{i}"/><rim:Classification classifiedObject="q{i}" '
                    'classificationNode="x"/>' for i in range(4000))
    metadata = re.sub(r"(<rim:RegistryObjectList[^>]*>)", lambda m: m.group(1) + extra, _metadata(base), count=1)
    archive = rezip(base, replace={xdm.METADATA_PATH: metadata.encode()})
    started = time.perf_counter()
    package = xdm.read_xdm(archive)
    assert time.perf_counter() - started < 1.0
    assert package.submission_set is not None and package.to_dict() == xdm.read_xdm(base).to_dict() | {
        "files": package.to_dict()["files"]}


def test_a_file_named_by_many_entries_is_hashed_and_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    base = sample_xdm()
    metadata = _metadata(base)
    entry = re.search(r"<rim:ExtrinsicObject.*?</rim:ExtrinsicObject>", metadata, re.S)
    assert entry is not None
    archive = rezip(base, replace={xdm.METADATA_PATH: metadata.replace(entry.group(0), entry.group(0) * 50).encode()})
    calls: list[int] = []
    real = xdm.parse_cda_header

    def counting(data: bytes, limits: xdm.XdmLimits = xdm.DEFAULT_LIMITS) -> xdm.CdaHeader:
        calls.append(len(data))
        return real(data, limits)

    monkeypatch.setattr(xdm_metadata, "parse_cda_header", counting)
    package = xdm.read_xdm(archive)
    assert len(package.documents) == 51 and len(calls) == 1  # the CDA 50 times, and the PDF
    single = xdm.read_xdm(base).to_dict()["documents"][0]
    assert single["cda"] is not None and package.to_dict()["documents"][:50] == [single] * 50


def test_invalid_cda_named_twice_is_reported_for_each_entry() -> None:
    base = sample_xdm()
    files = xdm.read_zip_entries(base)
    cda = next(name for name in files if name.upper().endswith(".XML") and name != xdm.METADATA_PATH)
    metadata = _metadata(base)
    entry = re.search(r"<rim:ExtrinsicObject.*?</rim:ExtrinsicObject>", metadata, re.S)
    assert entry is not None
    archive = rezip(base, replace={xdm.METADATA_PATH: metadata.replace(entry.group(0), entry.group(0) * 2).encode(),
                                   cda: b"<not-closed>"})
    issues = [i for i in xdm.read_xdm(archive).issues if i.code == "xdm.cda.invalid"]
    assert len(issues) == 2


@pytest.mark.parametrize("value", ["9" * 5000, "²", "1234567890", "-1", "٣"])
def test_size_slot_not_a_small_integer_is_an_issue(value):
    package = xdm.read_xdm(_with_size_slot(value))
    assert all(d.size is None for d in package.documents)
    assert "xdm.document.size" in {i.code for i in package.issues}
