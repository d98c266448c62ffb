"""Fixtures of the DMP HTTP tests: PSC tokens from the sandbox's own provider, per professional."""

from __future__ import annotations

import pytest

from tests.psc.helpers import access_token_for

FONTAINE = "810001000016"  # médecin traitant, VALIDE on every seeded DMP (fixtures/dmps.json)
LEFEVRE = "810001000024"  # no authorisation
BERNARD = "810001000032"  # author of the seeded biology and discharge documents
ZOE = "275126322074974"  # INS of ZOE ADRUN (INS fixtures)
DOMINIQUE = "297022A02077878"


@pytest.fixture
async def token(client):  # type: ignore[no-untyped-def]
    cache: dict[str, str] = {}

    async def get(subject: str = FONTAINE) -> str:
        if subject not in cache:
            cache[subject] = await access_token_for(client, subject)
        return cache[subject]

    return get


@pytest.fixture
async def auth(token):  # type: ignore[no-untyped-def]
    async def headers(subject: str = FONTAINE, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await token(subject)}", "Accept": "application/fhir+json", **extra}

    return headers
