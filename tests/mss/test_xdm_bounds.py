"""The XDM reader's work is bounded by what the archive announces: no method inflates more than declared,
and METADATA.XML costs in proportion to its size (the read may run on the event loop)."""

from __future__ import annotations

import io
import os
import re
import struct
import time
import tracemalloc
import zipfile
import zlib

import pytest

from app.mss import xdm
from app.mss.xdm import metadata as xdm_metadata
from tests.mss.helpers import make_zip, rezip, sample_xdm

METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


def lying(compression: int, real: int, declared: int = 100) -> bytes:
    """An archive of one entry of ``real`` zero bytes whose headers say ``declared`` (CRC of the first
    ``declared`` bytes: zipfile, which cuts what it inflated at the declared size, accepted it)."""
    archive = bytearray(make_zip({"BOMB.BIN": bytes(real)}, compression=compression))
    crc = struct.pack("<L", zlib.crc32(bytes(declared)))
    central = archive.find(b"PK\x01\x02")
    archive[central + 16:central + 20], archive[central + 24:central + 28] = crc, struct.pack("<L", declared)
    archive[14:18], archive[22:26] = crc, struct.pack("<L", declared)
    return bytes(archive)


@pytest.mark.parametrize("compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_an_entry_never_inflates_beyond_its_declared_size(compression: int) -> None:
    archive = lying(compression, 32 * 1024 * 1024)
    assert len(archive) < 10_000 and xdm.declared_sizes(archive) == (100, 0)
    tracemalloc.start()
    try:
        with pytest.raises(xdm.XdmError) as caught:
            xdm.read_zip_entries(archive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.code == "xdm.zip.bomb"
    assert peak < 2 * 1024 * 1024  # zipfile inflated the 32 MB before cutting them to 100 bytes


@pytest.mark.parametrize("compression", METHODS)
def test_every_method_reads_as_zipfile_reads_it(compression: int) -> None:
    entries = {"A.TXT": os.urandom(3000) + b"x" * 50_000, "B/C.XML": b"<a/>" * 1000, "EMPTY": b""}
    archive = make_zip(entries, compression=compression)
    assert xdm.read_zip_entries(archive) == entries
    damaged = bytearray(archive)
    central = damaged.find(b"PK\x01\x02")
    damaged[central + 16:central + 20] = b"\0\0\0\0"  # the CRC-32 of A.TXT
    with pytest.raises(xdm.XdmError) as caught:
        xdm.read_zip_entries(bytes(damaged))
    assert caught.value.code == "xdm.zip.invalid" and "Bad CRC-32" in str(caught.value)


def test_honest_entry_of_declared_size_is_read_whatever_the_method() -> None:
    for compression in METHODS:
        archive = make_zip({"Z.BIN": bytes(300_000)}, compression=compression)
        assert xdm.read_zip_entries(archive) == {"Z.BIN": bytes(300_000)}


def _metadata(archive: bytes) -> str:
    return xdm.read_zip_entries(archive)[xdm.METADATA_PATH].decode()


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


def test_declared_sizes_name_the_metadata() -> None:
    archive = sample_xdm()
    total, metadata = xdm.declared_sizes(archive) or (0, 0)
    files = xdm.read_zip_entries(archive)
    assert total == sum(map(len, files.values())) and metadata == len(files[xdm.METADATA_PATH])
    assert xdm.declared_sizes(b"not a zip") is None
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        assert total == sum(i.file_size for i in zf.infolist())
