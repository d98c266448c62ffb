"""Stored rows -> FHIR R4 JSON (DocumentReference, List, Patient, AuditEvent, Bundle, CapabilityStatement).

Rendering decisions (docs/dmp.md): a metadata change keeps the logical id and bumps ``meta.versionId``;
a deleted document (XDS Deleted) renders as ``SEGUR_DMP_DELETED_STATUS`` (``entered-in-error`` by
default); an archived document is ``current`` + ``pdsm-ext-is-archived=true``; ``attachment.url`` is the
absolute Binary URL (ITI-68).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from app.api.urls import absolute_url
from app.config import Settings
from app.db import as_utc
from app.dmp import jsonio
from app.dmp.fhir.elements import PROFILE_DOCREF, PROFILE_SUBMISSIONSET
from app.dmp.models import DmpAuditEvent, DmpDocument, DmpRecord, DmpSubmissionSet
from app.dmp.patch import IS_ARCHIVED_URL
from app.dmp.submission import RPPS_SYSTEM
from app.shared.identifiers import OID_CATALOGUE

BASE = "/dmp/fhir"
FHIR_XML = "application/fhir+xml"
FHIR_JSON = "application/fhir+json"
DMP_EXT = "https://interop.esante.gouv.fr/ig/fhir/dmp/StructureDefinition/"
MOTIF_FERMETURE = "https://interop.esante.gouv.fr/ig/fhir/dmp/CodeSystem/dmp-motif-fermeture"
AUTHORISATION_EXT = "https://segur-sandbox.example/fhir/StructureDefinition/dmp-autorisation-acces"
FINDDOCS_PROFILE = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-find-document-references-comprehensive-response"


def instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    return as_utc(value).isoformat().replace("+00:00", "Z")


def _as_stored(submitted: Any, stored: datetime | None) -> Any:
    """A dateTime of the stored resource as the store holds it: in UTC (``Z``), as an XDS registry keeps
    creationTime and serviceStart/StopTime, so what a search compares is what the answer shows. A value
    without a time (``2026-06-12``, ``2026-06``) keeps its precision (docs/dmp.md "Dates and instants")."""
    if stored is None or not isinstance(submitted, str) or "T" not in submitted:
        return submitted
    return instant(stored)


def _utc_text(value: str) -> str:
    """A submitted dateTime with a time, in UTC (the text as is if it does not parse: it was checked)."""
    try:
        return instant(datetime.fromisoformat(value.replace("Z", "+00:00"))) or value
    except ValueError:
        return value


def fhir_status(doc: DmpDocument, settings: Settings) -> str:
    if doc.availability == "Approved":
        return "current"
    if doc.availability == "Deprecated":
        return "superseded"
    return settings.dmp_deleted_status


def document_reference(doc: DmpDocument, record: DmpRecord, settings: Settings) -> dict[str, Any]:
    """The stored DocumentReference as submitted, with the server-managed elements set."""
    res = jsonio.loads(doc.resource)
    res.pop("text", None)
    res["id"] = doc.id
    res["meta"] = {"versionId": str(doc.version_id), "lastUpdated": instant(doc.last_updated),
                   "profile": [PROFILE_DOCREF]}
    extensions = [e for e in res.get("extension") or [] if e.get("url") != IS_ARCHIVED_URL]
    res["extension"] = [{"url": IS_ARCHIVED_URL, "valueBoolean": bool(doc.is_archived)}, *extensions]
    res["status"] = fhir_status(doc, settings)
    if "date" in res:
        res["date"] = _as_stored(res["date"], doc.date)
    period = (res.get("context") or {}).get("period")
    if period:
        res["context"] = {**res["context"], "period": {
            **period, "start": _as_stored(period.get("start"), doc.period_start),
            **({"end": _as_stored(period["end"], doc.period_end)} if "end" in period else {})}}
    res["subject"] = {"reference": f"Patient/{record.ins}",
                      "identifier": {"system": f"urn:oid:{record.ins_oid}", "value": record.ins}}
    res["identifier"] = [{"use": "official", "system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{doc.id}"}]
    res["securityLabel"] = [{"coding": [{k: v for k, v in (("system", s), ("code", c), ("display", d)) if v}]}
                            for s, c, d in doc.labels]
    content = dict(res["content"][0])
    res["content"] = [content, *res["content"][1:]]
    attachment = dict(content.get("attachment") or {})
    attachment.pop("data", None)
    if isinstance(attachment.get("creation"), str) and "T" in attachment["creation"]:
        attachment["creation"] = _utc_text(attachment["creation"])
    attachment["url"] = absolute_url(settings, f"{BASE}/Binary/{doc.binary_id}")
    attachment["size"] = doc.size
    attachment["hash"] = doc.hash_b64
    content["attachment"] = attachment
    relates = [r for r in res.get("relatesTo") or [] if r.get("code") != "replaces"]
    if doc.replaces_id:
        relates.insert(0, {"code": "replaces", "target": {"reference": f"DocumentReference/{doc.replaces_id}"}})
    if relates:
        res["relatesTo"] = relates
    else:
        res.pop("relatesTo", None)
    return res


def submission_set(ss: DmpSubmissionSet, record: DmpRecord, settings: Settings) -> dict[str, Any]:
    res = json.loads(json.dumps(ss.resource))
    res.pop("text", None)
    res["id"] = ss.id
    res["meta"] = {"profile": [PROFILE_SUBMISSIONSET]}
    res["subject"] = {"reference": f"Patient/{record.ins}",
                      "identifier": {"system": f"urn:oid:{record.ins_oid}", "value": record.ins}}
    res["identifier"] = [
        {"use": "official", "system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{ss.id}"},
        {"use": "usual", "system": "urn:ietf:rfc:3986", "value": ss.unique_id},
    ]
    res["date"] = instant(ss.submission_time)
    res["entry"] = [{"item": {"reference": f"DocumentReference/{doc_id}"}} for doc_id in ss.document_ids]
    return res


FR_CORE_PATIENT = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"
FR_CORE_IDENTIFIER_TYPE = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
_GENDERS = {"M": "male", "F": "female"}


def birth_date(lunar: str) -> str | None:
    """INSi's DateLunaire (``00`` for an unknown day or month) as a FHIR date of the precision known."""
    year, _, rest = lunar.partition("-")
    month, _, day = rest.partition("-")
    if not year or year == "0000":
        return None
    if not month or month == "00":
        return year
    if not day or day == "00":
        return f"{year}-{month}"
    return lunar


def _ins_identifier(record: DmpRecord) -> dict[str, Any]:
    """``Patient.identifier`` as the FR Core INS slices carry it: ``use``, ``type`` (fr-core-cs-v2-0203
    INS-NIR / INS-NIA / INS-NIR-TEST / INS-NIR-DEMO) and the OID of the kind (reference/ins.md §2.3)."""
    identifier: dict[str, Any] = {"system": f"urn:oid:{record.ins_oid}", "value": record.ins}
    info = OID_CATALOGUE.get(record.ins_oid.removeprefix("urn:oid:"))
    if info is None or info.legacy:
        return identifier
    return {"use": info.use, "type": {"coding": [{"system": FR_CORE_IDENTIFIER_TYPE, "code": info.type_code}]},
            **identifier}


def patient(record: DmpRecord, *, authorisation: str | None, identity: Any = None) -> dict[str, Any]:
    """TD02 in the shape of the PDSm4DMP example (input/pagecontent/transaction_td02.md "Réponse"):
    ``meta.profile`` FR Core Patient, the INS identifier, the birth name (``use: official``) with the
    first birth prénom, ``gender``, ``birthDate`` from the INS identity; ``active`` true when the DMP is
    open; closure in ``dmp-fermeture`` (``dateFermeture`` valueDate, ``motifFermeture``
    valueCodeableConcept, ``raisonFermeture``), ``dmp-rattachement-mes``."""
    extensions: list[dict[str, Any]] = []
    if not record.active:
        parts: list[dict[str, Any]] = []
        if record.closure_date:
            parts.append({"url": "dateFermeture", "valueDate": as_utc(record.closure_date).date().isoformat()})
        if record.closure_reason:
            parts.append({"url": "motifFermeture", "valueCodeableConcept": {"coding": [
                {"system": MOTIF_FERMETURE, "code": record.closure_reason}]}})
        if record.closure_text:
            parts.append({"url": "raisonFermeture", "valueString": record.closure_text})
        extensions.append({"url": DMP_EXT + "dmp-fermeture", "extension": parts})
    extensions.append({"url": DMP_EXT + "dmp-rattachement-mes", "valueBoolean": bool(record.linked_to_mes)})
    if authorisation:
        # PDSm4DMP leaves the PS's authorisation out of scope ("à mapper sur Consent"); the sandbox shows it
        # here so a vendor's TD02 gets the answer TD0.2 gives (reference/dmp.md §5.5).
        extensions.append({"url": AUTHORISATION_EXT, "valueCode": authorisation})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": record.ins,
        "meta": {"lastUpdated": instant(record.updated_at), "profile": [FR_CORE_PATIENT]},
        "extension": extensions,
        "identifier": [_ins_identifier(record)],
        "active": bool(record.active),
    }
    if identity is not None:
        # INSi gives the birth name and prénoms only (no used name, no civilité): the official name
        resource["name"] = [{"use": "official", "family": identity.birth_name,
                             "given": [identity.first_given_name]}]
        resource["gender"] = _GENDERS.get(identity.sex, "unknown")
        born = birth_date(identity.birth_date)
        if born:
            resource["birthDate"] = born
    return resource


_AUDIT_TYPES = {
    "ITI-65": ("110107", "Import", "C"), "ITI-105": ("110107", "Import", "C"),
    "ITI-67": ("110112", "Query", "E"), "ITI-66": ("110112", "Query", "E"),
    "ITI-68": ("110106", "Export", "R"), "READ": ("110110", "Patient Record", "R"),
    "PATCH": ("110110", "Patient Record", "U"),
    # the XDS.b SOAP face (IHE ITI TF-2b §3.41.5.1, §3.43.5.1, TF-2a §3.18.5.1, TF-2b §3.57.5.1) and the DMP's TD
    "ITI-41": ("110107", "Import", "C"), "ITI-18": ("110112", "Query", "E"),
    "ITI-43": ("110106", "Export", "R"), "ITI-57": ("110110", "Patient Record", "U"),
    "TD0.2": ("110112", "Query", "E"), "TD1.1": ("110110", "Patient Record", "C"),
}


def audit_event(event: DmpAuditEvent, settings: Settings) -> dict[str, Any]:
    code, display, _ = _AUDIT_TYPES.get(event.transaction, ("110110", "Patient Record", event.action))
    res: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(event.id),
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": code, "display": display},
        "action": event.action,
        "recorded": instant(event.recorded),
        "outcome": event.outcome,
        "agent": [{
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                 "code": "IRCP" if event.action == "R" else "AUT"}]},
            "who": {"identifier": {"system": RPPS_SYSTEM, "value": f"8{event.agent_rpps}"},
                    **({"display": event.agent_name} if event.agent_name else {})},
            "requestor": True,
            "purposeOfUse": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.248", "code": event.access_mode}],
                              **({"text": event.access_reason} if event.access_reason else {})}],
        }],
        "source": {"observer": {"display": "Ségur Sandbox DMP"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}]},
        "entity": [{
            "what": {"identifier": {"system": f"urn:oid:{event.ins_oid}", "value": event.ins}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"},
        }],
    }
    res["subtype"] = [{"system": "urn:ihe:event-type-code", "code": event.transaction}]
    if event.outcome_text:
        res["outcomeDesc"] = event.outcome_text
    if event.client_id:
        res["agent"][0]["altId"] = event.client_id
    for doc_id in event.document_ids or []:
        res["entity"].append({
            "what": {"reference": f"DocumentReference/{doc_id}"},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "3"},
        })
    if event.query:
        res["entity"].append({"type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                                       "code": "2"},
                              "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "24"},
                              "description": event.query[:1000]})
    return res


def searchset(settings: Settings, resources: list[dict[str, Any]], *, self_url: str, next_url: str | None,
              total: int | None, outcome: dict[str, Any] | None = None, profile: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if profile:
        bundle["meta"] = {"profile": [profile]}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = [{"relation": "self", "url": self_url}]
    if next_url:
        bundle["link"].append({"relation": "next", "url": next_url})
    entries = [{"fullUrl": absolute_url(settings, f"{BASE}/{r['resourceType']}/{r['id']}"), "resource": r,
                "search": {"mode": "match"}} for r in resources]
    if outcome:
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    bundle["entry"] = entries
    return bundle


def capability_statement(settings: Settings) -> dict[str, Any]:
    """Modelled on PDSm's ``PDSm-GestionnaireDePartageDeDocuments`` (reference/dmp.md §1.2)."""
    def params(*names: tuple[str, str]) -> list[dict[str, str]]:
        return [{"name": n, "type": t} for n, t in names]

    return {
        "resourceType": "CapabilityStatement",
        "id": "segur-sandbox-dmp",
        "url": absolute_url(settings, f"{BASE}/metadata"),
        "name": "SegurSandboxDMPGestionnaireDePartageDeDocuments",
        "title": "Ségur Sandbox — DMP (PDSm gestionnaire de partage de documents)",
        "status": "active",
        "date": "2026-11-24",
        "publisher": "Ségur Sandbox",
        "kind": "instance",
        "instantiates": [
            "https://interop.esante.gouv.fr/ig/fhir/pdsm/CapabilityStatement/PDSm-GestionnaireDePartageDeDocuments"
        ],
        "implementation": {"description": "DMP simulator over PDSm 3.1.1 / IHE MHD 4.2.3",
                           "url": absolute_url(settings, BASE)},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/fhir+xml"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [{
            "mode": "server",
            "security": {"service": [{"text": "Pro Santé Connect bearer token (OAuth 2.0)"}],
                         "description": "Authorization: Bearer <PSC access token>. Access mode in "
                                        "X-DMP-Access-Mode (normal | bris_de_glace | centre_15), reason in "
                                        "X-DMP-Access-Reason."},
            "resource": [
                {"type": "DocumentReference", "profile": PROFILE_DOCREF,
                 "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "patch"}, {"code": "create"}],
                 "conditionalUpdate": True,
                 "searchParam": params(("patient", "reference"), ("patient.identifier", "token"), ("status", "token"),
                                       ("creation", "date"), ("author.given", "string"), ("author.family", "string"),
                                       ("category", "token"), ("type", "token"), ("setting", "token"),
                                       ("period", "date"), ("facility", "token"), ("event", "token"),
                                       ("security-label", "token"), ("format", "token"), ("related", "token"),
                                       ("identifier", "token"), ("isArchived", "token"), ("period-start", "date"),
                                       ("period-end", "date"))},
                {"type": "List", "profile": PROFILE_SUBMISSIONSET,
                 "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": params(("patient", "reference"), ("patient.identifier", "token"), ("code", "token"),
                                       ("date", "date"), ("designationType", "token"), ("sourceId", "token"),
                                       ("status", "token"), ("identifier", "token"))},
                {"type": "Binary", "interaction": [{"code": "read"}]},
                {"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": params(("identifier", "token"))},
                {"type": "AuditEvent", "interaction": [{"code": "search-type"}],
                 "searchParam": params(("patient", "reference"), ("patient.identifier", "token"), ("date", "date"))},
            ],
            "interaction": [{"code": "transaction"}],
        }],
    }
