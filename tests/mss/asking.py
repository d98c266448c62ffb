"""Helpers of the mss tests that ask the running sandbox: a PSC bearer header, a mailbox's messages URL, the
deliveries of a mailbox, the journal."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.mss.models import MssDelivery, MssMailbox, MssMessage
from tests.mss.conftest import DOCTOR_SNI
from tests.psc.helpers import access_token_for

SECRET = "eyJSECRETtokenVALUE0123456789.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJlU0VDUkVU"
"""A token-shaped secret that must never reach the journal or the logs."""


async def auth(client, sni=DOCTOR_SNI):  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {await access_token_for(client, sni)}"}


def box(address):  # type: ignore[no-untyped-def]
    return f"/mss/v1/mailboxes/{address}/messages"


async def deliveries_to(session, address):  # type: ignore[no-untyped-def]
    rows = await session.execute(
        select(MssDelivery, MssMessage).join(MssMessage, MssMessage.id == MssDelivery.message_id)
        .join(MssMailbox, MssMailbox.id == MssDelivery.mailbox_id).where(MssMailbox.address == address)
    )
    return rows.all()


async def journal_dump(client, **params) -> str:  # type: ignore[no-untyped-def]
    response = await client.get("/sandbox/v1/journal", params={"service": "mss", "limit": 1000, **params})
    assert response.status_code == 200, response.text
    return json.dumps(response.json()["entries"])
