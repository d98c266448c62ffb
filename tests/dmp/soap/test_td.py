"""TD0.2 (DMP existence, status, the caller's authorisation, médecin traitant) and TD1.1 (DMP creation): HL7 V3
messages in the shapes public DMP clients send (the ANS TLSi kit éditeur ``MessageBuilder``, Déhempé
``GdpExistenceClient.cs``, Mediboard ``CHL7v3EventPRPAIN201311UV02``; see app/dmp/soap/td.py), handed to the
handlers as the transport hands them (a :class:`SoapCall` on a real session of the running app), over the
real store set up through the control API."""

from __future__ import annotations

import uuid

from lxml import etree
from sqlalchemy import select

from app.dmp import rules
from app.dmp.context import AccessContext
from app.dmp.models import DmpAuditEvent
from app.dmp.soap import td
from app.dmp.soap.call import SoapCall, SoapReply, SoapRequest
from app.dmp.soap.faults import SoapFault
from app.dmp.soap.namespaces import NS_SOAP12
from app.dmp.soap.vihf import Vihf, VihfRole
from app.ins import nir
from app.shared.professional import Professional
from tests.conftest import BASE_URL
from tests.dmp.conftest import BERNARD, FONTAINE, LEFEVRE, ZOE

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


def vihf_for(subject: str, patient_ins: str | None) -> Vihf:
    return Vihf(version="3.0", issuer="urn:test", name_id=subject, subject_name="TEST", roles=(
        VihfRole("10", "1.2.250.1.71.1.2.7"),), structure_id="1.2.250.1.71.4.2.2|10B0152872",
        sector="SA07^1.2.250.1.71.4.2.4", authentication_mode="INDIRECTE", access_mode=rules.AccessMode.NORMAL,
        patient_ins=patient_ins, patient_oid="1.2.250.1.213.1.4.10", resource_urn="urn:dmp", lps_name="test",
        lps_version="1", lps_approval="TEST")


async def run(app, session, payload: etree._Element, *, action: str = td.ACTION_TD02, subject: str = FONTAINE,
              patient_ins: str | None = None) -> tuple[SoapReply, dict]:  # type: ignore[no-untyped-def]
    """Hand ``payload`` to the handler ``action`` names, as the router does, and commit as it does."""
    professional = Professional(subject_name_id=subject, rpps=subject[1:], given_name="T", family_name=subject,
                                profession_code="10", userinfo={})
    request = SoapRequest(action=action, message_id=f"urn:uuid:{uuid.uuid4()}", to=None, reply_to=None,
                          header=etree.Element(f"{{{NS_SOAP12}}}Header"), payload=payload, security=None)
    call = SoapCall(request=request, ctx=AccessContext(professional=professional), vihf=vihf_for(subject, patient_ins),
                    session=session, sessionmaker=app.state.sessionmaker, settings=app.state.settings,
                    base_url=BASE_URL)
    reply = await td.OPERATIONS[action](call)
    await session.commit()
    return reply, call.journal


def text(reply: SoapReply, path: str, attribute: str = "code") -> str | None:
    found = reply.payload.xpath(path, namespaces=NS)
    return found[0].get(attribute) if found else None


def attention(reply: SoapReply, keyword: str) -> str | None:
    value = reply.payload.xpath(f"h:attentionLine[h:keyWordText/@code='{keyword}']/h:value", namespaces=NS)
    return (value[0].get("code") or value[0].get("value")) if value else None


async def traces(session, ins: str, transaction: str) -> list[DmpAuditEvent]:  # type: ignore[no-untyped-def]
    return list((await session.execute(select(DmpAuditEvent).where(
        DmpAuditEvent.ins == ins, DmpAuditEvent.transaction == transaction))).scalars().all())


# --- TD0.2 -----------------------------------------------------------------------------------------------

async def test_td02_open_dmp_with_a_valide_medecin_traitant(app, client, session) -> None:
    reply, journal = await run(app, session, existence_query(ZOE), patient_ins=ZOE)
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
    assert reply.payload.xpath(f"{patient}/h:patientPerson/h:name/h:family/text()", namespaces=NS) == ["ADRUN"]
    assert text(reply, f"{patient}/h:patientPerson/h:birthTime", "value") == "19751231"
    assert (attention(reply, "AUTORISATION"), attention(reply, "STATUT_MT")) == ("VALIDE", "true")
    # the message order of the HL7 V3 transmission wrapper: attentionLine, acknowledgement, controlActProcess
    order = [etree.QName(child).localname for child in reply.payload]
    assert order.index("attentionLine") < order.index("acknowledgement") < order.index("controlActProcess")
    assert journal["authorisation"] == "VALIDE"
    [trace] = await traces(session, ZOE, "TD0.2")
    assert (trace.action, trace.agent_rpps) == ("E", FONTAINE[1:])


async def test_td02_kit_action_is_the_same_query(app, client, session) -> None:
    """The TLSi kit sends ``urn:hl7-org:v3:PRPA_IN201308UV02`` as the action of its existence test."""
    reply, _ = await run(app, session, existence_query(ZOE), action=td.ACTION_TD02_KIT)
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "OK"


async def test_td02_reports_without_refusing_an_unauthorised_professional(app, client, session) -> None:
    reply, _ = await run(app, session, existence_query(ZOE), subject=LEFEVRE)
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "OK"
    assert (attention(reply, "AUTORISATION"), attention(reply, "STATUT_MT")) == ("NON_EXISTE", "false")


async def test_td02_expired_authorisation_without_the_medecin_traitant_flag(app, client, session) -> None:
    response = await client.put(f"/sandbox/v1/dmps/{ZOE}/authorisations/{BERNARD[1:]}", json={"status": "EXPIRE"})
    assert response.status_code == 200, response.text
    reply, _ = await run(app, session, existence_query(ZOE), subject=BERNARD)
    assert (attention(reply, "AUTORISATION"), attention(reply, "STATUT_MT")) == ("EXPIRE", "false")


async def test_td02_blocked_professional_is_interdit(app, client, session) -> None:
    assert (await client.put(f"/sandbox/v1/dmps/{ZOE}/blocked-professionals/{FONTAINE[1:]}")).status_code == 200
    reply, _ = await run(app, session, existence_query(ZOE))
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "OK"
    assert (attention(reply, "AUTORISATION"), attention(reply, "STATUT_MT")) == ("INTERDIT", "false")


async def test_td02_closed_dmp(app, client, session) -> None:
    closed = await client.post(f"/sandbox/v1/dmps/{ZOE}/close", json={"motifFermeture": "patient-demande"})
    assert closed.status_code == 200, closed.text
    reply, _ = await run(app, session, existence_query(ZOE))
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "OK"
    event = "h:controlActProcess/h:subject/h:registrationEvent"
    assert text(reply, f"{event}/h:statusCode") == "completed"
    assert text(reply, f"{event}/h:subject1/h:patient/h:statusCode") == "terminated"
    assert text(reply, f"{event}/h:effectiveTime/h:high", "value")


async def test_td02_opt_outs_are_reported(app, client, session) -> None:
    response = await client.put(f"/sandbox/v1/dmps/{ZOE}/opt-outs", json={"bris_de_glace": True})
    assert response.status_code == 200, response.text
    reply, _ = await run(app, session, existence_query(ZOE))
    observation = ("h:controlActProcess/h:subject/h:registrationEvent/h:subject1/h:patient/h:subjectOf/"
                   "h:administrativeObservation[h:code/@code='{}']/h:value")
    assert text(reply, observation.format("OPPOSITION_BRIS_DE_GLACE"), "value") == "true"
    assert text(reply, observation.format("OPPOSITION_ACCES_URGENCE"), "value") == "false"


async def test_td02_unknown_dmp_is_nf_and_untraced(app, client, session) -> None:
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    reply, journal = await run(app, session, existence_query(NEW_INS))
    assert text(reply, "h:acknowledgement", "typeCode") == "AA"
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "NF"
    assert not reply.payload.xpath("h:controlActProcess/h:subject", namespaces=NS)
    assert not reply.payload.xpath("h:attentionLine", namespaces=NS)
    assert journal["outcome"] == "NF"
    assert await traces(session, NEW_INS, "TD0.2") == []


async def test_td02_malformed_queries_are_qe(app, client, session) -> None:
    missing = existence_query(ZOE)
    value = missing.find(".//h:patientIdentifier/h:value", NS)
    value.getparent().remove(value)
    reply, _ = await run(app, session, missing)
    assert text(reply, "h:acknowledgement", "typeCode") == "AE"
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.SYN_REQUIRED
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "QE"
    reply, _ = await run(app, session, existence_query(ZOE, root="1.2.3.4"))
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.SYN_DATATYPE


async def test_td02_vihf_patient_must_be_the_queried_one(app, client, session) -> None:
    reply, _ = await run(app, session, existence_query(ZOE), patient_ins=NEW_INS)
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.DMP_PATIENT_MISMATCH
    assert text(reply, "h:controlActProcess/h:queryAck/h:queryResponseCode") == "AE"
    assert await traces(session, ZOE, "TD0.2") == []


async def test_wrong_body_for_the_action_is_a_soap_fault(app, client, session) -> None:
    try:
        await run(app, session, existence_query(ZOE), action=td.ACTION_TD11)
    except SoapFault as fault:
        assert (fault.code, fault.subcode) == ("Sender", "InvalidMessage")
    else:
        raise AssertionError("a PRPA_IN201307UV02 under the TD1.1 action must be refused")


# --- TD1.1 -----------------------------------------------------------------------------------------------

async def test_td11_creates_with_access_choices_and_the_creators_authorisation(app, client, session) -> None:
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    reply, journal = await run(app, session, creation_request(NEW_INS), action=td.ACTION_TD11, patient_ins=NEW_INS)
    assert reply.action == "urn:hl7-org:v3:PRPA_IN201312UV02"
    assert etree.QName(reply.payload).localname == "PRPA_IN201312UV02"
    assert text(reply, "h:acknowledgement", "typeCode") == "AA"
    assert text(reply, "h:controlActProcess/h:subject/h:registrationEvent/h:subject1/h:patient/h:id",
                "extension") == NEW_INS
    assert journal["outcome"] == "created"
    dmp = (await client.get(f"/sandbox/v1/dmps/{NEW_INS}")).json()
    assert dmp["active"] is True
    assert dmp["opt_outs"] == {"bris_de_glace": True, "centre_15": False}
    reply, _ = await run(app, session, existence_query(NEW_INS))
    assert attention(reply, "AUTORISATION") == "VALIDE"
    [trace] = await traces(session, NEW_INS, "TD1.1")
    assert trace.action == "C"


async def test_td11_refuses_an_existing_dmp_with_dmpfound(app, client, session) -> None:
    reply, journal = await run(app, session, creation_request(ZOE, sex="F", birth="19751231", birth_name="ADRUN"),
                               action=td.ACTION_TD11)
    assert reply.action == "urn:hl7-org:v3:PRPA_IN201313UV02"
    assert etree.QName(reply.payload).localname == "PRPA_IN201313UV02"
    assert text(reply, "h:acknowledgement", "typeCode") == "AE"
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == "DMPFound"
    assert journal["rule"] == "DMP:exists"
    assert await traces(session, ZOE, "TD1.1") == []


async def test_td11_refuses_an_ins_unknown_to_the_ins_service(app, client, session) -> None:
    reply, _ = await run(app, session, creation_request(NEW_INS), action=td.ACTION_TD11)
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.DMP_PATIENT_UNKNOWN
    assert (await client.get(f"/sandbox/v1/dmps/{NEW_INS}")).status_code == 404


async def test_td11_checks_the_traits_against_ins(app, client, session) -> None:
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    for changed in ({"sex": "F"}, {"birth": "19900102"}, {"birth_name": "AUTRE"}):
        reply, _ = await run(app, session, creation_request(NEW_INS, **changed), action=td.ACTION_TD11)
        assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.DMP_PATIENT_MISMATCH, changed
    assert (await client.get(f"/sandbox/v1/dmps/{NEW_INS}")).status_code == 404


async def test_td11_needs_the_patients_consent(app, client, session) -> None:
    assert (await client.post("/sandbox/v1/persons", json=NEW_PERSON)).status_code == 201
    reply, _ = await run(app, session, creation_request(NEW_INS, consent="false"), action=td.ACTION_TD11)
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.DMP_CONSENT_MISSING
    assert (await client.get(f"/sandbox/v1/dmps/{NEW_INS}")).status_code == 404


async def test_td11_malformed_request(app, client, session) -> None:
    request = creation_request(NEW_INS)
    patient = request.find(".//h:subject1/h:patient", NS)
    patient.getparent().remove(patient)
    reply, _ = await run(app, session, request, action=td.ACTION_TD11)
    assert text(reply, "h:acknowledgement/h:acknowledgementDetail/h:code") == td.SYN_REQUIRED


def test_operations_and_service() -> None:
    assert td.SERVICE == "patients"
    assert set(td.OPERATIONS) == {"urn:hl7-org:v3:PRPA_IN201307UV02", "urn:hl7-org:v3:PRPA_IN201308UV02",
                                  "urn:hl7-org:v3:PRPA_IN201311UV02"}
