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

The package, one concept a module: :mod:`.model` (what a read archive holds, the reader's bounds),
:mod:`.archive` (the safe ZIP reader), :mod:`.metadata` (reading ``METADATA.XML``: :func:`read_xdm`),
:mod:`.cda` (the CDA header), :mod:`.formatcodes` (JDV_J10 format codes), :mod:`.writer` (:func:`build_xdm`).
"""

from app.mss.exceptions import UNSAFE_CODES, XdmError
from app.mss.xdm.archive import check_central_directory, declared_sizes, read_zip_entries
from app.mss.xdm.cda import PatientNames, parse_cda_header, read_patient_names
from app.mss.xdm.formatcodes import (
    LEVEL1_FORMAT_CODES,
    OUT_OF_PROFILE_FORMAT_CODE,
    PDF_FORMAT_CODE,
    VOLET_FORMAT_CODES,
    cda_format_code,
    j10_format_code,
)
from app.mss.xdm.metadata import read_xdm
from app.mss.xdm.model import (
    DE_FORMAT_CODE,
    DEFAULT_LIMITS,
    LOINC,
    METADATA_PATH,
    NS,
    RIM,
    SUBSET,
    CdaHeader,
    Code,
    DocumentEntry,
    PatientId,
    SubmissionSet,
    XdmIssue,
    XdmLimits,
    XdmPackage,
)
from app.mss.xdm.writer import XdmDocument, build_xdm

__all__ = [
    "DEFAULT_LIMITS", "DE_FORMAT_CODE", "LEVEL1_FORMAT_CODES", "LOINC", "METADATA_PATH", "NS",
    "OUT_OF_PROFILE_FORMAT_CODE", "PDF_FORMAT_CODE", "RIM", "SUBSET", "UNSAFE_CODES", "VOLET_FORMAT_CODES",
    "CdaHeader", "Code", "DocumentEntry", "PatientId", "PatientNames", "SubmissionSet", "XdmDocument", "XdmError",
    "XdmIssue", "XdmLimits", "XdmPackage", "build_xdm", "cda_format_code", "check_central_directory",
    "declared_sizes", "j10_format_code", "parse_cda_header", "read_patient_names", "read_xdm", "read_zip_entries",
]
