"""The rows a document is stored as: its binary in chunks, its DocumentEntry columns, the columns its
confidentiality labels drive. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.dmp import jsonio, rules
from app.dmp.submission import DocumentIn


def binary_rows(binary_id: str, data: bytes, content_type: str, hash_b64: str, chunk_size: int
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    chunks = [{"binary_id": binary_id, "seq": i, "data": data[off:off + chunk_size]}
              for i, off in enumerate(range(0, max(len(data), 1), chunk_size))]
    row = {"id": binary_id, "content_type": content_type, "size": len(data), "hash_b64": hash_b64,
           "chunk_size": chunk_size, "chunks": len(chunks)}
    return row, chunks

def label_flags(labels: Sequence[Sequence[str]]) -> dict[str, Any]:
    codes = {lab[1] for lab in labels}
    return {
        "labels": [list(lab) for lab in labels],
        "label_codes": " " + " ".join(lab[1] for lab in labels) + " ",
        "masked_ps": rules.MASQUE_PS in codes,
        "invisible_patient": rules.INVISIBLE_PATIENT in codes,
        "invisible_rl": rules.INVISIBLE_REPRESENTANTS_LEGAUX in codes,
    }


def document_row(doc: DocumentIn, *, doc_id: str, dmp_id: int, ss_id: str | None, binary_id: str,
                 now: datetime) -> dict[str, Any]:
    resource = dict(doc.resource)
    resource["content"] = [{**c, "attachment": {k: v for k, v in (c.get("attachment") or {}).items() if k != "data"}}
                           for c in resource.get("content") or []]
    return {
        "id": doc_id, "dmp_id": dmp_id, "submission_set_id": ss_id, "binary_id": binary_id,
        "unique_id": doc.unique_id, "version_id": 1, "availability": "Approved", "is_archived": doc.is_archived,
        **label_flags(doc.labels),
        "author_rpps": doc.author_rpps,
        "author_given": " " + " ".join(g.lower() for g in doc.author_given) + " ",
        "author_family": " " + " ".join(f.lower() for f in doc.author_family) + " ",
        "type_system": doc.type.system, "type_code": doc.type.code,
        "class_system": doc.category.system, "class_code": doc.category.code,
        "format_system": doc.format.system, "format_code": doc.format.code,
        "facility_code": doc.facility_type.code, "practice_code": doc.practice_setting.code,
        "event_codes": " " + " ".join(f"{e.system}|{e.code}" for e in doc.events) + " ",
        "related_ids": " " + " ".join(f"{s or ''}|{v}" for s, v in doc.related) + " ",
        "content_type": doc.content_type, "size": doc.size, "hash_b64": doc.hash_b64, "title": doc.title,
        "date": doc.date, "period_start": doc.period_start, "period_end": doc.period_end,
        "replaces_id": doc.replaces, "replaced_by_id": None, "resource": jsonio.dumps_text(resource),
        "created_at": now, "last_updated": now,
    }
