"""IHE XDM (``IHE_XDM.ZIP``): a safe reader and a conformant writer. Pure: no I/O beyond bytes.

Layout (IHE ITI TF-1 §16 "Cross-Enterprise Document Media Interchange", ITI TF-3 §4.2 metadata; the
MSSanté layout in ANS Référentiel socle MSSanté #2 §3.1, reference mss.md §4)::

    IHE_XDM.ZIP
      INDEX.HTM
      README.TXT
      IHE_XDM/SUBSET01/METADATA.XML      (ebRIM 3.0 lcm:SubmitObjectsRequest)
      IHE_XDM/SUBSET01/<documents>       (CDA R2 XML, often a PDF too)

The receiver identifies the patient from ``patientId`` in ``METADATA.XML`` (Ref #2 ECO.2.1.2,
SC.MSS/CONF.24). ``X-MSS-CODECDA`` lists the CDA header ``code`` of each CDA (SC.MSS/CONF.15);
``X-MSS-INS`` says whether a qualified INS is present (SC.MSS/CONF.14).

The reader refuses (:class:`XdmError`) what is unsafe or unreadable: not a zip / truncated, too many
entries, too large once inflated, suspicious compression ratio, encrypted entries, symlinks, duplicate
names, path traversal (``..``, absolute paths, backslashes, drive letters), XML with a DTD or entities.
Everything merely non-conformant (missing ``INDEX.HTM``, a hash that does not match, …) is reported
as an :class:`XdmIssue` on an otherwise readable :class:`XdmPackage`.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import re
import stat
import struct
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from app.numbers import ascii_count
from app.shared.identifiers import INS_OIDS
from app.xmlsafe import InvalidXmlError, UnsafeXmlError, parse_untrusted

SUBSET = "IHE_XDM/SUBSET01/"
METADATA_PATH = SUBSET + "METADATA.XML"
INDEX_PATH = "INDEX.HTM"
README_PATH = "README.TXT"

RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
HL7 = "urn:hl7-org:v3"
NS = {"rim": RIM, "lcm": LCM, "hl7": HL7}

# ITI TF-3 Table 4.2.5-1 (UUIDs of the XDS metadata).
DOCUMENT_ENTRY_STABLE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
DOCUMENT_ENTRY_ON_DEMAND = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"
SUBMISSION_SET_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
DE_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DE_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
DE_CLASS_CODE = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
DE_TYPE_CODE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DE_FORMAT_CODE = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
DE_CONFIDENTIALITY = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
DE_PRACTICE_SETTING = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
DE_FACILITY_TYPE = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
SS_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
SS_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
SS_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
SS_CONTENT_TYPE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"

LOINC = "2.16.840.1.113883.6.1"


@dataclass(frozen=True)
class XdmLimits:
    """Bounds of what the reader accepts (zip-bomb and resource limits)."""

    max_entries: int = 64
    max_total_uncompressed: int = 64 * 1024 * 1024
    max_entry_uncompressed: int = 32 * 1024 * 1024
    max_ratio: int = 200
    """Refuse an entry that inflates more than this many times (only checked above ``ratio_floor``)."""
    ratio_floor: int = 1024 * 1024
    max_xml_bytes: int = 8 * 1024 * 1024
    max_central_directory: int = 64 * 1024
    """Largest central directory accepted (read from the end record before :mod:`zipfile` parses it; a
    real XDM's is a few hundred bytes)."""


DEFAULT_LIMITS = XdmLimits()


class XdmError(ValueError):
    """The archive is unsafe or unreadable. ``code`` is a stable id (``xdm.zip.bomb``, …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def unsafe(self) -> bool:
        """An attack (bomb, traversal, entities) rather than a broken archive."""
        return self.code in UNSAFE_CODES


UNSAFE_CODES = {
    "xdm.zip.bomb",
    "xdm.zip.entries",
    "xdm.zip.path",
    "xdm.zip.symlink",
    "xdm.zip.encrypted",
    "xdm.zip.duplicate",
    "xdm.xml.unsafe",
}


@dataclass(frozen=True)
class XdmIssue:
    code: str
    severity: str  # "error" | "warning"
    message: str


@dataclass(frozen=True)
class Code:
    code: str
    scheme: str | None = None
    display: str | None = None


@dataclass(frozen=True)
class PatientId:
    """An XDS patientId (HL7 v2 CX ``id^^^&oid&ISO``) split into its parts."""

    raw: str
    id: str
    oid: str | None

    @property
    def is_ins(self) -> bool:
        return self.oid in INS_OIDS

    @classmethod
    def parse(cls, raw: str) -> PatientId:
        raw = raw.strip()
        ident, _, authority = raw.partition("^^^")
        parts = authority.split("&")
        oid = parts[1] if len(parts) >= 2 and parts[1] else None
        return cls(raw=raw, id=ident, oid=oid)

    def to_cx(self) -> str:
        return f"{self.id}^^^&{self.oid}&ISO" if self.oid else self.id


@dataclass(frozen=True)
class CdaHeader:
    """What the checks need from a CDA R2 header."""

    code: Code | None
    title: str | None
    unique_id: str | None
    effective_time: str | None
    confidentiality: Code | None
    language: str | None
    ins: str | None
    ins_oid: str | None
    birth_name: str | None
    """Nom de naissance: ``family qualifier="BR"`` (an unqualified ``family`` in pre-INS headers)."""
    first_given_name: str | None
    """Premier prénom de l'acte de naissance: ``given qualifier="BR"``; without any such element (pre-INS
    headers), the first prénom of the first unqualified ``given``."""
    birth_date: str | None
    sex: str | None
    replaces: str | None = None
    birth_given_names: str | None = None
    """Prénoms de l'acte de naissance: the unqualified ``given`` (space-separated list)."""
    usage_name: str | None = None
    """Nom d'usage: ``family qualifier="SP"``."""
    used_name: str | None = None
    """Nom utilisé (RNIV): ``family qualifier="CL"``."""
    used_given_name: str | None = None
    """Prénom utilisé (RNIV): ``given qualifier="CL"``."""
    template_ids: tuple[str, ...] = ()
    """``ClinicalDocument/templateId/@root``, in document order."""
    body_media_type: str | None = None
    """``nonXMLBody/text/@mediaType`` of a CDA R2 level 1 document (None for a structuredBody)."""
    structured: bool = False
    """The document has a ``structuredBody``."""

    @property
    def ins_qualified(self) -> bool:
        """Ref #2 (SC.MSS/CONF.14, mss.md §4): the INS counts as qualified when the CDA carries the
        matricule **and** its OID **and** the 4 traits birth name, first birth first-name (``BR``), birth
        date, sex. (ins.md §3 lists five INS traits; the MSS header follows Ref #2's four; docs/mss.md.)"""
        return bool(
            self.ins
            and self.ins_oid in INS_OIDS
            and self.birth_name
            and self.first_given_name
            and self.birth_date
            and self.sex
        )


@dataclass(frozen=True)
class DocumentEntry:
    entry_id: str
    uri: str | None
    path: str | None
    mime_type: str | None
    unique_id: str | None
    patient_id: PatientId | None
    source_patient_id: str | None
    title: str | None
    class_code: Code | None
    type_code: Code | None
    format_code: Code | None
    confidentiality_code: Code | None
    hash: str | None
    size: int | None
    creation_time: str | None
    cda: CdaHeader | None = None


@dataclass(frozen=True)
class SubmissionSet:
    entry_id: str | None
    unique_id: str | None
    source_id: str | None
    patient_id: PatientId | None
    submission_time: str | None
    content_type: Code | None


@dataclass
class XdmPackage:
    files: list[str]
    submission_set: SubmissionSet | None
    documents: list[DocumentEntry]
    issues: list[XdmIssue] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def patient_ids(self) -> list[PatientId]:
        seen: dict[str, PatientId] = {}
        candidates = [d.patient_id for d in self.documents]
        if self.submission_set:
            candidates.append(self.submission_set.patient_id)
        for pid in candidates:
            if pid is not None:
                seen.setdefault(pid.raw, pid)
        return list(seen.values())

    @property
    def cda_documents(self) -> list[DocumentEntry]:
        return [d for d in self.documents if d.cda is not None]

    @property
    def cda_codes(self) -> list[str]:
        return [d.cda.code.code for d in self.cda_documents if d.cda and d.cda.code]

    @property
    def has_qualified_ins(self) -> bool:
        return any(d.cda.ins_qualified for d in self.cda_documents if d.cda)

    def to_dict(self) -> dict:
        """JSON-friendly view (used by the HTTP API and stored with the message)."""

        def code(c: Code | None) -> dict | None:
            return None if c is None else {"code": c.code, "scheme": c.scheme, "display": c.display}

        def pid(p: PatientId | None) -> dict | None:
            return None if p is None else {"value": p.raw, "id": p.id, "oid": p.oid, "is_ins": p.is_ins}

        ss = self.submission_set
        return {
            "files": self.files,
            "submission_set": None
            if ss is None
            else {
                "unique_id": ss.unique_id,
                "source_id": ss.source_id,
                "patient_id": pid(ss.patient_id),
                "submission_time": ss.submission_time,
                "content_type": code(ss.content_type),
            },
            "documents": [
                {
                    "entry_id": d.entry_id,
                    "uri": d.uri,
                    "path": d.path,
                    "mime_type": d.mime_type,
                    "unique_id": d.unique_id,
                    "patient_id": pid(d.patient_id),
                    "title": d.title,
                    "class_code": code(d.class_code),
                    "type_code": code(d.type_code),
                    "format_code": code(d.format_code),
                    "confidentiality_code": code(d.confidentiality_code),
                    "hash": d.hash,
                    "size": d.size,
                    "creation_time": d.creation_time,
                    "cda": None
                    if d.cda is None
                    else {
                        "code": code(d.cda.code),
                        "title": d.cda.title,
                        "ins": d.cda.ins,
                        "ins_oid": d.cda.ins_oid,
                        "ins_qualified": d.cda.ins_qualified,
                        "birth_name": d.cda.birth_name,
                        "first_given_name": d.cda.first_given_name,
                        "birth_given_names": d.cda.birth_given_names,
                        "usage_name": d.cda.usage_name,
                        "used_name": d.cda.used_name,
                        "used_given_name": d.cda.used_given_name,
                        "birth_date": d.cda.birth_date,
                        "sex": d.cda.sex,
                        "replaces": d.cda.replaces,
                    },
                }
                for d in self.documents
            ],
            "cda_codes": self.cda_codes,
            "qualified_ins": self.has_qualified_ins,
            "issues": [{"code": i.code, "severity": i.severity, "message": i.message} for i in self.issues],
        }


# --- reader ---------------------------------------------------------------------------------------

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
    readable (reading the archive then fails as fast). They bound the work of :func:`read_xdm`:
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


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    value = (el.text or "").strip()
    return value or None


# Direct children by Clark name (lxml's C iterchildren): the same elements, in the same order, as the
# ElementPath lookups "rim:Slot", "rim:ValueList/rim:Value"... at a fraction of their cost.
_SLOT, _VALUE_LIST, _VALUE = f"{{{RIM}}}Slot", f"{{{RIM}}}ValueList", f"{{{RIM}}}Value"
_CLASSIFICATION, _EXTERNAL_IDENTIFIER = f"{{{RIM}}}Classification", f"{{{RIM}}}ExternalIdentifier"
_LOCALIZED_STRING = f"{{{RIM}}}LocalizedString"


def _slot(obj: etree._Element, name: str) -> list[str]:
    values: list[str] = []
    for slot in obj.iterchildren(_SLOT):
        if slot.get("name") == name:
            for value_list in slot.iterchildren(_VALUE_LIST):
                values.extend(v.text or "" for v in value_list.iterchildren(_VALUE))
    return values


def _localized(obj: etree._Element, tag: str) -> str | None:
    for el in obj.iterchildren(f"{{{RIM}}}{tag}"):
        for localized in el.iterchildren(_LOCALIZED_STRING):
            return localized.get("value")
    return None


def _classification(obj: etree._Element, scheme: str) -> Code | None:
    for cl in obj.iterchildren(_CLASSIFICATION):
        if cl.get("classificationScheme") == scheme:
            coding = _slot(cl, "codingScheme")
            return Code(
                code=cl.get("nodeRepresentation") or "",
                scheme=coding[0] if coding else None,
                display=_localized(cl, "Name"),
            )
    return None


def _external_id(obj: etree._Element, scheme: str) -> str | None:
    for ei in obj.iterchildren(_EXTERNAL_IDENTIFIER):
        if ei.get("identificationScheme") == scheme:
            return ei.get("value")
    return None


def _document_path(uri: str | None, files: dict[str, bytes]) -> str | None:
    if not uri:
        return None
    candidates = [SUBSET + uri, uri]
    upper = {name.upper(): name for name in files}
    for cand in candidates:
        if cand in files:
            return cand
        if cand.upper() in upper:
            return upper[cand.upper()]
    return None


@dataclass(frozen=True)
class PatientNames:
    """The patient's names of a CDA header ``recordTarget/patientRole/patient/name``."""

    birth_name: str | None = None
    usage_name: str | None = None
    used_name: str | None = None
    first_given_name: str | None = None
    birth_given_names: str | None = None
    used_given_name: str | None = None


def read_patient_names(name: etree._Element) -> PatientNames:
    """The names by their ``qualifier``, as the CI-SIS header rules type them (template CI-SISRecordTarget
    1.2.250.1.213.1.1.1.1.10.10, ansforge/TestContenuCDA-3-0 schematrons/profils/structurationMinimale/
    include/1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch): ``family`` BR = nom de naissance, SP = nom
    d'usage, CL = nom utilisé; ``given`` BR = premier prénom de l'acte de naissance, CL = prénom utilisé,
    no qualifier = la liste des prénoms de l'acte de naissance. The order of the elements carries no
    meaning (the ANS examples put the list before, after or without the BR first name)."""
    families: dict[str | None, str] = {}
    givens: dict[str | None, str] = {}
    has_birth_given = False
    for part in name:
        if not isinstance(part.tag, str) or etree.QName(part).namespace != HL7:
            continue
        local, qualifier = etree.QName(part).localname, part.get("qualifier")
        if local == "given" and qualifier == "BR":
            has_birth_given = True
        value = _text(part)
        if value is None:
            continue
        target = families if local == "family" else givens if local == "given" else None
        if target is not None:
            target.setdefault(qualifier, value)
    birth_list = givens.get(None)
    first = givens.get("BR")
    if first is None and not has_birth_given and birth_list:
        first = birth_list.split()[0]  # pre-INS header: its <given> is the first name (first of a list)
    return PatientNames(
        birth_name=families.get("BR") or families.get(None),
        usage_name=families.get("SP"),
        used_name=families.get("CL"),
        first_given_name=first,
        birth_given_names=birth_list,
        used_given_name=givens.get("CL"),
    )


def parse_cda_header(data: bytes, limits: XdmLimits = DEFAULT_LIMITS) -> CdaHeader:
    """Read the CDA R2 header fields used by the MSSanté checks (CI-SIS "Structuration minimale")."""
    root = parse_untrusted(data, max_bytes=limits.max_xml_bytes)
    if etree.QName(root).localname != "ClinicalDocument" or etree.QName(root).namespace != HL7:
        raise InvalidXmlError("root element is not hl7:ClinicalDocument")
    code_el = root.find("hl7:code", NS)
    code = (
        Code(code_el.get("code") or "", code_el.get("codeSystem"), code_el.get("displayName"))
        if code_el is not None and code_el.get("code")
        else None
    )
    id_el = root.find("hl7:id", NS)
    unique_id = None
    if id_el is not None and id_el.get("root"):
        unique_id = (
            id_el.get("root")
            if not id_el.get("extension")
            else f"{id_el.get('root')}^{id_el.get('extension')}"
        )
    eff = root.find("hl7:effectiveTime", NS)
    conf = root.find("hl7:confidentialityCode", NS)
    lang = root.find("hl7:languageCode", NS)
    role = root.find("hl7:recordTarget/hl7:patientRole", NS)
    ins = ins_oid = birth_date = sex = None
    names = PatientNames()
    if role is not None:
        for pid in role.findall("hl7:id", NS):
            if pid.get("root") in INS_OIDS and pid.get("extension"):
                ins, ins_oid = pid.get("extension"), pid.get("root")
                break
        patient = role.find("hl7:patient", NS)
        if patient is not None:
            name = patient.find("hl7:name", NS)
            if name is not None:
                names = read_patient_names(name)
            bt = patient.find("hl7:birthTime", NS)
            birth_date = bt.get("value") if bt is not None else None
            gender = patient.find("hl7:administrativeGenderCode", NS)
            sex = gender.get("code") if gender is not None else None
    template_ids = tuple(t.get("root") or "" for t in root.findall("hl7:templateId", NS) if t.get("root"))
    body_text = root.find("hl7:component/hl7:nonXMLBody/hl7:text", NS)
    media_type = (body_text.get("mediaType") or "text/plain") if body_text is not None else None  # CDA default
    structured = root.find("hl7:component/hl7:structuredBody", NS) is not None
    replaces = None
    for rel in root.findall("hl7:relatedDocument", NS):
        if rel.get("typeCode") == "RPLC":
            parent_id = rel.find("hl7:parentDocument/hl7:id", NS)
            if parent_id is not None:
                replaces = parent_id.get("root")
    return CdaHeader(
        code=code,
        title=_text(root.find("hl7:title", NS)),
        unique_id=unique_id,
        effective_time=eff.get("value") if eff is not None else None,
        confidentiality=Code(conf.get("code") or "", conf.get("codeSystem"), conf.get("displayName"))
        if conf is not None
        else None,
        language=lang.get("code") if lang is not None else None,
        ins=ins,
        ins_oid=ins_oid,
        birth_name=names.birth_name,
        first_given_name=names.first_given_name,
        birth_date=birth_date,
        sex=sex,
        replaces=replaces,
        birth_given_names=names.birth_given_names,
        usage_name=names.usage_name,
        used_name=names.used_name,
        used_given_name=names.used_given_name,
        template_ids=template_ids,
        body_media_type=media_type,
        structured=structured,
    )


def read_xdm(data: bytes, limits: XdmLimits = DEFAULT_LIMITS) -> XdmPackage:
    """Read an ``IHE_XDM.ZIP``. Raises :class:`XdmError` when unsafe or unreadable."""
    files = read_zip_entries(data, limits)
    upper = {name.upper(): name for name in files}
    issues: list[XdmIssue] = []
    for required in (INDEX_PATH, README_PATH):
        if required not in upper:
            issues.append(
                XdmIssue("xdm.layout", "warning", f"{required} is missing at the root (IHE ITI TF-1 §16.1.2)")
            )
    meta_name = upper.get(METADATA_PATH)
    if meta_name is None:
        raise XdmError("xdm.layout.metadata", f"{METADATA_PATH} is missing")
    if meta_name != METADATA_PATH:
        issues.append(XdmIssue("xdm.layout", "warning", f"{meta_name} should be spelt {METADATA_PATH}"))
    try:
        root = parse_untrusted(files[meta_name], max_bytes=limits.max_xml_bytes)
    except UnsafeXmlError as exc:
        raise XdmError("xdm.xml.unsafe", f"METADATA.XML: {exc}") from None
    except InvalidXmlError as exc:
        raise XdmError("xdm.metadata.invalid", f"METADATA.XML: {exc}") from None
    if etree.QName(root).namespace not in (LCM, RIM):
        raise XdmError(
            "xdm.metadata.invalid",
            "METADATA.XML root is not an ebRIM 3.0 SubmitObjectsRequest / RegistryObjectList",
        )

    submission: SubmissionSet | None = None
    # The objects a Classification anywhere marks as the SubmissionSet, gathered once (per package, a
    # walk of the whole document made a crafted METADATA.XML cost packages x classifications).
    submission_sets = {
        cl.get("classifiedObject") for cl in root.iter(f"{{{RIM}}}Classification")
        if cl.get("classificationNode") == SUBMISSION_SET_NODE
    }
    for pkg in root.iter(f"{{{RIM}}}RegistryPackage"):
        is_ss = pkg.get("id") in submission_sets or any(
            cl.get("classificationNode") == SUBMISSION_SET_NODE
            for cl in pkg.findall("rim:Classification", NS)
        )
        if not is_ss:
            continue
        pid = _external_id(pkg, SS_PATIENT_ID)
        times = _slot(pkg, "submissionTime")
        submission = SubmissionSet(
            entry_id=pkg.get("id"),
            unique_id=_external_id(pkg, SS_UNIQUE_ID),
            source_id=_external_id(pkg, SS_SOURCE_ID),
            patient_id=PatientId.parse(pid) if pid else None,
            submission_time=times[0] if times else None,
            content_type=_classification(pkg, SS_CONTENT_TYPE),
        )
        break
    if submission is None:
        issues.append(XdmIssue("xdm.metadata.submission_set", "error", "no SubmissionSet in METADATA.XML"))

    documents: list[DocumentEntry] = []
    # Per file, however many DocumentEntries name it: its SHA-1 and its CDA header (or why it has none).
    digests: dict[str, str] = {}
    cda_headers: dict[str, CdaHeader | InvalidXmlError | UnsafeXmlError] = {}
    for obj in root.iter(f"{{{RIM}}}ExtrinsicObject"):
        if obj.get("objectType") not in (DOCUMENT_ENTRY_STABLE, DOCUMENT_ENTRY_ON_DEMAND):
            issues.append(
                XdmIssue(
                    "xdm.metadata.object_type",
                    "warning",
                    f"ExtrinsicObject {obj.get('id')} has objectType "
                    f"{obj.get('objectType')!r}, not the DocumentEntry UUID",
                )
            )
        uris = _slot(obj, "URI")
        uri = uris[0].strip() if uris else None
        path = _document_path(uri, files)
        hashes, sizes = _slot(obj, "hash"), _slot(obj, "size")
        pid = _external_id(obj, DE_PATIENT_ID)
        entry_id = obj.get("id") or "?"
        size_text = sizes[0].strip() if sizes else None
        declared_size = ascii_count(size_text)
        if size_text is not None and declared_size is None:
            issues.append(
                XdmIssue("xdm.document.size", "error", f"DocumentEntry {entry_id}: the size slot is not an "
                         "integer of 1 to 9 ASCII digits")
            )
        cda: CdaHeader | None = None
        if uri is None:
            issues.append(XdmIssue("xdm.metadata.uri", "error", f"DocumentEntry {entry_id} has no URI slot"))
        elif path is None:
            issues.append(
                XdmIssue(
                    "xdm.document.missing",
                    "error",
                    f"DocumentEntry {entry_id}: {uri!r} is not in the archive",
                )
            )
        else:
            content = files[path]
            digest = digests.get(path)
            if digest is None:
                digest = digests[path] = hashlib.sha1(content).hexdigest()  # noqa: S324
            if hashes and hashes[0].strip().lower() != digest:
                issues.append(
                    XdmIssue("xdm.document.hash", "error", f"{path}: the SHA-1 does not match the hash slot")
                )
            if not hashes:
                issues.append(
                    XdmIssue("xdm.document.hash", "warning", f"DocumentEntry {entry_id} has no hash slot")
                )
            if declared_size is not None and declared_size != len(content):
                issues.append(
                    XdmIssue(
                        "xdm.document.size", "error", f"{path}: size slot {declared_size} != {len(content)}"
                    )
                )
            mime = (obj.get("mimeType") or "").lower()
            if mime in ("text/xml", "application/xml", "application/hl7-v3+xml") or path.upper().endswith(
                ".XML"
            ):
                header = cda_headers.get(path)
                if header is None:
                    try:
                        header = parse_cda_header(content, limits)
                    except (UnsafeXmlError, InvalidXmlError) as exc:
                        header = exc
                    cda_headers[path] = header
                if isinstance(header, UnsafeXmlError):
                    raise XdmError("xdm.xml.unsafe", f"{path}: {header}") from None
                if isinstance(header, InvalidXmlError):
                    if mime in ("text/xml", "application/hl7-v3+xml"):
                        issues.append(XdmIssue("xdm.cda.invalid", "error", f"{path}: {header}"))
                else:
                    cda = header
        times = _slot(obj, "creationTime")
        spid = _slot(obj, "sourcePatientId")
        documents.append(
            DocumentEntry(
                entry_id=entry_id,
                uri=uri,
                path=path,
                mime_type=obj.get("mimeType"),
                unique_id=_external_id(obj, DE_UNIQUE_ID),
                patient_id=PatientId.parse(pid) if pid else None,
                source_patient_id=spid[0] if spid else None,
                title=_localized(obj, "Name"),
                class_code=_classification(obj, DE_CLASS_CODE),
                type_code=_classification(obj, DE_TYPE_CODE),
                format_code=_classification(obj, DE_FORMAT_CODE),
                confidentiality_code=_classification(obj, DE_CONFIDENTIALITY),
                hash=hashes[0].strip() if hashes else None,
                size=declared_size,
                creation_time=times[0] if times else None,
                cda=cda,
            )
        )
    if not documents:
        issues.append(XdmIssue("xdm.metadata.documents", "error", "no DocumentEntry in METADATA.XML"))
    for doc in documents:
        if doc.patient_id is None:
            issues.append(
                XdmIssue("xdm.metadata.patient_id", "error", f"DocumentEntry {doc.entry_id} has no patientId")
            )
        elif doc.cda and doc.cda.ins and doc.patient_id.id != doc.cda.ins:
            issues.append(
                XdmIssue(
                    "xdm.patient.mismatch",
                    "error",
                    f"DocumentEntry {doc.entry_id}: patientId {doc.patient_id.id} differs from "
                    f"the CDA INS {doc.cda.ins}",
                )
            )
    package = XdmPackage(
        files=sorted(files), submission_set=submission, documents=documents, issues=issues, contents=files
    )
    if len({p.id for p in package.patient_ids}) > 1:
        issues.append(
            XdmIssue(
                "xdm.patient.several",
                "error",
                "the XDM concerns several patients (Ref #2 ECO.2.1.1: one only)",
            )
        )
    return package


# --- writer ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XdmDocument:
    content: bytes
    mime_type: str
    file_name: str | None = None
    title: str | None = None


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _classification_xml(scheme: str, obj_id: str, code: Code, cid: str) -> str:
    display = code.display or code.code
    return (
        f'<rim:Classification id={quoteattr(cid)} classificationScheme="{scheme}" '
        f"classifiedObject={quoteattr(obj_id)}"
        f' nodeRepresentation={quoteattr(code.code)} objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:'
        f'RegistryObject:Classification">'
        f'<rim:Slot name="codingScheme"><rim:ValueList><rim:Value>{escape(code.scheme or "")}</rim:Value>'
        f"</rim:ValueList></rim:Slot><rim:Name><rim:LocalizedString value={quoteattr(display)}/></rim:Name>"
        f"</rim:Classification>"
    )


def _slot_xml(name: str, *values: str) -> str:
    vals = "".join(f"<rim:Value>{escape(v)}</rim:Value>" for v in values)
    return f"<rim:Slot name={quoteattr(name)}><rim:ValueList>{vals}</rim:ValueList></rim:Slot>"


def _ext_id_xml(scheme: str, obj_id: str, value: str, name: str, eid: str) -> str:
    return (
        f'<rim:ExternalIdentifier id={quoteattr(eid)} identificationScheme="{scheme}" registryObject='
        f'{quoteattr(obj_id)} value={quoteattr(value)} objectType="urn:oasis:names:tc:ebxml-regrep:'
        f'ObjectType:RegistryObject:ExternalIdentifier"><rim:Name>'
        f"<rim:LocalizedString value={quoteattr(name)}/></rim:Name>"
        f"</rim:ExternalIdentifier>"
    )


def _oid_from_uuid(u: uuid.UUID) -> str:
    # ITI TF-2x Appendix B: OID 2.25.<uuid as integer>.
    return f"2.25.{u.int}"


DEFAULT_CLASS_CODE = Code("10", "1.2.250.1.213.1.1.4.1", "Compte rendu")

# --- formatCode of each document kind (CI-SIS JDV_J10 XdsFormatCode, the DMP's value set) -------------
# The codes and their displays come from the DMP's shipped value set (app.shared.valuesets, DMP binding of
# "format"), never from a copy here; what this module adds is which code each kind of document takes.
# XDS codingScheme of each code system: ANS's own CDA-header-to-XDM stylesheet (ansforge/TestContenuCDA-3-0
# FeuilleDeStyle/CDAHeaderToXDM.xsl @7cd489b) writes 1.3.6.1.4.1.19376.1.2.3 for the IHE codes (TRE_A11)
# and 1.2.250.1.213.1.1.4.2.282 for the CI-SIS ones (TRE_A06).
_IHE_FORMAT_SCHEME = "1.3.6.1.4.1.19376.1.2.3"
_SCHEME_OF_SYSTEM = {
    "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode": _IHE_FORMAT_SCHEME,
    "https://mos.esante.gouv.fr/NOS/TRE_A06-FormatCodeComplementaire/FHIR/TRE-A06-FormatCodeComplementaire":
        "1.2.250.1.213.1.1.4.2.282",
}
# CDA R2 level 1 (nonXMLBody, IHE XDS-SD): the format code follows the wrapped media type (TRE_A11).
LEVEL1_FORMAT_CODES = {
    "application/pdf": "urn:ihe:iti:xds-sd:pdf:2008",
    "text/plain": "urn:ihe:iti:xds-sd:text:2008",
    "image/jpeg": "urn:ihe:iti-fr:xds-sd:jpeg:2010",
    "text/rtf": "urn:ihe:iti-fr:xds-sd:rtf:2010",
    "application/rtf": "urn:ihe:iti-fr:xds-sd:rtf:2010",
    "image/tiff": "urn:ihe:iti-fr:xds-sd:tiff:2010",
}
# Structured CDA (structuredBody): the volet's templateId -> its format code. templateIds from the ANS
# examples (ansforge/TestContenuCDA-3-0 ExemplesCDA/<VOLET>_*.xml @7cd489b), codes from J10 by volet
# name, and from CDAHeaderToXDM.xsl where it names them (AVK, TAP, DCI, PSC, PPV, VSM, IDAP, FRCP, XD-LAB).
VOLET_FORMAT_CODES = {
    "1.2.250.1.213.1.1.1.13": "urn:asip:ci-sis:vsm:2012",  # VSM, synthèse médicale
    "1.2.250.1.213.1.1.1.51": "urn:ihe:pcc:ips:2020",  # IPS-FR
    "2.16.840.1.113883.10.22.1.1": "urn:ihe:pcc:ips:2020",  # HL7 IPS
    "1.3.6.1.4.1.19376.1.3.3": "urn:ihe:lab:xd-lab:2008",  # IHE XD-LAB (CR-BIO)
    "1.2.250.1.213.1.1.1.55": "urn:ihe:lab:xd-lab:2008",  # CR-BIO
    "1.2.250.1.213.1.1.1.45": "urn:ihe:rad:CDA:ImagingReportStructuredHeadings:2013",  # CR-IMG
    "1.2.250.1.213.1.1.1.47": "urn:ans:ci-sis:img-da:2022",  # IMG-DA
    "1.2.250.1.213.1.1.1.40": "urn:asip:ci-sis:cr-anest:2020",
    "1.2.250.1.213.1.1.1.41": "urn:asip:ci-sis:cr-cpa:2020",
    "1.2.250.1.213.1.1.1.15": "urn:asip:ci-sis:aunv:2013",
    "1.2.250.1.213.1.1.1.16": "urn:asip:ci-sis:eunv:2013",
    "1.2.250.1.213.1.1.1.17": "urn:asip:ci-sis:sunv:2013",
    "1.2.250.1.213.1.1.1.25": "urn:asip:ci-sis:pavc:2016",
    "1.2.250.1.213.1.1.1.32": "urn:asip:ci-sis:crgm:2018",
    "1.2.250.1.213.1.1.1.27": "urn:asip:ci-sis:d2lm-fin:2017",
    "1.2.250.1.213.1.1.1.28": "urn:asip:ci-sis:d2lm-fidd:2017",
    "1.2.250.1.213.1.1.1.8": "urn:asip:ci-sis:frcp:2011",
    "1.2.250.1.213.1.1.1.9": "urn:asip:ci-sis:idap:2011",
    "1.2.250.1.213.1.1.1.26": "urn:asip:ci-sis:pps-cancer:2017",
    "1.2.250.1.213.1.1.1.2.1.1": "urn:asip:ci-sis:avk:2009",
    "1.2.250.1.213.1.1.1.2.1.2": "urn:asip:ci-sis:tap:2009",
    "1.2.250.1.213.1.1.1.2.1.3": "urn:asip:ci-sis:dci:2009",
    "1.2.250.1.213.1.1.1.2.1.4": "urn:asip:ci-sis:psc:2009",
    "1.2.250.1.213.1.1.1.2.1.5": "urn:asip:ci-sis:ppv:2009",
    "1.2.250.1.213.1.1.1.36": "urn:asip:ci-sis:hr:2019",
    "1.2.250.1.213.1.1.1.5.1": "urn:asip:ci-sis:cse-cs8:2017",
    "1.2.250.1.213.1.1.1.5.2": "urn:asip:ci-sis:cse-cs9:2017",
    "1.2.250.1.213.1.1.1.5.3": "urn:asip:ci-sis:cse-cs24:2017",
    "1.2.250.1.213.1.1.1.5.4": "urn:ans:ci-sis:cse-mde:2023",
    "1.2.250.1.213.1.1.1.23": "urn:asip:ci-sis:fludt:2017",
    "1.2.250.1.213.1.1.1.24": "urn:asip:ci-sis:fludr:2017",
    "1.2.250.1.213.1.1.1.21": "urn:asip:ci-sis:ldl-ees:2017",
    "1.2.250.1.213.1.1.1.29": "urn:asip:ci-sis:ldl-ses:2017",
    "1.2.250.1.213.1.1.1.12.1": "urn:asip:ci-sis:obp-sap:2023",
    "1.2.250.1.213.1.1.1.12.2": "urn:asip:ci-sis:obp-snm:2023",
    "1.2.250.1.213.1.1.1.12.3": "urn:asip:ci-sis:obp-sne:2023",
    "1.2.250.1.213.1.1.1.12.4": "urn:asip:ci-sis:obp-scm:2023",
    "1.2.250.1.213.1.1.1.12.5": "urn:asip:ci-sis:obp-sem:2023",
    "1.2.250.1.213.1.1.1.18": "urn:asip:ci-sis:crrtn:2013",
    "1.2.250.1.213.1.1.1.30": "urn:asip:ci-sis:sdm-mr:2017",
    "1.2.250.1.213.1.1.1.38": "urn:asip:ci-sis:tlm-da:2020",
    "1.2.250.1.213.1.1.1.37": "urn:asip:ci-sis:vac:2019",
    "1.2.250.1.213.1.1.1.46": "urn:asip:ci-sis:vac-note:2021",
    "1.2.250.1.213.1.1.1.39": "urn:ihe:pharm:pre:2010",  # eP-MED-DM
    "1.2.250.1.213.1.1.1.54": "urn:ihe:pharm:dis:2010",  # eDISP-MED
}
# templateIds of the header and of generic IHE content, which name no volet.
_GENERIC_TEMPLATES = frozenset({
    "2.16.840.1.113883.2.8.2.1",  # HL7 France CDA header
    "1.2.250.1.213.1.1.1.1",  # CI-SIS structuration minimale
    "1.3.6.1.4.1.19376.1.2.20",  # IHE XDS-SD
    "1.3.6.1.4.1.19376.1.5.3.1.1.1",  # IHE PCC medical document
})
OUT_OF_PROFILE_FORMAT_CODE = "urn:asipSante:modelesHorsProfils:2011"
"""J10 "Document non référencé IHE ou CI-SIS": a structured CDA whose templateIds name no volet."""
PDF_FORMAT_CODE = "urn:ihe:iti:xds-sd:pdf:2008"


def j10_format_code(value: str) -> Code:
    """The J10 ``value`` as XDS metadata (code, codingScheme, display), or ``XdmError`` when the DMP's
    value set does not hold it."""
    from app.shared import valuesets  # the DMP's value sets: the same codes its ITI-65 accepts

    formats = valuesets.binding("format")
    for system in formats.systems():
        if formats.contains(system, value) and system in _SCHEME_OF_SYSTEM:
            return Code(value, _SCHEME_OF_SYSTEM[system], formats.display(system, value) or value)
    raise XdmError("xdm.cda.format", f"{value!r} is not a format code of {formats.name} (CI-SIS JDV_J10)")


def cda_format_code(header: CdaHeader) -> Code:
    """The format code of a CDA by its kind (CI-SIS JDV_J10): a level 1 document by its wrapped media
    type, a structured one by its volet's templateId (or "hors profils" when it names none). ``XdmError``
    when the sandbox cannot tell (then the caller must give the code)."""
    if not header.structured:
        if header.body_media_type is None:
            raise XdmError("xdm.cda.format", "the CDA has no body: neither component/structuredBody nor "
                           "component/nonXMLBody (CDA R2 ClinicalDocument.component is 1..1), so it has no "
                           "format code; give one explicitly (a JDV_J10 code) or add the body")
        media = header.body_media_type.split(";")[0].strip().lower()
        if media not in LEVEL1_FORMAT_CODES:
            raise XdmError("xdm.cda.format", f"a CDA level 1 body of type {media or 'unknown'!r} has no format "
                           f"code in JDV_J10 (known: {', '.join(sorted(LEVEL1_FORMAT_CODES))})")
        return j10_format_code(LEVEL1_FORMAT_CODES[media])
    codes = list(dict.fromkeys(VOLET_FORMAT_CODES[t] for t in header.template_ids if t in VOLET_FORMAT_CODES))
    if len(codes) == 1:
        return j10_format_code(codes[0])
    unknown = [t for t in header.template_ids if t not in VOLET_FORMAT_CODES and t not in _GENERIC_TEMPLATES]
    if not codes and not unknown:
        return j10_format_code(OUT_OF_PROFILE_FORMAT_CODE)
    raise XdmError("xdm.cda.format", "the sandbox cannot tell the format code of this structured CDA "
                   f"(templateIds {', '.join(header.template_ids)}); give it explicitly (a JDV_J10 code)")
DEFAULT_CONFIDENTIALITY = Code("N", "2.16.840.1.113883.5.25", "Normal")
DEFAULT_CONTENT_TYPE = Code("04", "1.2.250.1.213.1.1.4.12", "Hospitalisation de jour")
DEFAULT_SOURCE_ID = "1.2.250.1.999.1.1"  # the sandbox's own (fictitious) source OID


def build_xdm(
    cda: bytes,
    *,
    pdf: bytes | None = None,
    patient_id: str | None = None,
    patient_oid: str | None = None,
    class_code: Code = DEFAULT_CLASS_CODE,
    format_code: str | None = None,
    source_id: str = DEFAULT_SOURCE_ID,
    author: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """Build a conformant ``IHE_XDM.ZIP`` around a CDA R2 document (and optionally its PDF rendering).

    The patientId, type code (the CDA ``code``), title, confidentiality and language come from the CDA
    header unless given; the format code from the CDA's kind (:func:`cda_format_code`) unless
    ``format_code`` (a JDV_J10 code) is given. Raises :class:`XdmError` when the CDA cannot be read,
    names no patient, or its format code cannot be told.
    """
    now = now or datetime.now(UTC)
    try:
        header = parse_cda_header(cda)
    except UnsafeXmlError as exc:
        raise XdmError("xdm.xml.unsafe", f"CDA: {exc}") from None
    except InvalidXmlError as exc:
        raise XdmError("xdm.cda.invalid", f"CDA: {exc}") from None
    pid_value = patient_id or header.ins
    pid_oid = patient_oid or header.ins_oid
    if not pid_value or not pid_oid:
        raise XdmError(
            "xdm.cda.patient",
            "the CDA names no INS (recordTarget/patientRole/id with an INS OID); "
            "pass patient_id and patient_oid",
        )
    cda_format = j10_format_code(format_code) if format_code else cda_format_code(header)
    patient = PatientId(raw="", id=pid_value, oid=pid_oid).to_cx()
    type_code = header.code or Code("11488-4", LOINC, "Note de consultation")
    if type_code.scheme is None:
        type_code = Code(type_code.code, LOINC, type_code.display)
    docs = [XdmDocument(cda, "text/xml", "DOC0001.XML", header.title)]
    if pdf is not None:
        docs.append(XdmDocument(pdf, "application/pdf", "DOC0002.PDF", header.title))

    ss_uuid = uuid.uuid4()
    ss_id = f"urn:uuid:{ss_uuid}"
    parts: list[str] = []
    for n, doc in enumerate(docs, start=1):
        de_id = f"urn:uuid:{uuid.uuid4()}"
        unique = header.unique_id if (n == 1 and header.unique_id) else _oid_from_uuid(uuid.uuid4())
        slots = [
            _slot_xml("creationTime", _ts(now)),
            _slot_xml("hash", hashlib.sha1(doc.content).hexdigest()),  # noqa: S324 - XDS mandates SHA-1
            _slot_xml("languageCode", header.language or "fr-FR"),
            _slot_xml("size", str(len(doc.content))),
            _slot_xml("sourcePatientId", patient),
            _slot_xml("URI", doc.file_name or f"DOC{n:04d}"),
        ]
        if header.effective_time:
            slots.append(_slot_xml("serviceStartTime", header.effective_time[:14]))
        fmt = cda_format if doc.mime_type == "text/xml" else j10_format_code(PDF_FORMAT_CODE)
        body = "".join(slots)
        body += f"<rim:Name><rim:LocalizedString value={quoteattr(doc.title or 'Document')}/></rim:Name>"
        if author:
            body += (
                f'<rim:Classification id="cl-author-{n}" classificationScheme='
                f'"urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d" classifiedObject={quoteattr(de_id)} '
                f'nodeRepresentation="">{_slot_xml("authorPerson", author)}</rim:Classification>'
            )
        body += _classification_xml(DE_CLASS_CODE, de_id, class_code, f"cl-class-{n}")
        body += _classification_xml(
            DE_CONFIDENTIALITY, de_id, header.confidentiality or DEFAULT_CONFIDENTIALITY, f"cl-conf-{n}"
        )
        body += _classification_xml(DE_FORMAT_CODE, de_id, fmt, f"cl-format-{n}")
        body += _classification_xml(DE_TYPE_CODE, de_id, type_code, f"cl-type-{n}")
        body += _ext_id_xml(DE_PATIENT_ID, de_id, patient, "XDSDocumentEntry.patientId", f"ei-pid-{n}")
        body += _ext_id_xml(DE_UNIQUE_ID, de_id, unique, "XDSDocumentEntry.uniqueId", f"ei-uid-{n}")
        parts.append(
            f"<rim:ExtrinsicObject id={quoteattr(de_id)} mimeType={quoteattr(doc.mime_type)} "
            f'objectType="{DOCUMENT_ENTRY_STABLE}" '
            'status="urn:oasis:names:tc:ebxml-regrep:StatusType:Approved">'
            f"{body}</rim:ExtrinsicObject>"
        )
        parts.append(
            f'<rim:Association id="urn:uuid:{uuid.uuid4()}" associationType="{HAS_MEMBER}" sourceObject='
            f'{quoteattr(ss_id)} targetObject={quoteattr(de_id)} objectType="urn:oasis:names:tc:ebxml-regrep:'
            f'ObjectType:RegistryObject:Association">{_slot_xml("SubmissionSetStatus", "Original")}'
            "</rim:Association>"
        )
    ss = (
        f'<rim:RegistryPackage id={quoteattr(ss_id)} objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:'
        f'RegistryObject:RegistryPackage">{_slot_xml("submissionTime", _ts(now))}'
        f"<rim:Name><rim:LocalizedString value={quoteattr(header.title or 'Envoi MSSanté')}/></rim:Name>"
        + _classification_xml(SS_CONTENT_TYPE, ss_id, DEFAULT_CONTENT_TYPE, "cl-ss-content")
        + _ext_id_xml(SS_SOURCE_ID, ss_id, source_id, "XDSSubmissionSet.sourceId", "ei-ss-source")
        + _ext_id_xml(SS_PATIENT_ID, ss_id, patient, "XDSSubmissionSet.patientId", "ei-ss-pid")
        + _ext_id_xml(SS_UNIQUE_ID, ss_id, _oid_from_uuid(ss_uuid), "XDSSubmissionSet.uniqueId", "ei-ss-uid")
        + "</rim:RegistryPackage>"
        f'<rim:Classification id="cl-ss" classifiedObject={quoteattr(ss_id)} classificationNode='
        f'"{SUBMISSION_SET_NODE}" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:'
        f'Classification"/>'
    )
    metadata = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<lcm:SubmitObjectsRequest xmlns:lcm="{LCM}" xmlns:rim="{RIM}"><rim:RegistryObjectList>'
        + ss
        + "".join(parts)
        + "</rim:RegistryObjectList></lcm:SubmitObjectsRequest>\n"
    ).encode()
    listing = "".join(
        f'<li><a href="{SUBSET}{d.file_name}">{escape(d.title or d.file_name or "")}</a> ({d.mime_type})</li>'
        for d in docs
    )
    index = (
        '<!DOCTYPE html>\n<html lang="fr"><head><meta charset="utf-8"><title>IHE_XDM</title></head><body>'
        "<h1>Contenu du support IHE XDM</h1><p>Généré par Ségur Sandbox (environnement de test).</p>"
        f'<ul>{listing}</ul><p><a href="{METADATA_PATH}">Métadonnées XDS</a> — '
        f'<a href="{README_PATH}">README</a></p></body></html>\n'
    ).encode()
    readme = (
        "Segur Sandbox - IHE XDM media (IHE ITI TF-1 section 16)\r\n"
        "Producteur : Segur Sandbox (environnement de test, donnees fictives)\r\n"
        f"Cree le : {now.astimezone(UTC).isoformat()}\r\n"
        "Contenu : IHE_XDM/SUBSET01/METADATA.XML et les documents decrits.\r\n"
    ).encode()
    buffer = io.BytesIO()
    stamp = now.astimezone(UTC).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in [(INDEX_PATH, index), (README_PATH, readme), (METADATA_PATH, metadata)] + [
            (SUBSET + (d.file_name or ""), d.content) for d in docs
        ]:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, content)
    return buffer.getvalue()
