"""The XDM writer: a conformant ``IHE_XDM.ZIP`` around a CDA R2 document (INDEX.HTM, README.TXT,
METADATA.XML with the document entry and submission set read from the CDA header). Pure."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from app.mss.exceptions import XdmError
from app.mss.xdm.cda import parse_cda_header
from app.mss.xdm.formatcodes import PDF_FORMAT_CODE, cda_format_code, j10_format_code
from app.mss.xdm.model import (
    DE_CLASS_CODE,
    DE_CONFIDENTIALITY,
    DE_FORMAT_CODE,
    DE_PATIENT_ID,
    DE_TYPE_CODE,
    DE_UNIQUE_ID,
    DOCUMENT_ENTRY_STABLE,
    HAS_MEMBER,
    INDEX_PATH,
    LCM,
    LOINC,
    METADATA_PATH,
    README_PATH,
    RIM,
    SS_CONTENT_TYPE,
    SS_PATIENT_ID,
    SS_SOURCE_ID,
    SS_UNIQUE_ID,
    SUBMISSION_SET_NODE,
    SUBSET,
    Code,
    PatientId,
)
from app.xmlsafe import InvalidXmlError, UnsafeXmlError


@dataclass(frozen=True)
class XdmDocument:
    content: bytes
    mime_type: str
    file_name: str | None = None
    title: str | None = None


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _classification_xml(scheme: str, obj_id: str, code: Code, cid: str) -> str:
    display = code.display or code.code
    return (
        f'<rim:Classification id={quoteattr(cid)} classificationScheme="{scheme}" '
        f"classifiedObject={quoteattr(obj_id)}"
        f' nodeRepresentation={quoteattr(code.code)} objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:'
        f'RegistryObject:Classification">'
        f'<rim:Slot name="codingScheme"><rim:ValueList><rim:Value>{escape(code.scheme or "")}</rim:Value>'
        f"</rim:ValueList></rim:Slot><rim:Name><rim:LocalizedString value={quoteattr(display)}/></rim:Name>"
        f"</rim:Classification>"
    )


def _slot_xml(name: str, *values: str) -> str:
    vals = "".join(f"<rim:Value>{escape(v)}</rim:Value>" for v in values)
    return f"<rim:Slot name={quoteattr(name)}><rim:ValueList>{vals}</rim:ValueList></rim:Slot>"


def _ext_id_xml(scheme: str, obj_id: str, value: str, name: str, eid: str) -> str:
    return (
        f'<rim:ExternalIdentifier id={quoteattr(eid)} identificationScheme="{scheme}" registryObject='
        f'{quoteattr(obj_id)} value={quoteattr(value)} objectType="urn:oasis:names:tc:ebxml-regrep:'
        f'ObjectType:RegistryObject:ExternalIdentifier"><rim:Name>'
        f"<rim:LocalizedString value={quoteattr(name)}/></rim:Name>"
        f"</rim:ExternalIdentifier>"
    )


def _oid_from_uuid(u: uuid.UUID) -> str:
    # ITI TF-2x Appendix B: OID 2.25.<uuid as integer>.
    return f"2.25.{u.int}"


DEFAULT_CLASS_CODE = Code("10", "1.2.250.1.213.1.1.4.1", "Compte rendu")


DEFAULT_CONFIDENTIALITY = Code("N", "2.16.840.1.113883.5.25", "Normal")
DEFAULT_CONTENT_TYPE = Code("04", "1.2.250.1.213.1.1.4.12", "Hospitalisation de jour")
DEFAULT_SOURCE_ID = "1.2.250.1.999.1.1"  # the sandbox's own (fictitious) source OID


def build_xdm(
    cda: bytes,
    *,
    pdf: bytes | None = None,
    patient_id: str | None = None,
    patient_oid: str | None = None,
    class_code: Code = DEFAULT_CLASS_CODE,
    format_code: str | None = None,
    source_id: str = DEFAULT_SOURCE_ID,
    author: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """Build a conformant ``IHE_XDM.ZIP`` around a CDA R2 document (and optionally its PDF rendering).

    The patientId, type code (the CDA ``code``), title, confidentiality and language come from the CDA
    header unless given; the format code from the CDA's kind (:func:`cda_format_code`) unless
    ``format_code`` (a JDV_J10 code) is given. Raises :class:`XdmError` when the CDA cannot be read,
    names no patient, or its format code cannot be told.
    """
    now = now or datetime.now(UTC)
    try:
        header = parse_cda_header(cda)
    except UnsafeXmlError as exc:
        raise XdmError("xdm.xml.unsafe", f"CDA: {exc}") from None
    except InvalidXmlError as exc:
        raise XdmError("xdm.cda.invalid", f"CDA: {exc}") from None
    pid_value = patient_id or header.ins
    pid_oid = patient_oid or header.ins_oid
    if not pid_value or not pid_oid:
        raise XdmError(
            "xdm.cda.patient",
            "the CDA names no INS (recordTarget/patientRole/id with an INS OID); "
            "pass patient_id and patient_oid",
        )
    cda_format = j10_format_code(format_code) if format_code else cda_format_code(header)
    patient = PatientId(raw="", id=pid_value, oid=pid_oid).to_cx()
    type_code = header.code or Code("11488-4", LOINC, "Note de consultation")
    if type_code.scheme is None:
        type_code = Code(type_code.code, LOINC, type_code.display)
    docs = [XdmDocument(cda, "text/xml", "DOC0001.XML", header.title)]
    if pdf is not None:
        docs.append(XdmDocument(pdf, "application/pdf", "DOC0002.PDF", header.title))

    ss_uuid = uuid.uuid4()
    ss_id = f"urn:uuid:{ss_uuid}"
    parts: list[str] = []
    for n, doc in enumerate(docs, start=1):
        de_id = f"urn:uuid:{uuid.uuid4()}"
        unique = header.unique_id if (n == 1 and header.unique_id) else _oid_from_uuid(uuid.uuid4())
        slots = [
            _slot_xml("creationTime", _ts(now)),
            _slot_xml("hash", hashlib.sha1(doc.content).hexdigest()),  # noqa: S324 - XDS mandates SHA-1
            _slot_xml("languageCode", header.language or "fr-FR"),
            _slot_xml("size", str(len(doc.content))),
            _slot_xml("sourcePatientId", patient),
            _slot_xml("URI", doc.file_name or f"DOC{n:04d}"),
        ]
        if header.effective_time:
            slots.append(_slot_xml("serviceStartTime", header.effective_time[:14]))
        fmt = cda_format if doc.mime_type == "text/xml" else j10_format_code(PDF_FORMAT_CODE)
        body = "".join(slots)
        body += f"<rim:Name><rim:LocalizedString value={quoteattr(doc.title or 'Document')}/></rim:Name>"
        if author:
            body += (
                f'<rim:Classification id="cl-author-{n}" classificationScheme='
                f'"urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d" classifiedObject={quoteattr(de_id)} '
                f'nodeRepresentation="">{_slot_xml("authorPerson", author)}</rim:Classification>'
            )
        body += _classification_xml(DE_CLASS_CODE, de_id, class_code, f"cl-class-{n}")
        body += _classification_xml(
            DE_CONFIDENTIALITY, de_id, header.confidentiality or DEFAULT_CONFIDENTIALITY, f"cl-conf-{n}"
        )
        body += _classification_xml(DE_FORMAT_CODE, de_id, fmt, f"cl-format-{n}")
        body += _classification_xml(DE_TYPE_CODE, de_id, type_code, f"cl-type-{n}")
        body += _ext_id_xml(DE_PATIENT_ID, de_id, patient, "XDSDocumentEntry.patientId", f"ei-pid-{n}")
        body += _ext_id_xml(DE_UNIQUE_ID, de_id, unique, "XDSDocumentEntry.uniqueId", f"ei-uid-{n}")
        parts.append(
            f"<rim:ExtrinsicObject id={quoteattr(de_id)} mimeType={quoteattr(doc.mime_type)} "
            f'objectType="{DOCUMENT_ENTRY_STABLE}" '
            'status="urn:oasis:names:tc:ebxml-regrep:StatusType:Approved">'
            f"{body}</rim:ExtrinsicObject>"
        )
        parts.append(
            f'<rim:Association id="urn:uuid:{uuid.uuid4()}" associationType="{HAS_MEMBER}" sourceObject='
            f'{quoteattr(ss_id)} targetObject={quoteattr(de_id)} objectType="urn:oasis:names:tc:ebxml-regrep:'
            f'ObjectType:RegistryObject:Association">{_slot_xml("SubmissionSetStatus", "Original")}'
            "</rim:Association>"
        )
    ss = (
        f'<rim:RegistryPackage id={quoteattr(ss_id)} objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:'
        f'RegistryObject:RegistryPackage">{_slot_xml("submissionTime", _ts(now))}'
        f"<rim:Name><rim:LocalizedString value={quoteattr(header.title or 'Envoi MSSanté')}/></rim:Name>"
        + _classification_xml(SS_CONTENT_TYPE, ss_id, DEFAULT_CONTENT_TYPE, "cl-ss-content")
        + _ext_id_xml(SS_SOURCE_ID, ss_id, source_id, "XDSSubmissionSet.sourceId", "ei-ss-source")
        + _ext_id_xml(SS_PATIENT_ID, ss_id, patient, "XDSSubmissionSet.patientId", "ei-ss-pid")
        + _ext_id_xml(SS_UNIQUE_ID, ss_id, _oid_from_uuid(ss_uuid), "XDSSubmissionSet.uniqueId", "ei-ss-uid")
        + "</rim:RegistryPackage>"
        f'<rim:Classification id="cl-ss" classifiedObject={quoteattr(ss_id)} classificationNode='
        f'"{SUBMISSION_SET_NODE}" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:'
        f'Classification"/>'
    )
    metadata = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<lcm:SubmitObjectsRequest xmlns:lcm="{LCM}" xmlns:rim="{RIM}"><rim:RegistryObjectList>'
        + ss
        + "".join(parts)
        + "</rim:RegistryObjectList></lcm:SubmitObjectsRequest>\n"
    ).encode()
    listing = "".join(
        f'<li><a href="{SUBSET}{d.file_name}">{escape(d.title or d.file_name or "")}</a> ({d.mime_type})</li>'
        for d in docs
    )
    index = (
        '<!DOCTYPE html>\n<html lang="fr"><head><meta charset="utf-8"><title>IHE_XDM</title></head><body>'
        "<h1>Contenu du support IHE XDM</h1><p>Généré par Ségur Sandbox (environnement de test).</p>"
        f'<ul>{listing}</ul><p><a href="{METADATA_PATH}">Métadonnées XDS</a> — '
        f'<a href="{README_PATH}">README</a></p></body></html>\n'
    ).encode()
    readme = (
        "Segur Sandbox - IHE XDM media (IHE ITI TF-1 section 16)\r\n"
        "Producteur : Segur Sandbox (environnement de test, donnees fictives)\r\n"
        f"Cree le : {now.astimezone(UTC).isoformat()}\r\n"
        "Contenu : IHE_XDM/SUBSET01/METADATA.XML et les documents decrits.\r\n"
    ).encode()
    buffer = io.BytesIO()
    stamp = now.astimezone(UTC).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in [(INDEX_PATH, index), (README_PATH, readme), (METADATA_PATH, metadata)] + [
            (SUBSET + (d.file_name or ""), d.content) for d in docs
        ]:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, content)
    return buffer.getvalue()
