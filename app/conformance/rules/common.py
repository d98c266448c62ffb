"""What several rules select from the journal: INSi answers, DMP calls, mail sessions and messages, PSC
requests; each by the facts its face noted (app.api.journal.note_facts). Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from app.conformance.model import Entry, Verdict

Rule = Callable[[Sequence[Entry]], Verdict]

PATIENT_DOMAIN = "@patient.mssante.fr"
INS_OIDS = frozenset({"1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10",
                      "1.2.250.1.213.1.4.11"})
"""INS-NIR, INS-NIA, and their test-mode OIDs (INS implementation guide; reference/ins.md)."""


def normalise(matricule: str | None) -> str:
    """A matricule as compared across services: 13 characters and the 2-digit key, upper case, no spaces."""
    return (matricule or "").replace(" ", "").upper()[:15]


def insi_answers(entries: Iterable[Entry]) -> list[Entry]:
    """INSi searches the sandbox answered (a CodeCR, so not a fault)."""
    return [e for e in entries if e.service == "ins" and e.fact("insi_mode") and e.fact("insi_code")]


def insi_calls(entries: Iterable[Entry]) -> list[Entry]:
    """INSi calls that got as far as naming their credential."""
    return [e for e in entries if e.service == "ins" and e.fact("credential")]


def returned_matricules(entries: Iterable[Entry]) -> dict[str, Entry]:
    """Each matricule an INSi answer (CodeCR 00) returned, active or historical, with the first answer."""
    found: dict[str, Entry] = {}
    for entry in insi_answers(entries):
        if entry.fact("insi_code") == "00":
            for matricule in entry.fact("matricules") or ():
                found.setdefault(normalise(matricule), entry)
    return found


def dmp_calls(entries: Iterable[Entry]) -> list[Entry]:
    """DMP transactions whose VIHF was accepted (the face noted the transaction)."""
    return [e for e in entries if e.service == "dmp" and e.fact("transaction")]


def mail_sessions(entries: Iterable[Entry]) -> list[Entry]:
    """SMTP and IMAP sessions that reached an AUTH/LOGIN or a MAIL command."""
    return [e for e in entries if e.protocol in ("smtp", "imap") and e.method == "SESSION"
            and "starttls_before_auth" in e.facts]


def messages(entries: Iterable[Entry]) -> list[Entry]:
    """Messages submitted over SMTP that reached the checks (accepted or refused by one)."""
    return [e for e in entries if e.protocol == "smtp" and e.method == "DATA" and "checks" in e.facts]


def patient_recipients(entry: Entry) -> list[str]:
    return [r for r in entry.fact("recipients") or () if r.endswith(PATIENT_DOMAIN)]


def psc_flows(entries: Iterable[Entry], *flows: str) -> list[Entry]:
    return [e for e in entries if e.service == "psc" and e.fact("flow") in flows]


def cx_parts(value: str) -> tuple[str, str | None]:
    """An HL7 v2 CX ``id^^^&oid&ISO`` as (id, oid)."""
    ident, _, authority = value.partition("^^^")
    parts = authority.split("&")
    return ident.strip(), (parts[1] if len(parts) > 1 and parts[1] else None)


NO_INSI = ("no INSi call in this report, nor an INSi identity, to join it with (add the client's INSi identity "
           "with `also`, e.g. also=ins:<IDAM>)")


def without_insi(entries: Iterable[Entry], *, insi_identity: bool) -> Verdict | None:
    """The verdict of a rule that joins INSi answers with another service, when the report holds nothing of
    INSi (no INSi entry, no ``ins:`` identity): not exercised, with the ``also=`` hint (as rows 8 and 21 say
    of PSC), rather than a failure for matricules this client may well have got from INSi. None otherwise."""
    if insi_identity or any(e.service == "ins" for e in entries):
        return None
    return Verdict.not_exercised(NO_INSI)


def from_checks(checks: Sequence[str], what: str) -> Rule:
    """A rule read from the message checks the MSSanté face runs on every submitted message
    (app/mss/rules.py ids, recorded as the DATA entry's ``checks`` fact): failed when one of ``checks``
    failed on a message, passed when they passed on every message they applied to."""

    def evaluate(entries: Sequence[Entry]) -> Verdict:
        applied = [e for e in messages(entries) if any(c in e.fact("checks") for c in checks)]
        if not applied:
            return Verdict.not_exercised(f"no submitted message to which {what} applies")
        failing = [e for e in applied if any(e.fact("checks").get(c) == "fail" for c in checks)]
        if failing:
            names = sorted({c for e in failing for c in checks if e.fact("checks").get(c) == "fail"})
            return Verdict.failed(f"{len(failing)} of {len(applied)} messages fail {', '.join(names)} ({what})",
                                  failing)
        return Verdict.passed(f"{len(applied)} messages pass {', '.join(checks)} ({what})", applied)

    return evaluate


def unobserved(why: str) -> Rule:
    """A requirement the sandbox cannot decide yet: always ``not_exercised``, with the reason."""

    def evaluate(entries: Sequence[Entry]) -> Verdict:
        return Verdict.not_exercised(why)

    return evaluate
