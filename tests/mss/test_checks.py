"""The MSSanté message checks (pure): each rule's findings, flagged or enforced."""

from __future__ import annotations

import base64

from app.mss import checks, mime
from tests.mss.helpers import SAMPLE_INS, build_message, cda_without_traits, rezip, sample_xdm


def report_for(raw: bytes, *, recipients=None, known_ins=None, **kwargs):
    parsed = mime.parse_message(raw)
    attachments = checks.read_xdm_attachments(parsed)
    recipients = recipients or [checks.Recipient("marie.durand@hopital-a.mssante.fr", "PER")]
    return checks.run_checks(parsed, recipients=recipients, xdm=attachments, known_ins=known_ins, **kwargs)


def status(report, rule):
    return next(f.status for f in report.findings if f.rule == rule)


def test_every_rule_reported_once_with_its_source():
    report = report_for(build_message())
    assert sorted(f.rule for f in report.findings) == sorted(checks.RULES)
    for item in report.to_dict()["findings"]:
        assert item["source"] and item["severity"] in ("error", "warning", "info")


def test_conformant_message_with_xdm():
    raw = build_message(xdm_bytes=sample_xdm())
    report = report_for(raw, known_ins={SAMPLE_INS})
    assert report.failures == [], [f.message for f in report.failures]
    assert status(report, "MSS.CODECDA") == "pass"
    assert status(report, "MSS.INS") == "pass"
    assert status(report, "XDM.INS_KNOWN") == "pass"
    assert report.refusal is None
    assert report.to_dict()["conformant"] is True


def test_plain_message_without_xdm():
    report = report_for(build_message(subject="Bonjour"))
    assert report.failures == []
    assert status(report, "MSS.CODECDA") == "pass"
    assert status(report, "XDM.SAFE") == "not_applicable"


def test_missing_nil_flagged_not_enforced():
    report = report_for(build_message(nil=None))
    assert status(report, "MSS.NIL") == "fail"
    assert report.refusal is None
    assert report.to_dict()["conformant"] is False


def test_missing_nil_enforced_when_configured():
    report = report_for(build_message(nil=None), extra_enforced=["MSS.NIL"])
    refusal = report.refusal
    assert refusal is not None and refusal[0].id == "MSS.NIL"


def test_codecda_missing_or_wrong():
    raw = build_message(xdm_bytes=sample_xdm(), auto_headers=False)
    report = report_for(raw)
    assert status(report, "MSS.CODECDA") == "fail"
    assert status(report, "MSS.INS") == "fail"
    raw = build_message(xdm_bytes=sample_xdm(), headers={"X-MSS-CODECDA": "34112-3"})
    assert status(report_for(raw), "MSS.CODECDA") == "fail"


def test_codecda_without_xdm():
    raw = build_message(headers={"X-MSS-CODECDA": "11488-4", "X-MSS-INS": "O"})
    report = report_for(raw)
    assert status(report, "MSS.CODECDA") == "fail"
    assert status(report, "MSS.INS") == "fail"


def test_ins_o_without_qualified_ins():
    raw = build_message(xdm_bytes=sample_xdm(cda_without_traits()), headers={"X-MSS-INS": "O"})
    report = report_for(raw)
    assert status(report, "MSS.INS") == "fail"
    raw = build_message(xdm_bytes=sample_xdm(cda_without_traits()))
    assert status(report_for(raw), "MSS.INS") == "pass"  # auto header says N


def test_ins_bad_value():
    raw = build_message(xdm_bytes=sample_xdm(), headers={"X-MSS-INS": "oui"})
    assert status(report_for(raw), "MSS.INS") == "fail"


def test_mes_fin_only_to_patients():
    raw = build_message(headers={"X-MSS-MES": "FIN"})
    assert status(report_for(raw), "MSS.MES.TARGET") == "fail"
    assert status(report_for(raw), "MSS.MES") == "pass"
    patient = [checks.Recipient(f"{SAMPLE_INS}@patient.mssante.fr", "PATIENT", SAMPLE_INS)]
    assert status(report_for(raw, recipients=patient), "MSS.MES.TARGET") == "pass"
    assert status(report_for(raw, recipients=patient), "MSS.MES") == "pass"
    raw = build_message(headers={"X-MSS-MES": "fin"})
    assert status(report_for(raw, recipients=patient), "MSS.MES") == "fail"
    assert checks.RULES["MSS.MES"].severity == "error" and not checks.RULES["MSS.MES"].enforced


def test_patient_reply_to_closed_conversation_is_refused():
    report = report_for(build_message(), sender_is_patient=True, replies_to_closed_conversation=True)
    refusal = report.refusal
    assert refusal is not None and refusal[0].id == "MSS.MES.REPLY" and refusal[0].reply.startswith("550")


def test_xdm_of_another_patient_to_a_patient():
    raw = build_message(xdm_bytes=sample_xdm())
    other = [checks.Recipient("297022A02077878@patient.mssante.fr", "PATIENT", "297022A02077878")]
    assert status(report_for(raw, recipients=other), "MSS.PATIENT.XDM") == "fail"


def test_unknown_ins_flagged():
    raw = build_message(xdm_bytes=sample_xdm())
    assert status(report_for(raw, known_ins=set()), "XDM.INS_KNOWN") == "fail"


def test_unsafe_xdm_refused():
    evil = rezip(sample_xdm(), add={"../evil": b"x"})
    report = report_for(build_message(xdm_bytes=evil, auto_headers=False))
    refusal = report.refusal
    assert refusal is not None and refusal[0].id == "XDM.SAFE"
    assert refusal[0].reply == "554 5.7.0"


def test_truncated_xdm_flagged_not_refused():
    report = report_for(build_message(xdm_bytes=sample_xdm()[:200], auto_headers=False))
    assert status(report, "XDM.READABLE") == "fail"
    assert report.refusal is None


def test_layout_warning():
    archive = rezip(sample_xdm(), drop=("INDEX.HTM",))
    report = report_for(build_message(xdm_bytes=archive))
    assert status(report, "XDM.LAYOUT") == "fail"


def test_subject_prefix_and_misnamed_zip():
    raw = build_message(xdm_bytes=sample_xdm(), subject="Compte rendu")
    assert status(report_for(raw), "MSG.SUBJECT") == "fail"
    raw = raw.replace(b'filename="IHE_XDM.ZIP"', b'filename="docs.zip"')
    report = report_for(raw)
    assert status(report, "XDM.NAME") == "fail"
    assert status(report, "XDM.SAFE") == "not_applicable"


def test_from_display_name_and_message_id():
    raw = build_message(sender="jean.martin@medecin.mssante.fr")
    assert status(report_for(raw), "MSG.FROM_NAME") == "fail"
    raw = b"\r\n".join(line for line in raw.split(b"\n") if not line.startswith(b"Message-ID")).replace(
        b"\r\r", b"\r"
    )
    parsed = mime.parse_message(raw)
    assert parsed.message_id is None


def test_broken_base64_flagged():
    good = build_message(xdm_bytes=sample_xdm())
    encoded = base64.encodebytes(sample_xdm()).decode().replace("\n", "\r\n")
    first_line = encoded.split("\r\n")[0]
    broken = good.replace(first_line.encode(), b"!!!not*base64@@@" + first_line.encode()[:20], 1)
    parsed = mime.parse_message(broken)
    assert any(p.defects for p in parsed.parts)
    report = report_for(broken)
    assert status(report, "MIME.WELLFORMED") == "fail"


def test_body_shape():
    raw = build_message()
    assert status(report_for(raw), "MSG.BODY") == "pass"
    html = raw.replace(b"Content-Type: text/plain", b"Content-Type: text/html")
    assert status(report_for(html), "MSG.BODY") == "fail"


def test_charset_check():
    raw = build_message().replace(b'charset="utf-8"', b'charset="iso-8859-1"')
    assert status(report_for(raw), "MSG.UTF8") == "fail"


def test_subject_names_the_patient():
    ok = build_message(xdm_bytes=sample_xdm(), subject="XDM/1.0/DDM+CR consultation ADRUN Zoe 31/12/1975")
    assert status(report_for(ok), "MSG.SUBJECT") == "pass"
    no_label = build_message(xdm_bytes=sample_xdm(), subject="XDM/1.0/DDM+ ADRUN ZOE 19751231")
    assert status(report_for(no_label), "MSG.SUBJECT") == "pass"
    missing = build_message(xdm_bytes=sample_xdm(), subject="XDM/1.0/DDM+Compte rendu ADRUN")
    report = report_for(missing)
    assert status(report, "MSG.SUBJECT") == "fail"
    message = next(f.message for f in report.findings if f.rule == "MSG.SUBJECT")
    assert "first name ZOE" in message and "birth date" in message
