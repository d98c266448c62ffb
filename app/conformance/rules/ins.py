"""INSi rows 3, 6, 7, 8 (SC.INS/va1.34, va1.53, va1.14/.37/.58, SC.INS/PSC.01; Squash export). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from app.conformance.model import Entry, Verdict
from app.conformance.rules.common import (
    INS_OIDS,
    cx_parts,
    insi_answers,
    insi_calls,
    messages,
    normalise,
    patient_recipients,
    psc_flows,
    returned_matricules,
    without_insi,
)

ACCEPTED_CREDENTIALS = ("cpx:", "certificate:", "psc:")
"""An individual CPx card (SAML assertion), an IGC-Santé organisation certificate (CN INSI-AUTO/INSI-MANU),
or a PSC access token (SC.INS/PSC.01, the CI-SIS PSC transport volet)."""


def both_search_modes(entries: Sequence[Entry]) -> Verdict:
    """Row 3, SC.INS/va1.34: searches by identity traits and by Carte Vitale both seen."""
    answers = insi_answers(entries)
    if not answers:
        return Verdict.not_exercised("no INSi search by this client")
    modes = {e.fact("insi_mode") for e in answers}
    if modes >= {"traits", "vitale"}:
        return Verdict.passed("INSi searches by traits and by Carte Vitale both seen", answers)
    missing = "Carte Vitale" if "vitale" not in modes else "identity traits"
    return Verdict.failed(f"no INSi search by {missing} (only {'traits' if 'traits' in modes else 'Carte Vitale'})",
                          answers)


def matricules_from_insi(entries: Sequence[Entry], *, insi_identity: bool = False) -> Verdict:
    """Row 6, SC.INS/va1.53/.59 (INS rule 28): no XDM ``patientId`` (INS OID) nor patient MSS address carries
    a matricule this client never got from INSi (the ``X-MSS-INS: N`` part is row 32's check)."""
    known = returned_matricules(entries)
    carrying: list[tuple[Entry, list[str]]] = []
    for message in messages(entries):
        used = [normalise(i) for i, oid in map(cx_parts, message.fact("xdm_patients") or ()) if oid in INS_OIDS]
        used += [normalise(r.split("@")[0]) for r in patient_recipients(message)]
        if used:
            carrying.append((message, used))
    if not carrying:
        return Verdict.not_exercised("no message carrying an INS (XDM patientId or patient mailbox)")
    if (unjoined := without_insi(entries, insi_identity=insi_identity)) is not None:
        return unjoined
    foreign = [(m, [u for u in used if u not in known]) for m, used in carrying]
    foreign = [(m, u) for m, u in foreign if u]
    if foreign:
        shown = sorted({x for _, u in foreign for x in u})
        return Verdict.failed(f"matricules sent without an INSi answer returning them: {', '.join(shown[:5])}",
                              [m for m, _ in foreign])
    return Verdict.passed(f"{len(carrying)} messages carry only matricules INSi returned", [m for m, _ in carrying])


def accepted_credential(entries: Sequence[Entry]) -> Verdict:
    """Row 7, SC.INS/va1.14/.37/.58: every INSi call presents a CPx, an organisation certificate or a PSC
    token; the mode is recorded (the journal's ``credential`` fact)."""
    calls = insi_calls(entries)
    if not calls:
        return Verdict.not_exercised("no INSi call by this client")
    bare = [e for e in calls if not str(e.fact("credential")).startswith(ACCEPTED_CREDENTIALS)]
    if bare:
        return Verdict.failed(f"{len(bare)} INSi calls without a CPx, certificate or PSC credential", bare)
    kinds = sorted({str(e.fact("credential")).split(":")[0] for e in calls})
    return Verdict.passed(f"{len(calls)} INSi calls authenticated ({', '.join(kinds)})", calls)


def insi_with_psc(entries: Sequence[Entry]) -> Verdict:
    """Row 8, SC.INS/PSC.01: when users log in with PSC, INSi calls carry the sandbox's PSC token."""
    calls = insi_calls(entries)
    with_psc = [e for e in calls if str(e.fact("credential")).startswith("psc:")]
    if with_psc:
        others = [e for e in calls if e not in with_psc]
        if others and psc_flows(entries, "code", "ciba"):
            return Verdict.failed(f"{len(others)} INSi calls without the PSC token although users log in with PSC",
                                  others)
        return Verdict.passed(f"{len(with_psc)} INSi calls carry a sandbox PSC token", with_psc)
    if calls and psc_flows(entries, "code", "ciba"):
        return Verdict.failed("users log in with PSC but no INSi call carries a PSC token", calls)
    if not calls:
        return Verdict.not_exercised("no INSi call by this client")
    return Verdict.not_exercised("no PSC login in this report (add the client's PSC identity with `also`)")
