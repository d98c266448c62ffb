"""MSSanté rows 24, 25, 27, 28, 39, 46 from the sessions' and messages' facts (the rest of the MSS rows
read the message checks: :func:`.common.from_checks`). Sources: Squash export (SC.MSS/CONF.*, va1.19); ENS
MES v1.3 for the size. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.conformance.model import Entry, Verdict
from app.conformance.rules.common import (
    mail_sessions,
    messages,
    normalise,
    patient_recipients,
    returned_matricules,
    without_insi,
)

TLS_VERSIONS = frozenset({"TLSv1.2", "TLSv1.3"})
ALLOWED_CIPHERS = re.compile(r"(ECDHE|DHE)-RSA-AES(128|256)-(GCM-SHA256|GCM-SHA384|SHA256|SHA384)")
"""SC.MSS/CONF.03: ECDHE/DHE-RSA with AES-GCM or CBC and SHA-256/384 (OpenSSL names)."""
TLS13_CIPHERS = frozenset({"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"})
"""TLS 1.3 AES-GCM suites (always ECDHE or DHE): accepted as the same family; the REM names TLS 1.2 suites."""
PATIENT_MAX_BYTES = 25 * 1024 * 1024
"""ENS MES v1.3: 25 Mo per message to Mon espace santé, in total, counted in MiB as app/mss/citizen.py does."""


def _secured(entries: Sequence[Entry]) -> list[Entry]:
    return [e for e in mail_sessions(entries) if e.fact("tls_version")]


def tls_version(entries: Sequence[Entry]) -> Verdict:
    """Row 24, SC.MSS/CONF.01/.02: TLS 1.2 or later on SMTP and IMAP."""
    sessions = _secured(entries)
    if not sessions:
        return Verdict.not_exercised("no SMTP/IMAP session over TLS by this client")
    old = [e for e in sessions if e.fact("tls_version") not in TLS_VERSIONS]
    if old:
        return Verdict.failed(f"TLS below 1.2: {', '.join(sorted({str(e.fact('tls_version')) for e in old}))}", old)
    versions = sorted({str(e.fact("tls_version")) for e in sessions})
    return Verdict.passed(f"{len(sessions)} sessions over {', '.join(versions)}", sessions)


def cipher_suite(entries: Sequence[Entry]) -> Verdict:
    """Row 25, SC.MSS/CONF.03: the negotiated suite is an allowed one (refusing weak DH/EC groups the
    sandbox would offer needs a scenario hook and is not checked)."""
    sessions = _secured(entries)
    if not sessions:
        return Verdict.not_exercised("no SMTP/IMAP session over TLS by this client")
    weak = [e for e in sessions if not (str(e.fact("tls_cipher")) in TLS13_CIPHERS
                                        or ALLOWED_CIPHERS.fullmatch(str(e.fact("tls_cipher"))))]
    if weak:
        return Verdict.failed(f"cipher suites outside the allowed set: "
                              f"{', '.join(sorted({str(e.fact('tls_cipher')) for e in weak}))}", weak)
    ciphers = sorted({str(e.fact("tls_cipher")) for e in sessions})
    return Verdict.passed(f"{len(sessions)} sessions with {', '.join(ciphers)}", sessions)


def starttls_first(entries: Sequence[Entry]) -> Verdict:
    """Row 27, SC.MSS/CONF.05/.06: TLS (STARTTLS or implicit) before any AUTH/LOGIN or MAIL command."""
    sessions = mail_sessions(entries)
    if not sessions:
        return Verdict.not_exercised("no SMTP/IMAP session reaching authentication or MAIL by this client")
    clear = [e for e in sessions if not e.fact("starttls_before_auth")]
    if clear:
        kinds = sorted({e.protocol.upper() for e in clear})
        return Verdict.failed(f"{len(clear)} {'/'.join(kinds)} sessions authenticated or sent MAIL before STARTTLS",
                              clear)
    return Verdict.passed(f"{len(sessions)} sessions secured before authenticating", sessions)


def xoauth2(entries: Sequence[Entry]) -> Verdict:
    """Row 28, SC.MSS/CONF.07: the XOAUTH2 string is exactly ``user=..^Aauth=Bearer ..^A^A`` and the token a
    valid sandbox PSC token of the mailbox holder (the authentication succeeded)."""
    sessions = [e for e in entries if e.protocol in ("smtp", "imap") and e.method == "SESSION"
                and "xoauth2_well_formed" in e.facts]
    if not sessions:
        return Verdict.not_exercised("no SASL XOAUTH2 authentication by this client")
    malformed = [e for e in sessions if not e.fact("xoauth2_well_formed")]
    if malformed:
        return Verdict.failed(f"{len(malformed)} XOAUTH2 strings not of the form user=<mailbox>^Aauth=Bearer "
                              "<token>^A^A", malformed)
    refused = [e for e in sessions if e.fact("auth_ok") is False]
    if refused:
        return Verdict.failed(f"{len(refused)} XOAUTH2 authentications refused (token not valid for the mailbox)",
                              refused)
    return Verdict.passed(f"{len(sessions)} well-formed XOAUTH2 authentications", sessions)


def patient_address_from_insi(entries: Sequence[Entry], *, insi_identity: bool = False) -> Verdict:
    """Row 39, SC.MSS/va1.19 (ECO.2.2.6): each ``@patient.mssante.fr`` local part is a 15-digit matricule this
    client got from INSi."""
    sent = [e for e in messages(entries) if patient_recipients(e)]
    if not sent:
        return Verdict.not_exercised("no message to a patient mailbox (@patient.mssante.fr) by this client")
    if (unjoined := without_insi(entries, insi_identity=insi_identity)) is not None:
        return unjoined
    known = returned_matricules(entries)
    wrong = [e for e in sent if any(
        not re.fullmatch(r"[0-9]{15}", r.split("@")[0]) or normalise(r.split("@")[0]) not in known
        for r in patient_recipients(e))]
    if wrong:
        shown = sorted({r for e in wrong for r in patient_recipients(e)})
        return Verdict.failed(f"patient addresses not from a matricule INSi returned: {', '.join(shown[:5])}", wrong)
    return Verdict.passed(f"{len(sent)} messages to patient mailboxes named by INSi matricules", sent)


def patient_size(entries: Sequence[Entry]) -> Verdict:
    """Row 46, ENS MES v1.3: messages to patient mailboxes stay within 25 MB in total, as sent. Decided on the
    accepted messages with a patient recipient, by the size their DATA entry records (and the MES bounce for
    size it notes: ``mes_bounces``); a refusal by the sandbox's own SMTP limit (``MSS:size``) is no message to a
    patient."""
    sent = [e for e in messages(entries) if patient_recipients(e) and e.outcome == "ok" and e.fact("size") is not None]
    if not sent:
        return Verdict.not_exercised("no message to a patient mailbox (@patient.mssante.fr) by this client")
    too_big = [e for e in sent if int(e.fact("size")) > PATIENT_MAX_BYTES
               or "size" in (e.fact("mes_bounces") or {}).values()]
    if too_big:
        largest = max(int(e.fact("size")) for e in too_big)
        return Verdict.failed(f"{len(too_big)} of {len(sent)} messages to patients over 25 MB "
                              f"({PATIENT_MAX_BYTES} bytes; largest {largest}), bounced by Mon espace santé", too_big)
    return Verdict.passed(f"{len(sent)} messages to patient mailboxes within 25 MB", sent)
