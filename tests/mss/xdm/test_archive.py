"""The safe ZIP reader: unsafe or unreadable archives refused (bombs, traversal, symlinks, encryption,
duplicates, lying sizes), the central directory bounded before it is parsed, no method inflating more than
declared."""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
import zipfile
import zlib

import pytest

from app.mss import xdm
from app.mss.xdm import archive as xdm_archive
from tests.mss.helpers import (
    make_zip,
    rezip,
    sample_xdm,
)


def lying(compression: int, real: int, declared: int = 100) -> bytes:
    """An archive of one entry of ``real`` zero bytes whose headers say ``declared`` (CRC of the first
    ``declared`` bytes: zipfile, which cuts what it inflated at the declared size, accepted it)."""
    archive = bytearray(make_zip({"BOMB.BIN": bytes(real)}, compression=compression))
    crc = struct.pack("<L", zlib.crc32(bytes(declared)))
    central = archive.find(b"PK\x01\x02")
    archive[central + 16:central + 20], archive[central + 24:central + 28] = crc, struct.pack("<L", declared)
    archive[14:18], archive[22:26] = crc, struct.pack("<L", declared)
    return bytes(archive)


METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


@pytest.fixture
def zipfile_spy(monkeypatch):
    """Counts the ZipFile objects xdm builds for reading."""
    opened = []
    real = zipfile.ZipFile

    def spy(*args, **kwargs):
        if (args[1] if len(args) > 1 else kwargs.get("mode", "r")) == "r":
            opened.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(xdm_archive.zipfile, "ZipFile", spy)
    return opened


def _many_entries(n: int) -> bytes:
    return make_zip({f"f{i}": b"" for i in range(n)}, compression=zipfile.ZIP_STORED)


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


def test_declared_sizes_name_the_metadata() -> None:
    archive = sample_xdm()
    total, metadata = xdm.declared_sizes(archive) or (0, 0)
    files = xdm.read_zip_entries(archive)
    assert total == sum(map(len, files.values())) and metadata == len(files[xdm.METADATA_PATH])
    assert xdm.declared_sizes(b"not a zip") is None
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        assert total == sum(i.file_size for i in zf.infolist())


def test_entry_count_refused_before_parsing(zipfile_spy):
    archive = _many_entries(2000)
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(archive)
    assert info.value.code == "xdm.zip.entries" and info.value.unsafe
    assert zipfile_spy == []


def test_lying_entry_count_refused_by_central_directory_size(zipfile_spy):
    archive = bytearray(_many_entries(2000))
    eocd = archive.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", archive, eocd + 8, 1, 1)  # "1 entry", the directory still holds 2000
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(bytes(archive))
    assert info.value.code == "xdm.zip.entries"
    assert zipfile_spy == []


def test_zip64_end_record_entry_count_refused(zipfile_spy):
    archive = bytearray(make_zip({"a": b"x"}))
    eocd = archive.rfind(b"PK\x05\x06")
    _, _, _, _, _, cd_size, cd_offset, _ = struct.unpack_from("<4s4H2LH", archive, eocd)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 200_000, 200_000, cd_size, cd_offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, eocd, 1)
    struct.pack_into("<HH", archive, eocd + 8, 0xFFFF, 0xFFFF)
    crafted = bytes(archive[:eocd]) + record + locator + bytes(archive[eocd:])
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(crafted)
    assert info.value.code == "xdm.zip.entries" and "200000" in info.value.message
    assert zipfile_spy == []


def test_real_xdm_still_reads(zipfile_spy):
    assert xdm.read_xdm(sample_xdm()).cda_codes == ["11488-4"]
    assert len(zipfile_spy) == 1
