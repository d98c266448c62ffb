"""The catalogue of the MSSanté checks (pure): each rule's stable id, severity, whether it is enforced (the
message refused with the SMTP reply given) or only flagged, and the source it comes from (requirement ids
of the Ségur REM / Référentiel socle MSSanté #2, RFCs, IHE). :mod:`app.mss.checks` runs them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str  # "error" | "warning" | "info"
    enforced: bool
    source: str
    reply: str = "550 5.7.1"
    """SMTP reply code and enhanced status code (RFC 3463) used when the rule refuses a message."""


RULES: dict[str, Rule] = {
    r.id: r
    for r in [
        Rule(
            "MSS.NIL",
            "X-MSS-NIL is present on every message",
            "error",
            False,
            "SC.MSS/CONF.16 (Ref #2 v1.0.1 §3.8)",
        ),
        Rule(
            "MSS.CODECDA",
            "X-MSS-CODECDA lists the CDA header code of each CDA in the XDM, absent otherwise",
            "error",
            False,
            "SC.MSS/CONF.15 (Ref #2 §3.8)",
        ),
        Rule(
            "MSS.INS",
            "X-MSS-INS is O when the XDM holds a qualified INS, N otherwise, absent without CDA",
            "error",
            False,
            "SC.MSS/CONF.14 (Ref #2 §3.8)",
        ),
        Rule(
            # Flagged, not refused: Mon espace santé is not known to refuse such a message; it only understands
            # FIN, so the conversation stays open (app/mss/citizen.py). An error of the sender all the same.
            "MSS.MES",
            "X-MSS-MES, when present, is exactly FIN",
            "error",
            False,
            "SC.MSS/CONF.21 (requirement row 35); ENS MES Messagerie v1.3",
        ),
        Rule(
            "MSS.MES.TARGET",
            "X-MSS-MES: FIN is only sent to patient mailboxes",
            "warning",
            False,
            "SC.MSS/CONF.21; ENS MES Messagerie v1.3",
        ),
        Rule(
            "MSS.MES.REPLY",
            "A patient cannot reply to a conversation closed with X-MSS-MES: FIN or [FIN] in a subject",
            "error",
            True,
            "SC.MSS/CONF.21; ENS MES Messagerie v1.3; esante.gouv.fr FAQ Mon espace santé",
            reply="550 5.7.1",
        ),
        Rule(
            "MSS.MES.START",
            "A patient writes only within a conversation a professional opened, or first to the organisational "
            "mailbox of a pharmacy that recently dispensed to them",
            "error",
            True,
            "esante.gouv.fr FAQ Mon espace santé; pharmacy exception of May 2023 (segur-requirements.md §4.5)",
            reply="550 5.7.1",
        ),
        Rule(
            "MSS.PATIENT.XDM",
            "A mail to a patient carries documents of that patient only",
            "error",
            False,
            "ECO.2.1.1 (SC.MSS/CONF.23); SC.MSS/va1.19",
        ),
        Rule(
            "XDM.SAFE",
            "IHE_XDM.ZIP is not an attack (zip bomb, path traversal, XML entities)",
            "error",
            True,
            "Sandbox policy (operators scan attachments); IHE ITI TF-1 §16",
            reply="554 5.7.0",
        ),
        Rule(
            "XDM.READABLE",
            "IHE_XDM.ZIP is a readable zip with IHE_XDM/SUBSET01/METADATA.XML",
            "error",
            False,
            "IHE ITI TF-1 §16.1; Ref #2 §3.1 (mss.md §4)",
            reply="554 5.6.0",
        ),
        Rule(
            "XDM.LAYOUT",
            "INDEX.HTM and README.TXT at the root of IHE_XDM.ZIP",
            "warning",
            False,
            "IHE ITI TF-1 §16.1.2",
        ),
        Rule(
            "XDM.METADATA",
            "METADATA.XML is consistent with the documents (hash, size, URI, patientId)",
            "error",
            False,
            "IHE ITI TF-3 §4.2 (XDM metadata)",
        ),
        Rule(
            "XDM.ONE_PATIENT",
            "One XDM concerns one patient only",
            "error",
            False,
            "ECO.2.1.1 (SC.MSS/CONF.23)",
        ),
        Rule(
            "XDM.INS_KNOWN",
            "The XDM patientId is an INS known to the INS service",
            "warning",
            False,
            "ECO.2.1.2 (SC.MSS/CONF.24); SC.INS/va1.05",
        ),
        Rule(
            "XDM.NAME",
            "A zip carrying health documents is named IHE_XDM.ZIP",
            "warning",
            False,
            "Ref #2 §3.1 (mss.md §4)",
        ),
        Rule(
            "XDM.PDF", "Health documents also travel as PDF", "warning", False, "ECO.2.1.1 (SC.MSS/CONF.23)"
        ),
        Rule(
            "MSG.SUBJECT",
            "Subject of a health-document mail is XDM/1.0/DDM+<label> <NAME> <first name> <birth date>",
            "warning",
            False,
            "ECO.2.1.3 (SC.MSS/CONF.25); IHE ITI TF-1 §16",
        ),
        Rule(
            "MSG.MESSAGE_ID",
            "Message-ID present (RFC 5322)",
            "warning",
            False,
            "SC.MSS/va1.08; RFC 5322 §3.6.4",
        ),
        Rule("MSG.HEADERS", "From and Date present (RFC 5322 §3.6)", "error", False, "RFC 5322 §3.6"),
        Rule("MSG.FROM_NAME", "From carries a meaningful display name", "warning", False, "SC.MSS/va1.16"),
        Rule(
            "MSG.BODY",
            "Body is text/plain, or multipart/alternative with text and HTML",
            "warning",
            False,
            "SC.MSS/va1.11",
        ),
        Rule("MSG.UTF8", "Text parts are UTF-8 (or plain ASCII)", "warning", False, "ECO.2.2.3 (Ref #2)"),
        Rule(
            "MIME.WELLFORMED",
            "MIME structure and transfer encodings are well formed (base64, boundaries)",
            "error",
            False,
            "RFC 2045, RFC 2046",
            reply="554 5.6.0",
        ),
    ]
}

ENFORCEABLE = set(RULES)


def enforced_rules(extra: Iterable[str] = ()) -> set[str]:
    return {r.id for r in RULES.values() if r.enforced} | {e for e in extra if e in RULES}
