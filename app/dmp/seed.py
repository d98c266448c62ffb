"""The DMPs the sandbox starts with: one for every seeded INS identity, with the documents and
authorisations of ``fixtures/dmps.json``. Idempotent; bulk inserts keep a reset fast."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.dmp import documents
from app.dmp.documents import A01, A03, A11, LOINC, R02, make_cda
from app.dmp.models import DmpAuthorisation, DmpBinary, DmpBinaryChunk, DmpDocument, DmpRecord, DmpSubmissionSet
from app.dmp.rows import binary_rows, document_row
from app.dmp.submission import (
    EXT_DESIGNATION_TYPE,
    EXT_SOURCE_ID,
    MHD_LIST_TYPES,
    RPPS_SYSTEM,
    Code,
    DocumentIn,
    PatientId,
)
from app.ins import service as ins_service
from app.psc import service as psc_service
from app.tenancy import DEFAULT_TENANT, current_tenant

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@cache
def seed_plan() -> dict[str, Any]:
    return json.loads((FIXTURES / "dmps.json").read_text(encoding="utf-8"))


def _parse_dt(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


@lru_cache(maxsize=4096)
def _seed_document(identity: Any, n: int) -> tuple[DocumentIn, documents.GeneratedDocument]:
    """The n-th seed document of this identity (cached: every test resets the store)."""
    spec = seed_plan()["documents"][n]
    author = psc_service.fixture_professional(spec["author"]) or {"given_name": "", "family_name": ""}
    effective = _parse_dt(spec["effective"])
    oid = identity.oid.removeprefix("urn:oid:")
    generated = make_cda(kind=spec["kind"], ins=identity.ins, ins_oid=oid, given=identity.first_given_name,
                         family=identity.birth_name, birth_date=identity.birth_date, sex=identity.sex,
                         author_rpps=spec["author"][1:], author_given=author["given_name"],
                         author_family=author["family_name"], effective=effective.strftime("%Y%m%d%H%M%S"), n=n)
    kind = generated.kind
    resource = {
        "resourceType": "DocumentReference",
        "contained": [{"resourceType": "Practitioner", "id": "author",
                       "identifier": [{"system": RPPS_SYSTEM, "value": spec["author"]}],
                       "name": [{"family": author["family_name"], "given": [author["given_name"]]}]}],
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{generated.unique_id}"},
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": kind.loinc, "display": kind.title}]},
        "category": [{"coding": [{"system": A03, "code": kind.class_code, "display": kind.class_display}]}],
        "date": effective.isoformat(),
        "author": [{"reference": "#author"}],
        "custodian": {"identifier": {"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1SANDBOX0001"}},
        "content": [{"attachment": {"contentType": "application/xml", "language": "fr-FR", "title": kind.title,
                                    "creation": effective.isoformat()},
                     "format": {"system": A11, "code": spec["format"]}}],
        "context": {"period": {"start": effective.isoformat()},
                    "facilityType": {"coding": [{"system": R02, "code": spec["facility"]}]},
                    "practiceSetting": {"coding": [{"system": A01, "code": spec["practice"]}]}},
    }
    v3 = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
    doc = DocumentIn(
        entry_index=n, full_url="", unique_id=f"urn:oid:{generated.unique_id}",
        patient=PatientId(oid, identity.ins),
        type=Code(LOINC, kind.loinc, kind.title), category=Code(A03, kind.class_code, kind.class_display),
        format=Code(A11, spec["format"]), facility_type=Code(R02, spec["facility"]),
        practice_setting=Code(A01, spec["practice"]), labels=[(v3, "N", "normal")], title=kind.title,
        content_type="application/xml", language="fr-FR", size=generated.size, hash_b64=generated.hash_b64,
        creation=effective, date=effective, period_start=effective, period_end=None,
        author_rpps=spec["author"][1:], author_given=[author["given_name"]], author_family=[author["family_name"]],
        events=[], related=[], replaces=None, is_archived=False, data=generated.cda, resource=resource,
    )
    return doc, generated


async def seed(session: AsyncSession, settings: Settings) -> None:
    """A DMP for every seeded INS identity, with the documents and authorisations of ``fixtures/dmps.json``.
    Idempotent: identities that already have a DMP are skipped. Bulk inserts keep a reset fast."""
    plan = seed_plan()
    identities = await ins_service.list_identities(session)
    existing = set((await session.execute(select(DmpRecord.ins))).scalars().all())
    overrides = {d["ins"]: d for d in plan.get("dmps", [])}
    now = utcnow()
    new = [i for i in identities if i.ins not in existing]
    if not new:
        return
    await session.execute(insert(DmpRecord), [
        {"ins": i.ins, "ins_oid": i.oid.removeprefix("urn:oid:"), "active": not overrides.get(i.ins, {}).get("closed"),
         "closure_date": now if overrides.get(i.ins, {}).get("closed") else None,
         "closure_reason": overrides.get(i.ins, {}).get("closed"), "closure_text": None, "linked_to_mes": True,
         "opt_out_bris_de_glace": bool(overrides.get(i.ins, {}).get("opt_out_bris_de_glace")),
         "opt_out_centre_15": bool(overrides.get(i.ins, {}).get("opt_out_centre_15")),
         "created_at": now, "updated_at": now}
        for i in new
    ])
    ids = dict((await session.execute(select(DmpRecord.ins, DmpRecord.id).where(
        DmpRecord.ins.in_([i.ins for i in new])))).all())
    auth_rows = [{"dmp_id": ids[i.ins], "rpps": a["rpps"], "status": a["status"],
                  "medecin_traitant": bool(a.get("medecin_traitant")), "updated_at": now}
                 for i in new for a in plan.get("authorisations", [])]
    if auth_rows:
        await session.execute(insert(DmpAuthorisation), auth_rows)
    if not settings.dmp_seed_documents:
        return
    ss_rows, bin_rows, chunk_rows, doc_rows = [], [], [], []
    # A document's and a submission set's ids are the same in every tenant seeded with the fixtures (their keys
    # lead with the tenant); a binary's id is unique store-wide (Binary/{id} is always server-made): another
    # tenant's seed binaries get ids of their own (the default tenant's are unchanged).
    tenant = current_tenant()
    bin_scope = "" if tenant == DEFAULT_TENANT else f"{tenant}:"
    for identity in new:
        dmp_id = ids[identity.ins]
        ss_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"segur-sandbox:dmp:seed:{identity.ins}"))
        doc_ids = []
        for n in range(len(plan["documents"])):
            doc, generated = _seed_document(identity, n)
            doc_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"segur-sandbox:dmp:doc:{generated.unique_id}"))
            bin_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"segur-sandbox:dmp:bin:{bin_scope}{generated.unique_id}"))
            brow, chunks = binary_rows(bin_id, generated.cda, "application/xml", generated.hash_b64,
                                       settings.dmp_chunk_size)
            bin_rows.append(brow)
            chunk_rows.extend(chunks)
            doc_rows.append(document_row(doc, doc_id=doc_id, dmp_id=dmp_id, ss_id=ss_id, binary_id=bin_id, now=now))
            doc_ids.append(doc_id)
        ss_rows.append({
            "id": ss_id, "dmp_id": dmp_id, "unique_id": f"urn:oid:1.2.250.1.213.1.4.8.99999.1.{dmp_id}",
            "source_id": "urn:oid:1.2.250.1.213.1.4.8.99999", "designation_system": documents.A03,
            "designation_code": "10", "designation_display": "Compte rendu", "submission_time": now,
            "title": "Documents de démonstration", "author_rpps": None, "document_ids": doc_ids,
            "resource": {"resourceType": "List", "status": "current", "mode": "working",
                         "code": {"coding": [{"system": MHD_LIST_TYPES, "code": "submissionset"}]},
                         "extension": [
                             {"url": EXT_DESIGNATION_TYPE, "valueCodeableConcept": {"coding": [
                                 {"system": documents.A03, "code": "10", "display": "Compte rendu"}]}},
                             {"url": EXT_SOURCE_ID, "valueIdentifier": {
                                 "system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.250.1.213.1.4.8.99999"}}]},
            "created_at": now,
        })
    await session.execute(insert(DmpSubmissionSet), ss_rows)
    await session.execute(insert(DmpBinary), bin_rows)
    await session.execute(insert(DmpBinaryChunk), chunk_rows)
    await session.execute(insert(DmpDocument), doc_rows)
