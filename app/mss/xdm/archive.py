"""The safe ZIP reader of ``IHE_XDM.ZIP`` and its bounds: the central directory checked before
:mod:`zipfile` parses it, each entry inflated within its declared size, and refusals (:class:`XdmError`)
for what is unsafe (bombs, traversal, symlinks, encryption, duplicates) or unreadable. Pure."""

from __future__ import annotations

import bz2
import io
import lzma
import re
import stat
import struct
import zipfile
import zlib

from app.mss.exceptions import XdmError
from app.mss.xdm.model import DEFAULT_LIMITS, METADATA_PATH, XdmLimits

_DRIVE = re.compile(r"^[A-Za-z]:")


def _check_name(name: str) -> None:
    if not name or "\x00" in name:
        raise XdmError("xdm.zip.path", "an entry has an empty name or a NUL byte")
    if "\\" in name:
        raise XdmError("xdm.zip.path", f"entry {name!r} uses a backslash (path traversal on Windows)")
    if name.startswith("/") or _DRIVE.match(name):
        raise XdmError("xdm.zip.path", f"entry {name!r} is an absolute path")
    if any(part == ".." for part in name.split("/")):
        raise XdmError("xdm.zip.path", f"entry {name!r} climbs out of the archive with '..'")


_SIG_EOCD, _SIG_EOCD64_LOCATOR, _SIG_EOCD64 = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record (APPNOTE 4.3.16)
_EOCD64_LOCATOR = struct.Struct("<4sLQL")  # ZIP64 end of central directory locator (4.3.15)
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # ZIP64 end of central directory record (4.3.14)


def check_central_directory(data: bytes, limits: XdmLimits = DEFAULT_LIMITS) -> None:
    """Refuse an archive whose end record (and ZIP64 end record, if any) announces more entries, or a
    larger central directory, than ``limits`` allow, *before* :mod:`zipfile` parses the central directory
    (which it does whole, whatever the count: 200,000 empty entries cost a second of CPU and 100 MB).
    Locates the records as :mod:`zipfile` does (``_EndRecData``/``_EndRecData64``), so both read the same."""
    size = len(data)
    if size < _EOCD.size:
        raise XdmError("xdm.zip.invalid", "not a readable zip archive (too short for an end of central directory)")
    if data[-_EOCD.size:-_EOCD.size + 4] == _SIG_EOCD and data[-2:] == b"\x00\x00":
        position = size - _EOCD.size
    else:
        position = data.rfind(_SIG_EOCD, max(size - _EOCD.size - (1 << 16), 0))
        if position < 0 or position + _EOCD.size > size:
            raise XdmError("xdm.zip.invalid", "not a readable zip archive (no end of central directory record)")
    _, _, _, this_disk, total, cd_size, _, _ = _EOCD.unpack_from(data, position)
    records = [(max(this_disk, total), cd_size)]
    locator = position - _EOCD64_LOCATOR.size
    if locator >= 0 and data[locator:locator + 4] == _SIG_EOCD64_LOCATOR:
        record = locator - _EOCD64.size
        if record >= 0 and data[record:record + 4] == _SIG_EOCD64:
            fields = _EOCD64.unpack_from(data, record)
            records = [(max(fields[6], fields[7]), fields[8])]  # zipfile uses these, not the 32-bit ones
    for count, directory in records:
        if count > limits.max_entries:
            raise XdmError("xdm.zip.entries", f"{count} entries announced (limit {limits.max_entries})")
        if directory > limits.max_central_directory:
            raise XdmError(
                "xdm.zip.entries",
                f"central directory of {directory} bytes (limit {limits.max_central_directory})",
            )


def _open_zip(data: bytes, limits: XdmLimits = DEFAULT_LIMITS) -> zipfile.ZipFile:
    check_central_directory(data, limits)
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise XdmError(
            "xdm.zip.invalid", f"not a readable zip archive (truncated or corrupt): {exc}"
        ) from None
    except (ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise XdmError("xdm.zip.invalid", f"not a readable zip archive: {exc}") from None


def declared_sizes(data: bytes, limits: XdmLimits = DEFAULT_LIMITS) -> tuple[int, int] | None:
    """What the archive says its entries inflate to, in total and for ``METADATA.XML``, from its central
    directory (read after the same end-record checks as :func:`read_zip_entries`); None when that is not
    readable (reading the archive then fails as fast). They bound the work of :func:`app.mss.xdm.metadata.read_xdm`:
    :func:`read_zip_entries` never inflates more than announced (plus at most one read, 4 KB, per entry,
    whatever the method: see :func:`_inflate_bounded`); each file is hashed, and parsed as XML, once;
    and what is done per element of the metadata, in Python, is in proportion to its size (about
    0.3 ms per KB of crafted metadata, against 0.02 ms per KB for a CDA parsed by lxml)."""
    try:
        with _open_zip(data, limits) as zf:
            infos = zf.infolist()
            return (sum(info.file_size for info in infos),
                    sum(info.file_size for info in infos if info.filename.upper() == METADATA_PATH))
    except Exception:
        return None


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # local file header (APPNOTE 4.3.7)


def _inflate_bounded(data: bytes, info: zipfile.ZipInfo, cap: int) -> bytes:
    """The content of a bzip2 or LZMA entry of the archive ``data``, inflated to at most ``cap`` + 1 bytes.

    :mod:`zipfile` hands these decompressors every read of compressed data (4 KB at least) with no limit
    on what they inflate, and 4 KB of bzip2 inflate to gigabytes: an entry whose header declares a few
    bytes would be inflated whole (memory, seconds of CPU) before being cut to its declared size. Here
    the decompressor stops at ``cap`` + 1 bytes; the CRC-32 is checked as :mod:`zipfile` checks it.
    (Deflate is bounded by :mod:`zipfile` itself: each read inflates at most what it asks for.)"""
    header = _LOCAL_HEADER.unpack_from(data, info.header_offset)
    start = info.header_offset + _LOCAL_HEADER.size + header[9] + header[10]
    raw = data[start:start + info.compress_size]
    if info.compress_type == zipfile.ZIP_BZIP2:
        content = bz2.BZ2Decompressor().decompress(raw, cap + 1)
    else:
        # APPNOTE 5.8.8: LZMA version (2 bytes), size of the properties (2 bytes), properties (LZMA1:
        # lc/lp/pb in one byte, then the dictionary size), then the raw LZMA1 stream.
        size = int.from_bytes(raw[2:4], "little")
        properties = raw[4:4 + size]
        if size != 5 or len(properties) != 5 or properties[0] >= 9 * 5 * 5:
            raise zipfile.BadZipFile("invalid LZMA properties")
        lc_lp_pb = properties[0]
        # No match reaches further back than what is inflated: a dictionary of cap + 1 bytes decodes the
        # same, without allocating the gigabytes a crafted header may ask for.
        dictionary = max(4096, min(int.from_bytes(properties[1:], "little"), cap + 1))
        lzma_filter = {"id": lzma.FILTER_LZMA1, "lc": lc_lp_pb % 9, "lp": lc_lp_pb // 9 % 5, "pb": lc_lp_pb // 45,
                       "dict_size": dictionary}
        content = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma_filter]).decompress(raw[4 + size:], cap + 1)
    if len(content) <= cap and zlib.crc32(content) != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
    return content


def read_zip_entries(data: bytes, limits: XdmLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Inflate every file of a zip after checking it is safe. Directory entries are skipped."""
    zf = _open_zip(data, limits)
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise XdmError("xdm.zip.entries", f"{len(infos)} entries (limit {limits.max_entries})")
        declared = 0
        seen: set[str] = set()
        for info in infos:
            _check_name(info.filename)
            key = info.filename.upper()
            if key in seen:
                raise XdmError("xdm.zip.duplicate", f"entry {info.filename!r} appears twice")
            seen.add(key)
            if info.flag_bits & 0x1:
                raise XdmError("xdm.zip.encrypted", f"entry {info.filename!r} is encrypted")
            mode = info.external_attr >> 16
            if mode and stat.S_ISLNK(mode):
                raise XdmError("xdm.zip.symlink", f"entry {info.filename!r} is a symbolic link")
            if info.file_size > limits.max_entry_uncompressed:
                raise XdmError("xdm.zip.bomb", f"entry {info.filename!r} inflates to {info.file_size} bytes")
            declared += info.file_size
            if declared > limits.max_total_uncompressed:
                raise XdmError(
                    "xdm.zip.bomb", f"archive inflates to more than {limits.max_total_uncompressed} bytes"
                )
            if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
                info.compress_size, 1
            ):
                raise XdmError(
                    "xdm.zip.bomb",
                    f"entry {info.filename!r} has a compression ratio above {limits.max_ratio}",
                )
        out: dict[str, bytes] = {}
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            # Never trust the declared sizes: read at most one byte more than allowed.
            cap = min(info.file_size, limits.max_entry_uncompressed)
            try:
                with zf.open(info) as handle:  # also checks the local header against the central directory
                    if info.compress_type in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
                        content = _inflate_bounded(data, info, cap)
                    else:
                        content = handle.read(cap + 1)
            except (
                zipfile.BadZipFile,
                zlib.error,
                EOFError,
                OSError,
                ValueError,
                NotImplementedError,
            ) as exc:
                raise XdmError("xdm.zip.invalid", f"entry {info.filename!r} cannot be read: {exc}") from None
            except Exception as exc:  # lzma/bz2 errors, encrypted without the flag, unsupported method
                raise XdmError("xdm.zip.invalid", f"entry {info.filename!r} cannot be read: {exc}") from None
            if len(content) > cap:
                raise XdmError("xdm.zip.bomb", f"entry {info.filename!r} inflates beyond its declared size")
            total += len(content)
            if total > limits.max_total_uncompressed:
                raise XdmError("xdm.zip.bomb", "archive inflates beyond the total limit")
            out[info.filename] = content
        return out
