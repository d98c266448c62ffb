"""Mail client autoconfiguration (SC.MSS/CONF.04)."""

from __future__ import annotations

from tests.mss.conftest import DOCTOR


async def test_autoconfig(client, app):
    from lxml import etree

    response = await client.get("/mail/config-v1.1.xml", params={"emailaddress": DOCTOR})
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert root.findtext("emailProvider/domain") == "medecin.mssante.fr"
    assert root.findtext("emailProvider/outgoingServer/port") == str(app.state.smtp_port)
    assert root.findtext("emailProvider/outgoingServer/socketType") == "STARTTLS"
