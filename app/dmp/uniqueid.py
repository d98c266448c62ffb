"""The XDS DocumentEntry.uniqueId a DocumentReference.masterIdentifier must carry (no I/O).

IHE ITI TF-3 §4.2.3.2.26 (DocumentEntry.uniqueId): max length 128 bytes; for an HL7 CDA document (every DMP
document is one) "a serialization of the CDA Document Id extension and root in the form oid^extension, where
OID is a 64 digits max, and the Id is a 16 UTF-8 char max. If the OID is coded without the extension then the
'^' character shall not be included." MHD maps it to ``masterIdentifier`` with system ``urn:ietf:rfc:3986``
and the value ``urn:oid:<uniqueId>`` (MHD §2:3.65, Appendix Z.9.1). An OID is ``[0-2](.(0|[1-9][0-9]*))+``
(ITI TF-3 Table 4.2.3.1.7-2, ISO/IEC 8824). PDSm4DMP's identifier annex says "OID / UUID" and the PDSm
simplified example uses ``urn:uuid:``; the DMP registry is XDS and its documents are CDA, so an OID is
required (docs/dmp.md, Errors).
"""

from __future__ import annotations

import re

OID = re.compile(r"[0-2](?:\.(?:0|[1-9][0-9]*))+")
MAX_OID = 64
MAX_EXTENSION = 16


def unique_id_problem(value: str) -> tuple[str, str] | None:
    """Why ``value`` (a masterIdentifier.value) is not an XDS document uniqueId, in English and French;
    None when it is one (``urn:oid:<OID>`` or ``urn:oid:<OID>^<extension>``)."""
    if not value.startswith("urn:oid:"):
        return (f"{value!r} is not an OID: an XDS document uniqueId is written urn:oid:<OID> "
                "(or urn:oid:<OID>^<extension>)",
                f"{value!r} n'est pas un OID : l'identifiant unique XDS d'un document s'écrit urn:oid:<OID> "
                "(ou urn:oid:<OID>^<extension>)")
    oid, caret, extension = value.removeprefix("urn:oid:").partition("^")
    if not OID.fullmatch(oid):
        return (f"{oid!r} is not an OID (digits separated by dots, no leading zero, starting with 0, 1 or 2)",
                f"{oid!r} n'est pas un OID (chiffres séparés par des points, sans zéro initial, commençant "
                "par 0, 1 ou 2)")
    if len(oid) > MAX_OID:
        return (f"the OID is {len(oid)} characters long; an XDS uniqueId OID has at most {MAX_OID}",
                f"l'OID fait {len(oid)} caractères ; l'OID d'un identifiant unique XDS en a au plus {MAX_OID}")
    if caret and not extension:
        return ("'^' without an extension: write the OID alone", "« ^ » sans extension : écrire l'OID seul")
    if len(extension) > MAX_EXTENSION:
        return (f"the extension is {len(extension)} characters long; XDS allows at most {MAX_EXTENSION}",
                f"l'extension fait {len(extension)} caractères ; XDS en permet au plus {MAX_EXTENSION}")
    if "^" in extension:
        return ("the extension holds a second '^'", "l'extension contient un second « ^ »")
    return None
