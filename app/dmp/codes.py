"""A submission's codes against the CI-SIS value sets the DMP binds (reference/dmp.md §3): JDV_J66 type,
J57 class, J60 format, J61 facility, J04 practice, J58 confidentiality — from the shipped files, no I/O once
loaded. Every face checks its codes here (the FHIR face names the element by its FHIRPath)."""

from __future__ import annotations

from app.dmp.exceptions import XDS_METADATA, DmpError, Kind
from app.dmp.submission import Code
from app.shared import valuesets


def check_code(element: str, code: Code, *, expression: str, lenient: bool, rule_prefix: str = "PDSm:") -> None:
    """``code`` in the value set bound to ``element``, else refused naming the set and what it expects
    (``lenient``, ``SEGUR_DMP_LENIENT``: accepted)."""
    vs = valuesets.binding(element)
    if vs.contains(code.system, code.code) or lenient:
        return
    systems = ", ".join(vs.systems())
    subset = "" if vs.complete else " (the sandbox ships a subset of this value set: see docs/dmp.md)"
    subset_fr = "" if vs.complete else (" (le bac à sable n'embarque qu'une partie de ce jeu de valeurs : voir "
                                        "docs/dmp.md)")
    raise DmpError(
        Kind.INVALID,
        f"{expression} {code.system}#{code.code} is not in {vs.name}{subset}; expected a code of {systems}",
        french=f"{expression} {code.system}#{code.code} n'appartient pas au {vs.name}{subset_fr} ; attendu : un code "
               f"de {systems}",
        rule=f"{rule_prefix}{element}-{vs.id}", element=expression, xds_code=XDS_METADATA,
    )
