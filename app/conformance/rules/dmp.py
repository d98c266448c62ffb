"""DMP rows 15, 16, 21 (SC.DMP/AIRS.06, UX.08, PSC.01; Squash export). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from app.conformance.model import Entry, Verdict
from app.conformance.rules.common import dmp_calls, normalise, psc_flows

CONSULTATIONS = frozenset({"ITI-18", "ITI-43"})
ACCESS_TESTS = frozenset({"TD0.2", "TD0.4"})


def generic_subject(subject: str) -> bool:
    """A NameID that names nobody: empty, or one digit repeated after the identifier type (``800000000000``)."""
    digits = subject.strip()[1:]
    return not subject.strip() or len(set(digits)) <= 1


def named_professional(entries: Sequence[Entry]) -> Verdict:
    """Row 15, SC.DMP/AIRS.06: every VIHF names a real RPPS/ADELI (its NameID), not a generic one. That two
    users give two subject ids needs a scenario hook and is not checked."""
    calls = [e for e in dmp_calls(entries) if e.fact("vihf_subject") is not None]
    if not calls:
        return Verdict.not_exercised("no DMP transaction by this client")
    generic = [e for e in calls if generic_subject(str(e.fact("vihf_subject")))]
    if generic:
        return Verdict.failed(f"{len(generic)} VIHF with a generic subject NameID "
                              f"({', '.join(sorted({str(e.fact('vihf_subject')) for e in generic})[:3])})", generic)
    subjects = {str(e.fact("vihf_subject")) for e in calls}
    return Verdict.passed(f"{len(calls)} VIHF naming {len(subjects)} professional(s)", calls)


def access_test_first(entries: Sequence[Entry]) -> Verdict:
    """Row 16, SC.DMP/UX.08: each consultation (ITI-18 query, ITI-43 retrieval) for a patient follows a TD0.2
    (or TD0.4) for that patient."""
    calls = dmp_calls(entries)
    consultations = [e for e in calls if e.fact("transaction") in CONSULTATIONS]
    if not consultations:
        return Verdict.not_exercised("no DMP consultation (ITI-18, ITI-43) by this client")
    unchecked = []
    for consultation in consultations:
        patient = normalise(consultation.fact("patient_ins"))
        if not any(e.id < consultation.id and e.fact("transaction") in ACCESS_TESTS
                   and normalise(e.fact("patient_ins")) == patient for e in calls):
            unchecked.append(consultation)
    if unchecked:
        return Verdict.failed(f"{len(unchecked)} consultations with no earlier TD0.2/TD0.4 for the patient",
                              unchecked)
    return Verdict.passed(f"{len(consultations)} consultations, each after a TD0.2/TD0.4", consultations)


def dmp_with_psc(entries: Sequence[Entry]) -> Verdict:
    """Row 21, SC.DMP/PSC.01, SC.PSC.10: DMP calls for PSC-logged users carry the sandbox's PSC identity."""
    calls = dmp_calls(entries)
    if not calls:
        return Verdict.not_exercised("no DMP transaction by this client")
    with_psc = [e for e in calls if e.fact("psc")]
    logins = psc_flows(entries, "code", "ciba")
    if with_psc and len(with_psc) == len(calls):
        return Verdict.passed(f"{len(calls)} DMP calls carry a sandbox PSC identity", calls)
    if logins:
        signed = [e for e in calls if not e.fact("psc")]
        return Verdict.failed(f"{len(signed)} DMP calls with a signed VIHF although users log in with PSC", signed)
    if with_psc:
        return Verdict.passed(f"{len(with_psc)} DMP calls carry a sandbox PSC identity", with_psc)
    return Verdict.not_exercised("no PSC login in this report (add the client's PSC identity with `also`)")
