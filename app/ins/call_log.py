"""The call log of INSi answers, kept server side (INS rules 37/39 ask vendors to keep one): one line per
answer, journaled as the entry's detail by both faces. Pure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.ins.search import InsRecord, Outcome


def call_log(operation: str, outcome: Outcome, oid_of: Callable[[InsRecord], str], credential: str,
             idam: str | None, message_id: str | None) -> str:
    """One line per INSi answer: operation, CodeCR, INS and OID returned (active and history), credential."""
    parts = [f"{operation} CodeCR={outcome.code}"]
    p = outcome.person
    if p is not None and p.ins_actif is not None:
        parts.append(f"INS={p.ins_actif.ins} OID={oid_of(p.ins_actif)}")
        if p.ins_histo:
            parts.append("INSHISTO=" + ",".join(h.ins for h in p.ins_histo))
    parts.append(f"credential={credential} IDAM={idam} MessageID={message_id}")
    return " ".join(parts)[:1024]


def call_facts(operation: str, outcome: Outcome, credential: str) -> dict[str, Any]:
    """What the conformance report needs of an INSi answer (journal facts): the search mode (SC.INS/va1.34),
    the CodeCR, the matricules returned (active and history: EX_GEN-1250/1530, SC.MSS/va1.19) and the kind of
    credential presented (SC.INS/va1.14/.37/.58; ``psc:<subject>`` for SC.INS/PSC.01)."""
    p = outcome.person
    matricules = []
    if p is not None and p.ins_actif is not None and outcome.code == "00":
        matricules = [p.ins_actif.ins, *(h.ins for h in p.ins_histo)]
    return {"insi_mode": "vitale" if "Vitale" in operation else "traits", "insi_code": outcome.code,
            "matricules": matricules, "credential": credential}
