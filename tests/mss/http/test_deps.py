"""Load-or-fail dependencies: a mailbox of another professional is refused."""

from __future__ import annotations

from tests.mss.asking import auth, box
from tests.mss.conftest import DOCTOR_SNI, HOSPITAL_DOCTOR


async def test_other_professional_mailbox_forbidden(client):
    response = await client.get(box(HOSPITAL_DOCTOR), headers=await auth(client, DOCTOR_SNI))
    assert response.status_code == 403
    assert response.json()["rule"] == "MSS:mailbox.owner" or "owner" in response.text
