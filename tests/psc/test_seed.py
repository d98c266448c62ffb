"""The PSC fixtures and the seed (app/psc/seed.py)."""

from __future__ import annotations

import json
from pathlib import Path

from app.psc import rpps, service

FIXTURES = Path(__file__).resolve().parents[2] / "app" / "psc" / "fixtures"


async def test_seed_is_idempotent(app, session) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from app.psc.models import Client, Professional, SigningKey

    async def counts() -> tuple[int, int, int]:
        return tuple(
            [  # type: ignore[return-value]
                await session.scalar(select(func.count()).select_from(model))
                for model in (Client, Professional, SigningKey)
            ]
        )

    before = await counts()
    await service.seed(session, app.state.settings)
    await service.seed(session, app.state.settings)
    assert await counts() == before
    await session.rollback()


def test_professional_fixtures_have_the_psc_shape() -> None:
    pros = json.loads((FIXTURES / "professionals.json").read_text())
    assert len(pros) >= 12
    professions = set()
    activity_counts = set()
    for pro in pros:
        sni = pro["SubjectNameID"]
        assert rpps.rpps_from_subject_name_id(sni), sni
        assert pro["otherIds"][0]["identifiant"] == sni  # the national id, as real userinfo carries it
        assert pro["sub"].endswith(":" + sni) and pro["sub"].startswith("f:")
        for field in ("given_name", "family_name", "codeCivilite", "SubjectRole", "SubjectRefPro"):
            assert field in pro
        exercice = pro["SubjectRefPro"]["exercices"][0]
        professions.add(exercice["codeProfession"])
        assert pro["SubjectRole"] == [exercice["codeProfession"] + "^1.2.250.1.213.1.1.5.5"]
        activity_counts.add(len(exercice["activities"]))
        for act in exercice["activities"]:
            assert act["raisonSocialeSite"] and act["identifiantTechniqueDeLaStructure"]
            assert act["numeroFinessSite"] or act["numeroSiretSite"]
            for value in act.values():
                assert isinstance(value, str)  # empty values are "" (psc.md §6)
            if act["numeroSiretSite"]:
                assert rpps.is_luhn_valid(act["numeroSiretSite"]) and len(act["numeroSiretSite"]) == 14
    assert {"10", "21", "40", "50", "60", "70"} <= professions
    assert 0 in activity_counts and max(activity_counts) >= 2
    assert len({p["SubjectNameID"] for p in pros}) == len(pros)
