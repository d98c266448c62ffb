"""CI-SIS value sets (JDV) shipped with the package, and a loader.

One JSON file per value set (``J57.json`` ...): its NOS canonical URL, OID where known, the source it
was copied from, ``complete`` (false for a subset: say so, never pretend) and the included code
systems with their concepts. A code system may be written with its NOS URL, its ``urn:oid:`` form or
an alias (``http://loinc.org``; HL7 ``v3-Confidentiality`` for TRE_A08, reference/dmp.md §5.3).

Sources: ANS Terminologies de santé (``ansforge/IG-terminologie-de-sante``), reference/dmp.md §3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_DIR = Path(__file__).resolve().parent

# metadata element -> (CI-SIS value set, DMP value set); PDSm comprehensive DocumentReference bindings
# and their DMP invariants (reference/dmp.md §1.2, §3).
BINDINGS: dict[str, tuple[str, str]] = {
    "type": ("J07", "J66"),
    "category": ("J06", "J57"),
    "format": ("J10", "J60"),
    "facilityType": ("J02", "J61"),
    "practiceSetting": ("J04", "J04"),
    "securityLabel": ("J08", "J58"),
}


@dataclass(frozen=True)
class ValueSet:
    id: str
    name: str
    url: str
    oid: str | None
    source: str
    complete: bool
    note: str
    concepts: dict[tuple[str, str], str]  # (canonical system, code) -> display
    aliases: dict[str, str]  # any accepted system spelling -> canonical system

    @property
    def label(self) -> str:
        return self.name

    def canonical_system(self, system: str | None) -> str | None:
        if system is None:
            return None
        return self.aliases.get(system)

    def contains(self, system: str | None, code: str | None) -> bool:
        canonical = self.canonical_system(system)
        return canonical is not None and code is not None and (canonical, code) in self.concepts

    def display(self, system: str | None, code: str) -> str | None:
        canonical = self.canonical_system(system)
        return self.concepts.get((canonical, code)) if canonical else None

    def systems(self) -> list[str]:
        return sorted({system for system, _ in self.concepts})


@cache
def load(vs_id: str) -> ValueSet:
    """Load ``J57`` etc. from the shipped file (cached: files never change at run time)."""
    path = _DIR / f"{vs_id}.json"
    if not path.is_file():
        raise KeyError(f"unknown value set {vs_id!r}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    concepts: dict[tuple[str, str], str] = {}
    aliases: dict[str, str] = {}
    for include in raw["include"]:
        system = include["system"]
        aliases[system] = system
        for alias in include.get("aliases", []):
            aliases[alias] = system
        for concept in include["concept"]:
            concepts[(system, concept["code"])] = concept.get("display") or ""
    return ValueSet(
        id=raw["id"], name=raw["name"], url=raw["url"], oid=raw.get("oid"), source=raw["source"],
        complete=bool(raw["complete"]), note=raw.get("note", ""), concepts=concepts, aliases=aliases,
    )


def available() -> list[str]:
    return sorted(p.stem for p in _DIR.glob("J*.json"))


def binding(element: str, *, dmp: bool = True) -> ValueSet:
    """The value set checked for a DocumentReference element (DMP set by default)."""
    cisis, dmp_set = BINDINGS[element]
    return load(dmp_set if dmp else cisis)
