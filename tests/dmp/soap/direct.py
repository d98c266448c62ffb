"""A transaction handler called as the router calls it (before the transport branch is merged): a
:class:`~app.dmp.soap.call.SoapCall` over a real session of the app, in its own transaction (committed on
success, rolled back on any error, as the router does), with the access context a VIHF would give."""

from __future__ import annotations

from typing import Any

from lxml import etree

from app.dmp import rules
from app.dmp.context import AccessContext
from app.dmp.soap.call import Attachment, Handler, SoapCall, SoapReply, SoapRequest
from app.dmp.soap.vihf import Vihf
from app.shared.professional import Professional
from tests.dmp.conftest import FONTAINE, ZOE

NAMES = {"810001000016": ("Claire", "Fontaine"), "810001000024": ("Paul", "Lefevre"),
         "810001000032": ("Marc", "Bernard")}


def vihf(subject: str = FONTAINE, ins: str | None = ZOE) -> Vihf:
    given, family = NAMES.get(subject, ("", ""))
    return Vihf(version="3.0", issuer="sandbox", name_id=subject, subject_name=f"{given} {family}", roles=(),
                structure_id=None, sector="SA07^1.2.250.1.71.4.2.4", authentication_mode="INDIRECTE",
                access_mode=rules.AccessMode.NORMAL, patient_ins=ins, patient_oid="1.2.250.1.213.1.4.8",
                resource_urn="urn:dmp", lps_name="tests", lps_version="1", lps_approval=None)


def context(subject: str = FONTAINE) -> AccessContext:
    given, family = NAMES.get(subject, ("", ""))
    return AccessContext(professional=Professional(subject_name_id=subject, rpps=None, given_name=given,
                                                   family_name=family, profession_code="10", userinfo={}))


async def call(app: Any, handler: Handler, payload: str, *, subject: str = FONTAINE, ins: str | None = ZOE,
               attachments: dict[str, Attachment] | None = None, action: str = "") -> SoapReply:
    request = SoapRequest(action=action, message_id="urn:uuid:test", to=None, reply_to=None,
                          header=etree.Element("Header"), payload=etree.fromstring(payload.encode()), security=None,
                          attachments=attachments or {})
    async with app.state.sessionmaker() as session, session.begin():
        return await handler(SoapCall(request=request, ctx=context(subject), vihf=vihf(subject, ins), session=session,
                                      sessionmaker=app.state.sessionmaker, settings=app.state.settings,
                                      base_url="http://testserver"))
