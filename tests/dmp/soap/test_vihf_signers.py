"""Who may sign a VIHF, and a broken signature (app/dmp/soap/xmldsig.py, vihf.py, vihf_issue.py).

- A ``ds:Signature`` missing one of its elements fails signxml's XML-DSig schema validation (lxml's
  ``DocumentInvalid``): a ``wsse:FailedCheck`` Sender fault (``VIHF:signature.invalid``), never a 500 page.
- The sandbox's CA issues structure certificates, card certificates and MSSanté mailbox certificates: the VIHF
  check tells them apart by the sandbox's certificate policies. INDIRECTE needs a structure certificate, DIRECTE a
  card; a card, a mailbox certificate or a certificate without the policy signs neither in the other's place.
- The Issuer and the client certificate are compared as whole DNs: a bare common name matches no DN.
"""

from __future__ import annotations

import pytest
from cryptography import x509
from lxml import etree

from app.dmp.soap import xmldsig
from app.dmp.soap.namespaces import NS_DS, NS_SOAP12, NS_WSSE
from app.mss.smtp.tls import issue_client_certificate
from tests.dmp.conftest import BERNARD, FONTAINE, LEFEVRE, ZOE
from tests.dmp.soap.vihf_helpers import (
    CERTIFICATES,
    check,
    issued,
    now_utc,
    professional_of,
    refused,
    soap_request,
    unsigned,
    vendor_certificate,
)

DS = f"{{{NS_DS}}}"
QUERY = '<query:AdhocQueryRequest xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"/>'
SIGNATURE_ELEMENTS = ["SignedInfo", "CanonicalizationMethod", "SignatureMethod", "Reference", "DigestMethod",
                      "DigestValue", "SignatureValue"]


def _without(assertion: str, local: str) -> etree._Element:
    tree = etree.fromstring(assertion)
    element = tree.find(f"{DS}Signature//{DS}{local}")
    assert element is not None, local
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)
    return tree


# --- a broken ds:Signature -------------------------------------------------------------------------------

@pytest.mark.parametrize("local", SIGNATURE_ELEMENTS)
async def test_a_signature_missing_an_element_is_a_failed_check(app, client, session, local):  # type: ignore[no-untyped-def]
    answer = await issued(client)
    fault = await refused(app, session, soap_request(_without(answer["assertion"], local), client=answer["issuer"]))
    assert (fault.subcode, fault.rule) == ("FailedCheck", "VIHF:signature.invalid")


async def test_over_http_a_signature_missing_its_signed_info_is_a_sender_fault(client):  # type: ignore[no-untyped-def]
    from tests.dmp.soap.client import CLIENT_CERTIFICATE_HEADER, get_vihf, post_soap

    good = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE)
    broken = etree.tostring(_without(str(good), "SignedInfo")).decode()
    answer = await post_soap(client, "registry", "urn:ihe:iti:2007:RegistryStoredQuery", QUERY, vihf=broken,
                             headers={CLIENT_CERTIFICATE_HEADER: good.client_certificate_subject or ""})
    assert answer.fault_code == f"{{{NS_SOAP12}}}Sender"  # not the platform's Receiver fault for a crash
    assert answer.fault_subcode == f"{{{NS_WSSE}}}FailedCheck"
    page = (await client.get("/sandbox/v1/journal", params={"rule": "VIHF:*", "limit": 1})).json()
    assert page["entries"][0]["rule"] == "VIHF:signature.invalid"


# --- the signer's kind ------------------------------------------------------------------------------------

async def test_the_sandbox_signs_indirecte_with_a_structure_and_directe_with_a_card(client):  # type: ignore[no-untyped-def]
    def kind(answer):  # type: ignore[no-untyped-def]
        text = etree.fromstring(answer["assertion"]).findtext(f".//{DS}X509Certificate") or ""
        pem = "-----BEGIN CERTIFICATE-----\n" + "".join(text.split()) + "\n-----END CERTIFICATE-----\n"
        return xmldsig.certificate_kind(x509.load_pem_x509_certificate(pem.encode()))

    assert kind(await issued(client)) == "structure"
    assert kind(await issued(client, authentication_mode="DIRECTE", subject_name_id=BERNARD)) == "card"


async def test_the_control_api_issues_a_certificate_of_the_kind_asked(client):  # type: ignore[no-untyped-def]
    for asked, expected in ((None, "structure"), ("structure", "structure"), ("card", "card")):
        extra = {"kind": asked} if asked else {}
        answer = await vendor_certificate(client, **extra)
        certificate = x509.load_pem_x509_certificate(answer["certificate"].encode())
        assert xmldsig.certificate_kind(certificate) == expected, asked
    refused_kind = await client.post(CERTIFICATES, json={"common_name": "X", "kind": "mailbox"})
    assert refused_kind.status_code == 422


async def test_a_card_signing_an_indirecte_vihf_is_refused(app, client, session):  # type: ignore[no-untyped-def]
    """The finding: LEFEVRE's card (CN = LEFEVRE's NameID) signing an INDIRECTE VIHF that names FONTAINE, the
    card's DN presented as the structure's client certificate."""
    card = await vendor_certificate(client, common_name=LEFEVRE, kind="card")
    professional = await professional_of(session, FONTAINE)
    signed = xmldsig.sign_assertion(unsigned(professional, issuer=card["subject"], now=now_utc()),
                                    card["certificate"].encode(), card["private_key"].encode())
    fault = await refused(app, session, soap_request(signed, client=card["subject"]))
    assert (fault.subcode, fault.rule) == ("FailedAuthentication", "VIHF:structure.certificate-kind")


async def test_a_structure_certificate_signing_a_directe_vihf_is_refused(app, client, session):  # type: ignore[no-untyped-def]
    structure = await vendor_certificate(client, common_name=FONTAINE)  # even with the professional's CN
    professional = await professional_of(session, FONTAINE)
    signed = xmldsig.sign_assertion(
        unsigned(professional, issuer=structure["subject"], now=now_utc(), authentication_mode="DIRECTE"),
        structure["certificate"].encode(), structure["private_key"].encode())
    fault = await refused(app, session, soap_request(signed))
    assert (fault.subcode, fault.rule) == ("FailedAuthentication", "VIHF:card.certificate-kind")


@pytest.mark.parametrize("mode", ["INDIRECTE", "DIRECTE"])
async def test_an_mss_mailbox_certificate_signs_no_vihf(app, session, mode):  # type: ignore[no-untyped-def]
    """A mailbox client certificate of the same CA (SC.MSS/CONF.12, EC key: signed ECDSA-SHA256, which the VIHF
    accepts): the signature verifies, the signer is refused."""
    from app.mss import service as mss_service

    ca_cert, ca_key = await mss_service.sandbox_ca(app.state.sessionmaker)
    cert, key = issue_client_certificate(ca_cert, ca_key, address=f"{FONTAINE}@test.mssante.fr",
                                         organization="Cabinet")
    subject = xmldsig.certificate_dn(cert)
    professional = await professional_of(session, FONTAINE)
    signed = xmldsig.sign_assertion(unsigned(professional, issuer=subject, now=now_utc(), authentication_mode=mode),
                                    cert, key)
    fault = await refused(app, session, soap_request(signed, client=subject))
    expected = "VIHF:structure.certificate-kind" if mode == "INDIRECTE" else "VIHF:card.certificate-kind"
    assert (fault.subcode, fault.rule) == ("FailedAuthentication", expected)


# --- whole DNs ----------------------------------------------------------------------------------------------

async def test_a_bare_common_name_matches_no_full_dn(app, client, session):  # type: ignore[no-untyped-def]
    structure = await vendor_certificate(client, organization="CENTRE DE SANTE TEST")
    common_name = "LOGICIEL-TEST DMP"
    assert structure["subject"] != common_name and f"CN={common_name}" in structure["subject"]
    pem, key = structure["certificate"].encode(), structure["private_key"].encode()
    professional = await professional_of(session, FONTAINE)
    bare_issuer = xmldsig.sign_assertion(unsigned(professional, issuer=common_name, now=now_utc()), pem, key)
    fault = await refused(app, session, soap_request(bare_issuer, client=common_name))
    assert fault.rule == "VIHF:issuer"  # the Issuer is not the signing certificate's DN
    signed = xmldsig.sign_assertion(unsigned(professional, issuer=structure["subject"], now=now_utc()), pem, key)
    mismatch = await refused(app, session, soap_request(signed, client=common_name))
    assert mismatch.rule == "VIHF:structure.certificate-mismatch"  # the client certificate's bare CN
    checked = await check(app, session, soap_request(signed, client=structure["subject"]))
    assert checked.name_id == FONTAINE
