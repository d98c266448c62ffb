"""The test professionals (app/psc/professionals.py)."""

from __future__ import annotations

from tests.psc.helpers import GP


async def test_list_professionals(session) -> None:
    from app.psc.service import list_professionals

    pros = await list_professionals(session)
    assert len(pros) >= 12
    gp = next(p for p in pros if p.subject_name_id == GP)
    assert gp.rpps == GP[1:] and gp.userinfo["SubjectNameID"] == GP and gp.client_id is None
