"""TD0.2 (DMP existence, status, the caller's authorisation, médecin traitant) and TD1.1 (DMP creation): HL7 V3
messages in the shapes public DMP clients send (the ANS TLSi kit éditeur ``MessageBuilder``, Déhempé
``GdpExistenceClient.cs``, Mediboard ``CHL7v3EventPRPAIN201311UV02``; see app/dmp/soap/td.py), posted over HTTP
to ``/si-dmp-server/v2/services/patients`` in SOAP 1.2 envelopes with a signed VIHF from the control API
(tests/dmp/soap/client.py), against the real store set up through the control API."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from lxml import etree
from sqlalchemy import select

from app.dmp import records, service
from app.dmp.exceptions import DmpError, Kind
from app.dmp.models import DmpAuditEvent
from app.dmp.soap import td
from app.dmp.soap.namespaces import NS_RS, NS_SOAP12
from app.ins import nir
from tests.dmp.conftest import BERNARD, FONTAINE, LEFEVRE, ZOE
from tests.dmp.soap.client import SoapAnswer, get_vihf, post_soap

NS = {"h": td.NS_HL7}
NEW_NIR = "1900175056123"
NEW_INS = NEW_NIR + nir.compute_key(NEW_NIR)
NEW_PERSON = {  # an INS identity without a DMP (tests/ins/test_control.py's shape)
    "NomNaissance": "NOUVEAU", "ListePrenom": "JEAN PAUL", "Sexe": "M", "DateNaissance": "1990-01-01",
    "LieuNaissance": "75056",
    "INSACTIF": {"IdIndividu": {"NumIdentifiant": NEW_NIR, "Cle": nir.compute_key(NEW_NIR)},
                 "OID": "1.2.250.1.213.1.4.8"},
}


def existence_query(ins: str, root: str = td.INS_ROOT) -> etree._Element:
    """A ``PRPA_IN201307UV02`` as Déhempé's ``GdpExistenceClient.BuildRequestBody`` writes it."""
    return etree.fromstring(f"""
<PRPA_IN201307UV02 xmlns="urn:hl7-org:v3" ITSVersion="XML_1.0">
  <id root="1.2.250.1.999.1.1.1" extension="{uuid.uuid4()}"/>
  <creationTime value="20261207040000"/>
  <interactionId root="2.16.840.1.113883.1.6" extension="PRPA_IN201307UV02"/>
  <processingCode code="D"/><processingModeCode code="T"/><acceptAckCode code="AL"/>
  <receiver typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.250.1.213.4.1.1.1"/>
    <softwareName>DMP</softwareName></device></receiver>
  <sender typeCode="SND"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.250.1.999.1.1"/>
    <softwareName>LPS de test</softwareName></device></sender>
  <controlActProcess classCode="CACT" moodCode="EVN">
    <reasonCode code="TEST_EXST" codeSystem="1.2.250.1.213.1.1.4.11" displayName="Test d'existence de dossier"/>
    <queryByParameter><queryId root="1.2.250.1.999.1.1.2" extension="q-1"/><statusCode code="new"/>
      <parameterList><patientIdentifier><value root="{root}" extension="{ins}"/>
        <semanticsText>Patient.id</semanticsText></patientIdentifier></parameterList>
    </queryByParameter>
  </controlActProcess>
</PRPA_IN201307UV02>""")


def creation_request(ins: str, *, sex: str = "M", birth: str = "19900101", birth_name: str = "NOUVEAU",
                     consent: str = "true", bris_de_glace: str = "true", urgence: str = "false") -> etree._Element:
    """A ``PRPA_IN201311UV02`` as the TLSi kit's ``MessageBuilder.CreateHl7V3Message`` builds it."""
    return etree.fromstring(f"""
<PRPA_IN201311UV02 xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ITSVersion="XML_1.0">
  <id root="1.2.250.1.999.1.1.356.3" extension="{uuid.uuid4()}"/>
  <creationTime value="20261207"/>
  <interactionId root="2.16.840.1.113883.1.6" extension="PRPA_IN201311UV02"/>
  <processingCode code="P"/><processingModeCode code="T"/><acceptAckCode code="AL"/>
  <receiver typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.250.1.213.4.1.1.1"/>
    <softwareName>DMP</softwareName></device></receiver>
  <sender typeCode="SND"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.250.1.999.1.1.356"/>
    <softwareName>Nom du LPS</softwareName></device></sender>
  <controlActProcess classCode="CACT" moodCode="EVN">
    <reasonCode code="CREA_RD" codeSystem="1.2.250.1.213.1.1.4.11" displayName="Création de dossier"/>
    <subject typeCode="SUBJ" contextConductionInd="false">
      <registrationRequest classCode="REG" moodCode="RQO"><statusCode code="active"/>
        <subject1 typeCode="SBJ"><patient classCode="PAT">
          <id root="1.2.250.1.213.1.4.10" extension="{ins}"/><statusCode code="active"/>
          <patientPerson classCode="PSN" determinerCode="INSTANCE">
            <name><prefix>M</prefix><family qualifier="BR">{birth_name}</family><given>JEAN</given></name>
            <telecom use="HP" value="tel:0102030405"/>
            <administrativeGenderCode code="{sex}"/><birthTime value="{birth}"/>
          </patientPerson>
          <providerOrganization classCode="ORG" determinerCode="INSTANCE"/>
          <subjectOf typeCode="SBJ"><administrativeObservation classCode="OBS" moodCode="EVN">
            <code code="CONSENTEMENT_OUVERTURE_DMP" codeSystem="1.2.250.1.213.4.1.2.3"/>
            <value xsi:type="BL" value="{consent}"/></administrativeObservation></subjectOf>
          <subjectOf typeCode="SBJ"><administrativeObservation classCode="OBS" moodCode="EVN">
            <code code="OPPOSITION_BRIS_DE_GLACE" codeSystem="1.2.250.1.213.4.1.2.3"/>
            <value xsi:type="BL" value="{bris_de_glace}"/></administrativeObservation></subjectOf>
          <subjectOf typeCode="SBJ"><administrativeObservation classCode="OBS" moodCode="EVN">
            <code code="OPPOSITION_ACCES_URGENCE" codeSystem="1.2.250.1.213.4.1.2.3"/>
            <value xsi:type="BL" value="{urgence}"/></administrativeObservation></subjectOf>
        </patient></subject1>
        <author typeCode="AUT"><assignedEntity classCode="ASSIGNED">
          <id root="1.2.250.1.71.4.2.1" extension="{FONTAINE}"/></assignedEntity></author>
      </registrationRequest>
    </subject>
  </controlActProcess>
</PRPA_IN201311UV02>""")


async def run(client, payload: etree._Element, *, action: str = td.ACTION_TD02, subject: str = FONTAINE,
              patient: str = ZOE) -> Answer:  # type: ignore[no-untyped-def]
    """POST ``payload`` to the patients service under ``action``, with a VIHF of ``subject`` naming ``patient``."""
    vihf = await get_vihf(client, subject_name_id=subject, patient_ins=patient)
    answer = await post_soap(client, td.SERVICE, action, payload, vihf=vihf)
    assert answer.payload is not None, answer
    return Answer(answer)


class Answer:
    """A SOAP answer of the patients service, its HL7 V3 message read with the ``h`` prefix."""

    def __init__(self, answer: SoapAnswer) -> None:
        assert answer.payload is not None
        self.status, self.action, self.payload = answer.status, answer.action, answer.payload
        self.fault_code, self.fault_subcode, self.fault_reason = (answer.fault_code, answer.fault_subcode,
                                                                  answer.fault_reason)

    def xpath(self, path: str) -> list[etree._Element]:
        return list(self.payload.xpath(path, namespaces=NS))


def text(reply: Answer, path: str, attribute: str = "code") -> str | None:
    found = reply.xpath(path)
    return found[0].get(attribute) if found else None


def attention(reply: Answer, keyword: str) -> str | None:
    value = reply.xpath(f"h:attentionLine[h:keyWordText/@code='{keyword}']/h:value")
    return (value[0].get("code") or value[0].get("value")) if value else None


async def traces(session, ins: str, transaction: str) -> list[DmpAuditEvent]:  # type: ignore[no-untyped-def]
    return list((await session.execute(select(DmpAuditEvent).where(
        DmpAuditEvent.ins == ins, DmpAuditEvent.transaction == transaction))).scalars().all())


# --- TD0.2 -----------------------------------------------------------------------------------------------

async def test_td02_open_dmp_with_a_valide_medecin_traitant(client, session) -> None:
    reply = await run(client, existence_query(ZOE))
    assert reply.action == "urn:hl7-org:v3:PRPA_IN201308UV02"
    assert etree.QName(reply.payload).localname == "PRPA_IN201308UV02"
    assert text(reply, "h:acknowledgement", "typeCode") == "AA"
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "OK"
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryId", "extension") == "q-1"
    assert text(reply, "h:controlActProcess/h:queryByParameter/h:parameterList/h:patientIdentifier/h:value",
                "extension") == ZOE  # the query echoed after queryAck
    control = [etree.QName(child).localname for child in reply.payload.find("h:controlActProcess", NS)]
    assert control == ["code", "subject", "queryAck", "queryByParameter"]
    patient = "h:controlActProcess/h:subject/h:registrationEvent/h:subject1/h:patient"
    assert text(reply, f"{patient}/h:id", "extension") == ZOE
    assert text(reply, f"{patient}/h:id", "root") == "1.2.250.1.213.1.4.10"
    assert text(reply, f"{patient}/h:statusCode") == "active"
    assert text(reply, "h:controlActProcess/h:subject/h:registrationEvent/h:statusCode") == "active"
    assert [f.text for f in reply.xpath(f"{patient}/h:patientPerson/h:name/h:family")] == ["ADRUN"]
    assert text(reply, f"{patient}/h:patientPerson/h:birthTime", "value") == "19751231"
    assert (attention(reply, "AUTORISATION"), attention(reply, "STATUT_MT")) == ("VALIDE", "true")
    # the message order of the HL7 V3 transmission wrapper: attentionLine, acknowledgement, controlActProcess
    order = [etree.QName(child).localname for child in reply.payload]
    assert order.index("attentionLine") < order.index("acknowledgement") < order.index("controlActProcess")
    [trace] = await traces(session, ZOE, "TD0.2")
    assert (trace.action, trace.agent_rpps) == ("E", FONTAINE[1:])


async def test_td02_trace_is_in_the_patients_activity_history(client, auth) -> None:
    """The FHIR face's AuditEvent search (what the patient sees) shows the SOAP face's TD0.2."""
    await run(client, existence_query(ZOE))
    found = await client.get("/dmp/fhir/AuditEvent", headers=await auth(), params={
        "patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ZOE}"})
    assert found.status_code == 200, found.text
    subtypes = [e["resource"]["subtype"][0]["code"] for e in found.json().get("entry", [])]
    assert "TD0.2" in subtypes


async def test_td02_kit_action_is_the_same_query(client, session) -> None:
    """The TLSi kit sends ``urn:hl7-org:v3:PRPA_IN201308UV02`` as the action of its existence test."""
    reply = await run(client, existence_query(ZOE), action=td.ACTION_TD02_KIT)
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "OK"


async def test_td02_reports_without_refusing_an_unauthorised_professional(client, session) -> None:
    reply = await run(client, existence_query(ZOE), subject=LEFEVRE)
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "OK"
    assert (attention(reply, "AUTORISATION"), attention(reply, "STATUT_MT")) == ("NON_EXISTE", "false")


async def test_td02_expired_authorisation_without_the_medecin_traitant_flag(client, session) -> None:
    response = await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/{BERNARD[1:]}", json={"status": "EXPIRE"})
    assert response.status_code == 200, response.text
    reply = await run(client, existence_query(ZOE), subject=BERNARD)
    assert (attention(reply, "AUTORISATION"), attention(reply, "STATUT_MT")) == ("EXPIRE", "false")


async def test_td02_blocked_professional_is_interdit(client, session) -> None:
    assert (await client.put(f"/sandbox/v1/dmps/{ZOE}/blocked-professionals/{FONTAINE[1:]}")).status_code == 200
    reply = await run(client, existence_query(ZOE))
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "OK"
    assert (attention(reply, "AUTORISATION"), attention(reply, "STATUT_MT")) == ("INTERDIT", "false")


async def test_td02_closed_dmp(client, session) -> None:
    closed = await client.post(f"/sandbox/v1/dmps/{ZOE}/close", json={"motifFermeture": "patient-demande"})
    assert closed.status_code == 200, closed.text
    reply = await run(client, existence_query(ZOE))
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "OK"
    event = "h:controlActProcess/h:subject/h:registrationEvent"
    assert text(reply, f"{event}/h:statusCode") == "completed"
    assert text(reply, f"{event}/h:subject1/h:patient/h:statusCode") == "terminated"
    assert text(reply, f"{event}/h:effectiveTime/h:high", "value")


async def test_td02_opt_outs_are_reported(client, session) -> None:
    response = await client.put(f"/sandbox/v1/dmps/{ZOE}/opt-outs", json={"bris_de_glace": True})
    assert response.status_code == 200, response.text
    reply = await run(client, existence_query(ZOE))
    observation = ("h:controlActProcess/h:subject/h:registrationEvent/h:subject1/h:patient/h:subjectOf/"
                   "h:administrativeObservation[h:code/@code='{}']/h:value")
    assert text(reply, observation.format("OPPOSITION_BRIS_DE_GLACE"), "value") == "true"
    assert text(reply, observation.format("OPPOSITION_ACCES_URGENCE"), "value") == "false"


async def test_td02_unknown_dmp_is_nf_and_untraced(client, session) -> None:
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    reply = await run(client, existence_query(NEW_INS), patient=NEW_INS)
    assert text(reply, "h:acknowledgement", "typeCode") == "AA"
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "NF"
    assert not reply.xpath("h:controlActProcess/h:subject")
    assert not reply.xpath("h:attentionLine")
    assert await traces(session, NEW_INS, "TD0.2") == []


async def test_td02_malformed_queries_are_qe(client, session) -> None:
    missing = existence_query(ZOE)
    value = missing.find(".//h:patientIdentifier/h:value", NS)
    value.getparent().remove(value)
    reply = await run(client, missing)
    assert text(reply, "h:acknowledgement", "typeCode") == "AE"
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.SYN_REQUIRED
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "QE"
    reply = await run(client, existence_query(ZOE, root="1.2.3.4"))
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.SYN_DATATYPE


async def test_td02_vihf_patient_must_be_the_queried_one(client, session) -> None:
    reply = await run(client, existence_query(ZOE), patient=NEW_INS)
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.DMP_PATIENT_MISMATCH
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "AE"
    assert await traces(session, ZOE, "TD0.2") == []


async def test_wrong_body_for_the_action_is_a_soap_fault(client, session) -> None:
    reply = await run(client, existence_query(ZOE), action=td.ACTION_TD11)
    assert (reply.status, reply.fault_code) == (500, f"{{{NS_SOAP12}}}Sender")
    assert reply.fault_subcode is not None and reply.fault_subcode.endswith("}InvalidMessage")
    assert "PRPA_IN201311UV02" in (reply.fault_reason or "")


# --- TD1.1 -----------------------------------------------------------------------------------------------

async def test_td11_creates_with_access_choices_and_the_creators_authorisation(client, session) -> None:
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    reply = await run(client, creation_request(NEW_INS), action=td.ACTION_TD11, patient=NEW_INS)
    assert reply.action == "urn:hl7-org:v3:PRPA_IN201312UV02"
    assert etree.QName(reply.payload).localname == "PRPA_IN201312UV02"
    assert text(reply, "h:acknowledgement", "typeCode") == "AA"
    assert text(reply, "h:controlActProcess/h:subject/h:registrationEvent/h:subject1/h:patient/h:id",
                "extension") == NEW_INS
    dmp = (await client.get(f"/sandbox/v1/dmps/{NEW_INS}")).json()
    assert dmp["active"] is True
    assert dmp["opt_outs"] == {"bris_de_glace": True, "centre_15": False}
    reply = await run(client, existence_query(NEW_INS), patient=NEW_INS)
    assert attention(reply, "AUTORISATION") == "VALIDE"
    [trace] = await traces(session, NEW_INS, "TD1.1")
    assert trace.action == "C"


async def test_td11_refuses_an_existing_dmp_with_dmpfound(client, session) -> None:
    reply = await run(client, creation_request(ZOE, sex="F", birth="19751231", birth_name="ADRUN"),
                      action=td.ACTION_TD11)
    assert reply.action == "urn:hl7-org:v3:PRPA_IN201313UV02"
    assert etree.QName(reply.payload).localname == "PRPA_IN201313UV02"
    assert text(reply, "h:acknowledgement", "typeCode") == "AE"
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == "DMPFound"
    assert await traces(session, ZOE, "TD1.1") == []
    journal = await client.get("/sandbox/v1/journal", params={"path": "/si-dmp-server", "limit": 1})
    [entry] = journal.json()["entries"]  # an "AE" answer is HTTP 200, and still a refusal in the journal
    assert entry["status"] == 200 and entry["outcome"] == "refused" and entry["rule"]
    assert entry["service"] == "dmp"


async def test_td11_refuses_an_ins_unknown_to_the_ins_service(client, session) -> None:
    reply = await run(client, creation_request(NEW_INS), action=td.ACTION_TD11, patient=NEW_INS)
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.DMP_PATIENT_UNKNOWN
    assert (await client.get(f"/sandbox/v1/dmps/{NEW_INS}")).status_code == 404


async def test_td11_checks_the_traits_against_ins(client, session) -> None:
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    for changed in ({"sex": "F"}, {"birth": "19900102"}, {"birth_name": "AUTRE"}):
        reply = await run(client, creation_request(NEW_INS, **changed), action=td.ACTION_TD11,
                          patient=NEW_INS)
        assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.DMP_PATIENT_MISMATCH, changed
    assert (await client.get(f"/sandbox/v1/dmps/{NEW_INS}")).status_code == 404


async def test_td11_needs_the_patients_consent(client, session) -> None:
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    reply = await run(client, creation_request(NEW_INS, consent="false"), action=td.ACTION_TD11,
                      patient=NEW_INS)
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.DMP_CONSENT_MISSING
    assert (await client.get(f"/sandbox/v1/dmps/{NEW_INS}")).status_code == 404


async def test_td11_malformed_request(client, session) -> None:
    request = creation_request(NEW_INS)
    patient = request.find(".//h:subject1/h:patient", NS)
    patient.getparent().remove(patient)
    reply = await run(client, request, action=td.ACTION_TD11, patient=NEW_INS)
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.SYN_REQUIRED


# --- a DmpError raised while serving TD: the transaction's own AE answer, never an XDS RegistryResponse ----------

def _raising(error: DmpError):  # type: ignore[no-untyped-def]
    async def fail(*args: object, **kwargs: object) -> None:
        raise error
    return fail


def assert_not_xds(reply: Answer) -> None:
    assert reply.status == 200 and reply.fault_code is None
    assert not any(etree.QName(e).namespace == NS_RS for e in reply.payload.iter() if isinstance(e.tag, str))


async def test_td02_a_service_refusal_is_an_ae_acknowledgement(client, session, monkeypatch) -> None:
    """The caller's standing raising (as the access rules raise for a blocked professional): TD0.2's
    PRPA_IN201308UV02 with an AE acknowledgement and queryResponseCode AE, journaled as refused, untraced."""
    monkeypatch.setattr(service, "list_blocked", _raising(DmpError(
        Kind.FORBIDDEN, "the patient blocked this professional", french="le patient a bloqué ce professionnel",
        rule="DMP:blocked")))
    reply = await run(client, existence_query(ZOE))
    assert_not_xds(reply)
    assert reply.action == td.ANSWER_TD02 and etree.QName(reply.payload).localname == "PRPA_IN201308UV02"
    assert text(reply, "h:acknowledgement", "typeCode") == "AE"
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.DMP_REFUSED
    detail = reply.xpath("h:acknowledgement/h:acknowledgementDetail/h:text")[0].text or ""
    assert "le patient a bloqué ce professionnel" in detail and "[DMP:blocked]" in detail
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "AE"
    assert await traces(session, ZOE, "TD0.2") == []
    journal = await client.get("/sandbox/v1/journal", params={"path": "/si-dmp-server", "limit": 1})
    [entry] = journal.json()["entries"]
    assert entry["status"] == 200 and entry["outcome"] == "refused" and entry["rule"] == "DMP:blocked"


async def test_td11_a_conflict_after_the_creation_is_dmpfound_and_nothing_stored(client, session, monkeypatch) -> None:
    """A DmpError(CONFLICT) once the DMP row is written (another creation of the same INS winning the race):
    TD1.1's PRPA_IN201313UV02 with DMPFound, the creation rolled back."""
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    monkeypatch.setattr(service, "set_opt_outs", _raising(DmpError(
        Kind.CONFLICT, f"a DMP already exists for INS {NEW_INS}", rule="DMP:exists")))
    reply = await run(client, creation_request(NEW_INS), action=td.ACTION_TD11, patient=NEW_INS)
    assert_not_xds(reply)
    assert reply.action == td.ANSWER_TD11_REFUSED and etree.QName(reply.payload).localname == "PRPA_IN201313UV02"
    assert text(reply, "h:acknowledgement", "typeCode") == "AE"
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.DMP_FOUND
    assert (await client.get(f"/sandbox/v1/dmps/{NEW_INS}")).status_code == 404
    assert await traces(session, NEW_INS, "TD1.1") == []


async def test_td11_any_other_service_refusal_is_a_generic_ae(client, session, monkeypatch) -> None:
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    monkeypatch.setattr(service, "set_authorisation", _raising(DmpError(
        Kind.FORBIDDEN, "not allowed", french="non autorisé", rule="DMP:test")))
    reply = await run(client, creation_request(NEW_INS), action=td.ACTION_TD11, patient=NEW_INS)
    assert_not_xds(reply)
    assert reply.action == td.ANSWER_TD11_REFUSED
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.DMP_REFUSED
    assert (await client.get(f"/sandbox/v1/dmps/{NEW_INS}")).status_code == 404


def test_operations_and_service() -> None:
    assert td.SERVICE == "patients"
    assert set(td.OPERATIONS) == {"urn:hl7-org:v3:PRPA_IN201307UV02", "urn:hl7-org:v3:PRPA_IN201308UV02",
                                  "urn:hl7-org:v3:PRPA_IN201311UV02"}


async def test_td11_two_simultaneous_creations_are_one_created_and_one_dmpfound(client, settings, monkeypatch) -> None:
    """Both pass the existence check before either inserts (held there until both arrived): the loser meets
    the unique index on the INS and answers DMPFound, as the check would have, never a 500; the control API
    answers its 409 the same way."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: the race is PostgreSQL's")
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    vihfs = [await get_vihf(client, subject_name_id=FONTAINE, patient_ins=NEW_INS) for _ in range(2)]
    checked = asyncio.Event()
    arrived: list[str] = []
    original = records.get_record

    async def in_step(session, *, ins: str):  # type: ignore[no-untyped-def]
        found = await original(session, ins=ins)
        arrived.append(ins)
        if len(arrived) >= 2:
            checked.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(checked.wait(), 5)
        return found

    monkeypatch.setattr(records, "get_record", in_step)
    answers = await asyncio.gather(*(post_soap(client, td.SERVICE, td.ACTION_TD11, creation_request(NEW_INS),
                                               vihf=vihf) for vihf in vihfs))
    assert len(arrived) == 2
    replies = sorted((Answer(a) for a in answers), key=lambda r: str(r.action))
    assert [r.status for r in replies] == [200, 200]
    assert [r.action for r in replies] == ["urn:hl7-org:v3:PRPA_IN201312UV02", "urn:hl7-org:v3:PRPA_IN201313UV02"]
    assert text(replies[1], "h:acknowledgement/h:acknowledgementDetail/h:code") == "DMPFound"
    assert (await client.get(f"/sandbox/v1/dmps/{NEW_INS}")).json()["active"] is True
    # the control API: a second person, two creations at once, one 201 and one 409
    arrived.clear()
    checked.clear()
    other_nir = "1900175056124"
    other = {**NEW_PERSON, "INSACTIF": {"IdIndividu": {"NumIdentifiant": other_nir, "Cle": nir.compute_key(other_nir)},
                                         "OID": "1.2.250.1.213.1.4.8"}}
    assert (await client.post("/sandbox/v1/persons", json=other)).status_code == 201
    created = await asyncio.gather(*(client.post("/sandbox/v1/dmps", json={"ins": other_nir + nir.compute_key(
        other_nir)}) for _ in range(2)))
    assert len(arrived) == 2 and sorted(r.status_code for r in created) == [201, 409], [r.text for r in created]
