"""The VIHF of the DMP's XDS.b face (app/dmp/soap/vihf.py, xmldsig.py, vihf_issue.py): issued by the control
API, checked by ``authenticate`` with the real store (the sandbox's CA, PSC's professionals and tokens); each
refusal is a SOAP fault with a WS-Security subcode and a ``VIHF:`` rule.

Shapes: prosanteconnect/generate-VIHF ``VihfBuilder.java`` (attribute names, CX resource-id, HL7 v3 Role and
PurposeOfUse), its ``JDV_J65-SubjectRole-DMP.xml`` (role codes), the ANS TLSi kit éditeur's ``VIHF.cs`` (the
enveloped exc-c14n signature with ``InclusiveNamespaces PrefixList="ds saml #default xsi"``, SHA-1 by default).
"""

from __future__ import annotations

import pytest
from lxml import etree

from app.dmp import rules
from app.dmp.soap import vihf
from app.dmp.soap.call import SoapRequest
from app.dmp.soap.faults import SoapFault
from app.dmp.soap.namespaces import NS_SAML2, NS_WSSE
from tests.dmp.conftest import BERNARD, DOMINIQUE, FONTAINE, ZOE

ISSUE = "/sandbox/v1/dmps/vihf"
CERTIFICATES = "/sandbox/v1/dmps/vihf-certificates"
A = f"{{{NS_SAML2}}}"


def soap_request(assertion: etree._Element | str | None, *, client: str | None = None,
                 token: str | None = None) -> SoapRequest:
    security = etree.Element(f"{{{NS_WSSE}}}Security", nsmap={"wsse": NS_WSSE})
    if assertion is not None:
        security.append(etree.fromstring(assertion) if isinstance(assertion, str) else assertion)
    return SoapRequest(action="urn:ihe:iti:2007:RegistryStoredQuery", message_id="urn:uuid:1", to=None,
                       reply_to=None, header=etree.Element("h"), payload=etree.Element("p"), security=security,
                       client_certificate_subject=client, bearer_token=token)


async def issued(client, **overrides):  # type: ignore[no-untyped-def]
    body = {"subject_name_id": FONTAINE, "patient_ins": ZOE, **overrides}
    response = await client.post(ISSUE, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def check(app, session, request: SoapRequest) -> vihf.Vihf:  # type: ignore[no-untyped-def]
    return await vihf.authenticate(request, session=session, sessionmaker=app.state.sessionmaker,
                                   settings=app.state.settings)


async def refused(app, session, request: SoapRequest) -> SoapFault:  # type: ignore[no-untyped-def]
    with pytest.raises(SoapFault) as caught:
        await check(app, session, request)
    fault = caught.value
    assert fault.code == "Sender" and fault.subcode_ns == NS_WSSE and fault.rule.startswith("VIHF:")
    return fault


def attribute(assertion: etree._Element, name: str) -> etree._Element:
    found = assertion.find(f"{A}AttributeStatement/{A}Attribute[@Name='{name}']")
    assert found is not None, name
    return found


# --- issued and accepted --------------------------------------------------------------------------------

async def test_an_issued_vihf_is_accepted_and_gives_the_access_context(app, client, session):  # type: ignore[no-untyped-def]
    answer = await issued(client, access_mode="bris_de_glace", access_reason="urgence vitale")
    assert answer["client_certificate_subject"] == answer["issuer"]
    checked = await check(app, session, soap_request(answer["assertion"], client=answer["client_certificate_subject"]))
    assert (checked.name_id, checked.patient_ins, checked.patient_oid) == (FONTAINE, ZOE, "1.2.250.1.213.1.4.8")
    assert checked.authentication_mode == "INDIRECTE" and checked.signer == answer["issuer"]
    assert [r.code_system for r in checked.roles] == [vihf.SYSTEM_G15, vihf.SYSTEM_R01]
    ctx = vihf.access_context(checked)
    assert ctx.professional.subject_name_id == FONTAINE and ctx.rpps == "10001000016"
    assert (ctx.mode, ctx.reason) == (rules.AccessMode.BRIS_DE_GLACE, "urgence vitale")


async def test_a_directe_vihf_is_signed_by_the_professionals_card(app, client, session):  # type: ignore[no-untyped-def]
    answer = await issued(client, authentication_mode="DIRECTE", subject_name_id=BERNARD, patient_ins=DOMINIQUE)
    assert answer["client_certificate_subject"] is None
    checked = await check(app, session, soap_request(answer["assertion"]))
    assert checked.authentication_mode == "DIRECTE" and f"CN={BERNARD}" in (checked.signer or "")
