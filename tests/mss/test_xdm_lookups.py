"""The ebRIM child lookups of the XDM reader give what the ElementPath expressions they replace give."""

from __future__ import annotations

import io
import zipfile

from lxml import etree

from app.mss import xdm
from app.mss.xdm import metadata as xdm_metadata
from tests.mss.helpers import sample_xdm

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
