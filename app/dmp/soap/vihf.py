"""The VIHF: the signed SAML 2 assertion in ``wsse:Security`` every DMPi call carries (reference/dmp.md §1.1):
read and checked (every required attribute, consistency, the XML signature by a certificate of the sandbox's
test CA, or a PSC access token in its place), then turned into the :class:`~app.dmp.context.AccessContext`
the service reads. Issuing signed ones for harnesses: :mod:`.vihf_issue`.

Sources: reference/dmp.md §1.1, §2.5; ``prosanteconnect/generate-VIHF`` (``VihfBuilder.java``,
``utils/Constants.java``, ``org/hl7/v3/PurposeOfUse.java``, ``JDV_J65-SubjectRole-DMP.xml``); "Mapping VIHF
pour le DMP" (``ansforge/IG-hl7v2-volet-transmission-document-cda-r2`` ``input/pagecontent/mapping.md``:
Conditions optional, VIHF_Version 4.0, Issuer = the DN of the structure's certificate that signs).

Faults: no public source gives the DMP's own codes for a refused VIHF, so the sandbox answers the standard
WS-Security 1.0 subcodes (OASIS WSS SOAP Message Security 1.0 §12, ``wsse`` namespace): ``InvalidSecurity``
(no ``wsse:Security``/assertion), ``InvalidSecurityToken`` (a missing or inconsistent attribute),
``FailedCheck`` (the signature), ``FailedAuthentication`` (professional, PSC token, structure certificate,
card), ``MessageExpired`` (Conditions); the journal's rule (``VIHF:<what>``) says which check refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from lxml import etree

from app.dmp.context import AccessContext
from app.dmp.soap import xmldsig
from app.dmp.soap.faults import SoapFault
from app.dmp.soap.vihf_read import (
    DIRECT,
    SYSTEM_G15,
    Vihf,
    VihfRole,
    check_conditions,
    find_assertion,
    invalid,
    read,
    wsse_fault,
)
from app.shared.professional import Professional

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.config import Settings


class SecuredRequest(Protocol):
    """What :func:`authenticate` reads of a :class:`~app.dmp.soap.call.SoapRequest` (named structurally:
    ``call`` already refers to this module)."""

    @property
    def security(self) -> etree._Element | None: ...
    @property
    def client_certificate_subject(self) -> str | None: ...
    @property
    def bearer_token(self) -> str | None: ...


# --- authentication ----------------------------------------------------------------------------------------

_CA_CACHE: dict[str, bytes] = {}  # database URL -> the sandbox CA's certificate (created once, never changes)


async def sandbox_ca_certificate(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> bytes:
    """The sandbox's test CA certificate (the MSSanté one: :func:`app.mss.service.sandbox_ca`), read once."""
    cached = _CA_CACHE.get(settings.database_url)
    if cached is None:
        from app.mss import service as mss_service

        cached, _ = await mss_service.sandbox_ca(sessionmaker)
        _CA_CACHE[settings.database_url] = cached
    return cached


def _signature_fault(error: xmldsig.SignatureRefused) -> SoapFault:
    return wsse_fault("FailedCheck", error.rule, error.french, str(error))


def _failed(rule: str, reason: str, english: str) -> SoapFault:
    return wsse_fault("FailedAuthentication", f"VIHF:{rule}", reason, english)


def check_issuer(vihf: Vihf, signer_dn: str) -> None:
    """saml2:Issuer is the DN of the certificate that signs the assertion (mapping.md: "DN du certificat de
    cachet utilisé pour signer l'assertion")."""
    if not xmldsig.same_dn(vihf.issuer, signer_dn):
        raise invalid("issuer", "saml2:Issuer doit être le DN du certificat qui signe le VIHF",
                      f"saml2:Issuer {vihf.issuer!r} is not the DN of the signing certificate ({signer_dn})")


def check_structure_certificate(vihf: Vihf, client_subject: str | None) -> None:
    """INDIRECTE: the structure authenticates with its certificate (TLS client certificate, or the transport's
    documented header stand-in), and that certificate is the one the VIHF names as its Issuer: "Le DN des
    certificats d'authentification client et de signature présentés au DMP (ils doivent être identiques)"
    (prosanteconnect/generate-VIHF README.adoc)."""
    if vihf.authentication_mode == DIRECT:
        return
    if not client_subject:
        raise _failed("structure.certificate-missing",
                      "Authentification INDIRECTE : le certificat de la structure (TLS client) est absent",
                      "INDIRECTE authentication needs the structure's certificate (TLS client certificate)")
    if not xmldsig.same_dn(client_subject, vihf.issuer):
        raise _failed("structure.certificate-mismatch",
                      "Le certificat client de la structure ne correspond pas à l'émetteur (Issuer) du VIHF",
                      f"the structure's client certificate ({client_subject}) is not the VIHF's Issuer "
                      f"({vihf.issuer})")


def check_signer_kind(vihf: Vihf, signer: xmldsig.Verified) -> None:
    """The signing certificate is of the kind the authentication mode names: INDIRECTE, a structure's
    certificate ("certificat de cachet de la structure de soins", mapping.md); DIRECTE, the professional's
    card. Told apart by the sandbox's certificate policies (:func:`.xmldsig.certificate_kind`): a card, an
    MSSanté mailbox certificate or any other certificate of the same CA signs neither in the other's place."""
    kind = xmldsig.certificate_kind(signer.certificate)
    if vihf.authentication_mode == DIRECT:
        if kind != "card":
            raise _failed("card.certificate-kind", "Authentification DIRECTE : le VIHF doit être signé par une carte "
                          "de professionnel (CPS), pas par ce certificat",
                          f"DIRECTE authentication: the signing certificate ({signer.signer_dn}) is no card "
                          f"certificate (policy {xmldsig.POLICY_CARD}; it is {kind or 'neither'})")
    elif kind != "structure":
        raise _failed("structure.certificate-kind", f"Authentification {vihf.authentication_mode} : le VIHF doit "
                      "être signé par le certificat de la structure, pas par une carte ni un certificat de BAL",
                      f"{vihf.authentication_mode} authentication: the signing certificate ({signer.signer_dn}) is "
                      f"no structure certificate (policy {xmldsig.POLICY_STRUCTURE}; it is {kind or 'neither'})")


def check_card_holder(vihf: Vihf, signer: xmldsig.Verified) -> None:
    """DIRECTE: the assertion is signed with the professional's own card (CPS): the certificate's CN names
    the NameID (the sandbox's professional certificates: CN = the national identifier; a real CPS CN may add
    ``/<name>`` after it)."""
    if vihf.authentication_mode != DIRECT:
        return
    cn = (xmldsig.common_name(signer.certificate) or "").split("/")[0].strip()
    if cn != vihf.name_id:
        raise _failed("card.holder", "Authentification DIRECTE : le VIHF doit être signé par la carte du "
                      "professionnel (NameID)",
                      f"DIRECTE authentication: the signing certificate (CN {cn!r}) is not the professional's "
                      f"({vihf.name_id})")


def check_profession(vihf: Vihf, professional: Professional) -> None:
    """The VIHF's profession is the professional's own (PSC's ``SubjectRefPro`` ``codeProfession``)."""
    first = vihf.roles[0]
    if first.code_system == SYSTEM_G15 and professional.profession_code and first.code != professional.profession_code:
        raise invalid("role.inconsistent", f"Le rôle {first.code} du VIHF n'est pas la profession du professionnel "
                      f"({professional.profession_code})",
                      f"the VIHF's profession {first.code} is not the professional's ({professional.profession_code})")


async def _token_professional(session: AsyncSession, settings: Settings, token: str, vihf: Vihf) -> Professional:
    """A Pro Santé Connect access token standing in for the signature (ANS generate-VIHF builds an unsigned
    VIHF from the PSC userinfo: "générer un jeton VIHF non signé ... pour une authentification indirecte"):
    the token must be valid and its professional the VIHF's NameID."""
    from app.psc import service as psc_service

    try:
        professional = await psc_service.authenticate_access_token(session, settings, token)
    except psc_service.TokenError as exc:
        raise _failed("psc-token.invalid", "Le jeton d'accès Pro Santé Connect est refusé",
                      f"the Pro Santé Connect access token is refused ({exc.rule})") from None
    if professional.subject_name_id != vihf.name_id:
        raise _failed("psc-token.professional", "Le jeton Pro Santé Connect n'est pas celui du professionnel du VIHF",
                      f"the PSC access token's professional ({professional.subject_name_id}) is not the VIHF's "
                      f"NameID ({vihf.name_id})")
    return professional


async def authenticate(soap: SecuredRequest, *, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession],
                       settings: Settings, now: dt.datetime | None = None) -> Vihf:
    """The request's VIHF, checked: its signature (by a certificate of the sandbox's CA; or a PSC access token
    in its place, then it may be unsigned), every attribute, the structure's certificate (INDIRECTE) or the
    card's (DIRECTE), the professional (PSC's). Raises :class:`SoapFault`."""
    from app.psc import service as psc_service

    moment = now or dt.datetime.now(dt.UTC)
    assertion = find_assertion(soap.security)
    has_signature = assertion.find(f"{{{xmldsig.NS_DS}}}Signature") is not None
    verified: xmldsig.Verified | None = None
    if has_signature or not soap.bearer_token:
        vihf, verified = await _verified(assertion, moment, sessionmaker, settings)
    else:
        vihf = read(assertion, now=moment)
    check_structure_certificate(vihf, soap.client_certificate_subject)
    if soap.bearer_token:
        professional = await _token_professional(session, settings, soap.bearer_token, vihf)
    else:
        found = await psc_service.get_professional(session, subject_name_id=vihf.name_id)
        if found is None:
            raise _failed("professional.unknown", f"Professionnel inconnu : {vihf.name_id}",
                          f"no professional {vihf.name_id!r} (NameID) among Pro Santé Connect's")
        professional = found
    check_profession(vihf, professional)
    return replace(vihf, professional=professional,
                   signer=verified.signer_dn if verified is not None else None)


_VERIFIED: OrderedDict[bytes, tuple[Vihf, xmldsig.Verified]] = OrderedDict()
VERIFIED_CACHE_SIZE = 4096


async def _verified(assertion: etree._Element, moment: dt.datetime, sessionmaker: async_sessionmaker[AsyncSession],
                    settings: Settings) -> tuple[Vihf, xmldsig.Verified]:
    """The signature verified and what it covers read (issuer, card). Fast path (``settings.fast_paths``): a
    client sends the same VIHF for its whole session, so a verified one is remembered by its exact bytes and
    the sandbox CA's (a different byte is a different key), and only what time changes is checked again on a
    hit: the certificate's validity and Conditions. Plain path: verified every time."""
    ca_pem = await sandbox_ca_certificate(sessionmaker, settings)
    key = hashlib.sha256(ca_pem + etree.tostring(assertion)).digest() if settings.fast_paths else None
    hit = _VERIFIED.get(key) if key is not None else None
    if hit is not None:
        vihf, verified = hit
        certificate = verified.certificate
        if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
            raise wsse_fault("FailedCheck", "VIHF:signature.certificate-expired",
                             "le certificat de signature du VIHF n'est pas en cours de validité",
                             "the VIHF's signing certificate is not valid now")
        check_conditions(verified.signed, moment)
        return vihf, verified
    try:
        verified = xmldsig.verify_assertion(assertion, ca_pem, now=moment)
    except xmldsig.SignatureRefused as error:
        raise _signature_fault(error) from None
    vihf = read(verified.signed, now=moment)  # what the signature covers, nothing else
    check_issuer(vihf, verified.signer_dn)
    check_signer_kind(vihf, verified)
    check_card_holder(vihf, verified)
    if key is not None:
        _VERIFIED[key] = (vihf, verified)
        while len(_VERIFIED) > VERIFIED_CACHE_SIZE:
            _VERIFIED.popitem(last=False)
    return vihf, verified


def access_context(vihf: Vihf) -> AccessContext:
    """What the service reads of a checked VIHF: the professional, the access mode (purposeofuse), the reason."""
    if vihf.professional is None:
        raise ValueError("access_context needs a VIHF checked by authenticate()")
    return AccessContext(professional=vihf.professional, mode=vihf.access_mode, reason=vihf.access_reason)


__all__ = ["SecuredRequest", "Vihf", "VihfRole", "access_context", "authenticate", "find_assertion", "read"]
