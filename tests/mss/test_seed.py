"""Seeding the MSSanté store: idempotent."""

from __future__ import annotations


async def test_seed_is_idempotent(app, client, session):
    from sqlalchemy import func, select

    from app.mss import service
    from app.mss.models import MssMailbox

    before = await session.scalar(select(func.count(MssMailbox.id)))
    async with app.state.sessionmaker() as other, other.begin():
        await service.seed(other, app.state.settings)
    assert await session.scalar(select(func.count(MssMailbox.id))) == before
