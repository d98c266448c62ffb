"""XML-DSig of the VIHF: verifying the enveloped signature a DMP client puts in its SAML assertion, signing the
assertions the sandbox issues, and the certificates of the sandbox's test CA that sign them.

The DMP's VIHF is signed with an enveloped XML-DSig signature: ``Reference URI="#<Assertion/@ID>"`` with the
transforms enveloped-signature then exclusive c14n (``InclusiveNamespaces PrefixList="ds saml #default xsi"``),
``CanonicalizationMethod`` exc-c14n, the signer's certificate in ``KeyInfo/X509Data`` (ANS TLSi kit éditeur,
C# ``TLSiKitEditeur.VIHF.VIHF.getXmlSignature``; ansforge/IG-hl7v2-volet-transmission-document-cda-r2
``input/pagecontent/mapping.md``: "Signature XML-DSIG avec le certificat de cachet de la structure de soins").
Clients still send RSA-SHA1 (the .NET ``SignedXml`` default of that kit) beside RSA-SHA256: both are accepted.

The signature is checked with ``signxml`` (never a hand-written XML-DSig); the certificate must be issued by
the sandbox's test CA (the MSSanté one, :func:`app.mss.service.sandbox_ca`, standing in for IGC-Santé). That CA
also issues MSSanté mailbox certificates, so the certificates the VIHF accepts carry a certificate policy of the
sandbox's arc saying what they stand for, as IGC-Santé tells its certificate families apart by their policy
(RFC 5280 §4.2.1.4): :data:`POLICY_STRUCTURE` (a structure's certificate, INDIRECTE) or :data:`POLICY_CARD` (a
professional's card, DIRECTE); :func:`certificate_kind` reads it.
What is read afterwards is what ``signxml`` returns as signed, never an element found again by its ID
(signature wrapping, as signxml's own documentation warns).
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from app.dmp.soap.namespaces import NS_DS

# RSA-SHA1/SHA-1 stay accepted on input: DMP clients built on .NET SignedXml still send them (see above).
_ACCEPTED_SIGNATURES = ("RSA_SHA1", "RSA_SHA256", "RSA_SHA384", "RSA_SHA512", "ECDSA_SHA256", "ECDSA_SHA384",
                        "ECDSA_SHA512")
_ACCEPTED_DIGESTS = ("SHA1", "SHA256", "SHA384", "SHA512")
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

# Certificate policies of the sandbox's arc (1.2.250.1.213.1.4.2.999: .1 the repository, .3/.4 TD's codes).
POLICY_STRUCTURE = "1.2.250.1.213.1.4.2.999.5.1"  # a structure's certificate (cachet, signs INDIRECTE VIHFs)
POLICY_CARD = "1.2.250.1.213.1.4.2.999.5.2"  # a professional's card (CPS stand-in, signs DIRECTE VIHFs)
CertificateKind = Literal["structure", "card"]
_POLICIES: dict[str, CertificateKind] = {POLICY_STRUCTURE: "structure", POLICY_CARD: "card"}


class SignatureRefused(ValueError):
    """The assertion's signature is missing, malformed, broken, or by a certificate the sandbox's CA did not
    issue; ``rule`` names which check refused it (journal)."""

    def __init__(self, message: str, *, french: str, rule: str) -> None:
        super().__init__(message)
        self.french = french
        self.rule = rule


@dataclass(frozen=True)
class Verified:
    """A verified signature: the element the signature covers (read this one, nothing else) and its signer."""

    signed: etree._Element
    certificate: x509.Certificate

    @property
    def signer_dn(self) -> str:
        return self.certificate.subject.rfc4514_string()


def _certificate_of(signature: etree._Element) -> x509.Certificate:
    texts = signature.findall(f"{{{NS_DS}}}KeyInfo/{{{NS_DS}}}X509Data/{{{NS_DS}}}X509Certificate")
    if not texts:
        raise SignatureRefused(
            "the VIHF signature carries no ds:KeyInfo/ds:X509Data/ds:X509Certificate",
            french="la signature du VIHF ne porte pas de ds:KeyInfo/ds:X509Data/ds:X509Certificate",
            rule="VIHF:signature.certificate")
    body = "".join((texts[0].text or "").split())
    try:
        pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise SignatureRefused("the VIHF signature's X509Certificate is not a DER certificate in base64",
                               french="le X509Certificate de la signature du VIHF n'est pas un certificat lisible",
                               rule="VIHF:signature.certificate") from None


def _check_issued_by(cert: x509.Certificate, ca_pem: bytes, now: dt.datetime) -> None:
    ca = x509.load_pem_x509_certificate(ca_pem)
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError) as exc:  # not its signature, another issuer name, a key type
        raise SignatureRefused(
            f"the VIHF is signed by a certificate the sandbox's test CA did not issue ({cert.issuer.rfc4514_string()})",
            french="le VIHF est signé par un certificat que l'autorité de test du bac à sable n'a pas émis",
            rule="VIHF:signature.untrusted") from exc
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SignatureRefused("the VIHF's signing certificate is not valid now",
                               french="le certificat de signature du VIHF n'est pas en cours de validité",
                               rule="VIHF:signature.certificate-expired")


def verify_assertion(assertion: etree._Element, ca_pem: bytes, *, now: dt.datetime | None = None) -> Verified:
    """Verify the enveloped signature of ``assertion`` (a ``saml2:Assertion``); the certificate in its KeyInfo
    must be issued by the CA ``ca_pem``. Returns the element the signature covers."""
    from signxml import DigestAlgorithm, SignatureMethod, XMLVerifier
    from signxml.exceptions import InvalidInput
    from signxml.exceptions import InvalidSignature as BrokenSignature
    from signxml.verifier import SignatureConfiguration

    signature = assertion.find(f"{{{NS_DS}}}Signature")
    if signature is None:
        raise SignatureRefused("the VIHF carries no ds:Signature", french="le VIHF ne porte pas de ds:Signature",
                               rule="VIHF:signature.missing")
    cert = _certificate_of(signature)
    _check_issued_by(cert, ca_pem, now or dt.datetime.now(dt.UTC))
    config = SignatureConfiguration(
        require_x509=True, expect_references=1,
        signature_methods=frozenset(SignatureMethod[name] for name in _ACCEPTED_SIGNATURES),
        digest_algorithms=frozenset(DigestAlgorithm[name] for name in _ACCEPTED_DIGESTS),
    )
    # A copy (no parsing): signxml removes the enveloped signature from what it is given.
    standalone = copy.deepcopy(assertion)
    try:
        result = XMLVerifier().verify(standalone, x509_cert=cert, expect_config=config)
    except (BrokenSignature, InvalidInput, ValueError, etree.LxmlError) as exc:
        # etree.DocumentInvalid (an LxmlError): signxml validates ds:Signature against the XML-DSig schema, and a
        # missing SignedInfo, SignatureValue, DigestValue ... fails that validation
        raise SignatureRefused(f"the VIHF signature does not verify: {exc}",
                               french="la signature du VIHF est invalide (assertion modifiée ou signature altérée)",
                               rule="VIHF:signature.invalid") from None
    signed = result[0] if isinstance(result, list) else result
    signed_xml = signed.signed_xml
    if signed_xml is None or etree.QName(signed_xml).localname != "Assertion":
        raise SignatureRefused("the VIHF signature does not cover the saml2:Assertion itself",
                               french="la signature du VIHF ne couvre pas l'assertion saml2:Assertion elle-même",
                               rule="VIHF:signature.reference")
    return Verified(signed=signed_xml, certificate=cert)


def sign_assertion(assertion: etree._Element, cert_pem: bytes, key_pem: bytes) -> etree._Element:
    """``assertion`` signed as DMP clients sign the VIHF (enveloped, exc-c14n, RSA-SHA256, the certificate in
    KeyInfo; ECDSA-SHA256 for an EC key), the signature placed after ``saml2:Issuer`` as the SAML 2.0 schema
    orders it."""
    from signxml import XMLSigner
    from signxml.algorithms import SignatureConstructionMethod

    is_ec = isinstance(serialization.load_pem_private_key(key_pem, password=None), ec.EllipticCurvePrivateKey)

    issuer = assertion[0]
    placeholder = etree.Element(f"{{{NS_DS}}}Signature", Id="placeholder", nsmap={"ds": NS_DS})
    issuer.addnext(placeholder)
    signer = XMLSigner(method=SignatureConstructionMethod.enveloped,
                       signature_algorithm="ecdsa-sha256" if is_ec else "rsa-sha256",
                       digest_algorithm="sha256", c14n_algorithm=EXC_C14N)
    signed: etree._Element = signer.sign(assertion, key=key_pem, cert=cert_pem.decode(),
                                         reference_uri=f"#{assertion.get('ID')}")
    return signed


def _name(common_name: str, organization: str | None, unit: str | None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:64]))
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit[:64]))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]))
    return x509.Name(attributes)


def issue_signing_certificate(ca_cert_pem: bytes, ca_key_pem: bytes, *, kind: CertificateKind, common_name: str,
                              organization: str | None = None, unit: str | None = None,
                              days: int = 365) -> tuple[bytes, bytes]:
    """An RSA-2048 signing certificate (digitalSignature, clientAuth: the structure's certificate both
    authenticates TLS and signs the VIHF, ANS generate-VIHF README) issued by the sandbox's test CA, marked
    with the policy of its ``kind`` (:data:`POLICY_STRUCTURE`, :data:`POLICY_CARD`)."""
    from app.keygen import rsa_2048

    policy = POLICY_STRUCTURE if kind == "structure" else POLICY_CARD

    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(ca_key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise TypeError("the sandbox CA's key is neither EC nor RSA")
    key = rsa_2048()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name(common_name, organization, unit)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def certificate_kind(cert: x509.Certificate) -> CertificateKind | None:
    """What the certificate stands for by its policy of the sandbox's arc; None: neither (an MSSanté mailbox
    certificate, one issued before the policies, ...)."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return None
    kinds = {_POLICIES[p.policy_identifier.dotted_string] for p in policies
             if p.policy_identifier.dotted_string in _POLICIES}
    return kinds.pop() if len(kinds) == 1 else None  # both at once: neither


def certificate_dn(cert_pem: bytes) -> str:
    return x509.load_pem_x509_certificate(cert_pem).subject.rfc4514_string()


_KEY_ALIASES = {"s": "st", "stateorprovincename": "st", "e": "emailaddress", "commonname": "cn",
                "organizationname": "o", "organizationalunitname": "ou", "countryname": "c", "l": "l"}


def dn_parts(dn: str) -> tuple[tuple[str, str], ...]:
    """A distinguished name as sorted (key, value) pairs, whatever the spelling: RFC 4514 (``CN=a,O=b``), the
    OpenSSL one-line form (``/C=FR/O=b/CN=a``), spaces after commas, ``S=`` for ``ST=`` (the ANS TLSi kit
    rewrites one into the other). A value without ``=`` is no DN: no pairs."""
    text = dn.strip()
    if "=" not in text:
        return ()
    separator = "/" if text.startswith("/") else ","
    pairs = []
    for chunk in text.strip("/").split(separator):
        if "=" not in chunk:
            continue
        key, _, value = chunk.partition("=")
        key = key.strip().casefold()
        pairs.append((_KEY_ALIASES.get(key, key), value.strip().casefold()))
    return tuple(sorted(pairs))


def same_dn(a: str, b: str) -> bool:
    """Do two DNs name the same subject: every attribute the same, whatever the spelling? A bare common name
    (no ``=``) names nothing: it would match any DN with that CN, another structure's or a card's."""
    pa, pb = dn_parts(a), dn_parts(b)
    return bool(pa) and pa == pb


def common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None
