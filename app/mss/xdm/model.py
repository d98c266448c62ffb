"""What an IHE XDM archive holds once read: its documents, submission set, patient ids, CDA headers and
issues (ITI TF-3 §4.2 metadata), and the reader's bounds. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.shared.identifiers import INS_OIDS

SUBSET = "IHE_XDM/SUBSET01/"
METADATA_PATH = SUBSET + "METADATA.XML"
INDEX_PATH = "INDEX.HTM"
README_PATH = "README.TXT"

RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
HL7 = "urn:hl7-org:v3"
NS = {"rim": RIM, "lcm": LCM, "hl7": HL7}

# ITI TF-3 Table 4.2.5-1 (UUIDs of the XDS metadata).
DOCUMENT_ENTRY_STABLE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
DOCUMENT_ENTRY_ON_DEMAND = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"
SUBMISSION_SET_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
DE_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DE_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
DE_CLASS_CODE = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
DE_TYPE_CODE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DE_FORMAT_CODE = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
DE_CONFIDENTIALITY = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
DE_PRACTICE_SETTING = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
DE_FACILITY_TYPE = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
SS_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
SS_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
SS_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
SS_CONTENT_TYPE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"

LOINC = "2.16.840.1.113883.6.1"


@dataclass(frozen=True)
class XdmLimits:
    """Bounds of what the reader accepts (zip-bomb and resource limits)."""

    max_entries: int = 64
    max_total_uncompressed: int = 64 * 1024 * 1024
    max_entry_uncompressed: int = 32 * 1024 * 1024
    max_ratio: int = 200
    """Refuse an entry that inflates more than this many times (only checked above ``ratio_floor``)."""
    ratio_floor: int = 1024 * 1024
    max_xml_bytes: int = 8 * 1024 * 1024
    max_central_directory: int = 64 * 1024
    """Largest central directory accepted (read from the end record before :mod:`zipfile` parses it; a
    real XDM's is a few hundred bytes)."""


DEFAULT_LIMITS = XdmLimits()


@dataclass(frozen=True)
class XdmIssue:
    code: str
    severity: str  # "error" | "warning"
    message: str


@dataclass(frozen=True)
class Code:
    code: str
    scheme: str | None = None
    display: str | None = None


@dataclass(frozen=True)
class PatientId:
    """An XDS patientId (HL7 v2 CX ``id^^^&oid&ISO``) split into its parts."""

    raw: str
    id: str
    oid: str | None

    @property
    def is_ins(self) -> bool:
        return self.oid in INS_OIDS

    @classmethod
    def parse(cls, raw: str) -> PatientId:
        raw = raw.strip()
        ident, _, authority = raw.partition("^^^")
        parts = authority.split("&")
        oid = parts[1] if len(parts) >= 2 and parts[1] else None
        return cls(raw=raw, id=ident, oid=oid)

    def to_cx(self) -> str:
        return f"{self.id}^^^&{self.oid}&ISO" if self.oid else self.id


@dataclass(frozen=True)
class CdaHeader:
    """What the checks need from a CDA R2 header."""

    code: Code | None
    title: str | None
    unique_id: str | None
    effective_time: str | None
    confidentiality: Code | None
    language: str | None
    ins: str | None
    ins_oid: str | None
    birth_name: str | None
    """Nom de naissance: ``family qualifier="BR"`` (an unqualified ``family`` in pre-INS headers)."""
    first_given_name: str | None
    """Premier prénom de l'acte de naissance: ``given qualifier="BR"``; without any such element (pre-INS
    headers), the first prénom of the first unqualified ``given``."""
    birth_date: str | None
    sex: str | None
    replaces: str | None = None
    birth_given_names: str | None = None
    """Prénoms de l'acte de naissance: the unqualified ``given`` (space-separated list)."""
    usage_name: str | None = None
    """Nom d'usage: ``family qualifier="SP"``."""
    used_name: str | None = None
    """Nom utilisé (RNIV): ``family qualifier="CL"``."""
    used_given_name: str | None = None
    """Prénom utilisé (RNIV): ``given qualifier="CL"``."""
    template_ids: tuple[str, ...] = ()
    """``ClinicalDocument/templateId/@root``, in document order."""
    body_media_type: str | None = None
    """``nonXMLBody/text/@mediaType`` of a CDA R2 level 1 document (None for a structuredBody)."""
    structured: bool = False
    """The document has a ``structuredBody``."""

    @property
    def ins_qualified(self) -> bool:
        """Ref #2 (SC.MSS/CONF.14, mss.md §4): the INS counts as qualified when the CDA carries the
        matricule **and** its OID **and** the 4 traits birth name, first birth first-name (``BR``), birth
        date, sex. (ins.md §3 lists five INS traits; the MSS header follows Ref #2's four; docs/mss.md.)"""
        return bool(
            self.ins
            and self.ins_oid in INS_OIDS
            and self.birth_name
            and self.first_given_name
            and self.birth_date
            and self.sex
        )


@dataclass(frozen=True)
class DocumentEntry:
    entry_id: str
    uri: str | None
    path: str | None
    mime_type: str | None
    unique_id: str | None
    patient_id: PatientId | None
    source_patient_id: str | None
    title: str | None
    class_code: Code | None
    type_code: Code | None
    format_code: Code | None
    confidentiality_code: Code | None
    hash: str | None
    size: int | None
    creation_time: str | None
    cda: CdaHeader | None = None


@dataclass(frozen=True)
class SubmissionSet:
    entry_id: str | None
    unique_id: str | None
    source_id: str | None
    patient_id: PatientId | None
    submission_time: str | None
    content_type: Code | None


@dataclass
class XdmPackage:
    files: list[str]
    submission_set: SubmissionSet | None
    documents: list[DocumentEntry]
    issues: list[XdmIssue] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def patient_ids(self) -> list[PatientId]:
        seen: dict[str, PatientId] = {}
        candidates = [d.patient_id for d in self.documents]
        if self.submission_set:
            candidates.append(self.submission_set.patient_id)
        for pid in candidates:
            if pid is not None:
                seen.setdefault(pid.raw, pid)
        return list(seen.values())

    @property
    def cda_documents(self) -> list[DocumentEntry]:
        return [d for d in self.documents if d.cda is not None]

    @property
    def cda_codes(self) -> list[str]:
        return [d.cda.code.code for d in self.cda_documents if d.cda and d.cda.code]

    @property
    def has_qualified_ins(self) -> bool:
        return any(d.cda.ins_qualified for d in self.cda_documents if d.cda)

    def to_dict(self) -> dict:
        """JSON-friendly view (used by the HTTP API and stored with the message)."""

        def code(c: Code | None) -> dict | None:
            return None if c is None else {"code": c.code, "scheme": c.scheme, "display": c.display}

        def pid(p: PatientId | None) -> dict | None:
            return None if p is None else {"value": p.raw, "id": p.id, "oid": p.oid, "is_ins": p.is_ins}

        ss = self.submission_set
        return {
            "files": self.files,
            "submission_set": None
            if ss is None
            else {
                "unique_id": ss.unique_id,
                "source_id": ss.source_id,
                "patient_id": pid(ss.patient_id),
                "submission_time": ss.submission_time,
                "content_type": code(ss.content_type),
            },
            "documents": [
                {
                    "entry_id": d.entry_id,
                    "uri": d.uri,
                    "path": d.path,
                    "mime_type": d.mime_type,
                    "unique_id": d.unique_id,
                    "patient_id": pid(d.patient_id),
                    "title": d.title,
                    "class_code": code(d.class_code),
                    "type_code": code(d.type_code),
                    "format_code": code(d.format_code),
                    "confidentiality_code": code(d.confidentiality_code),
                    "hash": d.hash,
                    "size": d.size,
                    "creation_time": d.creation_time,
                    "cda": None
                    if d.cda is None
                    else {
                        "code": code(d.cda.code),
                        "title": d.cda.title,
                        "ins": d.cda.ins,
                        "ins_oid": d.cda.ins_oid,
                        "ins_qualified": d.cda.ins_qualified,
                        "birth_name": d.cda.birth_name,
                        "first_given_name": d.cda.first_given_name,
                        "birth_given_names": d.cda.birth_given_names,
                        "usage_name": d.cda.usage_name,
                        "used_name": d.cda.used_name,
                        "used_given_name": d.cda.used_given_name,
                        "birth_date": d.cda.birth_date,
                        "sex": d.cda.sex,
                        "replaces": d.cda.replaces,
                    },
                }
                for d in self.documents
            ],
            "cda_codes": self.cda_codes,
            "qualified_ins": self.has_qualified_ins,
            "issues": [{"code": i.code, "severity": i.severity, "message": i.message} for i in self.issues],
        }
