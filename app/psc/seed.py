"""The PSC fixtures (``fixtures/clients.json``, ``fixtures/professionals.json``) and the seed that writes
them, with the signing keys, into an empty or reset store."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.psc.clients import client_row
from app.psc.memory import clear_client_cache
from app.psc.models import Client
from app.psc.models import Professional as ProfessionalRow
from app.psc.professionals import professional_row_of
from app.psc.schemas import ClientCreate
from app.psc.signing import ensure_signing_keys

if TYPE_CHECKING:
    from app.config import Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@cache
def _fixture(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


def fixture_professional(subject_name_id: str) -> Mapping[str, Any] | None:
    """The seeded professional ``subject_name_id`` as its fixture describes it (PSC userinfo names), read
    without the store: for the other domains' own fixtures (the DMP's seed documents name their authors)."""
    return next((p for p in _fixture("professionals.json") if p["SubjectNameID"] == subject_name_id), None)


async def seed(session: AsyncSession, settings: Settings) -> None:
    """Idempotent: signing keys if missing, then the fixture clients and professionals."""
    clear_client_cache()
    await ensure_signing_keys(session, settings)
    existing = set((await session.scalars(select(Client.client_id))).all())
    for data in _fixture("clients.json"):
        if data["client_id"] not in existing:
            session.add(client_row(ClientCreate.model_validate(data)))
    known = set((await session.scalars(select(ProfessionalRow.subject_name_id))).all())
    for data in _fixture("professionals.json"):
        if data["SubjectNameID"] not in known:
            session.add(professional_row_of(data))
    await session.flush()
