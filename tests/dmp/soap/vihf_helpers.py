"""Helpers of the VIHF tests (test_vihf.py, test_vihf_signers.py): requests carrying a VIHF, VIHFs built
unsigned or in real clients' shapes (the ANS TLSi kit éditeur, DRIMBox) and signed as those clients sign, the
control API's issued VIHFs and certificates, ``authenticate`` called against the real store."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from app.dmp.soap import vihf, vihf_issue, vihf_read
from app.dmp.soap.call import SoapRequest
from app.dmp.soap.faults import SoapFault
from app.dmp.soap.namespaces import NS_DS, NS_SAML2, NS_WSSE
from app.shared.professional import Professional
from tests.dmp.conftest import FONTAINE, ZOE

ISSUE = "/sandbox/v1/dmps/vihf"
CERTIFICATES = "/sandbox/v1/dmps/vihf-certificates"
A = f"{{{NS_SAML2}}}"
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
DOCTOR = Professional(
    subject_name_id=FONTAINE, rpps="10001000016", given_name="Claire", family_name="Fontaine", profession_code="10",
    userinfo={"SubjectRefPro": {"exercices": [{"codeProfession": "10", "codeSavoirFaire": "SM54"}]}})


def soap_request(assertion: etree._Element | str | None, *, client: str | None = None,
                 token: str | None = None) -> SoapRequest:
    security = etree.Element(f"{{{NS_WSSE}}}Security", nsmap={"wsse": NS_WSSE})
    if assertion is not None:
        security.append(etree.fromstring(assertion) if isinstance(assertion, str) else assertion)
    return SoapRequest(action="urn:ihe:iti:2007:RegistryStoredQuery", message_id="urn:uuid:1", to=None,
                       reply_to=None, header=etree.Element("h"), payload=etree.Element("p"), security=security,
                       client_certificate_subject=client, bearer_token=token)


def unsigned(professional: Professional = DOCTOR, *, issuer: str = "CN=x", now: dt.datetime = NOW,
             **overrides: object) -> etree._Element:
    request = vihf_issue.VihfRequest.model_validate(
        {"subject_name_id": professional.subject_name_id, "patient_ins": ZOE, **overrides})
    return vihf_issue.build_assertion(request, professional, issuer=issuer, patient_oid="1.2.250.1.213.1.4.8",
                                      structure_id="10B0167011", now=now)


def attribute(assertion: etree._Element, name: str) -> etree._Element:
    found = assertion.find(f"{A}AttributeStatement/{A}Attribute[@Name='{name}']")
    assert found is not None, name
    return found


def set_value(assertion: etree._Element, name: str, text: str) -> etree._Element:
    value = attribute(assertion, name)[0]
    for child in list(value):
        value.remove(child)
    value.text = text
    return assertion


def read_refused(assertion: etree._Element, *, now: dt.datetime = NOW) -> SoapFault:
    with pytest.raises(SoapFault) as caught:
        vihf_read.read(assertion, now=now)
    assert caught.value.code == "Sender" and caught.value.subcode_ns == NS_WSSE
    return caught.value


async def issued(client, **overrides):  # type: ignore[no-untyped-def]
    response = await client.post(ISSUE, json={"subject_name_id": FONTAINE, "patient_ins": ZOE, **overrides})
    assert response.status_code == 201, response.text
    return response.json()


async def vendor_certificate(client, common_name: str = "LOGICIEL-TEST DMP", **extra: str):  # type: ignore[no-untyped-def]
    response = await client.post(CERTIFICATES, json={"common_name": common_name, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def check(app, session, request: SoapRequest, **kwargs) -> vihf_read.Vihf:  # type: ignore[no-untyped-def]
    return await vihf.authenticate(request, session=session, sessionmaker=app.state.sessionmaker,
                                   settings=app.state.settings, **kwargs)


async def refused(app, session, request: SoapRequest, **kwargs) -> SoapFault:  # type: ignore[no-untyped-def]
    with pytest.raises(SoapFault) as caught:
        await check(app, session, request, **kwargs)
    fault = caught.value
    assert fault.code == "Sender" and fault.subcode_ns == NS_WSSE and fault.rule.startswith("VIHF:")
    assert fault.http_status == 500  # every SOAP fault of the DMP face (faults.py)
    return fault


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


async def professional_of(session, subject: str) -> Professional:  # type: ignore[no-untyped-def]
    from app.psc import service as psc_service

    found = await psc_service.get_professional(session, subject_name_id=subject)
    assert found is not None
    return found


SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def tlsi_kit_assertion(*, issuer: str, now: dt.datetime) -> etree._Element:
    """The ANS TLSi kit's ``VihfBase()`` + ``GetVihfXmlElement`` shape (unprefixed SAML, Role/PurposeOfUse)."""
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    roles = (f'<Role xmlns="{HL7}" xsi:type="CE" code="10" codeSystem="1.2.250.1.71.1.2.7" displayName="Médecin"/>'
             f'</AttributeValue><AttributeValue><Role xmlns="{HL7}" xsi:type="CE" code="SM54" '
             f'codeSystem="1.2.250.1.71.4.2.5" displayName="Médecine générale (SM)"/>')
    attributes = [
        ("VIHF_Version", "3.0"), ("Authentification_mode", "INDIRECTE"),
        ("Secteur_Activite", "SA07^1.2.250.1.71.4.2.4"),
        ("urn:oasis:names:tc:xacml:2.0:resource:resource-id", f"{ZOE}^^^&amp;1.2.250.1.213.1.4.8&amp;ISO^NH"),
        ("Ressource_URN", "urn:dmp"), ("urn:oasis:names:tc:xspa:1.0:subject:subject-id", "FONTAINE Claire"),
        ("Identifiant_Structure", "10B0167011"), ("LPS_Version", "2.1.0"), ("LPS_ID", "INSTALL-42"),
        ("LPS_Nom", "LOGICIEL TEST"), ("LPS_ID_HOMOLOGATION_DMP", "DMP-HOMOLOG-0001"),
        ("urn:oasis:names:tc:xspa:1.0:subject:purposeofuse",
         f'<PurposeOfUse xmlns="{HL7}" xsi:type="CE" code="normal" codeSystem="1.2.250.1.213.1.1.4.248" '
         'codeSystemName="mode acces VIHF 1.0" displayName="Accès normal"/>'),
        ("urn:oasis:names:tc:xacml:2.0:subject:role", roles),
    ]
    statement = "".join(f'<Attribute Name="{n}"><AttributeValue>{v}</AttributeValue></Attribute>'
                        for n, v in attributes)
    text = (f'<Assertion xmlns="{SAML}" xmlns:xsi="{XSI}" ID="VIHF-{hashlib.md5(stamp.encode()).hexdigest()}" '
            f'IssueInstant="{stamp}" Version="2.0"><Issuer Format="urn:oasis:names:tc:SAML:1.1:nameid-format:'
            f'X509SubjectName">{issuer}</Issuer><Subject><NameID>{FONTAINE}</NameID></Subject>'
            f'<AuthnStatement AuthnInstant="{stamp}"><AuthnContext><AuthnContextClassRef>'
            'urn:oasis:names:tc:SAML:2.0:ac:classes:Password</AuthnContextClassRef></AuthnContext></AuthnStatement>'
            f'<AttributeStatement>{statement}</AttributeStatement></Assertion>')
    return etree.fromstring(text.encode())


def drimbox_assertion(*, issuer: str, now: dt.datetime) -> etree._Element:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def coded(local: str, code: str, system: str, name: str, display: str) -> str:
        return (f'<{local} xmlns="{HL7}" xsi:type="CE" code="{code}" codeSystem="{system}" codeSystemName="{name}" '
                f'displayName="{display}"/>')

    simple = [("VIHF_Version", "3.0"), ("Identifiant_Structure", "10B0167011"),
              ("Secteur_Activite", "SA07^1.2.250.1.71.4.2.4"), ("Authentification_Mode", "INDIRECTE"),
              ("urn:oasis:names:tc:xacml:2.0:resource:resource-id", f"{ZOE}^^^&amp;1.2.250.1.213.1.4.8&amp;ISO^NH"),
              ("urn:oasis:names:tc:xspa:1.0:subject:subject-id", "Claire FONTAINE"), ("Ressource_URN", "urn:dmp"),
              ("LPS_ID", "01.12.12"), ("LPS_Nom", "DRIMbox"), ("LPS_Version", "1.0"),
              ("LPS_ID_HOMOLOGATION_DMP", "BCO-465897-tmp2")]
    attributes = "".join(f'<saml2:Attribute Name="{n}"><saml2:AttributeValue>{v}</saml2:AttributeValue>'
                         '</saml2:Attribute>' for n, v in simple)
    attributes += ('<saml2:Attribute Name="urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"><saml2:AttributeValue>'
                   + coded("PurposeOfUse", "normal", "1.2.250.1.213.1.1.4.248", "mode acces VIHF 1.0", "Acces normal")
                   + '</saml2:AttributeValue></saml2:Attribute><saml2:Attribute '
                   'Name="urn:oasis:names:tc:xacml:2.0:subject:role"><saml2:AttributeValue>'
                   + coded("Role", "10", "1.2.250.1.71.1.2.7", "", "Medecin") + '</saml2:AttributeValue>'
                   '<saml2:AttributeValue>'
                   + coded("Role", "SM26", "1.2.250.1.71.4.2.5", "", "Qualifie en Medecine Generale (SM)")
                   + '</saml2:AttributeValue></saml2:Attribute>')
    text = (f'<saml2:Assertion xmlns:saml2="{SAML}" xmlns:xsi="{XSI}" ID="{hashlib.sha1(stamp.encode()).hexdigest()}" '
            f'IssueInstant="{stamp}" Version="2.0"><saml2:Issuer Format="urn:oasis:names:tc:SAML:1.1:nameid-format:'
            f'X509SubjectName">{issuer}</saml2:Issuer><saml2:Subject><saml2:NameID>{FONTAINE}</saml2:NameID>'
            f'</saml2:Subject><saml2:AuthnStatement AuthnInstant="{stamp}"><saml2:AuthnContext>'
            '<saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient</saml2:AuthnContextClassRef>'
            f'</saml2:AuthnContext></saml2:AuthnStatement><saml2:AttributeStatement>{attributes}'
            '</saml2:AttributeStatement></saml2:Assertion>')
    return etree.fromstring(text.encode())


def sign_sha1(assertion: etree._Element, cert_pem: bytes, key_pem: bytes,
               prefix_list: str | None = "ds saml #default xsi") -> None:
    """What .NET SignedXml does with the kit's settings: enveloped, exc-c14n with the kit's PrefixList,
    SHA-1 digest, RSA-SHA1 signature, the certificate in KeyInfo, placed after Issuer."""
    prefixes = [p for p in (prefix_list or "").split() if p != "#default"]  # lxml renders #default when used
    digest = hashlib.sha1(etree.tostring(assertion, method="c14n", exclusive=True,
                                         inclusive_ns_prefixes=prefixes)).digest()
    ds = f"{{{NS_DS}}}"
    ec = "http://www.w3.org/2001/10/xml-exc-c14n#"
    signature = etree.Element(f"{ds}Signature", nsmap={None: NS_DS})
    info = etree.SubElement(signature, f"{ds}SignedInfo")
    etree.SubElement(info, f"{ds}CanonicalizationMethod", Algorithm=ec)
    etree.SubElement(info, f"{ds}SignatureMethod", Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1")
    reference = etree.SubElement(info, f"{ds}Reference", URI="#" + str(assertion.get("ID")))
    transforms = etree.SubElement(reference, f"{ds}Transforms")
    etree.SubElement(transforms, f"{ds}Transform", Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature")
    exc = etree.SubElement(transforms, f"{ds}Transform", Algorithm=ec)
    if prefix_list:
        etree.SubElement(exc, f"{{{ec}}}InclusiveNamespaces", nsmap={None: ec}, PrefixList=prefix_list)
    etree.SubElement(reference, f"{ds}DigestMethod", Algorithm="http://www.w3.org/2000/09/xmldsig#sha1")
    etree.SubElement(reference, f"{ds}DigestValue").text = base64.b64encode(digest).decode()
    assertion[0].addnext(signature)  # after Issuer, as the kit inserts it
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    value = key.sign(etree.tostring(info, method="c14n", exclusive=True), padding.PKCS1v15(), hashes.SHA1())
    etree.SubElement(signature, f"{ds}SignatureValue").text = base64.b64encode(value).decode()
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    key_info = etree.SubElement(etree.SubElement(signature, f"{ds}KeyInfo"), f"{ds}X509Data")
    etree.SubElement(key_info, f"{ds}X509Certificate").text = base64.b64encode(der).decode()


