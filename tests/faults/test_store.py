"""This worker's memory of the fault rules: forgotten when the store's listener reconnects."""

from __future__ import annotations

from sqlalchemy import delete

from app.faults import store
from app.faults.models import FaultRuleRow
from tests.faults.helpers import add_rule


async def test_the_memory_forgets_the_rules_when_the_listener_reconnects(app, client) -> None:  # type: ignore[no-untyped-def]
    sessionmaker = app.state.sessionmaker
    memory = store.memory_for(app.state.settings.database_url)
    rule = await add_rule(client, target="psc.token", kind="unavailable")
    assert [r.id for r in await memory.rules_for(sessionmaker, "psc.token", "default")] == [rule]
    # a deletion made while this worker's listener was down: never notified here, the memory still has the rule
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(FaultRuleRow))
    assert memory.by_tenant["default"]["psc.token"][0].id == rule
    # what app.events does once the listener is back, before it relays again (StoreEvents._connect)
    for resync in memory.events._resyncs:
        await resync()
    assert memory.by_tenant == {}
    assert list(await memory.rules_for(sessionmaker, "psc.token", "default")) == []
    assert (await client.post("/auth/realms/esante-wallet/protocol/openid-connect/token",
                              data={"grant_type": "client_credentials"})).status_code != 503
