"""Mail client autoconfiguration (SC.MSS/CONF.04): the Thunderbird-format ``config-v1.1.xml`` an LPS fetches
from ``https://autoconfig.<domain>/``, describing the endpoints that really answer. Open (discovery)."""

from __future__ import annotations

from typing import Annotated
from xml.sax.saxutils import escape as xml_escape

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api.deps import SettingsDep

router = APIRouter(tags=["mss"])


@router.get(
    "/mail/config-v1.1.xml",
    operation_id="mss_autoconfig",
    response_class=Response,
    summary="Mail client autoconfiguration (Thunderbird format), as served at https://autoconfig.<domain>/",
    responses={200: {"content": {"application/xml": {}}}},
)
async def mail_autoconfig(
    request: Request, settings: SettingsDep,
    emailaddress: Annotated[str | None, Query(description="the mailbox, e.g. jean.dupont@medecin.mssante.fr")] = None,
) -> Response:
    """SC.MSS/CONF.04: the LPS fetches ``https://autoconfig.<domain>/mail/config-v1.1.xml``, applies it and
    tests the connection. The sandbox describes its own SMTP listener (STARTTLS, OAuth2 with a PSC token;
    no IMAP: read mailboxes with the HTTP API)."""
    domain = (emailaddress or "").rsplit("@", 1)[-1] or request.headers.get("host", "").split(":")[0]
    host = settings.smtp_host if settings.smtp_host not in ("0.0.0.0", "::") else "localhost"  # noqa: S104
    port = getattr(request.app.state, "smtp_port", settings.smtp_port)
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{xml_escape(domain)}">
    <domain>{xml_escape(domain)}</domain>
    <displayName>Ségur Sandbox MSSanté</displayName>
    <displayShortName>MSSanté (sandbox)</displayShortName>
    <outgoingServer type="smtp">
      <hostname>{xml_escape(host)}</hostname>
      <port>{port}</port>
      <socketType>STARTTLS</socketType>
      <authentication>OAuth2</authentication>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""
    return Response(body, media_type="application/xml")
