"""FHIR JSON built the way vendors build it, from the shapes of the ANS example Bundles
(PDSm4DMP ``Bundle-example-td2-iti65-lot-soumission`` and ``Bundle-example-td2-1-remplacement``),
completed with what the PDSm comprehensive profile requires (hash, size, author, custodian...)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from typing import Any

from app.dmp.documents import make_pdf

PDSM = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
INS_OID = "1.2.250.1.213.1.4.8"
A03 = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
TRE_A07 = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument"
V3 = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
IS_ARCHIVED = PDSM + "pdsm-ext-is-archived"


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def pdf_bytes(label: str = "CR de consultation") -> bytes:
    return make_pdf(label, ("Examen clinique normal.", "Pas de traitement."))


def sha1(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode()  # noqa: S324


def subject(ins: str, oid: str = INS_OID) -> dict[str, str]:
    return {"reference": f"Patient?identifier=urn:oid:{oid}|{ins}"}


def document_reference(
    ins: str, *, rpps: str = "10001000016", binary_url: str, data: bytes, unique_id: str | None = None,
    content_type: str = "application/pdf", type_code: str = "11488-4", class_code: str = "10",
    labels: list[dict[str, str]] | None = None, replaces: str | None = None, title: str = "CR de consultation",
    given: str = "Claire", family: str = "Fontaine", oid: str = INS_OID,
) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "meta": {"profile": [PDSM + "pdsm-comprehensive-document-reference"]},
        "contained": [
            {"resourceType": "Patient", "id": "patient-source",
             "identifier": [{"system": f"urn:oid:{oid}", "value": ins}]},
            {"resourceType": "Practitioner", "id": "practitioner-author",
             "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "8" + rpps}],
             "name": [{"family": family, "given": [given]}]},
        ],
        "masterIdentifier": {"system": "urn:ietf:rfc:3986",
                             "value": unique_id or f"urn:oid:1.2.250.1.213.1.4.8.99999.{uuid.uuid4().int % 10**12}"},
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": type_code, "display": "CR de consultation"}]},
        "category": [{"coding": [{"system": A03, "code": class_code, "display": "Compte rendu"}]}],
        "subject": subject(ins, oid),
        "date": "2026-06-12T10:00:00+02:00",
        "author": [{"reference": "#practitioner-author"}],
        "authenticator": {"reference": "#practitioner-author"},
        "custodian": {"identifier": {"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1SANDBOX0001"}},
        **({"relatesTo": [{"code": "replaces", "target": {"reference": f"DocumentReference/{replaces}"}}]}
           if replaces else {}),
        "securityLabel": [{"coding": [c]} for c in (labels or [{"system": V3, "code": "N", "display": "normal"}])],
        "content": [{
            "attachment": {"contentType": content_type, "language": "fr-FR", "url": binary_url, "size": len(data),
                           "hash": sha1(data), "title": title, "creation": "2026-06-12T10:00:00+02:00"},
            "format": {"system": "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode",
                       "code": "urn:ihe:iti:xds-sd:pdf:2008"},
        }],
        "context": {
            "period": {"start": "2026-06-12T09:30:00+02:00"},
            "facilityType": {"coding": [{
                "system": "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite",
                "code": "SA07", "display": "Cabinet individuel"}]},
            "practiceSetting": {"coding": [{
                "system": "https://mos.esante.gouv.fr/NOS/TRE_A01-CadreExercice/FHIR/TRE-A01-CadreExercice",
                "code": "AMBULATOIRE", "display": "Ambulatoire"}]},
            "sourcePatientInfo": {"reference": "#patient-source"},
        },
    }


def submission_set(ins: str, members: list[str], *, oid: str = INS_OID) -> dict[str, Any]:
    return {
        "resourceType": "List",
        "meta": {"profile": [PDSM + "pdsm-submissionset-comprehensive"]},
        "extension": [
            {"url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType",
             "valueCodeableConcept": {"coding": [{"system": A03, "code": "10", "display": "Compte rendu"}]}},
            {"url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId",
             "valueIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.3.4.5.6.7.8"}},
        ],
        "identifier": [{"use": "usual", "system": "urn:ietf:rfc:3986",
                        "value": f"urn:oid:1.2.3.4.5.6.7.8.{uuid.uuid4().int % 10**10}"}],
        "status": "current",
        "mode": "working",
        "title": "Lot de soumission",
        "code": {"coding": [{"system": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes",
                             "code": "submissionset"}]},
        "subject": subject(ins, oid),
        "date": "2026-06-12T10:00:00+02:00",
        "entry": [{"item": {"reference": m}} for m in members],
    }


def provide_bundle(ins: str, *, documents: int = 1, data: bytes | None = None, replaces: str | None = None,
                   patch: str | None = "fhirpath", **doc_kwargs: Any) -> dict[str, Any]:
    """An ITI-65 Bundle: SubmissionSet, then per document a DocumentReference and its Binary; for a
    replacement, the PATCH entry setting the old document to superseded (TD2.1 order)."""
    data = data if data is not None else pdf_bytes()
    doc_urls = [urn() for _ in range(documents)]
    bin_urls = [urn() for _ in range(documents)]
    entries: list[dict[str, Any]] = [
        {"fullUrl": urn(), "resource": submission_set(ins, doc_urls), "request": {"method": "POST", "url": "List"}}
    ]
    for doc_url, bin_url in zip(doc_urls, bin_urls, strict=True):
        entries.append({"fullUrl": doc_url,
                        "resource": document_reference(ins, binary_url=bin_url, data=data, replaces=replaces,
                                                       **doc_kwargs),
                        "request": {"method": "POST", "url": "DocumentReference"}})
    if replaces and patch == "fhirpath":
        entries.append({"fullUrl": urn(), "resource": {"resourceType": "Parameters", "parameter": [{
            "name": "operation", "part": [{"name": "type", "valueCode": "replace"},
                                          {"name": "path", "valueString": "DocumentReference.status"},
                                          {"name": "value", "valueCode": "superseded"}]}]},
            "request": {"method": "PATCH", "url": f"DocumentReference/{replaces}"}})
    for bin_url in bin_urls:
        entries.append({"fullUrl": bin_url,
                        "resource": {"resourceType": "Binary", "contentType": doc_kwargs.get("content_type",
                                                                                             "application/pdf"),
                                     "data": base64.b64encode(data).decode()},
                        "request": {"method": "POST", "url": "Binary"}})
    return {"resourceType": "Bundle",
            "meta": {"profile": [PDSM + "pdsm-comprehensive-provide-document-bundle"]},
            "type": "transaction", "entry": entries}


def simplified_publish(ins: str, *, data: bytes | None = None, **kwargs: Any) -> dict[str, Any]:
    data = data if data is not None else pdf_bytes()
    doc = document_reference(ins, binary_url="", data=data, **kwargs)
    doc["meta"] = {"profile": [PDSM + "pdsm-simplified-publish"]}
    attachment = doc["content"][0]["attachment"]
    del attachment["url"]
    attachment["data"] = base64.b64encode(data).decode()
    return doc


def docref(bundle: dict[str, Any], n: int = 0) -> dict[str, Any]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference"][n]


def clone(value: Any) -> Any:
    return copy.deepcopy(value)


def iti105_example(ins: str, *, data: bytes = b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument '
                   b'xmlns="urn:hl7-org:v3"/>') -> dict[str, Any]:
    """Shape of ansforge/IG-FHIR-PDSM4DMP-EEDS input/examples/DocumentReference-example-td2-iti105-
    publication-simplifiee.json @94d8b1d: no category, securityLabel, format, context, size nor hash (the
    pdsm-simplified-publish profile leaves them optional); a custodian added, as that profile requires it."""
    return {
        "resourceType": "DocumentReference",
        "meta": {"profile": [PDSM + "pdsm-simplified-publish"]},
        "contained": [{"resourceType": "Practitioner", "id": "practitioner-author",
                       "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810001000016"}]}],
        "masterIdentifier": {"system": "urn:ietf:rfc:3986",
                             "value": f"urn:oid:1.2.250.1.213.1.4.8.99999.{uuid.uuid4().int % 10**12}"},
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}]},
        "subject": subject(ins),
        "date": "2026-06-12T10:00:00+02:00",
        "author": [{"reference": "#practitioner-author"}],
        "custodian": {"identifier": {"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1SANDBOX0001"}},
        "content": [{"attachment": {"contentType": "application/xml", "data": base64.b64encode(data).decode(),
                                    "title": "Compte rendu de consultation"}}],
    }


def restful(bundle: dict[str, Any], base: str = "https://lps.example/fhir/") -> dict[str, Any]:
    """The Bundle with RESTful fullUrls (``<base>Type/<id>``) and every reference between its entries written
    relative (``Binary/<id>``, ``DocumentReference/<id>``), as FHIR R4 bundle.html#references resolves them."""
    bundle = clone(bundle)
    renamed: dict[str, str] = {}
    for n, entry in enumerate(bundle["entry"]):
        if entry.get("fullUrl"):
            renamed[entry["fullUrl"]] = f"{entry['resource']['resourceType']}/e{n}"
            entry["fullUrl"] = base + renamed[entry["fullUrl"]]

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (renamed.get(v, v) if k in ("reference", "url") and isinstance(v, str) else walk(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    for entry in bundle["entry"]:
        entry["resource"] = walk(entry["resource"])
    return bundle


async def filed_ids(client: Any, auth: Any, bundle: dict[str, Any]) -> list[str]:
    """POST an ITI-65 Bundle that must be accepted; the logical ids of its entries, in request order."""
    response = await client.post("/dmp/fhir", content=json.dumps(bundle),
                                 headers={**await auth(), "Content-Type": "application/fhir+json"})
    assert response.status_code == 200, response.text
    return [e["response"]["location"].rsplit("/", 1)[1] for e in response.json()["entry"]]
