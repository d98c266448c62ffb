"""The patient's names read from the CDA header as the CI-SIS rules type them, and the checks that use
them (MSG.SUBJECT, X-MSS-INS), over SMTP and the HTTP API.

Rules: template CI-SISRecordTarget (1.2.250.1.213.1.1.1.1.10.10), ansforge/TestContenuCDA-3-0
``schematrons/profils/structurationMinimale/include/1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch``
@7cd489b: ``given`` BR = first first-name of the birth certificate, CL = used first name, no qualifier =
the list of birth first names; ``family`` BR = birth name, SP = usage name, CL = used name. The CDA
shapes come from the ANS examples (tests/mss/cda_shapes.py cites them).
"""

from __future__ import annotations

from app.mss import xdm
from tests.mss.asking import deliveries_to
from tests.mss.cda_shapes import EDISP_NAME, ZOE_INS, cda
from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR, PASSWORD
from tests.psc.helpers import access_token_for

SUBJECT = "XDM/1.0/DDM+Compte rendu ADRUN ZOE 19751231"


def test_ans_example_names_are_read_by_their_qualifier() -> None:
    header = xdm.parse_cda_header(cda())
    assert header.birth_name == "ADRUN" and header.first_given_name == "ZOE"
    assert header.birth_given_names == "ZOE LOUISE" and header.used_given_name == "LOUISE"
    assert header.used_name == "ADRUN" and header.usage_name is None
    assert header.ins_qualified


def test_edisp_example_order_and_usage_name() -> None:
    header = xdm.parse_cda_header(cda(name=EDISP_NAME, family="NESSI", first="RUTH", given_list="RUTH ISABELLE",
                                      usage="DECOURCY"))
    assert (header.birth_name, header.usage_name, header.used_name) == ("NESSI", "DECOURCY", "DECOURCY")
    assert (header.first_given_name, header.birth_given_names) == ("RUTH", "RUTH ISABELLE")


def test_pre_ins_header_without_qualified_given_keeps_its_first_name() -> None:
    """Older headers (the sandbox's own sample) carry one unqualified ``given``: it is the first name;
    a list there gives its first first-name."""
    legacy = '<given>{given_list}</given><family qualifier="BR">{family}</family>'
    assert xdm.parse_cda_header(cda(name=legacy, given_list="ZOE")).first_given_name == "ZOE"
    assert xdm.parse_cda_header(cda(name=legacy, given_list="ZOE LOUISE")).first_given_name == "ZOE"


def test_an_empty_birth_first_name_is_not_replaced_by_the_list() -> None:
    header = xdm.parse_cda_header(cda(name=EDISP_NAME.replace("{first}", ""), given_list="ZOE LOUISE"))
    assert header.first_given_name is None and not header.ins_qualified


async def _send(smtp_call, session, archive: bytes, **headers: str):  # type: ignore[no-untyped-def]
    from tests.mss.helpers import build_message

    raw = build_message(sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR, subject=SUBJECT,
                        xdm_bytes=archive, headers=headers or None)

    def fn(smtp):  # type: ignore[no-untyped-def]
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == {}
    (_, message), = await deliveries_to(session, HOSPITAL_DOCTOR)
    return {f["id"]: f for f in message.report["findings"]}, message


async def test_ans_shaped_xdm_passes_subject_and_ins_checks_over_smtp(smtp_call, session) -> None:  # type: ignore[no-untyped-def]
    archive = xdm.build_xdm(cda(), pdf=b"%PDF-1.4\n")
    findings, message = await _send(smtp_call, session, archive, **{"X-MSS-INS": "O"})
    assert findings["MSG.SUBJECT"]["status"] == "pass", findings["MSG.SUBJECT"]
    assert findings["MSS.INS"]["status"] == "pass", findings["MSS.INS"]
    assert findings["XDM.INS_KNOWN"]["status"] == "pass"
    decoded = message.xdm[0]["package"]["documents"][0]["cda"]
    assert decoded["first_given_name"] == "ZOE" and decoded["birth_given_names"] == "ZOE LOUISE"
    assert decoded["used_given_name"] == "LOUISE" and decoded["ins_qualified"] is True


async def test_wrong_birth_first_name_fails_the_subject_check_over_smtp(smtp_call, session) -> None:  # type: ignore[no-untyped-def]
    """The BR first name is the INS trait, whatever the unqualified list says."""
    archive = xdm.build_xdm(cda(first="MARIE", given_list="ZOE"), pdf=b"%PDF-1.4\n")
    findings, _ = await _send(smtp_call, session, archive)
    assert findings["MSG.SUBJECT"]["status"] == "fail"
    assert "the first name MARIE" in findings["MSG.SUBJECT"]["message"]


async def test_missing_birth_first_name_fails_x_mss_ins_o_over_smtp(smtp_call, session) -> None:  # type: ignore[no-untyped-def]
    """An empty ``given qualifier="BR"`` (ANS order: the list first) leaves the INS unqualified."""
    archive = xdm.build_xdm(cda(first=""), pdf=b"%PDF-1.4\n")
    findings, _ = await _send(smtp_call, session, archive, **{"X-MSS-INS": "O"})
    assert findings["MSS.INS"]["status"] == "fail", findings["MSS.INS"]


async def test_http_inspect_exposes_the_typed_names(client) -> None:  # type: ignore[no-untyped-def]
    token = await access_token_for(client, "810001000016")
    archive = xdm.build_xdm(cda(name=EDISP_NAME, family="NESSI", first="RUTH", given_list="RUTH ISABELLE",
                                usage="DECOURCY"))
    response = await client.post("/mss/v1/xdm/inspect", content=archive,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/zip"})
    assert response.status_code == 200, response.text
    decoded = response.json()["documents"][0]["cda"]
    assert decoded["ins"] == ZOE_INS
    assert (decoded["birth_name"], decoded["usage_name"], decoded["used_name"]) == ("NESSI", "DECOURCY", "DECOURCY")
    assert (decoded["first_given_name"], decoded["birth_given_names"]) == ("RUTH", "RUTH ISABELLE")
