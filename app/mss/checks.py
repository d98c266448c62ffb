"""MSSanté message checks, reported per message. Pure: the caller gathers what needs the store
(recipient mailbox kinds, which INS the INS service knows, whether a patient replies to a closed
conversation) and passes it in.

Each rule has a stable id, a severity, whether it is *enforced* (the message is refused, with the
SMTP reply given) or only *flagged* (accepted; the finding is stored and shown by the API), and the
source it comes from (requirement ids of the Ségur REM / Référentiel socle MSSanté #2, RFCs, IHE).
The enforced set can be widened with the setting ``SEGUR_MSS_ENFORCED_CHECKS`` (comma-separated ids),
so a CI job can turn "flagged" rules into hard failures.

The rules themselves (ids, severities, replies, sources) are the catalogue :mod:`app.mss.rules`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message

from app.mss.citizen import PatientRefusal, PatientSendVerdict
from app.mss.mime import ParsedMessage, Part
from app.mss.rules import RULES, Rule, enforced_rules
from app.mss.xdm import DEFAULT_LIMITS, XdmError, XdmLimits, XdmPackage, read_xdm


@dataclass
class Finding:
    rule: str
    status: str  # "pass" | "fail" | "not_applicable"
    message: str

    def to_dict(self, enforced: set[str]) -> dict:
        rule = RULES[self.rule]
        return {
            "id": self.rule,
            "status": self.status,
            "severity": rule.severity,
            "enforced": self.rule in enforced,
            "title": rule.title,
            "message": self.message,
            "source": rule.source,
        }


@dataclass
class Recipient:
    address: str
    kind: str | None  # PER, CAB, ORG, APP, PATIENT; None when not a mailbox of the sandbox
    patient_ins: str | None = None


@dataclass
class XdmAttachment:
    part: Part
    package: XdmPackage | None
    error: XdmError | None


@dataclass
class CheckReport:
    findings: list[Finding]
    enforced: set[str] = field(default_factory=set)

    @property
    def refusal(self) -> tuple[Rule, Finding] | None:
        """The first failing enforced rule, if any."""
        for finding in self.findings:
            if finding.status == "fail" and finding.rule in self.enforced:
                return RULES[finding.rule], finding
        return None

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "fail"]

    def summary(self) -> dict[str, int]:
        counts = {"pass": 0, "fail": 0, "not_applicable": 0, "errors": 0, "warnings": 0}
        for f in self.findings:
            counts[f.status] += 1
            if f.status == "fail":
                counts["errors" if RULES[f.rule].severity == "error" else "warnings"] += 1
        return counts

    def to_dict(self) -> dict:
        return {
            "conformant": not any(RULES[f.rule].severity == "error" for f in self.failures),
            "summary": self.summary(),
            "findings": [f.to_dict(self.enforced) for f in self.findings],
        }


XDM_SUBJECT_PREFIX = "XDM/1.0/DDM"
_CODE_SPLIT = re.compile(r"\s*,\s*")


def run_checks(
    parsed: ParsedMessage,
    *,
    recipients: list[Recipient],
    xdm: list[XdmAttachment],
    known_ins: set[str] | None = None,
    replies_to_closed_conversation: bool = False,
    sender_is_patient: bool = False,
    patient_verdict: PatientSendVerdict | None = None,
    extra_enforced: Iterable[str] = (),
) -> CheckReport:
    findings: list[Finding] = []

    def add(rule: str, ok: bool | None, message: str) -> None:
        status = "not_applicable" if ok is None else ("pass" if ok else "fail")
        findings.append(Finding(rule, status, message))

    packages = [a.package for a in xdm if a.package is not None]
    cda_codes = [c for p in packages for c in p.cda_codes]
    has_cda = bool(cda_codes)

    # --- MSSanté headers ----------------------------------------------------------------------
    nil = (parsed.header("X-MSS-NIL") or "").strip()
    add("MSS.NIL", bool(nil), f"X-MSS-NIL: {nil}" if nil else "X-MSS-NIL is missing or empty")

    codecda = parsed.header("X-MSS-CODECDA")
    if codecda is None:
        add(
            "MSS.CODECDA",
            not has_cda,
            "no X-MSS-CODECDA and no CDA in the XDM"
            if not has_cda
            else f"X-MSS-CODECDA missing; the XDM carries CDA code(s) {','.join(cda_codes)}",
        )
    elif not has_cda:
        add("MSS.CODECDA", False, f"X-MSS-CODECDA: {codecda.strip()} but no CDA in an IHE_XDM.ZIP")
    else:
        declared = sorted(c for c in _CODE_SPLIT.split(codecda.strip()) if c)
        add(
            "MSS.CODECDA",
            declared == sorted(cda_codes),
            f"X-MSS-CODECDA: {codecda.strip()}; CDA header code(s) in the XDM: {','.join(cda_codes)}",
        )

    mss_ins = parsed.header("X-MSS-INS")
    if mss_ins is None:
        add(
            "MSS.INS",
            not has_cda,
            "no X-MSS-INS and no CDA in the XDM"
            if not has_cda
            else "X-MSS-INS missing though the XDM holds a CDA",
        )
    elif not has_cda:
        add("MSS.INS", False, f"X-MSS-INS: {mss_ins.strip()} but no CDA in an IHE_XDM.ZIP")
    else:
        expected = "O" if any(p.has_qualified_ins for p in packages) else "N"
        value = mss_ins.strip()
        if value not in ("O", "N"):
            add("MSS.INS", False, f"X-MSS-INS must be O or N, got {value!r}")
        else:
            add(
                "MSS.INS",
                value == expected,
                f"X-MSS-INS: {value}; the XDM "
                f"{'holds' if expected == 'O' else 'does not hold'} a qualified INS "
                "(matricule + OID + birth name, first birth first-name (given qualifier=BR), birth date, sex)",
            )

    mes = parsed.header("X-MSS-MES")
    to_patient = [r for r in recipients if r.kind == "PATIENT"]
    if mes is None:
        add("MSS.MES", None, "no X-MSS-MES")
        add("MSS.MES.TARGET", None, "no X-MSS-MES")
    elif mes.strip() != "FIN":
        add("MSS.MES", False, f"X-MSS-MES must be exactly FIN (three capital letters), got {mes.strip()!r}: "
                              "Mon espace santé does not close the conversation")
        add("MSS.MES.TARGET", None, "X-MSS-MES is not FIN")
    else:
        add("MSS.MES", True, "X-MSS-MES: FIN")
        if len(to_patient) != len(recipients):
            others = [r.address for r in recipients if r.kind != "PATIENT"]
            add("MSS.MES.TARGET", False,
                f"X-MSS-MES: FIN is meant for patient mailboxes only; also sent to {', '.join(others)}")
        else:
            add("MSS.MES.TARGET", True, "X-MSS-MES: FIN towards patient mailbox(es)")

    # ENS MES v1.3, esante.gouv.fr FAQ: what a patient may send (the verdict comes from app.mss.patients).
    if patient_verdict is not None:
        closed = patient_verdict.refusal is PatientRefusal.CLOSED
        started = patient_verdict.refusal is PatientRefusal.START
        add("MSS.MES.REPLY", not closed, patient_verdict.message if closed else "not a reply to a closed conversation")
        add("MSS.MES.START", not started, patient_verdict.message)
    else:
        add(
            "MSS.MES.REPLY",
            None if not sender_is_patient else not replies_to_closed_conversation,
            "the patient replies to a conversation closed with X-MSS-MES: FIN"
            if replies_to_closed_conversation
            else "not a patient reply to a closed conversation",
        )
        add("MSS.MES.START", None, "not sent by a patient mailbox")

    if to_patient and packages:
        wrong = [
            (r.address, p.id)
            for r in to_patient
            for pkg in packages
            for p in pkg.patient_ids
            if r.patient_ins and p.id != r.patient_ins
        ]
        add(
            "MSS.PATIENT.XDM",
            not wrong,
            "documents concern the recipient patient"
            if not wrong
            else "; ".join(f"{addr} receives documents of patient {pid}" for addr, pid in wrong),
        )
    else:
        add("MSS.PATIENT.XDM", None, "no XDM sent to a patient mailbox")

    # --- XDM ----------------------------------------------------------------------------------
    unsafe = [a for a in xdm if a.error is not None and a.error.unsafe]
    broken = [a for a in xdm if a.error is not None and not a.error.unsafe]
    if not xdm:
        for rule in (
            "XDM.SAFE",
            "XDM.READABLE",
            "XDM.LAYOUT",
            "XDM.METADATA",
            "XDM.ONE_PATIENT",
            "XDM.INS_KNOWN",
            "XDM.PDF",
        ):
            add(rule, None, "no IHE_XDM.ZIP attached")
    else:
        add(
            "XDM.SAFE",
            not unsafe,
            "IHE_XDM.ZIP passed the safety checks"
            if not unsafe
            else "; ".join(f"{a.error.code}: {a.error.message}" for a in unsafe if a.error),
        )
        add(
            "XDM.READABLE",
            not broken,
            "IHE_XDM.ZIP readable"
            if not broken
            else "; ".join(f"{a.error.code}: {a.error.message}" for a in broken if a.error),
        )
        if packages:
            layout = [i for p in packages for i in p.issues if i.code.startswith("xdm.layout")]
            add(
                "XDM.LAYOUT",
                not layout,
                "; ".join(i.message for i in layout) or "INDEX.HTM, README.TXT present",
            )
            meta = [
                i
                for p in packages
                for i in p.issues
                if not i.code.startswith("xdm.layout") and i.code != "xdm.patient.several"
            ]
            add("XDM.METADATA", not meta, "; ".join(i.message for i in meta) or "metadata consistent")
            patients = {pid.id for p in packages for pid in p.patient_ids}
            add(
                "XDM.ONE_PATIENT",
                len(patients) <= 1,
                f"patient(s) in the XDM: {', '.join(sorted(patients)) or 'none'}",
            )
            ins_ids = {pid.id for p in packages for pid in p.patient_ids if pid.is_ins}
            if known_ins is None or not ins_ids:
                add(
                    "XDM.INS_KNOWN",
                    None,
                    "no INS patientId in the XDM" if not ins_ids else "INS lookup not performed",
                )
            else:
                unknown = sorted(ins_ids - known_ins)
                add(
                    "XDM.INS_KNOWN",
                    not unknown,
                    f"INS unknown to the INS service: {', '.join(unknown)}"
                    if unknown
                    else f"INS known: {', '.join(sorted(ins_ids))}",
                )
            pdf_inside = any(
                (d.mime_type or "").lower() == "application/pdf" for p in packages for d in p.documents
            )
            pdf_outside = any(pt.content_type == "application/pdf" for pt in parsed.parts)
            add(
                "XDM.PDF",
                pdf_inside or pdf_outside,
                "PDF present" if pdf_inside or pdf_outside else "no PDF rendering of the documents",
            )
        else:
            for rule in ("XDM.LAYOUT", "XDM.METADATA", "XDM.ONE_PATIENT", "XDM.INS_KNOWN", "XDM.PDF"):
                add(rule, None, "IHE_XDM.ZIP could not be read")

    misnamed = [p for p in parsed.parts if p.looks_like_zip and not p.is_xdm]
    add(
        "XDM.NAME",
        not misnamed if misnamed else None,
        f"zip attachment(s) not named IHE_XDM.ZIP: {', '.join(p.filename or '?' for p in misnamed)}"
        if misnamed
        else "no other zip attachment",
    )

    # --- message ------------------------------------------------------------------------------
    subject = parsed.subject.strip()
    if xdm:
        missing = [] if subject.startswith(XDM_SUBJECT_PREFIX) else [f"the {XDM_SUBJECT_PREFIX} prefix"]
        missing += _missing_identity(subject, packages)
        add("MSG.SUBJECT", not missing,
            f"Subject: {subject!r}" + (f"; missing: {', '.join(missing)}" if missing else ""))
    else:
        add("MSG.SUBJECT", None, "no XDM attached")
    add("MSG.MESSAGE_ID", bool(parsed.message_id), parsed.message_id or "Message-ID missing")
    missing = [h for h in ("From", "Date") if not parsed.header(h)]
    add(
        "MSG.HEADERS",
        not missing,
        "From and Date present" if not missing else f"missing: {', '.join(missing)}",
    )
    display, address = parsed.from_address
    add(
        "MSG.FROM_NAME",
        bool(display.strip()) if address else None,
        f"From display name {display!r}" if display.strip() else f"From <{address}> has no display name",
    )
    body = _body_shape(parsed)
    add("MSG.BODY", body is None, body or "text/plain or multipart/alternative body")
    non_utf8 = [
        p
        for p in parsed.parts
        if p.content_type.startswith("text/")
        and not p.is_attachment
        and (p.charset or "us-ascii").lower() not in ("utf-8", "us-ascii", "utf8")
    ]
    add(
        "MSG.UTF8",
        not non_utf8,
        "text parts in UTF-8"
        if not non_utf8
        else f"text part(s) in {', '.join(p.charset or '?' for p in non_utf8)}",
    )
    mime_defects = list(parsed.defects) + [f"part {p.index}: {d}" for p in parsed.parts for d in p.defects]
    if parsed.truncated:
        mime_defects.append("structure too deep or too many parts: not fully inspected")
    add(
        "MIME.WELLFORMED",
        not mime_defects,
        "no MIME defect" if not mime_defects else "; ".join(mime_defects[:10]),
    )

    return CheckReport(findings=findings, enforced=enforced_rules(extra_enforced))


_DATE_DIGITS = re.compile(r"[0-9]{8}")


def _date_forms(value: str) -> set[str]:
    digits = value[:8]
    if not _DATE_DIGITS.fullmatch(digits):
        return {value}
    y, m, d = digits[:4], digits[4:6], digits[6:8]
    return {digits, f"{d}/{m}/{y}", f"{y}-{m}-{d}", f"{d}-{m}-{y}", f"{d}.{m}.{y}"}


def _missing_identity(subject: str, packages: list[XdmPackage]) -> list[str]:
    """ECO.2.1.3: after the prefix come the label (optional), the patient's NAME, first name and birth
    date, which the sandbox takes from the first CDA header that has them (any usual date layout): the
    INS reference traits, birth name (``family qualifier="BR"``) and first birth first-name (``given
    qualifier="BR"``), not the list of first names nor the used names (xdm.read_patient_names)."""
    for package in packages:
        for doc in package.cda_documents:
            cda = doc.cda
            if cda is None or not (cda.birth_name and cda.first_given_name and cda.birth_date):
                continue
            folded = subject.casefold()
            missing = []
            if cda.birth_name.casefold() not in folded:
                missing.append(f"the name {cda.birth_name}")
            if cda.first_given_name.casefold() not in folded:
                missing.append(f"the first name {cda.first_given_name}")
            if not any(form in subject for form in _date_forms(cda.birth_date)):
                missing.append(f"the birth date {cda.birth_date}")
            return missing
    return []


def _first_child(node: Message) -> Message | None:
    payload = node.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return None


def _body_shape(parsed: ParsedMessage) -> str | None:
    """None when SC.MSS/va1.11 holds, else what is wrong."""
    msg = parsed.message
    ctype = msg.get_content_type()
    if ctype in ("text/plain", "multipart/alternative"):
        return None
    if ctype.startswith("multipart/"):
        first = _first_child(msg)
        while first is not None and first.get_content_type() in ("multipart/mixed", "multipart/related"):
            first = _first_child(first)
        if first is not None and first.get_content_type() in ("text/plain", "multipart/alternative"):
            return None
        return f"first body part is {first.get_content_type() if first is not None else 'missing'}"
    return f"body is {ctype}"


def read_xdm_attachments(parsed: ParsedMessage, limits: XdmLimits = DEFAULT_LIMITS) -> list[XdmAttachment]:
    """Read every ``IHE_XDM.ZIP`` attachment of ``parsed`` (never raises)."""
    out: list[XdmAttachment] = []
    for part in parsed.xdm_parts:
        try:
            out.append(XdmAttachment(part, read_xdm(parsed.payload(part), limits), None))
        except XdmError as exc:
            out.append(XdmAttachment(part, None, exc))
    return out
