"""The VIHF of the DMP's XDS.b face (app/dmp/soap/vihf_read.py, xmldsig.py, vihf_issue.py): issued by the control
API, checked by ``authenticate`` against the real store (the sandbox's CA, PSC's professionals and tokens);
each refusal is a Sender fault with a WS-Security 1.0 subcode and a ``VIHF:`` rule.

Shapes: prosanteconnect/generate-VIHF ``VihfBuilder.java`` (attribute names, "Authentification_mode", the CX
resource-id, HL7 v3 Role and PurposeOfUse), its ``JDV_J65-SubjectRole-DMP.xml`` (role codes); the ANS TLSi kit
éditeur's ``VIHF.cs`` (``VIHF-<uuid>`` IDs, unprefixed SAML, an enveloped exc-c14n signature with
``InclusiveNamespaces PrefixList="ds saml #default xsi"``, RSA-SHA1 by .NET's default).
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from lxml import etree

from app.dmp import rules
from app.dmp.soap import vihf, vihf_read, xmldsig
from app.dmp.soap.faults import SoapFault
from app.dmp.soap.namespaces import NS_DS, NS_WSSE
from app.mss.smtp.tls import generate_test_ca
from tests.dmp.conftest import BERNARD, DOMINIQUE, FONTAINE, LEFEVRE, ZOE
from tests.dmp.soap.vihf_helpers import (
    CERTIFICATES,
    DOCTOR,
    ISSUE,
    NOW,
    A,
    attribute,
    check,
    drimbox_assertion,
    issued,
    now_utc,
    professional_of,
    read_refused,
    refused,
    set_value,
    sign_sha1,
    soap_request,
    tlsi_kit_assertion,
    unsigned,
    vendor_certificate,
)
from tests.psc.helpers import access_token_for

# --- pure logic: the attributes ---------------------------------------------------------------------------

R = vihf_read
REQUIRED = [R.VERSION, R.AUTHENTICATION_MODE, R.STRUCTURE, R.SECTOR, R.SUBJECT_ID, R.ROLE, R.RESOURCE_ID,
            R.RESOURCE_URN, R.PURPOSE_OF_USE, R.LPS_NAME, R.LPS_VERSION, R.LPS_APPROVAL]


def test_a_built_vihf_reads_back() -> None:
    read = vihf_read.read(unsigned(access_mode="centre_15"), now=NOW)
    assert (read.name_id, read.patient_ins, read.patient_oid, read.structure_id) == (
        FONTAINE, ZOE, "1.2.250.1.213.1.4.8", "10B0167011")
    assert read.access_mode is rules.AccessMode.CENTRE_15 and read.resource_urn == "urn:dmp"
    assert [(r.code, r.code_system) for r in read.roles] == [("10", R.SYSTEM_G15), ("SM54", R.SYSTEM_R01)]
    assert read.attributes[vihf_read.LPS_NAME] == ("SEGUR-SANDBOX-HARNESS",)


@pytest.mark.parametrize("name", REQUIRED)
def test_each_missing_attribute_is_refused(name: str) -> None:
    assertion = unsigned()
    statement = assertion.find(f"{A}AttributeStatement")
    assert statement is not None
    statement.remove(attribute(assertion, name))
    fault = read_refused(assertion)
    assert (fault.subcode, fault.rule) == ("InvalidSecurityToken", f"VIHF:attribute.missing:{name}")
    assert name in fault.reason


@pytest.mark.parametrize("name", [vihf_read.LPS_NAME, vihf_read.SUBJECT_ID, vihf_read.STRUCTURE])
def test_an_empty_attribute_is_a_missing_one(name: str) -> None:
    assert read_refused(set_value(unsigned(), name, "  ")).rule == f"VIHF:attribute.missing:{name}"


@pytest.mark.parametrize("path", ["Issuer", "Subject/NameID"])
def test_a_missing_issuer_or_name_id_is_refused(path: str) -> None:
    assertion = unsigned()
    element = assertion.find(A + path.replace("/", "/" + A))
    assert element is not None
    element.text = ""
    assert read_refused(assertion).rule.startswith("VIHF:attribute.missing:saml2:")


@pytest.mark.parametrize(("name", "value", "rule"), [
    (vihf_read.VERSION, "2.0", "VIHF:version"),
    (vihf_read.AUTHENTICATION_MODE, "DELEGUEE", "VIHF:authentication-mode"),
    (vihf_read.SECTOR, "SA07", "VIHF:sector"),
    (vihf_read.RESOURCE_URN, "urn:ror", "VIHF:resource-urn"),
    (vihf_read.RESOURCE_ID, f"{ZOE}^^^&1.2.250.1.213.1.4.2&ISO^NH", "VIHF:resource-id.oid"),  # INS-C: retired
    (vihf_read.RESOURCE_ID, f"{ZOE}^^^&1.2.3.4&ISO^NH", "VIHF:resource-id.oid"),
    (vihf_read.RESOURCE_ID, f"{ZOE[:-2]}00^^^&1.2.250.1.213.1.4.8&ISO^NH", "VIHF:resource-id.ins"),  # wrong key
    (vihf_read.RESOURCE_ID, "12345^^^&1.2.250.1.213.1.4.8&ISO^NH", "VIHF:resource-id.ins"),
    (vihf_read.RESOURCE_ID, ZOE, "VIHF:resource-id.shape"),
    (vihf_read.PURPOSE_OF_USE, "normal", "VIHF:purposeofuse.shape"),  # text, not a PurposeOfUse element
    (vihf_read.ROLE, "10^1.2.250.1.71.1.2.7", "VIHF:role.shape"),
])
def test_an_inconsistent_attribute_is_refused(name: str, value: str, rule: str) -> None:
    fault = read_refused(set_value(unsigned(), name, value))
    assert (fault.subcode, fault.rule) == ("InvalidSecurityToken", rule)


def _role_values(assertion: etree._Element) -> list[etree._Element]:
    return [value[0] for value in attribute(assertion, vihf_read.ROLE)]


@pytest.mark.parametrize(("index", "attr", "value", "rule"), [
    (0, "code", "99", "VIHF:role.unknown"),  # not a TRE_G15 profession of JDV_J65
    (0, "codeSystem", "1.2.250.1.213.1.1.5.5", "VIHF:role.unknown"),  # PSC's SubjectRole system, not G15
    (1, "code", "XX12", "VIHF:role.unknown"),
    (1, "codeSystem", vihf_read.SYSTEM_G15, "VIHF:role.unknown"),  # SM54 is no profession
])
def test_an_unknown_role_is_refused(index: int, attr: str, value: str, rule: str) -> None:
    assertion = unsigned()
    _role_values(assertion)[index].set(attr, value)
    assert read_refused(assertion).rule == rule


def test_a_doctor_without_a_specialty_and_a_specialty_first_are_refused() -> None:
    assertion = unsigned()
    first, second = _role_values(assertion)
    second.getparent().getparent().remove(second.getparent())  # type: ignore[union-attr]
    assert read_refused(assertion).rule == "VIHF:role.specialty"
    swapped = unsigned()
    first, second = _role_values(swapped)
    first.set("code", "SM26"), first.set("codeSystem", vihf_read.SYSTEM_R01)
    assert read_refused(swapped).rule == "VIHF:role.profession"


def test_a_pharmacist_carries_a_section_or_a_specialty() -> None:
    pharmacist = DOCTOR.model_copy(update={"profession_code": "21", "userinfo": {"SubjectRefPro": {"exercices": [
        {"codeProfession": "21", "activities": [{"codeSectionPharmacien": "A"}]}]}}})
    read = vihf_read.read(unsigned(pharmacist), now=NOW)
    assert [(r.code, r.code_system) for r in read.roles] == [("21", vihf_read.SYSTEM_G15), ("A", vihf_read.SYSTEM_G05)]
    bare = pharmacist.model_copy(update={"userinfo": {}})
    assert read_refused(unsigned(bare)).rule == "VIHF:role.specialty"
    assertion = unsigned(pharmacist)
    _role_values(assertion)[1].set("code", "Z")  # not a section of the CNOP table
    assert read_refused(assertion).rule == "VIHF:role.unknown"


def test_an_unknown_access_mode_is_refused() -> None:
    assertion = unsigned()
    attribute(assertion, vihf_read.PURPOSE_OF_USE)[0][0].set("code", "urgence")
    assert read_refused(assertion).rule == "VIHF:purposeofuse.code"


def test_conditions_are_checked_when_sent() -> None:
    assertion = unsigned(validity_seconds=600)
    fault = read_refused(assertion, now=NOW + dt.timedelta(minutes=12))
    assert (fault.subcode, fault.rule) == ("MessageExpired", "VIHF:conditions.expired")
    early = read_refused(assertion, now=NOW - dt.timedelta(minutes=5))
    assert (early.subcode, early.rule) == ("MessageExpired", "VIHF:conditions.not-yet-valid")
    assert vihf_read.read(assertion, now=NOW + dt.timedelta(minutes=10, seconds=30)).name_id == FONTAINE  # 60 s skew
    conditions = assertion.find(f"{A}Conditions")
    assert conditions is not None
    assertion.remove(conditions)  # optional (ANS mapping.md: "Facultatif")
    assert vihf_read.read(assertion, now=NOW + dt.timedelta(days=2)).not_on_or_after is None


def test_nir_keys_of_the_seeded_patients() -> None:
    assert vihf_read.nir_key_ok(ZOE) and vihf_read.nir_key_ok(DOMINIQUE)  # DOMINIQUE: Corsica, 2A
    assert not vihf_read.nir_key_ok(ZOE[:-2] + "01")


@pytest.mark.parametrize(("a", "b", "same"), [
    ("CN=Certificat Wizard DMP, OU=10B0167011, ST=Rhône (69), O=CENTRE, C=FR",
     "CN=Certificat Wizard DMP,OU=10B0167011,S=Rhône (69),O=CENTRE,C=FR", True),  # the TLSi kit's S= / ST=
    ("/C=FR/O=Segur Sandbox/CN=signer", "CN=signer,O=Segur Sandbox,C=FR", True),  # OpenSSL one-line form
    ("signer", "CN=signer,O=Segur Sandbox,C=FR", False),  # a bare CN names no DN (any structure with that CN)
    ("signer", "signer", False),
    ("CN=signer,O=Other,C=FR", "CN=signer,O=Segur Sandbox,C=FR", False),
    ("other", "CN=signer,O=Segur Sandbox,C=FR", False),
])
def test_distinguished_names_compare_whatever_their_spelling(a: str, b: str, same: bool) -> None:
    assert xmldsig.same_dn(a, b) is same


# --- issued VIHFs, checked against the store -----------------------------------------------------------

async def test_an_issued_vihf_is_accepted_and_gives_the_access_context(app, client, session):  # type: ignore[no-untyped-def]
    answer = await issued(client, access_mode="bris_de_glace", access_reason="urgence vitale")
    assert answer["client_certificate_subject"] == answer["issuer"]
    checked = await check(app, session, soap_request(answer["assertion"], client=answer["client_certificate_subject"]))
    assert (checked.name_id, checked.patient_ins, checked.patient_oid) == (FONTAINE, ZOE, "1.2.250.1.213.1.4.8")
    assert checked.authentication_mode == "INDIRECTE" and checked.signer == answer["issuer"]
    assert [r.code_system for r in checked.roles] == [vihf_read.SYSTEM_G15, vihf_read.SYSTEM_R01]
    ctx = vihf.access_context(checked)
    assert ctx.professional.subject_name_id == FONTAINE and ctx.rpps == "10001000016"
    assert (ctx.mode, ctx.reason) == (rules.AccessMode.BRIS_DE_GLACE, "urgence vitale")


async def test_every_seeded_professional_gets_an_accepted_vihf(app, client, session):  # type: ignore[no-untyped-def]
    from app.psc import service as psc_service

    for professional in await psc_service.list_professionals(session):
        answer = await issued(client, subject_name_id=professional.subject_name_id)
        checked = await check(app, session, soap_request(answer["assertion"], client=answer["issuer"]))
        assert checked.roles[0].code == professional.profession_code, professional.subject_name_id


async def test_a_directe_vihf_is_signed_by_the_professionals_card(app, client, session):  # type: ignore[no-untyped-def]
    answer = await issued(client, authentication_mode="DIRECTE", subject_name_id=BERNARD, patient_ins=DOMINIQUE)
    assert answer["client_certificate_subject"] is None
    checked = await check(app, session, soap_request(answer["assertion"]))  # no structure certificate needed
    assert checked.authentication_mode == "DIRECTE" and f"CN={BERNARD}" in (checked.signer or "")
    assert checked.patient_oid == "1.2.250.1.213.1.4.8"  # the OID of DOMINIQUE's DMP record
    body = "1850578006084"  # no DMP for this INS: the test NIR OID by default
    no_dmp = await issued(client, patient_ins=f"{body}{97 - int(body) % 97:02d}")
    assert "&amp;1.2.250.1.213.1.4.10&amp;ISO^NH" in no_dmp["assertion"]


async def test_a_missing_security_header_assertion_or_signature_is_refused(app, client, session):  # type: ignore[no-untyped-def]
    no_header = soap_request(None)
    no_header.security = None
    assert (await refused(app, session, no_header)).rule == "VIHF:security.missing"
    assert (await refused(app, session, soap_request(None))).rule == "VIHF:assertion.count"
    answer = await issued(client)
    assertion = etree.fromstring(answer["assertion"])
    signature = assertion.find(f"{{{NS_DS}}}Signature")
    assert signature is not None
    assertion.remove(signature)
    fault = await refused(app, session, soap_request(assertion, client=answer["issuer"]))
    assert (fault.subcode, fault.rule) == ("FailedCheck", "VIHF:signature.missing")


@pytest.mark.parametrize("tamper", ["name-id", "patient", "mode", "signature-value"])
async def test_a_tampered_vihf_is_refused(app, client, session, tamper):  # type: ignore[no-untyped-def]
    answer = await issued(client)
    assertion = etree.fromstring(answer["assertion"])
    if tamper == "name-id":
        assertion.find(f"{A}Subject/{A}NameID").text = LEFEVRE  # type: ignore[union-attr]
    elif tamper == "patient":
        set_value(assertion, vihf_read.RESOURCE_ID, f"{DOMINIQUE}^^^&1.2.250.1.213.1.4.10&ISO^NH")
    elif tamper == "mode":
        attribute(assertion, vihf_read.PURPOSE_OF_USE)[0][0].set("code", "bris_de_glace")
    else:
        value = assertion.find(f"{{{NS_DS}}}Signature/{{{NS_DS}}}SignatureValue")
        assert value is not None and value.text
        value.text = ("A" if value.text[0] != "A" else "B") + value.text[1:]
    fault = await refused(app, session, soap_request(assertion, client=answer["issuer"]))
    assert (fault.subcode, fault.rule) == ("FailedCheck", "VIHF:signature.invalid")


async def test_a_vihf_signed_by_another_ca_is_refused(app, client, session):  # type: ignore[no-untyped-def]
    ca_cert, ca_key = generate_test_ca()  # a CA of the same name, but not the sandbox's
    cert, key = xmldsig.issue_signing_certificate(ca_cert, ca_key, kind="structure", common_name="LOGICIEL-TEST DMP")
    issuer = xmldsig.certificate_dn(cert)
    professional = await professional_of(session, FONTAINE)
    signed = xmldsig.sign_assertion(unsigned(professional, issuer=issuer, now=now_utc()), cert, key)
    fault = await refused(app, session, soap_request(signed, client=issuer))
    assert (fault.subcode, fault.rule) == ("FailedCheck", "VIHF:signature.untrusted")


async def test_a_wrapped_signature_never_authenticates_the_forged_assertion(app, client, session):  # type: ignore[no-untyped-def]
    """XML signature wrapping: the genuine signed assertion hidden in a forged one naming another
    professional. Either refused, or what is read is what the signature covers: never the forged NameID."""
    answer = await issued(client)
    genuine = etree.fromstring(answer["assertion"])
    forged = etree.fromstring(answer["assertion"])
    forged.set("ID", "_evil")
    forged.find(f"{A}Subject/{A}NameID").text = LEFEVRE  # type: ignore[union-attr]
    signature = forged.find(f"{{{NS_DS}}}Signature")
    assert signature is not None
    forged.remove(signature)
    genuine_signature = genuine.find(f"{{{NS_DS}}}Signature")
    assert genuine_signature is not None
    forged.insert(1, genuine_signature)  # the genuine signature, referencing the genuine ID
    advice = etree.SubElement(forged, f"{A}Advice")
    advice.append(etree.fromstring(answer["assertion"]))
    try:
        checked = await check(app, session, soap_request(forged, client=answer["issuer"]))
    except SoapFault as fault:
        assert fault.rule.startswith("VIHF:signature.")
    else:
        assert checked.name_id == FONTAINE


async def test_an_expired_vihf_is_refused(app, client, session):  # type: ignore[no-untyped-def]
    answer = await issued(client, validity_seconds=60)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    fault = await refused(app, session, soap_request(answer["assertion"], client=answer["issuer"]), now=later)
    assert (fault.subcode, fault.rule) == ("MessageExpired", "VIHF:conditions.expired")


async def test_indirecte_needs_the_structures_certificate(app, client, session):  # type: ignore[no-untyped-def]
    answer = await issued(client)
    missing = await refused(app, session, soap_request(answer["assertion"]))
    assert (missing.subcode, missing.rule) == ("FailedAuthentication", "VIHF:structure.certificate-missing")
    other = await refused(app, session, soap_request(answer["assertion"], client="CN=another structure,O=X,C=FR"))
    assert other.rule == "VIHF:structure.certificate-mismatch"


async def test_a_vendor_signs_its_own_vihf_with_a_certificate_of_the_sandbox_ca(app, client, session):  # type: ignore[no-untyped-def]
    issued_cert = await vendor_certificate(client, organization="CENTRE DE SANTE TEST",
                                           organizational_unit="10B0167011")
    cert = x509.load_pem_x509_certificate(issued_cert["certificate"].encode())
    ca = x509.load_pem_x509_certificate(issued_cert["ca_certificate"].encode())
    cert.verify_directly_issued_by(ca)
    assert issued_cert["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    professional = await professional_of(session, LEFEVRE)
    signed = xmldsig.sign_assertion(unsigned(professional, issuer=issued_cert["subject"], now=now_utc()),
                                    issued_cert["certificate"].encode(), issued_cert["private_key"].encode())
    checked = await check(app, session, soap_request(signed, client=issued_cert["subject"]))
    assert checked.name_id == LEFEVRE and checked.signer == issued_cert["subject"]
    # the Issuer must be the signing certificate's DN (mapping.md)
    wrong_issuer = xmldsig.sign_assertion(unsigned(professional, issuer="CN=someone else", now=now_utc()),
                                          issued_cert["certificate"].encode(), issued_cert["private_key"].encode())
    fault = await refused(app, session, soap_request(wrong_issuer, client="CN=someone else"))
    assert fault.rule == "VIHF:issuer"


async def test_directe_signed_by_another_card_is_refused(app, client, session):  # type: ignore[no-untyped-def]
    card = await vendor_certificate(client, common_name=LEFEVRE, kind="card")
    professional = await professional_of(session, FONTAINE)
    signed = xmldsig.sign_assertion(
        unsigned(professional, issuer=card["subject"], now=now_utc(), authentication_mode="DIRECTE"),
        card["certificate"].encode(), card["private_key"].encode())
    fault = await refused(app, session, soap_request(signed))
    assert (fault.subcode, fault.rule) == ("FailedAuthentication", "VIHF:card.holder")


async def test_an_unknown_professional_or_another_profession_is_refused(app, client, session):  # type: ignore[no-untyped-def]
    cert = await vendor_certificate(client)
    pem, key = cert["certificate"].encode(), cert["private_key"].encode()
    stranger = DOCTOR.model_copy(update={"subject_name_id": "899999999999"})
    signed = xmldsig.sign_assertion(unsigned(stranger, issuer=cert["subject"], now=now_utc()), pem, key)
    fault = await refused(app, session, soap_request(signed, client=cert["subject"]))
    assert (fault.subcode, fault.rule) == ("FailedAuthentication", "VIHF:professional.unknown")
    nurse = DOCTOR.model_copy(update={"profession_code": "60", "userinfo": {}})  # FONTAINE is a doctor
    signed = xmldsig.sign_assertion(unsigned(nurse, issuer=cert["subject"], now=now_utc()), pem, key)
    assert (await refused(app, session, soap_request(signed, client=cert["subject"]))).rule == "VIHF:role.inconsistent"


async def test_a_psc_token_stands_in_for_the_signature(app, client, session):  # type: ignore[no-untyped-def]
    """ANS generate-VIHF: an unsigned VIHF built from PSC userinfo, sent with the PSC access token."""
    professional = await professional_of(session, FONTAINE)
    structure = "CN=API Proxy PSC,O=ANS,C=FR"
    assertion = unsigned(professional, issuer=structure, now=now_utc())
    token = await access_token_for(client, FONTAINE)
    checked = await check(app, session, soap_request(assertion, client=structure, token=token))
    assert checked.signer is None and vihf.access_context(checked).professional.subject_name_id == FONTAINE
    other = await access_token_for(client, LEFEVRE)
    fault = await refused(app, session, soap_request(unsigned(professional, issuer=structure, now=now_utc()),
                                                     client=structure, token=other))
    assert (fault.subcode, fault.rule) == ("FailedAuthentication", "VIHF:psc-token.professional")
    bad = await refused(app, session, soap_request(unsigned(professional, issuer=structure, now=now_utc()),
                                                   client=structure, token="not-a-token"))
    assert bad.rule == "VIHF:psc-token.invalid"


async def test_a_vihf_in_the_ans_tlsi_kit_shape_signed_rsa_sha1_is_accepted(app, client, session):  # type: ignore[no-untyped-def]
    """The ANS TLSi kit éditeur's VIHF.cs: unprefixed SAML namespace, ID ``VIHF-<uuid>``, VIHF_Version 3.0,
    the signature after Issuer, enveloped + exc-c14n with PrefixList "ds saml #default xsi", .NET's
    default RSA-SHA1 / SHA-1 — built here by hand, as that client does, not with signxml."""
    cert = await vendor_certificate(client, common_name="Certificat Wizard DMP 2019-R2", organization="CENTRE")
    professional = await professional_of(session, FONTAINE)
    assertion = tlsi_kit_assertion(issuer=cert["subject"], now=now_utc())
    sign_sha1(assertion, cert["certificate"].encode(), cert["private_key"].encode())
    checked = await check(app, session, soap_request(etree.tostring(assertion).decode(), client=cert["subject"]))
    assert checked.name_id == professional.subject_name_id and checked.authentication_mode == "INDIRECTE"
    assert checked.attributes["Authentification_Mode"] == ("INDIRECTE",)  # generate-VIHF's "_mode" spelling read


async def test_a_vihf_in_drimboxs_shape_is_accepted(app, client, session):  # type: ignore[no-untyped-def]
    """DRIMBox (ansforge/DRIM-M_DRIMbox ``Backend/src/main/java/com/bcom/drimbox/dmp/vihf/VIHF.java`` and
    ``dmp/request/signed/ProvideAndRegisterRequest.java``, commit 791cbc21): OpenSAML, ``saml2:`` prefix, a
    bare UUID as ID, no Conditions, AuthnContextClassRef TLSClient, Role/PurposeOfUse as HL7 v3 xsi:type CE
    with an empty codeSystemName, RSA-SHA1 over exc-c14n without an InclusiveNamespaces list."""
    cert = await vendor_certificate(client, common_name="DRIMbox", organization="b-com")
    assertion = drimbox_assertion(issuer=cert["subject"], now=now_utc())
    sign_sha1(assertion, cert["certificate"].encode(), cert["private_key"].encode(), prefix_list=None)
    checked = await check(app, session, soap_request(etree.tostring(assertion).decode(), client=cert["subject"]))
    assert (checked.name_id, checked.lps_name, checked.lps_approval) == (FONTAINE, "DRIMbox", "BCO-465897-tmp2")
    assert checked.not_on_or_after is None and checked.roles[1].code == "SM26"


async def test_issuing_refuses_bad_input_and_never_journals_the_assertion(app, client):  # type: ignore[no-untyped-def]
    unknown = await client.post(ISSUE, json={"subject_name_id": "899999999999", "patient_ins": ZOE})
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["rule"] == "VIHF:professional.unknown"
    for body in ({"patient_ins": ZOE}, {"subject_name_id": FONTAINE, "patient_ins": ZOE, "access_mode": "x"},
                 {"subject_name_id": FONTAINE, "patient_ins": ZOE, "validity_seconds": 10},
                 {"subject_name_id": FONTAINE, "patient_ins": ZOE, "surprise": 1}):
        assert (await client.post(ISSUE, json=body)).status_code == 422, body
    assert (await client.post(CERTIFICATES, json={})).status_code == 422
    answer = await issued(client, access_reason="motif-secret-123")
    cert = await vendor_certificate(client)
    assertion_id = etree.fromstring(answer["assertion"]).get("ID")
    page = (await client.get("/sandbox/v1/journal", params={"path": "/sandbox/v1/dmps/vihf", "limit": 50})).json()
    assert page["entries"], "the issuing calls are journaled"
    dumped = str(page)
    for secret in (assertion_id, "motif-secret-123", "PRIVATE KEY", "BEGIN CERTIFICATE",
                   cert["private_key"].splitlines()[1]):
        assert secret not in dumped


async def test_the_signer_certificates_are_created_once(app, client):  # type: ignore[no-untyped-def]
    first, second = await issued(client), await issued(client)
    assert first["issuer"] == second["issuer"]
    a, b = (etree.fromstring(x["assertion"]).findtext(f".//{{{NS_DS}}}X509Certificate") for x in (first, second))
    assert a == b


# --- over HTTP, through the transport's router ----------------------------------------------------------

async def test_over_http_a_valid_vihf_passes_and_a_refused_one_is_a_wsse_fault(client):  # type: ignore[no-untyped-def]
    from tests.dmp.soap.client import CLIENT_CERTIFICATE_HEADER, get_vihf, post_soap

    query = '<query:AdhocQueryRequest xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"/>'
    good = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE)
    passed = await post_soap(client, "registry", "urn:ihe:iti:2007:RegistryStoredQuery", query, vihf=good)
    assert passed.fault_code is None and passed.status == 200  # the VIHF let the call reach its transaction
    tampered = good.replace(FONTAINE, LEFEVRE, 1)
    bad = await post_soap(client, "registry", "urn:ihe:iti:2007:RegistryStoredQuery", query, vihf=tampered,
                          headers={CLIENT_CERTIFICATE_HEADER: good.client_certificate_subject or ""})
    assert (bad.status, bad.fault_subcode) == (500, f"{{{NS_WSSE}}}FailedCheck")
    assert bad.fault_reason and "signature du VIHF" in bad.fault_reason
    no_certificate = await post_soap(client, "registry", "urn:ihe:iti:2007:RegistryStoredQuery", query,
                                     vihf=str(good))  # a plain str: no stand-in header sent
    assert no_certificate.fault_subcode == f"{{{NS_WSSE}}}FailedAuthentication"
    page = (await client.get("/sandbox/v1/journal", params={"rule": "VIHF:*", "limit": 10})).json()
    rules_seen = {entry["rule"] for entry in page["entries"]}
    assert {"VIHF:signature.invalid", "VIHF:structure.certificate-missing"} <= rules_seen
    assert etree.fromstring(str(good)).get("ID") not in str(page)


async def test_over_http_a_psc_token_stands_in_for_the_signature(client, session):  # type: ignore[no-untyped-def]
    from tests.dmp.soap.client import CLIENT_CERTIFICATE_HEADER, post_soap

    professional = await professional_of(session, FONTAINE)
    structure = "CN=API Proxy PSC,O=ANS,C=FR"
    assertion = etree.tostring(unsigned(professional, issuer=structure, now=now_utc())).decode()
    token = await access_token_for(client, FONTAINE)
    query = '<query:AdhocQueryRequest xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"/>'
    headers = {CLIENT_CERTIFICATE_HEADER: structure, "Authorization": f"Bearer {token}"}
    answer = await post_soap(client, "registry", "urn:ihe:iti:2007:RegistryStoredQuery", query, vihf=assertion,
                             headers=headers)
    assert answer.fault_code is None, answer.fault_reason
    unsigned_alone = await post_soap(client, "registry", "urn:ihe:iti:2007:RegistryStoredQuery", query,
                                     vihf=assertion, headers={CLIENT_CERTIFICATE_HEADER: structure})
    assert unsigned_alone.fault_subcode == f"{{{NS_WSSE}}}FailedCheck"


async def test_a_verified_vihf_is_checked_again_for_what_time_changes(app, client, session):  # type: ignore[no-untyped-def]
    """The fast path remembers a verified VIHF by its exact bytes; the plain path verifies every time. Both
    answer the same: a second use passes, an expired one or one whose certificate has lapsed is refused, a
    changed byte is verified afresh (and refused when tampered)."""
    answer = await issued(client, validity_seconds=600)
    request = soap_request(answer["assertion"], client=answer["issuer"])
    first, second = await check(app, session, request), await check(app, session, request)
    assert first.name_id == second.name_id == FONTAINE
    expired = await refused(app, session, request, now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15))
    assert expired.rule == "VIHF:conditions.expired"
    lapsed = await refused(app, session, request, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=4000))
    assert lapsed.rule == "VIHF:signature.certificate-expired"
    tampered = soap_request(answer["assertion"].replace(FONTAINE, LEFEVRE, 1), client=answer["issuer"])
    assert (await refused(app, session, tampered)).rule == "VIHF:signature.invalid"
