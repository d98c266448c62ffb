"""The DMP-specific services of the ``patients`` endpoint ("GDP", gestion du dossier patient): TD0.2 (test
of a DMP's existence: its status, the caller's authorisation, the médecin traitant flag) and TD1.1 (create a
DMP), both HL7 V3 messages over SOAP 1.2, answered with HL7 V3 acknowledgements.

The DMPi WSDL of this service is not public; its shapes come from public DMP clients:

- the ANS "TLSi kit éditeur" (C#, ``TLSiKitEditeur.SoapService.PatientSoapService`` and
  ``TLSiKitEditeur.Messages.MessageBuilder``): the service path ``patients`` (``GDP_PortType``), the operations
  ``PatientGetDemographics_PRPA_IN201307UV02`` (answer ``PRPA_IN201308UV02``, ``queryAck/queryResponseCode``
  ``OK``/``NF``, ``registrationEvent/statusCode``, ``patient/statusCode`` active/terminated, patient ids rooted
  1.2.250.1.213.1.4.10) and ``PatientAdd_PRPA_IN201311UV02`` (answer ``PRPA_IN201312UV02`` accepted, or
  ``PRPA_IN201313UV02`` with ``acknowledgementDetail/code`` ``DMPFound`` when the DMP exists), the request
  reason codes ``TEST_EXST`` / ``CREA_RD`` (TRE_R271, 1.2.250.1.213.1.1.4.11), the administrative observations
  ``CONSENTEMENT_OUVERTURE_DMP``, ``OPPOSITION_BRIS_DE_GLACE``, ``OPPOSITION_ACCES_URGENCE``
  (1.2.250.1.213.4.1.2.3), the DMP's device id 1.2.250.1.213.4.1.1.1;
- Déhempé (github k-jefferson/Dehempe, ``src/Dehempe.Infrastructure/Dmp/Soap/GdpExistenceClient.cs`` and
  ``XdsConstants.cs``, commits 730a626 / 5733959): the TD0.2 action ``urn:hl7-org:v3:PRPA_IN201307UV02``, the
  ``parameterList/patientIdentifier`` query, the answer's ``attentionLine`` keywords ``AUTORISATION`` (a code,
  e.g. ``VALIDE``) and ``STATUT_MT`` (a boolean), ``subjectOf/administrativeObservation`` ``RATTACHEMENT_ENS``;
- Mediboard (github sergeinack3/PowerCare, ``modules/hl7/classes/Events/PRPA/CHL7v3EventPRPAIN201311UV02.php``,
  commit 8c3438f): the TD1.1 message as a GPL DMP client sends it.

Where these sources stop (the error codes other than ``DMPFound``, the wrapper element of the real WSDL's
answer), the sandbox's choices are listed in docs/dmp.md ("The XDS.b SOAP face").
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from app.dmp import service
from app.dmp.exceptions import DmpError, Kind
from app.dmp.soap import faults
from app.dmp.soap.call import Handler, SoapCall, SoapReply
from app.dmp.soap.namespaces import NS_XSI
from app.ins import service as ins_service

# the path segment under /si-dmp-server/v2/services (TLSi kit: GDP_PortTypeClient.Init("patients"))
SERVICE = "patients"

NS_HL7 = "urn:hl7-org:v3"
H = f"{{{NS_HL7}}}"

ACTION_TD02 = "urn:hl7-org:v3:PRPA_IN201307UV02"  # Déhempé XdsConstants.Iti0_2Action
ACTION_TD02_KIT = "urn:hl7-org:v3:PRPA_IN201308UV02"  # what the TLSi kit puts in wsa:Action for the same query
ACTION_TD11 = "urn:hl7-org:v3:PRPA_IN201311UV02"  # TLSi kit PatientSoapService.CreateDMP
ANSWER_TD02 = "urn:hl7-org:v3:PRPA_IN201308UV02"
ANSWER_TD11_ACCEPTED = "urn:hl7-org:v3:PRPA_IN201312UV02"
ANSWER_TD11_REFUSED = "urn:hl7-org:v3:PRPA_IN201313UV02"

INTERACTION_ROOT = "2.16.840.1.113883.1.6"  # HL7 V3 interaction ids
DMP_DEVICE = "1.2.250.1.213.4.1.1.1"  # the DMP's receiver/sender device id (TLSi kit, Déhempé)
INS_ROOT = "1.2.250.1.213.1.4.10"  # the patient id root the DMP uses and answers (TLSi kit, Déhempé DmpInsOid)
REQUEST_TYPES = "1.2.250.1.213.1.1.4.11"  # TRE_R271-TypeRequete: TEST_EXST, CREA_RD
OBSERVATIONS = "1.2.250.1.213.4.1.2.3"  # CONSENTEMENT_OUVERTURE_DMP, OPPOSITION_* (TLSi kit MessageBuilder)
# the sandbox's own arc (namespaces.DEFAULT_HOME_COMMUNITY_ID's) where the DMPi code system is not public
ATTENTION_KEYWORDS = "1.2.250.1.213.1.4.2.999.3"  # attentionLine keywords (AUTORISATION, STATUT_MT)
ACK_DETAIL_CODES = "2.16.840.1.113883.5.1100"  # HL7 AcknowledgementDetailCode (SYN105, ...)
DMP_ERROR_CODES = "1.2.250.1.213.1.4.2.999.4"  # the DMP's own acknowledgement codes (DMPFound, ...)

# The DMP's own error codes (acknowledgementDetail/code). ``DMPFound`` is the TLSi kit's; the others are the
# sandbox's, in the same style, until the DMPi specification is public (docs/dmp.md).
DMP_FOUND = "DMPFound"
DMP_PATIENT_UNKNOWN = "DMPPatientNotFound"
DMP_PATIENT_MISMATCH = "DMPPatientIdentityMismatch"
DMP_CONSENT_MISSING = "DMPConsentMissing"
DMP_REFUSED = "DMPRequestRefused"  # any other refusal of the DMP's rules (a DmpError raised while serving TD)
SYN_REQUIRED = "SYN105"  # HL7: required element missing
SYN_DATATYPE = "SYN102"  # HL7: data type error


@dataclass
class Hl7Refusal(Exception):
    """A request the DMP answers with an ``AE`` acknowledgement (the message was read; its content is refused)."""

    code: str
    text: str
    code_system: str = DMP_ERROR_CODES
    rule: str = "DMPi:TD"


def _el(parent: etree._Element | None, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.Element(H + tag, nsmap={None: NS_HL7}) if parent is None else etree.SubElement(parent, H + tag)
    for name, value in attributes.items():
        element.set(name, value)
    if text is not None:
        element.text = text
    return element


def _hl7_time(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _root_of(call: SoapCall, interaction: str) -> etree._Element:
    """The request's HL7 V3 message, checked to be the interaction the action names."""
    payload = call.request.payload
    if payload.tag != H + interaction:
        raise faults.sender("InvalidMessage", f"le corps SOAP doit être un message HL7 V3 {interaction} pour "
                            f"l'action {call.request.action} (trouvé {etree.QName(payload).localname})",
                            rule=f"DMPi:{interaction}")
    return payload


def _sender_device(message: etree._Element) -> str | None:
    found = message.find(f"{H}sender/{H}device/{H}id")
    return found.get("root") if found is not None else None


def _header(interaction: str, request: etree._Element) -> etree._Element:
    """The transmission wrapper of an answer (MCCI_MT000300UV01): ids, receiver = the caller's device,
    sender = the DMP. ``attentionLine`` and ``acknowledgement`` come next, then ``controlActProcess``."""
    root = _el(None, interaction, ITSVersion="XML_1.0")
    _el(root, "id", root=DMP_DEVICE, extension=str(uuid.uuid4()))
    _el(root, "creationTime", value=_hl7_time())
    _el(root, "interactionId", root=INTERACTION_ROOT, extension=interaction)
    _el(root, "processingCode", code="P")
    _el(root, "processingModeCode", code="T")
    _el(root, "acceptAckCode", code="NE")
    receiver = _el(_el(root, "receiver", typeCode="RCV"), "device", classCode="DEV", determinerCode="INSTANCE")
    _el(receiver, "id", root=_sender_device(request) or "")
    sender = _el(_el(root, "sender", typeCode="SND"), "device", classCode="DEV", determinerCode="INSTANCE")
    _el(sender, "id", root=DMP_DEVICE)
    _el(sender, "softwareName", "DMP")
    return root


def _acknowledge(root: etree._Element, request: etree._Element, refusal: Hl7Refusal | None) -> None:
    """The acknowledgement of the request's ``id``: ``AA`` accepted, ``AE`` refused with its detail."""
    ack = _el(root, "acknowledgement", typeCode="AA" if refusal is None else "AE")
    target = _el(ack, "targetMessage")
    request_id = request.find(f"{H}id")
    _el(target, "id", **({k: v for k, v in request_id.attrib.items() if k in ("root", "extension")}
                         if request_id is not None else {}))
    if refusal is not None:
        detail = _el(ack, "acknowledgementDetail", typeCode="E")
        _el(detail, "code", code=refusal.code, codeSystem=refusal.code_system)
        _el(detail, "text", refusal.text)


def refusal_of(error: DmpError, action: str) -> Hl7Refusal:
    """A :class:`DmpError` raised while serving the TD ``action`` (by :mod:`app.dmp.service`, in the handler or
    at commit), as the detail of that transaction's ``AE`` acknowledgement, never an XDS ``RegistryResponse``:
    a conflict on TD1.1 is a DMP created meanwhile (``DMPFound``, the TLSi kit's code), an INS the INS service
    does not know ``DMPPatientNotFound``, anything else the sandbox's generic ``DMPRequestRefused`` with the
    rule's text (French then English, as the XDS face's codeContext)."""
    if action == ACTION_TD11 and error.kind is Kind.CONFLICT:
        return Hl7Refusal(DMP_FOUND, error.french or error.english, rule=error.rule)
    if error.rule == "INS:unknown":
        return Hl7Refusal(DMP_PATIENT_UNKNOWN, error.french or error.english, rule=error.rule)
    french = error.french or error.english
    text = french if french == error.english else f"{french} — {error.english}"
    return Hl7Refusal(DMP_REFUSED, f"{text} [{error.rule}]", rule=error.rule)


def refused_reply(action: str, request: etree._Element, refusal: Hl7Refusal) -> SoapReply:
    """The ``AE`` answer of the TD ``action`` to ``request``: TD1.1 ``PRPA_IN201313UV02``; TD0.2
    ``PRPA_IN201308UV02`` with ``queryResponseCode`` ``QE`` (a malformed query: an HL7 syntax code) or ``AE``."""
    if action == ACTION_TD11:
        root = _header("PRPA_IN201313UV02", request)
        _acknowledge(root, request, refusal)
        _registration(root, "PRPA_TE201313UV02", None)
        return SoapReply(action=ANSWER_TD11_REFUSED, payload=root)
    root = _header("PRPA_IN201308UV02", request)
    _acknowledge(root, request, refusal)
    _query_ack(_control(root, "PRPA_TE201308UV02"), request, "QE" if refusal.code_system == ACK_DETAIL_CODES else "AE")
    return SoapReply(action=ANSWER_TD02, payload=root)


def _bool_value(parent: etree._Element, value: bool) -> None:
    _el(parent, "value", value="true" if value else "false").set(f"{{{NS_XSI}}}type", "BL")


def _observation(patient: etree._Element, code: str, value: bool) -> None:
    subject = _el(patient, "subjectOf", typeCode="SBJ")
    observation = _el(subject, "administrativeObservation", classCode="OBS", moodCode="EVN")
    _el(observation, "code", code=code, codeSystem=OBSERVATIONS)
    _bool_value(observation, value)


def _attention(root: etree._Element, keyword: str, *, code: str | None = None, flag: bool | None = None) -> None:
    """An ``attentionLine`` of the answer (Déhempé reads ``keyWordText/@code`` and ``value/@code|@value``)."""
    line = _el(root, "attentionLine")
    _el(line, "keyWordText", code=keyword, codeSystem=ATTENTION_KEYWORDS)
    if code is not None:
        _el(line, "value", code=code).set(f"{{{NS_XSI}}}type", "CS")
    else:
        _bool_value(line, bool(flag))


# --- TD0.2 -------------------------------------------------------------------------------------------------

def _queried_ins(message: etree._Element) -> str:
    """The INS of ``controlActProcess/queryByParameter/parameterList/patientIdentifier/value`` (any INS root:
    the DMP's 1.2.250.1.213.1.4.10 as clients send it, or the NIR/NIA OIDs)."""
    value = message.find(f"{H}controlActProcess/{H}queryByParameter/{H}parameterList/{H}patientIdentifier/{H}value")
    if value is None or not (value.get("extension") or "").strip():
        raise Hl7Refusal(SYN_REQUIRED, "queryByParameter/parameterList/patientIdentifier/value@extension (l'INS du "
                         "patient) est obligatoire (TD0.2)", ACK_DETAIL_CODES, "DMPi:TD0.2.patientIdentifier")
    return _checked_ins(value.get("extension", ""), value.get("root"), rule="DMPi:TD0.2.patientIdentifier")


def _checked_ins(ins: str, root: str | None, *, rule: str) -> str:
    """An INS under an INS OID (NIR .8/.10/.11, NIA .9: the INS service's catalogue)."""
    ins = ins.strip().replace(" ", "")
    if not root or ins_service.lookup_key(ins, root) is None:
        raise Hl7Refusal(SYN_DATATYPE, f"identifiant patient {root}/{ins} : un INS de 15 caractères sous un OID INS "
                         f"({INS_ROOT}, 1.2.250.1.213.1.4.8, ...) est attendu", ACK_DETAIL_CODES, rule)
    return ins


def _check_vihf_patient(call: SoapCall, ins: str) -> None:
    """The VIHF's resource-id names the patient the call is about (reference/dmp.md §1.1): it must be this one."""
    if call.vihf.patient_ins and call.vihf.patient_ins != ins:
        raise Hl7Refusal(DMP_PATIENT_MISMATCH, f"l'INS du VIHF ({call.vihf.patient_ins}) n'est pas celui de la "
                         f"requête ({ins})", rule="DMPi:VIHF.resource-id")


async def test_existence(call: SoapCall) -> SoapReply:
    """TD0.2: ``PRPA_IN201307UV02`` (reason ``TEST_EXST``) answered ``PRPA_IN201308UV02``: ``queryResponseCode``
    ``OK`` with the DMP (open: ``active``; closed: patient ``terminated``, registration ``completed`` as the
    TLSi kit's closure message sets them), the caller's authorisation (``INTERDIT`` when the patient blocked
    them: TD0.2 reports it and refuses nothing, as the FHIR face's TD02 does), the médecin traitant flag;
    ``NF`` when there is no DMP; ``QE`` (with an ``AE`` acknowledgement) for a malformed query. Traced
    (``TD0.2``) when the DMP exists."""
    request = _root_of(call, "PRPA_IN201307UV02")
    try:
        ins = _queried_ins(request)
        _check_vihf_patient(call, ins)
    except Hl7Refusal as refusal:
        call.journal.update(rule=refusal.rule, outcome=refusal.code)
        return refused_reply(ACTION_TD02, request, refusal)
    root = _header("PRPA_IN201308UV02", request)
    record = await service.get_record(call.session, ins=ins)
    if record is None:
        _acknowledge(root, request, None)
        _query_ack(_control(root, "PRPA_TE201308UV02"), request, "NF")
        call.journal.update(ins=ins, outcome="NF")
        return SoapReply(action=ANSWER_TD02, payload=root)
    authorisation, medecin_traitant = await _standing(call, record)
    _attention(root, "AUTORISATION", code=authorisation)
    _attention(root, "STATUT_MT", flag=medecin_traitant)
    _acknowledge(root, request, None)
    control = _control(root, "PRPA_TE201308UV02")
    event = _el(_el(control, "subject", typeCode="SUBJ"), "registrationEvent", classCode="REG", moodCode="EVN")
    _el(event, "statusCode", code="active" if record.active else "completed")
    if not record.active and record.closure_date is not None:
        _el(_el(event, "effectiveTime"), "high", value=_hl7_time(record.closure_date))
    patient = _el(_el(event, "subject1", typeCode="SBJ"), "patient", classCode="PAT")
    _el(patient, "id", root=INS_ROOT, extension=record.ins)
    _el(patient, "statusCode", code="active" if record.active else "terminated")
    identity = await service.patient_identity(call.session, record)
    if identity is not None:
        person = _el(patient, "patientPerson", classCode="PSN", determinerCode="INSTANCE")
        name = _el(person, "name")
        _el(name, "family", identity.birth_name, qualifier="BR")
        _el(name, "given", identity.first_given_name)
        _el(person, "administrativeGenderCode", code=identity.sex, codeSystem="2.16.840.1.113883.5.1")
        if identity.birth_date:
            _el(person, "birthTime", value=str(identity.birth_date).replace("-", ""))
    _observation(patient, "RATTACHEMENT_ENS", bool(record.linked_to_mes))
    _observation(patient, "OPPOSITION_BRIS_DE_GLACE", bool(record.opt_out_bris_de_glace))
    _observation(patient, "OPPOSITION_ACCES_URGENCE", bool(record.opt_out_centre_15))
    _query_ack(control, request, "OK")
    await service.trace(call.session, record=record, ctx=call.ctx, transaction="TD0.2", action="E",
                        query=f"patientIdentifier={ins}",
                        outcome_text=f"DMP {'ouvert' if record.active else 'fermé'}, autorisation {authorisation}")
    call.journal.update(ins=ins, outcome="OK", authorisation=authorisation)
    return SoapReply(action=ANSWER_TD02, payload=root)


def _control(root: etree._Element, trigger: str) -> etree._Element:
    control = _el(root, "controlActProcess", classCode="CACT", moodCode="EVN")
    _el(control, "code", code=trigger, codeSystem=INTERACTION_ROOT)
    return control


def _query_ack(control: etree._Element, request: etree._Element, code: str) -> None:
    """``queryAck`` (after ``subject``): the request's ``queryId`` and the ``queryResponseCode`` (OK, NF, QE,
    AE: HL7 QueryResponse); then the request's ``queryByParameter`` echoed, as HL7 V3 query responses do
    (QUQI_MT120001UV01 ControlActProcess: ``subject*``, ``queryAck``, ``queryByParameter``)."""
    ack = _el(control, "queryAck")
    query = request.find(f"{H}controlActProcess/{H}queryByParameter")
    query_id = query.find(f"{H}queryId") if query is not None else None
    if query_id is not None:
        _el(ack, "queryId", **{k: v for k, v in query_id.attrib.items() if k in ("root", "extension")})
    _el(ack, "queryResponseCode", code=code)
    if query is not None:
        control.append(copy.deepcopy(query))


async def _standing(call: SoapCall, record: Any) -> tuple[str, bool]:
    """The caller's authorisation on the DMP (``INTERDIT`` when blocked) and whether they hold the médecin
    traitant flag (EF_DMP04_01, EF_DMP01_07)."""
    rpps = call.ctx.rpps
    if not rpps:
        return "NON_EXISTE", False
    if rpps in await service.list_blocked(call.session, record=record):
        return "INTERDIT", False
    row = next((a for a in await service.list_authorisations(call.session, record=record) if a.rpps == rpps), None)
    if row is None:
        return "NON_EXISTE", False
    return row.status, bool(row.medecin_traitant)


# --- TD1.1 -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Creation:
    """What a ``PRPA_IN201311UV02`` asks: the patient, the administrative traits sent, the access choices."""

    ins: str
    oid: str
    sex: str | None
    birth_date: str | None  # YYYYMMDD
    birth_names: tuple[str, ...]
    consent: bool | None
    opt_out_bris_de_glace: bool | None
    opt_out_centre_15: bool | None


def read_creation(message: etree._Element) -> Creation:
    """``controlActProcess/subject/registrationRequest/subject1/patient`` of a TD1.1 request (TLSi kit
    ``MessageBuilder.CreateHl7V3Message``, Mediboard ``CHL7v3EventPRPAIN201311UV02``)."""
    patient = message.find(f"{H}controlActProcess/{H}subject/{H}registrationRequest/{H}subject1/{H}patient")
    if patient is None:
        raise Hl7Refusal(SYN_REQUIRED, "controlActProcess/subject/registrationRequest/subject1/patient est "
                         "obligatoire (TD1.1)", ACK_DETAIL_CODES, "DMPi:TD1.1.patient")
    identifier = patient.find(f"{H}id")
    if identifier is None or not (identifier.get("extension") or "").strip():
        raise Hl7Refusal(SYN_REQUIRED, "patient/id@extension (l'INS du patient) est obligatoire (TD1.1)",
                         ACK_DETAIL_CODES, "DMPi:TD1.1.patient.id")
    root = identifier.get("root")
    ins = _checked_ins(identifier.get("extension", ""), root, rule="DMPi:TD1.1.patient.id")
    person = patient.find(f"{H}patientPerson")
    sex = birth = None
    names: list[str] = []
    if person is not None:
        gender = person.find(f"{H}administrativeGenderCode")
        sex = (gender.get("code") or "").upper() or None if gender is not None else None
        born = person.find(f"{H}birthTime")
        birth = (born.get("value") or "")[:8] or None if born is not None else None
        for family in person.iterfind(f"{H}name/{H}family"):
            if "BR" in (family.get("qualifier") or "").split() and family.text:
                names.append(family.text.strip().upper())
    observations: dict[str, bool | None] = {}
    for observation in patient.iterfind(f"{H}subjectOf/{H}administrativeObservation"):
        code, value = observation.find(f"{H}code"), observation.find(f"{H}value")
        if code is not None and value is not None:
            observations[code.get("code", "")] = {"true": True, "false": False}.get((value.get("value") or "").lower())
    return Creation(ins=ins, oid=str(root), sex=sex, birth_date=birth, birth_names=tuple(names),
                    consent=observations.get("CONSENTEMENT_OUVERTURE_DMP"),
                    opt_out_bris_de_glace=observations.get("OPPOSITION_BRIS_DE_GLACE"),
                    opt_out_centre_15=observations.get("OPPOSITION_ACCES_URGENCE"))


def check_traits(creation: Creation, identity: Any) -> None:
    """The administrative traits sent must be the INS identity's (sex, birth date, birth name when sent with
    qualifier ``BR``): a DMP is only created on an INS qualified through INSi (reference/dmp.md §2.7)."""
    mismatches = []
    if creation.sex and creation.sex != identity.sex:
        mismatches.append(f"sexe {creation.sex} (INS : {identity.sex})")
    born = str(identity.birth_date or "").replace("-", "")
    if creation.birth_date and born and creation.birth_date != born:
        mismatches.append(f"date de naissance {creation.birth_date} (INS : {born})")
    if creation.birth_names and identity.birth_name.upper() not in creation.birth_names:
        mismatches.append(f"nom de naissance {creation.birth_names[0]} (INS : {identity.birth_name})")
    if mismatches:
        raise Hl7Refusal(DMP_PATIENT_MISMATCH, "traits différents de ceux de l'INS : " + ", ".join(mismatches),
                         rule="DMPi:TD1.1.traits")


async def create(call: SoapCall) -> SoapReply:
    """TD1.1: ``PRPA_IN201311UV02`` (reason ``CREA_RD``) answered ``PRPA_IN201312UV02`` (``AA``) when the DMP
    is created, with the patient's access choices (opt-outs) and the creating professional's authorisation
    (``VALIDE``: the patient consented in front of them); ``PRPA_IN201313UV02`` (``AE``) with ``DMPFound`` when
    it exists, or the reason it is refused. Traced (``TD1.1``)."""
    request = _root_of(call, "PRPA_IN201311UV02")
    try:
        creation = read_creation(request)
        _check_vihf_patient(call, creation.ins)
        if creation.consent is False:
            raise Hl7Refusal(DMP_CONSENT_MISSING, "CONSENTEMENT_OUVERTURE_DMP vaut false : le DMP n'est créé "
                             "qu'avec le consentement du patient", rule="DMPi:TD1.1.consent")
        identity = await ins_service.find_identity(call.session, ins=creation.ins, oid=creation.oid)
        if identity is None:
            raise Hl7Refusal(DMP_PATIENT_UNKNOWN, f"l'INS {creation.ins} est inconnu du service INS : seul un INS "
                             "qualifié par l'INSi peut porter un DMP", rule="INS:unknown")
        check_traits(creation, identity)
        try:
            record = await service.create_record(call.session, ins=creation.ins, oid=creation.oid)
        except DmpError as error:
            if error.kind is Kind.CONFLICT:
                raise Hl7Refusal(DMP_FOUND, f"un DMP existe déjà pour l'INS {creation.ins}", rule=error.rule) from None
            raise refusal_of(error, ACTION_TD11) from None
    except Hl7Refusal as refusal:
        call.journal.update(rule=refusal.rule, outcome=refusal.code)
        return refused_reply(ACTION_TD11, request, refusal)
    await service.set_opt_outs(call.session, record=record, bris_de_glace=creation.opt_out_bris_de_glace,
                               centre_15=creation.opt_out_centre_15)
    if call.ctx.rpps:
        await service.set_authorisation(call.session, record=record, rpps=call.ctx.rpps, status="VALIDE")
    await service.trace(call.session, record=record, ctx=call.ctx, transaction="TD1.1", action="C",
                        outcome_text="création du DMP")
    call.journal.update(ins=record.ins, outcome="created")
    root = _header("PRPA_IN201312UV02", request)
    _acknowledge(root, request, None)
    _registration(root, "PRPA_TE201312UV02", record.ins)
    return SoapReply(action=ANSWER_TD11_ACCEPTED, payload=root)


def _registration(root: etree._Element, trigger: str, ins: str | None) -> None:
    control = _control(root, trigger)
    _el(control, "reasonCode", code="CREA_RD", codeSystem=REQUEST_TYPES, displayName="Création de dossier")
    if ins is not None:
        event = _el(_el(control, "subject", typeCode="SUBJ"), "registrationEvent", classCode="REG", moodCode="EVN")
        _el(event, "statusCode", code="active")
        patient = _el(_el(event, "subject1", typeCode="SBJ"), "patient", classCode="PAT")
        _el(patient, "id", root=INS_ROOT, extension=ins)
        _el(patient, "statusCode", code="active")


# the TD actions answered in HL7 V3, a refusal included (:func:`refused_reply`; the router's DmpError branch)
HL7_ACTIONS = frozenset({ACTION_TD02, ACTION_TD02_KIT, ACTION_TD11})

OPERATIONS: dict[str, Handler] = {  # wsa:Action -> handler
    ACTION_TD02: test_existence,
    ACTION_TD02_KIT: test_existence,
    ACTION_TD11: create,
}
