"""How the sandbox writes MSSanté addresses (pure).

- Personal (PER) mailbox of a professional: ``prenom.nom@<domain>`` (mss.md §2), the parts folded to
  lower-case ASCII (accents removed; spaces and apostrophes become ``-``). The domain is the one whose
  fixture lists the structure of the professional's first activity (``identifiantTechniqueDeLaStructure``),
  else the default domain (medecin.mssante.fr, as Mailiz serves liberal professionals). A clash gets
  ``.2``, ``.3``... appended to the local part.
- Patient mailbox: ``<matricule INS>@patient.mssante.fr`` (mss.md §2; the 15 characters: NIR/NIA and
  key). Decision (mss.md §10.1): a Corsican matricule keeps its ``2A``/``2B`` **as written by INSi**
  (upper case), e.g. ``297022A02077878@patient.mssante.fr``; it is **not** rewritten with the ``19``/``18``
  substitution used for the key computation, which would collide with a NIR born in Corrèze (19) or
  département 18. Lookups are case-insensitive, so ``297022a02077878@…`` reaches the same mailbox.
  The local part is validated as NIR-shaped: 5 digits, 2 digits or ``2A``/``2B``, 8 digits.
"""

from __future__ import annotations

import re
import unicodedata

PATIENT_LOCAL = re.compile(r"^[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{8}$", re.IGNORECASE)


def fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    ascii_only = re.sub(r"[\s'’]+", "-", ascii_only.strip())
    ascii_only = re.sub(r"[^a-z0-9-]", "", ascii_only)
    return re.sub(r"-{2,}", "-", ascii_only).strip("-")


def personal_local_part(given_name: str, family_name: str) -> str:
    return f"{fold(given_name)}.{fold(family_name)}"


def per_domain(activities: list[dict], structure_domains: dict[str, str], default: str) -> str:
    for activity in activities[:1]:
        structure = activity.get("identifiantTechniqueDeLaStructure") or ""
        if structure in structure_domains:
            return structure_domains[structure]
    return default


def unique_address(local: str, domain: str, taken: set[str]) -> str:
    address = f"{local}@{domain}"
    n = 2
    while address in taken:
        address = f"{local}.{n}@{domain}"
        n += 1
    return address


def patient_address(ins: str, patient_domain: str = "patient.mssante.fr") -> str:
    """The patient mailbox of an INS matricule (15 characters, ``2A``/``2B`` kept upper-case)."""
    return f"{ins.upper()}@{patient_domain}"


def is_patient_local_part(local: str) -> bool:
    return bool(PATIENT_LOCAL.match(local))


def normalise(address: str) -> str:
    """Addresses are compared case-insensitively (the sandbox folds local parts, see above)."""
    return address.strip().strip("<>").lower()
