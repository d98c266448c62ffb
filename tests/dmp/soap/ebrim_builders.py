"""ITI-41 and ITI-57 requests built the way DMP clients build them, as XML text.

Shapes: the ITI-41 sample of ``ehealthsuisse/EPR-by-example`` (``samples/ITI-41_request_raw.xml``, explained in
``files/ProvideAndRegister.md``, commit 03b844fd81b14928c23fb73ac85f4abc366ee295): a RegistryPackage with
submissionTime, Name, contentTypeCode / author Classifications, the SubmissionSet node Classification, the
sourceId / uniqueId / patientId ExternalIdentifiers; an ExtrinsicObject per document; a HasMember Association
with ``SubmissionSetStatus=Original``; ``xdsb:Document id=`` the ExtrinsicObject's id. The French codes and
the CX / XCN / XON forms as Mediboard's DMP client writes them (``IMAGE-ET/mediboard_save``
``modules/xds/classes/CXDSFactory.class.php`` @041b88f8 ``getPerson``, ``getSourcepatientInfo``;
sergeinack3/PowerCare ``modules/xds/classes/Factory/CXDSFactory.php`` @8c3438fa: ``<INS>^^^&<OID>&ISO^NH``,
``code^display^OID`` specialties), the ITI-57 bodies as the latter's ``generateXDS57`` does (association01
from the submission set to the document, ``OriginalStatus`` / ``NewStatus`` for a status change; to the new
ExtrinsicObject with ``SubmissionSetStatus=Original`` + ``PreviousVersion`` for masking).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field

from app.dmp.soap import namespaces as ns

INS_TEST_OID = "1.2.250.1.213.1.4.8"
RIM, LCM, XDSB = ns.NS_RIM, ns.NS_LCM, ns.NS_XDSB


def slot(name: str, *values: str) -> str:
    inner = "".join(f"<rim:Value>{v}</rim:Value>" for v in values)
    return f'<rim:Slot name="{name}"><rim:ValueList>{inner}</rim:ValueList></rim:Slot>'


def name(text: str, tag: str = "Name") -> str:
    return f'<rim:{tag}><rim:LocalizedString value="{text}"/></rim:{tag}>'


def classification(scheme: str, obj: str, code: str, coding_scheme: str, display: str = "") -> str:
    return (f'<rim:Classification classificationScheme="{scheme}" classifiedObject="{obj}" '
            f'id="urn:uuid:{uuid.uuid4()}" nodeRepresentation="{code}" objectType="{ns.OBJECT_TYPE_CLASSIFICATION}">'
            f'{slot("codingScheme", coding_scheme)}{name(display) if display else ""}</rim:Classification>')


def external(scheme: str, obj: str, value: str, label: str) -> str:
    return (f'<rim:ExternalIdentifier id="urn:uuid:{uuid.uuid4()}" identificationScheme="{scheme}" '
            f'objectType="{ns.OBJECT_TYPE_EXTERNAL_IDENTIFIER}" registryObject="{obj}" value="{value}">'
            f'{name(label)}</rim:ExternalIdentifier>')


def author(scheme: str, obj: str, rpps: str = "10001000016", family: str = "FONTAINE", given: str = "Claire") -> str:
    return (f'<rim:Classification classificationScheme="{scheme}" classifiedObject="{obj}" '
            f'id="urn:uuid:{uuid.uuid4()}" nodeRepresentation="" objectType="{ns.OBJECT_TYPE_CLASSIFICATION}">'
            + slot("authorPerson", f"8{rpps}^{family}^{given}^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS")
            + slot("authorInstitution",
                   "Cabinet du Dr Fontaine^^^^^&amp;1.2.250.1.71.4.2.2&amp;ISO^IDNST^^^31SANDBOX0001")
            + slot("authorRole", "10^Médecin^1.2.250.1.213.1.1.4.5")
            + slot("authorSpecialty", "SM54^Médecine générale (SM)^1.2.250.1.71.4.2.5")
            + slot("authorTelecommunication", "^^Internet^claire.fontaine@sandbox.mssante.fr")
            + "</rim:Classification>")


@dataclass
class Doc:
    """One document of an ITI-41 request; every attribute may be changed or left out (None) by a test."""

    data: bytes = b"%PDF-1.4 sandbox"
    id: str = field(default_factory=lambda: f"urn:uuid:{uuid.uuid4()}")
    unique_id: str | None = field(default_factory=lambda: f"1.2.250.1.213.1.4.8.99999.{uuid.uuid4().int % 10**12}")
    ins: str = "275126322074974"
    mime: str = "application/pdf"
    type_code: str = "11488-4"
    class_code: str = "10"
    confidentiality: tuple[tuple[str, str], ...] = (("N", "2.16.840.1.113883.5.25"),)
    creation: str | None = "20260612080000"
    start: str | None = "20260612073000"
    stop: str | None = None
    hash: str | None = "auto"
    size: str | None = "auto"
    title: str | None = "CR de consultation"
    rpps: str = "10001000016"
    with_bytes: bool = True
    mtom: bool = False

    def xml(self) -> str:
        o = self.id
        digest = hashlib.sha1(self.data).hexdigest() if self.hash == "auto" else self.hash  # noqa: S324
        size = str(len(self.data)) if self.size == "auto" else self.size
        slots = "".join(slot(n, v) for n, v in (
            ("creationTime", self.creation), ("hash", digest), ("languageCode", "fr-FR"),
            ("legalAuthenticator", f"8{self.rpps}^FONTAINE^Claire^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS"),
            ("serviceStartTime", self.start), ("serviceStopTime", self.stop), ("size", size),
            ("sourcePatientId", f"{self.ins}^^^&amp;{INS_TEST_OID}&amp;ISO^NH"),
            ("sourcePatientInfo", "PID-5|ADRUN^ZOE^^^^^L"), ("sourcePatientInfo", "PID-7|19751231"),
            ("sourcePatientInfo", "PID-8|F")) if v is not None)
        codes = (
            classification(ns.SCHEME_DOC_CLASS, o, self.class_code, "1.2.250.1.213.1.1.4.1", "Compte rendu")
            + "".join(classification(ns.SCHEME_DOC_CONFIDENTIALITY, o, c, s, c) for c, s in self.confidentiality)
            + classification(ns.SCHEME_DOC_FORMAT, o, "urn:ihe:iti:xds-sd:pdf:2008", "1.3.6.1.4.1.19376.1.2.3",
                             "PDF/A-1")
            + classification(ns.SCHEME_DOC_FACILITY, o, "SA07", "1.2.250.1.71.4.2.4", "Cabinet individuel")
            + classification(ns.SCHEME_DOC_PRACTICE, o, "AMBULATOIRE", "1.2.250.1.213.1.1.4.9", "Ambulatoire")
            + classification(ns.SCHEME_DOC_TYPE, o, self.type_code, "2.16.840.1.113883.6.1", "CR de consultation"))
        identifiers = external(ns.IDENT_DOC_PATIENT, o, f"{self.ins}^^^&amp;{INS_TEST_OID}&amp;ISO^NH",
                               "XDSDocumentEntry.patientId")
        if self.unique_id is not None:
            identifiers += external(ns.IDENT_DOC_UNIQUE, o, self.unique_id, "XDSDocumentEntry.uniqueId")
        return (f'<rim:ExtrinsicObject id="{o}" mimeType="{self.mime}" objectType="{ns.OBJECT_TYPE_STABLE_DOCUMENT}">'
                f'{slots}{name(self.title) if self.title is not None else ""}'
                f'{author(ns.SCHEME_DOC_AUTHOR, o, self.rpps)}{codes}{identifiers}</rim:ExtrinsicObject>')

    def document(self) -> str:
        if not self.with_bytes:
            return ""
        if self.mtom:
            return (f'<xdsb:Document id="{self.id}"><xop:Include xmlns:xop="{ns.NS_XOP}" '
                    f'href="cid:{self.content_id}"/></xdsb:Document>')
        return f'<xdsb:Document id="{self.id}">{base64.b64encode(self.data).decode()}</xdsb:Document>'

    @property
    def content_id(self) -> str:
        return f"{self.id.removeprefix('urn:uuid:')}@sandbox.test"


def submission_set(ss_id: str, ins: str, *, source_id: str = "1.2.250.1.213.1.4.8.99999.1") -> str:
    return (f'<rim:RegistryPackage id="{ss_id}" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:'
            f'RegistryObject:RegistryPackage">{slot("submissionTime", "20260612080500")}{name("Lot de soumission")}'
            f'{author(ns.SCHEME_SS_AUTHOR, ss_id)}'
            + classification(ns.SCHEME_SS_CONTENT_TYPE, ss_id, "04", "1.2.250.1.213.1.1.4.12", "Hospitalisation")
            + external(ns.IDENT_SS_SOURCE, ss_id, source_id, "XDSSubmissionSet.sourceId")
            + external(ns.IDENT_SS_UNIQUE, ss_id, f"1.2.250.1.213.1.4.8.99999.2.{uuid.uuid4().int % 10**10}",
                       "XDSSubmissionSet.uniqueId")
            + external(ns.IDENT_SS_PATIENT, ss_id, f"{ins}^^^&amp;{INS_TEST_OID}&amp;ISO^NH",
                       "XDSSubmissionSet.patientId")
            + "</rim:RegistryPackage>"
            f'<rim:Classification classificationNode="{ns.NODE_SUBMISSION_SET}" classifiedObject="{ss_id}" '
            f'id="urn:uuid:{uuid.uuid4()}" objectType="{ns.OBJECT_TYPE_CLASSIFICATION}"/>')


def association(source: str, target: str, atype: str = ns.ASSOC_HAS_MEMBER, **slots: str) -> str:
    inner = "".join(slot(k, v) for k, v in slots.items())
    return (f'<rim:Association associationType="{atype}" id="urn:uuid:{uuid.uuid4()}" '
            f'objectType="{ns.OBJECT_TYPE_ASSOCIATION}" sourceObject="{source}" targetObject="{target}">'
            f'{inner}</rim:Association>')


def provide_and_register(*docs: Doc, ss_ins: str | None = None, replaces: dict[str, str] | None = None,
                         extra: str = "", members: bool = True) -> str:
    """The body's payload of an ITI-41 (``replaces``: new document id -> old entryUUID, an RPLC each)."""
    docs = docs or (Doc(),)
    ss_id = "SubmissionSet01"
    objects = submission_set(ss_id, ss_ins or docs[0].ins) + "".join(d.xml() for d in docs)
    if members:
        objects += "".join(association(ss_id, d.id, SubmissionSetStatus="Original") for d in docs)
    for new, old in (replaces or {}).items():
        objects += association(new, f"urn:uuid:{old}", ns.ASSOC_RPLC)
    return (f'<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb="{XDSB}" xmlns:lcm="{LCM}" xmlns:rim="{RIM}">'
            f'<lcm:SubmitObjectsRequest><rim:RegistryObjectList>{objects}{extra}</rim:RegistryObjectList>'
            f'</lcm:SubmitObjectsRequest>{"".join(d.document() for d in docs)}'
            '</xdsb:ProvideAndRegisterDocumentSetRequest>')


def update_status(doc_id: str, ins: str, original: str, new: str) -> str:
    """ITI-57 status change, as ``generateXDS57`` builds it (association01: submission set -> document)."""
    ss_id = "SubmissionSet01"
    return (f'<lcm:SubmitObjectsRequest xmlns:lcm="{LCM}" xmlns:rim="{RIM}"><rim:RegistryObjectList>'
            + submission_set(ss_id, ins)
            + association(ss_id, f"urn:uuid:{doc_id}", ns.ASSOC_UPDATE_AVAILABILITY, OriginalStatus=original,
                          NewStatus=new)
            + "</rim:RegistryObjectList></lcm:SubmitObjectsRequest>")


def update_metadata(doc: Doc, lid: str, previous_version: str) -> str:
    """ITI-57 new metadata version (masking, visibility): the DocumentEntry again with ``lid`` = the
    document's entryUUID and a new id, a HasMember with ``SubmissionSetStatus=Original`` and
    ``PreviousVersion``."""
    ss_id = "SubmissionSet01"
    entry = doc.xml().replace("<rim:ExtrinsicObject ", f'<rim:ExtrinsicObject lid="urn:uuid:{lid}" ', 1)
    return (f'<lcm:SubmitObjectsRequest xmlns:lcm="{LCM}" xmlns:rim="{RIM}"><rim:RegistryObjectList>'
            + submission_set(ss_id, doc.ins) + entry
            + association(ss_id, doc.id, SubmissionSetStatus="Original", PreviousVersion=previous_version)
            + "</rim:RegistryObjectList></lcm:SubmitObjectsRequest>")
