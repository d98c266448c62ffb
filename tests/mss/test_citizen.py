"""Mon espace santé's messaging rules, pure (app/mss/citizen.py): threading, closing, who a patient may write to,
recent dispensations, the bounces and the checks that apply them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.mss import checks, citizen, mime
from app.mss.citizen import PatientRefusal, ThreadMessage
from app.mss.rules import RULES
from tests.mss.helpers import build_message

DOCTOR = "claire.fontaine@medecin.mssante.fr"
SECRETARIAT = "secretariat.cardiologie@hopital-a.mssante.fr"
PHARMACY = "pharmacie.du-marche@medecin.mssante.fr"
PATIENT = "275126322074974@patient.mssante.fr"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def pro(mid: str, *, parents: tuple[str, ...] = (), subject: str = "Résultats", mes: str | None = None,
        sender: str = DOCTOR, reply_to: tuple[str, ...] = (), minutes: int = 0) -> ThreadMessage:
    return ThreadMessage(message_id=mid, parents=parents, subject=subject, mes=mes, sender=sender,
                         reply_to=reply_to, from_patient=False, at=T0 + timedelta(minutes=minutes),
                         recipients=(PATIENT,))


def pat(mid: str, *, parents: tuple[str, ...] = (), subject: str = "Re: Résultats", to: tuple[str, ...] = (DOCTOR,),
        minutes: int = 0, mes: str | None = None) -> ThreadMessage:
    return ThreadMessage(message_id=mid, parents=parents, subject=subject, mes=mes, sender=PATIENT,
                         from_patient=True, at=T0 + timedelta(minutes=minutes), recipients=to)


# --- message ids and threads -------------------------------------------------------------------------------

def test_message_ids_are_read_in_order_without_duplicates():
    assert citizen.message_ids(["<a@x> <b@x>", None, "junk <b@x>\r\n <c@y>", ""]) == ["<a@x>", "<b@x>", "<c@y>"]
    assert citizen.message_ids(["no brackets here"]) == []


def test_threads_group_by_in_reply_to_and_references_transitively():
    a = pro("<a@x>")
    b = pat("<b@p>", parents=("<a@x>",), minutes=1)
    c = pro("<c@x>", parents=("<a@x>", "<b@p>"), minutes=2)
    d = pat("<d@p>", parents=("<c@x>",), minutes=3)  # only names c: still a's conversation
    other = pro("<z@x>", subject="Autre", minutes=4)
    orphan = pat("<o@p>", parents=("<unknown@x>",), minutes=5)
    conversations = citizen.threads([d, other, c, a, orphan, b])
    assert [[m.message_id for m in c_.messages] for c_ in conversations] == [
        ["<a@x>", "<b@p>", "<c@x>", "<d@p>"], ["<z@x>"], ["<o@p>"]]
    assert citizen.conversation_of(conversations, ["<nope>", "<c@x>"]) is conversations[0]
    assert citizen.conversation_of(conversations, ["<nope>"]) is None


def test_a_message_naming_a_later_one_joins_it_and_order_is_by_time():
    late_parent = pro("<p@x>", minutes=10)
    child = pat("<c@p>", parents=("<p@x>",), minutes=11)
    conversation, = citizen.threads([child, late_parent])
    assert conversation.opener is late_parent and conversation.opened_by_professional


# --- closing -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("mes", "subject", "closes"), [
    ("FIN", "Résultats", "X-MSS-MES: FIN"),
    (" FIN ", "Résultats", "X-MSS-MES: FIN"),
    (None, "[FIN]", "[FIN] dans l'objet"),
    (None, "Re: suivi [FIN]", "[FIN] dans l'objet"),
    ("fin", "Résultats", None),  # row 35: exactly FIN; MES does not understand anything else
    ("FIN.", "Résultats", None),
    ("Fin", "Résultats", None),
    (None, "[fin]", None),
    (None, "FIN", None),
    (None, "", None),
])
def test_what_closes_a_conversation(mes, subject, closes):
    assert citizen.closing(pro("<a@x>", mes=mes, subject=subject)) == closes


def test_either_side_closes_and_it_stays_closed():
    opener = pro("<a@x>")
    patient_fin = pat("<b@p>", parents=("<a@x>",), subject="Re: Résultats [FIN]", minutes=1)
    later = pro("<c@x>", parents=("<b@p>",), minutes=2)
    conversation, = citizen.threads([opener, patient_fin, later])
    assert conversation.closed_by == (patient_fin, "[FIN] dans l'objet")


# --- where replies go, who may be written to -----------------------------------------------------------------

def test_replies_go_to_reply_to_when_set():
    assert citizen.reply_addresses(pro("<a@x>", reply_to=(SECRETARIAT,))) == [SECRETARIAT]
    assert citizen.reply_addresses(pro("<a@x>")) == [DOCTOR]
    opener = pro("<a@x>", reply_to=(SECRETARIAT,))
    mine = pat("<b@p>", parents=("<a@x>",), to=(SECRETARIAT,), minutes=1)
    conversation, = citizen.threads([opener, mine])
    assert conversation.reply_to() == [SECRETARIAT]
    assert conversation.reply_to(mine) == [SECRETARIAT]  # replying to one's own message: to the other side
    assert conversation.participants == {DOCTOR, SECRETARIAT}


def test_patient_replies_within_an_open_conversation():
    conversation, = citizen.threads([pro("<a@x>", reply_to=(SECRETARIAT,))])
    verdict = citizen.patient_may_send(conversation=conversation, recipients=[SECRETARIAT.upper()], pharmacies=())
    assert verdict.allowed and verdict.refusal is None
    assert citizen.patient_may_send(conversation=conversation, recipients=[DOCTOR], pharmacies=()).allowed


def test_patient_cannot_add_someone_to_a_conversation():
    conversation, = citizen.threads([pro("<a@x>")])
    verdict = citizen.patient_may_send(conversation=conversation, recipients=[DOCTOR, SECRETARIAT], pharmacies=())
    assert verdict.refusal is PatientRefusal.START and SECRETARIAT in verdict.message


@pytest.mark.parametrize("closer", [{"mes": "FIN"}, {"subject": "[FIN]"}])
def test_patient_cannot_reply_once_closed(closer):
    conversation, = citizen.threads([pro("<a@x>", **closer)])
    verdict = citizen.patient_may_send(conversation=conversation, recipients=[DOCTOR], pharmacies=())
    assert verdict.refusal is PatientRefusal.CLOSED and "close" in verdict.message and " — " in verdict.message


def test_patient_cannot_start_a_conversation_except_with_a_recent_pharmacy():
    refused = citizen.patient_may_send(conversation=None, recipients=[DOCTOR], pharmacies=[PHARMACY])
    assert refused.refusal is PatientRefusal.START and "pharmacie" in refused.message
    assert citizen.patient_may_send(conversation=None, recipients=[PHARMACY.upper()], pharmacies=[PHARMACY]).allowed
    mixed = citizen.patient_may_send(conversation=None, recipients=[PHARMACY, DOCTOR], pharmacies=[PHARMACY])
    assert mixed.refusal is PatientRefusal.START
    assert citizen.patient_may_send(conversation=None, recipients=[PHARMACY], pharmacies=()).refusal \
        is PatientRefusal.START


def test_patient_goes_on_writing_to_the_pharmacy_they_wrote_to():
    first = pat("<a@p>", subject="Ordonnance", to=(PHARMACY,))
    conversation, = citizen.threads([first])
    assert not conversation.opened_by_professional
    # the dispensation may have aged out since: the conversation the patient opened stays theirs
    assert citizen.patient_may_send(conversation=conversation, recipients=[PHARMACY], pharmacies=()).allowed


def test_recent_dispensations():
    now = T0
    assert citizen.is_recent(now - timedelta(days=365), now=now, window_days=365)
    assert not citizen.is_recent(now - timedelta(days=365, seconds=1), now=now, window_days=365)
    assert citizen.is_recent(now, now=now, window_days=1)
    assert not citizen.is_recent(now + timedelta(seconds=1), now=now, window_days=365)  # not in the future
    assert citizen.PHARMACY_WINDOW_DAYS == 365


# --- bounces -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("facts", "expected"), [
    ({"address_valid": False, "mailbox_exists": False, "mailbox_open": False, "size": 10**9}, citizen.INVALID),
    ({"address_valid": True, "mailbox_exists": False, "mailbox_open": False, "size": 10**9}, citizen.UNKNOWN),
    ({"address_valid": True, "mailbox_exists": True, "mailbox_open": False, "size": 10**9}, citizen.CLOSED),
    ({"address_valid": True, "mailbox_exists": True, "mailbox_open": True, "size": 25 * 1024 * 1024 + 1},
     citizen.SIZE),
    ({"address_valid": True, "mailbox_exists": True, "mailbox_open": True, "size": 25 * 1024 * 1024}, None),
    ({"address_valid": True, "mailbox_exists": True, "mailbox_open": True, "size": 0}, None),
])
def test_bounce_reasons_in_order(facts, expected):
    assert citizen.bounce_reason(**facts) is expected


def test_the_limit_is_25_mb_and_can_be_given():
    assert citizen.MES_MAX_MESSAGE_BYTES == 25 * 1024 * 1024
    assert citizen.bounce_reason(address_valid=True, mailbox_exists=True, mailbox_open=True, size=11,
                                 limit=10) is citizen.SIZE


@pytest.mark.parametrize(("reason", "status", "french"), [
    (citizen.CLOSED, "5.2.1", "fermée"), (citizen.UNKNOWN, "5.1.1", "inconnu"),
    (citizen.INVALID, "5.1.3", "invalide"), (citizen.SIZE, "5.3.4", "25 Mo"),
])
def test_bounce_wording(reason, status, french):
    diagnostic = citizen.bounce_diagnostic(reason, PATIENT, size=30_000_000)
    assert diagnostic.startswith(f"550 {status} <{PATIENT}>: Message non distribué : ") and french in diagnostic
    assert ("30000000 octets" in diagnostic) == (reason is citizen.SIZE)
    text = citizen.bounce_text([(PATIENT, reason)], original_subject="Vos\r\n résultats")
    assert text.subject == "Message non distribué : Vos résultats"
    assert text.lines[0].startswith("Votre message n'a pas pu être distribué")
    assert f"<{PATIENT}> : {reason.french}." in text.lines
    assert f"<{PATIENT}>: {reason.english}." in text.lines
    assert citizen.BOUNCES[reason.code] is reason


# --- the checks that apply them ------------------------------------------------------------------------------

def report(raw: bytes, **kwargs) -> checks.CheckReport:  # type: ignore[no-untyped-def]
    parsed = mime.parse_message(raw)
    patient = [checks.Recipient(PATIENT, "PATIENT", "275126322074974")]
    return checks.run_checks(parsed, recipients=kwargs.pop("recipients", patient), xdm=[], **kwargs)


def status(rep: checks.CheckReport, rule: str) -> str:
    return next(f.status for f in rep.findings if f.rule == rule)


def test_mes_value_other_than_fin_is_flagged_as_an_error_not_refused():
    rep = report(build_message(headers={"X-MSS-MES": "fin"}))
    assert status(rep, "MSS.MES") == "fail" and rep.refusal is None
    assert RULES["MSS.MES"].severity == "error" and not RULES["MSS.MES"].enforced
    assert not rep.to_dict()["conformant"]
    enforced = report(build_message(headers={"X-MSS-MES": "fin"}), extra_enforced=["MSS.MES"])
    assert enforced.refusal is not None and enforced.refusal[0].id == "MSS.MES"


@pytest.mark.parametrize(("refusal", "rule"), [(PatientRefusal.CLOSED, "MSS.MES.REPLY"),
                                                (PatientRefusal.START, "MSS.MES.START")])
def test_patient_verdicts_refuse_the_message(refusal, rule):
    verdict = citizen.PatientSendVerdict(refusal, "refusé — refused")
    rep = report(build_message(), sender_is_patient=True, patient_verdict=verdict)
    assert rep.refusal is not None and rep.refusal[0].id == rule and rep.refusal[0].reply == "550 5.7.1"
    assert rep.refusal[1].message == "refusé — refused"


def test_an_allowed_patient_message_passes_both_rules():
    verdict = citizen.PatientSendVerdict(None, "ok")
    rep = report(build_message(), sender_is_patient=True, patient_verdict=verdict)
    assert rep.refusal is None
    assert status(rep, "MSS.MES.REPLY") == "pass" and status(rep, "MSS.MES.START") == "pass"
    professional = report(build_message())
    assert status(professional, "MSS.MES.START") == "not_applicable"
    assert RULES["MSS.MES.START"].enforced and RULES["MSS.MES.REPLY"].enforced


def test_nobody_to_reply_to_in_an_automatic_message():
    notice = ThreadMessage(message_id="<n@mes>", parents=(), subject="Mon espace santé : nouveau document", mes=None,
                           sender="notifications@monespacesante.sandbox.mssante.fr", automatic=True)
    conversation, = citizen.threads([notice])
    assert conversation.reply_to() == [] and conversation.reply_to(notice) == []
    assert conversation.participants == set()
    verdict = citizen.patient_may_send(conversation=conversation, recipients=[notice.sender], pharmacies=())
    assert verdict.refusal is PatientRefusal.START
