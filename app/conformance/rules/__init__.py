"""One rule per requirement of the catalogue (its row number): ``evaluate(entries) -> Verdict``.

The rows the sandbox cannot decide yet say why, in the rule itself: ``S*`` rows need a scenario hook (the
sandbox must first provoke something: deliver an unknown INS, drop a session, ask for a receipt...); some
``S`` rows need facts the journal does not record yet, or a transaction the sandbox does not implement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.conformance.model import NEEDS_HOOK, Entry, Verdict
from app.conformance.rules import dmp, ins, ins_dmp, mss, psc
from app.conformance.rules.common import Rule, from_checks, unobserved

NO_METADATA = "the journal does not record the submitted documents' XDS metadata and CDA content yet"
NO_TD03 = "the sandbox's DMP does not implement the TD0.3 authorisation transaction"

RULES: dict[int, Rule] = {
    1: ins_dmp.insi_before_dmp,
    2: ins_dmp.dmp_ids_from_insi,
    3: ins.both_search_modes,
    4: unobserved(NEEDS_HOOK + " (deliver a document carrying an unknown INS, then expect an INSi verification)"),
    5: unobserved(NEEDS_HOOK + " (answer an INSi search with a 00 day/month or an empty birth name)"),
    6: ins.matricules_from_insi,
    7: ins.accepted_credential,
    8: ins.insi_with_psc,
    9: unobserved(NO_METADATA + " (typeCode, CDA header)"),
    10: unobserved(NO_METADATA + " (confidentialityCode)"),
    11: unobserved(NEEDS_HOOK + " (ask for a replacement or a deletion)"),
    12: unobserved(NO_METADATA + " (RPLC associations between lab reports)"),
    13: unobserved(NO_TD03),
    14: unobserved(NEEDS_HOOK + " (declare a patient's objection)"),
    15: dmp.named_professional,
    16: dmp.access_test_first,
    17: unobserved(NO_TD03),
    18: unobserved(NEEDS_HOOK + " (ask for a multi-criteria search); the journal does not record query criteria"),
    19: unobserved(NO_METADATA + " (serviceStartTime, serviceEvent)"),
    20: unobserved(NEEDS_HOOK + " (mark an author as gone from the RPPS)"),
    21: dmp.dmp_with_psc,
    22: unobserved(NO_METADATA + " (vaccination note content)"),
    23: unobserved("the sandbox does not emit HL7 v2 ADT messages (IHE PAM)"),
    24: mss.tls_version,
    25: mss.cipher_suite,
    26: unobserved(NEEDS_HOOK + ": an autoconfig fetch carries no client identity to tie it to this client"),
    27: mss.starttls_first,
    28: mss.xoauth2,
    29: unobserved(NEEDS_HOOK + " (invalidate the PSC refresh token, then watch the sessions)"),
    30: unobserved(NEEDS_HOOK + " (drop a session while its token is valid)"),
    31: unobserved("the journal does not record whether a mailbox is applicative (mTLS, then PLAIN)"),
    32: from_checks(("MSS.INS",), "X-MSS-INS, SC.MSS/CONF.14"),
    33: from_checks(("MSS.CODECDA",), "X-MSS-CODECDA, SC.MSS/CONF.15"),
    34: from_checks(("MSS.NIL",), "X-MSS-NIL, SC.MSS/CONF.16"),
    35: from_checks(("MSS.MES",), "X-MSS-MES, SC.MSS/CONF.21"),
    36: from_checks(("XDM.ONE_PATIENT", "XDM.NAME", "XDM.LAYOUT", "XDM.PDF", "MSS.PATIENT.XDM"),
                    "one patient, one IHE_XDM.ZIP, a PDF per CDA, SC.MSS/CONF.23"),
    37: from_checks(("MSG.SUBJECT",), "the XDM/1.0/DDM subject, ECO.2.1.3"),
    38: unobserved("the sandbox's message checks do not look at PDF attachment names yet"),
    39: mss.patient_address_from_insi,
    40: from_checks(("MSG.MESSAGE_ID",), "Message-ID, SC.MSS/va1.08 (In-Reply-To/References not checked)"),
    41: from_checks(("MSG.BODY",), "text/plain or multipart/alternative body, SC.MSS/va1.11"),
    42: from_checks(("MSG.FROM_NAME",), "a From display name, SC.MSS/va1.16"),
    43: unobserved(NEEDS_HOOK + " (ask for a delivery or read receipt)"),
    44: unobserved(NEEDS_HOOK + " (send a message asking for an MDN)"),
    45: unobserved(NO_METADATA + " (CDA relatedDocument between versions)"),
    46: mss.patient_size,
    47: psc.eidas1,
    48: psc.allowed_flow_and_logout,
    49: unobserved("the sandbox registers no client as Espace de Confiance and offers no mTLS at the token endpoint"),
}

INSI_JOINED: dict[int, Callable[..., Verdict]] = {
    1: ins_dmp.insi_before_dmp,
    2: ins_dmp.dmp_ids_from_insi,
    6: ins.matricules_from_insi,
    39: mss.patient_address_from_insi,
}
"""The rows that join INSi answers with another service: told whether the report names an INSi identity."""


def verdict_of(number: int, entries: Sequence[Entry], *, identities: Sequence[str] = ()) -> Verdict:
    """Row ``number``'s verdict on a report's entries, for a report naming ``identities``."""
    if number in INSI_JOINED:
        return INSI_JOINED[number](entries, insi_identity=any(i.startswith("ins:") for i in identities))
    return RULES[number](entries)
