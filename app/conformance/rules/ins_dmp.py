"""INSi before the DMP: rows 1 and 2 (DMP integration guide EX_GEN-1250/1255, EX_GEN-1530; bitbucket
devbox-sante/homologation issues 77, 78, 82). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from app.conformance.model import Entry, Verdict
from app.conformance.rules.common import dmp_calls, normalise, returned_matricules, without_insi


def _patient_calls(entries: Sequence[Entry]) -> list[Entry]:
    return [e for e in dmp_calls(entries) if e.fact("patient_ins")]


def insi_before_dmp(entries: Sequence[Entry], *, insi_identity: bool = False) -> Verdict:
    """Row 1, EX_GEN-1250/1255: for each patient touched in the DMP, an INSi answer returned that matricule
    earlier (journal order). ``insi_identity``: the report names an INSi identity (``ins:``)."""
    calls = _patient_calls(entries)
    if not calls:
        return Verdict.not_exercised("no DMP transaction naming a patient (VIHF resource-id)")
    if (unjoined := without_insi(entries, insi_identity=insi_identity)) is not None:
        return unjoined
    late = []
    for call in calls:
        first = returned_matricules(e for e in entries if e.id < call.id).get(normalise(call.fact("patient_ins")))
        if first is None:
            late.append(call)
    if late:
        patients = sorted({normalise(e.fact("patient_ins")) for e in late})
        return Verdict.failed(f"DMP calls for {', '.join(patients[:5])} with no earlier INSi answer returning that "
                              "matricule to this client", late)
    return Verdict.passed(f"{len(calls)} DMP calls, each for a matricule INSi returned earlier", calls)


def dmp_ids_from_insi(entries: Sequence[Entry], *, insi_identity: bool = False) -> Verdict:
    """Row 2, EX_GEN-1530: every DMP patient identifier is a matricule INSi returned to this client."""
    calls = _patient_calls(entries)
    if not calls:
        return Verdict.not_exercised("no DMP transaction naming a patient (VIHF resource-id)")
    if (unjoined := without_insi(entries, insi_identity=insi_identity)) is not None:
        return unjoined
    known = returned_matricules(entries)
    foreign = [e for e in calls if normalise(e.fact("patient_ins")) not in known]
    if foreign:
        patients = sorted({normalise(e.fact("patient_ins")) for e in foreign})
        return Verdict.failed(f"DMP patient identifiers never returned by INSi to this client: "
                              f"{', '.join(patients[:5])}", foreign)
    return Verdict.passed(f"{len(calls)} DMP calls, all for matricules INSi returned", calls)
