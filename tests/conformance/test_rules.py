"""Each rule of app.conformance on hand-made journal entries: passing, failing, not exercised, edge cases.
Pure (no app, no store)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from app.conformance.catalogue import BY_NUMBER, CATALOGUE, SUITES
from app.conformance.model import Entry
from app.conformance.rules import RULES, verdict_of
from app.conformance.rules.dmp import generic_subject

_ids = itertools.count(1)
AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
NIR = "280069921700248"
OTHER = "190017512345678"
INS_OID = "1.2.250.1.213.1.4.8"


def entry(service: str, *, protocol: str = "http", method: str = "POST", rule: str | None = None,
          **facts: Any) -> Entry:
    return Entry(id=next(_ids), at=AT, service=service, protocol=protocol, method=method, rule=rule, facts=facts)


def insi(*matricules: str, mode: str = "traits", code: str = "00", credential: str = "cpx:CN=DOC") -> Entry:
    return entry("ins", insi_mode=mode, insi_code=code, matricules=list(matricules), credential=credential)


def dmp(transaction: str, patient: str | None = NIR, subject: str = "810001234567", psc: bool = False) -> Entry:
    return entry("dmp", transaction=transaction, patient_ins=patient, vihf_subject=subject, psc=psc)


def session(protocol: str = "smtp", *, tls: bool = True, version: str | None = "TLSv1.3",
            cipher: str | None = "TLS_AES_256_GCM_SHA384", **facts: Any) -> Entry:
    return entry("mss", protocol=protocol, method="SESSION", starttls_before_auth=tls,
                 tls_version=version if tls else None, tls_cipher=cipher if tls else None, **facts)


def mail(*recipients: str, checks: dict[str, str] | None = None, xdm_patients: list[str] | None = None,
         rule: str | None = None, **facts: Any) -> Entry:
    return entry("mss", protocol="smtp", method="DATA", rule=rule, recipients=list(recipients),
                 checks=checks or {}, xdm_patients=xdm_patients or [], **facts)


def psc(flow: str, acr: str | None = "eidas1") -> Entry:
    return entry("psc", method="GET", flow=flow, acr_values=acr)


def status(number: int, entries: list[Entry]) -> str:
    return RULES[number](entries).status


# --- the catalogue ----------------------------------------------------------------------------------------


def test_the_catalogue_holds_the_49_requirements_each_with_a_rule_and_a_suite() -> None:
    assert [r.number for r in CATALOGUE] == list(range(1, 50))
    assert set(RULES) == set(BY_NUMBER)
    assert {r.suite for r in CATALOGUE} == set(SUITES)
    assert BY_NUMBER[47].id == "SC.PSC.08 (EX PSC 16)" and BY_NUMBER[47].suite == "PSC"
    assert BY_NUMBER[1].suite == "INS" and BY_NUMBER[21].suite == "DMP" and BY_NUMBER[28].suite == "MSS"
    assert [r.number for r in CATALOGUE if r.hook] == [4, 5, 11, 14, 20, 29, 30, 43, 44]
    assert all(r.title and r.source and not r.title.startswith("S*") for r in CATALOGUE)


@pytest.mark.parametrize("number", range(1, 50))
def test_no_traffic_exercises_no_requirement(number: int) -> None:
    verdict = RULES[number]([])
    assert verdict.status == "not_exercised" and verdict.message and verdict.entries == ()


@pytest.mark.parametrize("number", [r.number for r in CATALOGUE if r.hook])
def test_the_rows_needing_a_scenario_hook_say_so_whatever_the_traffic(number: int) -> None:
    traffic = [insi(NIR), dmp("ITI-41"), session(), mail("a@b.fr"), psc("code")]
    verdict = RULES[number](traffic)
    assert verdict.status == "not_exercised" and "scenario hook" in verdict.message


# --- INS -> DMP -------------------------------------------------------------------------------------------


def test_row_1_insi_then_dmp_for_the_same_matricule_passes() -> None:
    first, call = insi(NIR), dmp("TD0.2")
    verdict = RULES[1]([first, call])
    assert verdict.status == "passed" and verdict.entries == (call.id,)


def test_row_1_dmp_before_insi_or_without_it_fails_naming_the_dmp_call() -> None:
    call = dmp("ITI-41")
    later = insi(NIR)
    verdict = RULES[1]([call, later])
    assert verdict.status == "failed" and verdict.entries == (call.id,) and NIR in verdict.message
    assert verdict_of(1, [dmp("TD0.2")], identities=[f"dmp:{LPS}", f"ins:{IDAM}"]).status == "failed"


LPS, IDAM = "LPS-01", "IDAM-01"


@pytest.mark.parametrize(("number", "traffic"), [
    (1, [dmp("TD0.2")]), (2, [dmp("TD0.2")]), (6, [mail(f"{NIR}@patient.mssante.fr")]),
    (6, [mail("dr@x.mssante.fr", xdm_patients=[f"{NIR}^^^&{INS_OID}&ISO"])]), (39, [mail(f"{NIR}@patient.mssante.fr")]),
])
def test_the_rows_joining_insi_are_not_exercised_without_insi_in_the_report(number: int, traffic: list[Entry]) -> None:
    """A report of one identity (no INSi entry, no ``ins:`` identity) cannot tell where the matricules came from:
    not exercised with the ``also=`` hint, not failed. With an INSi identity that never called INSi: failed."""
    alone = verdict_of(number, traffic, identities=["dmp:x"])
    assert alone.status == "not_exercised" and "also=ins:" in alone.message and alone == RULES[number](traffic)
    assert verdict_of(number, traffic, identities=["dmp:x", "ins:y"]).status == "failed"
    assert verdict_of(number, [insi(OTHER, mode="vitale"), *traffic]).status == "failed"


def test_row_1_counts_historical_matricules_but_not_answers_without_a_match() -> None:
    assert status(1, [insi(OTHER, NIR), dmp("TD0.2")]) == "passed"
    assert status(1, [insi(NIR, code="01"), dmp("TD0.2")]) == "failed"
    assert status(1, [insi(OTHER), dmp("TD0.2")]) == "failed"


def test_row_1_ignores_dmp_calls_naming_no_patient() -> None:
    assert status(1, [dmp("ITI-18", patient=None)]) == "not_exercised"


def test_row_2_every_dmp_patient_is_a_matricule_insi_returned_whenever() -> None:
    assert status(2, [dmp("TD0.2"), insi(NIR)]) == "passed"
    foreign = dmp("TD0.2", patient=OTHER)
    verdict = RULES[2]([insi(NIR), dmp("TD0.2"), foreign])
    assert verdict.status == "failed" and verdict.entries == (foreign.id,) and OTHER in verdict.message


# --- INS ---------------------------------------------------------------------------------------------------


def test_row_3_needs_both_search_modes() -> None:
    assert status(3, [insi(NIR), insi(NIR, mode="vitale")]) == "passed"
    verdict = RULES[3]([insi(NIR), insi(OTHER)])
    assert verdict.status == "failed" and "Carte Vitale" in verdict.message
    assert "identity traits" in RULES[3]([insi(NIR, mode="vitale")]).message


def test_row_6_matricules_sent_by_mail_must_come_from_insi() -> None:
    assert status(6, [insi(NIR), mail(f"{NIR}@patient.mssante.fr")]) == "passed"
    assert status(6, [insi(NIR), mail("dr@x.mssante.fr", xdm_patients=[f"{NIR}^^^&{INS_OID}&ISO"])]) == "passed"
    bad = mail("dr@x.mssante.fr", xdm_patients=[f"{OTHER}^^^&{INS_OID}&ISO"])
    verdict = RULES[6]([insi(NIR), bad])
    assert verdict.status == "failed" and verdict.entries == (bad.id,)
    # a local identifier (not an INS OID) is no matricule
    assert status(6, [mail("dr@x.mssante.fr", xdm_patients=["123^^^&1.2.3.4&ISO"])]) == "not_exercised"


@pytest.mark.parametrize(("credential", "expected"), [
    ("cpx:CN=DOCTEUR", "passed"), ("certificate:INSI-AUTO", "passed"), ("psc:899700218896", "passed"),
    ("none", "failed"),
])
def test_row_7_insi_calls_present_an_accepted_credential(credential: str, expected: str) -> None:
    assert status(7, [insi(NIR, credential=credential)]) == expected


def test_row_8_insi_with_the_psc_token_for_psc_logged_users() -> None:
    assert status(8, [psc("code"), insi(NIR, credential="psc:899700218896")]) == "passed"
    assert status(8, [psc("code"), insi(NIR)]) == "failed"
    assert status(8, [psc("code"), insi(NIR, credential="psc:899700218896"), insi(NIR)]) == "failed"
    assert "PSC login" in RULES[8]([insi(NIR)]).message
    assert status(8, [insi(NIR)]) == "not_exercised"


# --- DMP ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("subject", "generic"), [
    ("810001234567", False), ("800000000000", True), ("", True), ("   ", True), ("3" + "1" * 10, True),
])
def test_generic_vihf_subjects(subject: str, generic: bool) -> None:
    assert generic_subject(subject) is generic


def test_row_15_every_vihf_names_a_professional() -> None:
    assert status(15, [dmp("TD0.2"), dmp("ITI-41", subject="810009876543")]) == "passed"
    bad = dmp("TD0.2", subject="800000000000")
    assert RULES[15]([dmp("TD0.2"), bad]).entries == (bad.id,)


def test_row_16_consultations_follow_an_access_test_for_the_patient() -> None:
    assert status(16, [dmp("TD0.2"), dmp("ITI-18"), dmp("ITI-43")]) == "passed"
    assert status(16, [dmp("TD0.4"), dmp("ITI-18")]) == "passed"
    lone = dmp("ITI-18")
    assert RULES[16]([lone, dmp("TD0.2")]).entries == (lone.id,)
    assert status(16, [dmp("TD0.2", patient=OTHER), dmp("ITI-18")]) == "failed"
    assert status(16, [dmp("ITI-41")]) == "not_exercised"  # feeding is no consultation


def test_row_21_dmp_calls_carry_psc_for_psc_logged_users() -> None:
    assert status(21, [dmp("TD0.2", psc=True)]) == "passed"
    assert status(21, [psc("code"), dmp("TD0.2", psc=True)]) == "passed"
    assert status(21, [psc("ciba"), dmp("TD0.2", psc=True), dmp("ITI-18")]) == "failed"
    assert status(21, [psc("code"), dmp("TD0.2")]) == "failed"
    assert status(21, [dmp("TD0.2")]) == "not_exercised"


# --- MSS ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "expected"), [
    ("TLSv1.3", "passed"), ("TLSv1.2", "passed"), ("TLSv1.1", "failed"), ("TLSv1", "failed"),
])
def test_row_24_tls_version(version: str, expected: str) -> None:
    assert status(24, [session(version=version)]) == expected


def test_row_24_and_25_ignore_sessions_without_tls() -> None:
    assert status(24, [session(tls=False)]) == "not_exercised"
    assert status(25, [session(tls=False)]) == "not_exercised"


@pytest.mark.parametrize(("cipher", "expected"), [
    ("TLS_AES_256_GCM_SHA384", "passed"), ("TLS_AES_128_GCM_SHA256", "passed"),
    ("ECDHE-RSA-AES256-GCM-SHA384", "passed"), ("DHE-RSA-AES128-SHA256", "passed"),
    ("TLS_CHACHA20_POLY1305_SHA256", "failed"), ("ECDHE-RSA-AES256-SHA", "failed"), ("AES128-GCM-SHA256", "failed"),
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "failed"),
])
def test_row_25_cipher_suites(cipher: str, expected: str) -> None:
    assert status(25, [session(cipher=cipher)]) == expected


def test_row_27_starttls_before_auth_on_smtp_and_imap() -> None:
    assert status(27, [session(), session("imap")]) == "passed"
    clear = session("imap", tls=False)
    verdict = RULES[27]([session(), clear])
    assert verdict.status == "failed" and verdict.entries == (clear.id,) and "IMAP" in verdict.message


def test_row_27_ignores_sessions_that_never_authenticated_nor_sent() -> None:
    quiet = entry("mss", protocol="smtp", method="SESSION")
    assert status(27, [quiet]) == "not_exercised"


def test_row_28_xoauth2_shape_and_token() -> None:
    assert status(28, [session(sasl="XOAUTH2", xoauth2_well_formed=True, auth_ok=True)]) == "passed"
    assert status(28, [session(sasl="XOAUTH2", xoauth2_well_formed=False, auth_ok=False)]) == "failed"
    refused = RULES[28]([session(sasl="XOAUTH2", xoauth2_well_formed=True, auth_ok=False)])
    assert refused.status == "failed" and "refused" in refused.message
    assert status(28, [session(sasl="PLAIN", auth_ok=True)]) == "not_exercised"


@pytest.mark.parametrize(("number", "check"), [
    (32, "MSS.INS"), (33, "MSS.CODECDA"), (34, "MSS.NIL"), (35, "MSS.MES"), (36, "XDM.ONE_PATIENT"),
    (36, "XDM.PDF"), (37, "MSG.SUBJECT"), (40, "MSG.MESSAGE_ID"), (41, "MSG.BODY"), (42, "MSG.FROM_NAME"),
])
def test_the_message_rows_follow_the_message_checks(number: int, check: str) -> None:
    passing = mail("dr@x.mssante.fr", checks={check: "pass"})
    failing = mail("dr@x.mssante.fr", checks={check: "fail"})
    assert status(number, [passing]) == "passed"
    verdict = RULES[number]([passing, failing])
    assert verdict.status == "failed" and verdict.entries == (failing.id,) and check in verdict.message
    assert status(number, [mail("dr@x.mssante.fr", checks={"OTHER.CHECK": "fail"})]) == "not_exercised"


def test_row_39_patient_addresses_are_matricules_from_insi() -> None:
    assert status(39, [insi(NIR), mail(f"{NIR}@patient.mssante.fr")]) == "passed"
    assert status(39, [insi(NIR), mail(f"{OTHER}@patient.mssante.fr")]) == "failed"
    assert status(39, [insi("2800699217002"), mail("2800699217002@patient.mssante.fr")]) == "failed"  # 13 digits
    assert status(39, [mail("dr@x.mssante.fr")]) == "not_exercised"


MES_LIMIT = 26_214_400  # 25 MiB, ENS MES v1.3


def test_row_46_decides_on_the_size_of_messages_to_patients() -> None:
    patient = f"{NIR}@patient.mssante.fr"
    assert status(46, [mail(patient, size=MES_LIMIT)]) == "passed"
    big = mail(patient, "dr@x.mssante.fr", size=MES_LIMIT + 1, mes_bounces={patient: "size"})
    verdict = RULES[46]([mail(patient, size=2000), big])
    assert verdict.status == "failed" and verdict.entries == (big.id,) and "1 of 2" in verdict.message
    assert status(46, [mail(patient, size=MES_LIMIT + 1)]) == "failed"  # over 25 MB, whatever MES answered
    assert status(46, [mail(patient, size=100, mes_bounces={patient: "size"})]) == "failed"


def test_row_46_ignores_mail_to_professionals_refusals_and_the_sandbox_smtp_limit() -> None:
    assert status(46, [mail("dr@x.mssante.fr", size=MES_LIMIT * 2)]) == "not_exercised"
    smtp_limit = entry("mss", protocol="smtp", method="SESSION", rule="MSS:size")  # SEGUR_MSS_MAX_MESSAGE_BYTES
    refused = Entry(id=next(_ids), at=AT, service="mss", protocol="smtp", method="DATA", outcome="refused",
                    facts={"recipients": [f"{NIR}@patient.mssante.fr"], "checks": {"MSS.NIL": "fail"},
                           "size": MES_LIMIT * 2})
    assert status(46, [smtp_limit, refused]) == "not_exercised"
    assert status(46, [smtp_limit, mail(f"{NIR}@patient.mssante.fr", size=10)]) == "passed"
    assert status(46, [mail(f"{NIR}@patient.mssante.fr")]) == "not_exercised"  # no size recorded


# --- PSC ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("acr", "expected"), [
    ("eidas1", "passed"), ("eidas1 eidas2", "passed"), (None, "failed"), ("eidas2", "failed"), ("", "failed"),
])
def test_row_47_acr_values_eidas1(acr: str | None, expected: str) -> None:
    assert status(47, [psc("code", acr)]) == expected
    assert status(47, [psc("ciba", acr)]) == expected


def test_row_47_names_every_request_without_it() -> None:
    bad = psc("code", None)
    verdict = RULES[47]([psc("ciba"), bad, psc("logout", None)])
    assert verdict.entries == (bad.id,) and "1 of 2" in verdict.message


def test_row_48_a_flow_and_a_logout() -> None:
    assert status(48, [psc("code"), psc("logout")]) == "passed"
    assert status(48, [psc("ciba"), psc("logout")]) == "passed"
    assert "no logout" in RULES[48]([psc("code")]).message
    assert status(48, [psc("logout")]) == "failed"
