"""The XDM reader and writer, including attacks on the reader."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.mss import xdm
from tests.mss.helpers import (
    SAMPLE_CDA,
    SAMPLE_INS,
    cda_without_ins,
    cda_without_traits,
    make_zip,
    rezip,
    sample_xdm,
)


def test_writer_output_reads_back_with_layout_and_metadata():
    archive = sample_xdm()
    package = xdm.read_xdm(archive)
    assert package.issues == []
    assert {"INDEX.HTM", "README.TXT", "IHE_XDM/SUBSET01/METADATA.XML"} <= set(package.files)
    assert package.submission_set is not None
    assert package.submission_set.patient_id == xdm.PatientId.parse(
        f"{SAMPLE_INS}^^^&1.2.250.1.213.1.4.8&ISO"
    )
    assert [d.mime_type for d in package.documents] == ["text/xml", "application/pdf"]
    cda_entry = package.documents[0]
    assert cda_entry.type_code == xdm.Code("11488-4", xdm.LOINC, "Note de consultation")
    assert cda_entry.class_code is not None and cda_entry.class_code.code == "10"
    assert cda_entry.unique_id == "1.2.250.1.999.1.2.1^CR-0001"
    assert cda_entry.hash is not None and cda_entry.size == len(SAMPLE_CDA)
    assert package.cda_codes == ["11488-4"]
    assert package.has_qualified_ins is True
    assert [p.id for p in package.patient_ids] == [SAMPLE_INS]


def test_writer_without_pdf_and_explicit_patient():
    archive = xdm.build_xdm(cda_without_ins(), patient_id="1234", patient_oid="1.2.250.1.999.9")
    package = xdm.read_xdm(archive)
    assert len(package.documents) == 1
    assert package.documents[0].patient_id is not None
    assert package.documents[0].patient_id.is_ins is False
    assert package.has_qualified_ins is False


def test_writer_refuses_cda_without_patient():
    with pytest.raises(xdm.XdmError) as info:
        xdm.build_xdm(cda_without_ins())
    assert info.value.code == "xdm.cda.patient"


def test_writer_refuses_non_cda():
    with pytest.raises(xdm.XdmError) as info:
        xdm.build_xdm(b"<html/>")
    assert info.value.code == "xdm.cda.invalid"


def test_ins_not_qualified_without_the_four_traits():
    package = xdm.read_xdm(sample_xdm(cda_without_traits()))
    assert package.cda_codes == ["11488-4"]
    assert package.documents[0].cda is not None
    assert package.documents[0].cda.ins == SAMPLE_INS
    assert package.has_qualified_ins is False


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


def test_patient_id_parse():
    pid = xdm.PatientId.parse("297022A02077878^^^&1.2.250.1.213.1.4.8&ISO")
    assert (pid.id, pid.oid, pid.is_ins) == ("297022A02077878", "1.2.250.1.213.1.4.8", True)
    assert pid.to_cx() == "297022A02077878^^^&1.2.250.1.213.1.4.8&ISO"
    bare = xdm.PatientId.parse("12345")
    assert (bare.id, bare.oid, bare.is_ins) == ("12345", None, False)


# --- attacks and broken archives ------------------------------------------------------------------


def test_not_a_zip():
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(b"this is not a zip at all")
    assert info.value.code == "xdm.zip.invalid"


@pytest.mark.parametrize("cut", [10, 100, -22, -60])
def test_truncated_zip(cut):
    archive = sample_xdm()
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(archive[:cut])
    assert info.value.code == "xdm.zip.invalid"
    assert not info.value.unsafe


def test_corrupted_entry_data():
    archive = bytearray(sample_xdm())
    # Flip bytes inside the first entry's compressed data (after its local header).
    for i in range(60, 90):
        archive[i] ^= 0xFF
    with pytest.raises(xdm.XdmError):
        xdm.read_xdm(bytes(archive))


def test_zip_bomb_by_ratio():
    bomb = make_zip({"IHE_XDM/SUBSET01/METADATA.XML": b"\x00" * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(bomb)
    assert info.value.code == "xdm.zip.bomb"
    assert info.value.unsafe


def test_zip_bomb_by_total_size():
    limits = xdm.XdmLimits(max_total_uncompressed=1000, max_entry_uncompressed=800)
    archive = make_zip({f"f{i}": b"a" * 600 for i in range(3)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_zip_entries(archive, limits)
    assert info.value.code == "xdm.zip.bomb"


def test_too_many_entries():
    archive = make_zip({f"f{i}.txt": b"x" for i in range(100)})
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(archive)
    assert info.value.code == "xdm.zip.entries"


def test_lying_declared_size_is_caught():
    """An entry whose central directory claims fewer bytes than it inflates to."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a.txt", b"A" * 1000)
    data = bytearray(buffer.getvalue())
    # Patch the uncompressed size in the central directory (offset 24 in the CD header) to 10.
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = (10).to_bytes(4, "little")
    with pytest.raises(xdm.XdmError):
        xdm.read_zip_entries(bytes(data))


@pytest.mark.parametrize(
    "name",
    [
        "../evil.txt",
        "IHE_XDM/../../evil.txt",
        "/etc/passwd",
        "IHE_XDM\\SUBSET01\\..\\..\\evil",
        "C:/evil.txt",
    ],
)
def test_path_traversal(name):
    archive = rezip(sample_xdm(), add={name: b"pwned"})
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(archive)
    assert info.value.code == "xdm.zip.path"
    assert info.value.unsafe


def test_symlink_entry_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(xdm.XdmError) as exc:
        xdm.read_zip_entries(buffer.getvalue())
    assert exc.value.code == "xdm.zip.symlink"


def test_duplicate_entry_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf, pytest.warns(UserWarning):
        zf.writestr("a.txt", "1")
        zf.writestr("a.txt", "2")
    with pytest.raises(xdm.XdmError) as exc:
        xdm.read_zip_entries(buffer.getvalue())
    assert exc.value.code == "xdm.zip.duplicate"


def test_encrypted_entry_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo("secret.txt")
        zf.writestr(info, b"x")
    data = bytearray(buffer.getvalue())
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 8] |= 0x1  # general purpose flag bit 0: encrypted
    with pytest.raises(xdm.XdmError) as exc:
        xdm.read_zip_entries(bytes(data))
    assert exc.value.code == "xdm.zip.encrypted"


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


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VALID = sample_xdm()


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
