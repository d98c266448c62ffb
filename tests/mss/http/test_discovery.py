"""The open routes of the mailbox API: the checks catalogue."""

from __future__ import annotations


async def test_checks_catalogue(client):
    items = (await client.get("/mss/v1/checks")).json()
    by_id = {i["id"]: i for i in items}
    assert by_id["XDM.SAFE"]["enforced"] is True and by_id["MSS.NIL"]["enforced"] is False
