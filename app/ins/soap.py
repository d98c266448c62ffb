"""INSi SOAP 1.2 messages: hardened parsing of requests, building of ``RESULTAT`` answers and faults. Pure.

Wire shapes (reference ``ins.md`` §1; WSDL ``DESIR_ICIR_EXP_1.5.0.wsdl`` and XSDs in padoa/tlsi-ins
``src/wsdl``; recorded answers ``TEST_2.04_cas2.xml``, ``TEST_2.05.xml``, ``REP_CR01.xml``; recorded faults
``siram_100-desir_500-fake-idam.fixtures.ts`` and the siram_40/insi_102 fixture of ``insi-helper.test.ts``):

- envelope SOAP 1.2 (``http://www.w3.org/2003/05/soap-envelope``), document/literal;
- headers ``ctxbam:ContexteBAM Version="01_02"``, ``ctxlps:ContexteLPS Version="01_00"`` with
  ``LPS/IDAM R="4"``, ``wsa:Action``, ``wsa:MessageID`` (WS-Addressing 2005/08), ``wsse:Security`` (CPx mode);
- bodies ``RECSANSVITALE`` (``http://www.cnamts.fr/INSiRecSans``) and ``RECVITALE``
  (``http://www.cnamts.fr/INSiRecVit``); answer ``RESULTAT`` (``http://www.cnamts.fr/INSiResultat``);
- faults: ``Code/Value`` ``soap:Sender|Receiver``, ``Subcode/Value`` ``soap:siram_NN``, ``Detail/siram:Erreur``
  with ``code`` and ``severite`` (``urn:siram``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from app.ins.search import InsRecord, Outcome, PersonRecord
from app.xmlsafe import InvalidXmlError, UnsafeXmlError, parse_untrusted

NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS_WSA = "http://www.w3.org/2005/08/addressing"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_CTXBAM = "urn:siram:bam:ctxbam"
NS_CTXLPS = "urn:siram:lps:ctxlps"
NS_SIRAM = "urn:siram"
NS_RECSANS = "http://www.cnamts.fr/INSiRecSans"
NS_RECVIT = "http://www.cnamts.fr/INSiRecVit"
NS_RESULTAT = "http://www.cnamts.fr/INSiResultat"
NS_WEBSERVICE = "http://www.cnamts.fr/webservice"

ACTION_TRAITS = "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite"
ACTION_VITALE = "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale"
OPERATIONS = {
    ACTION_TRAITS: ("rechercherInsAvecTraitsIdentite", NS_RECSANS, "RECSANSVITALE"),
    ACTION_VITALE: ("rechercherInsAvecCarteVitale", NS_RECVIT, "RECVITALE"),
}

DEFAULT_MAX_BYTES = 256 * 1024  # an INSi request is ~2-10 kB (with a SAML assertion)
FAULT_HTTP_STATUS = 500  # every SOAP fault of /lps, as the live INSi answers (SoapFault.http_status)

# --------------------------------------------------------------------------- faults

# Recorded reason texts (French, as the live service sends them).
REASON_UNAVAILABLE = (
    "Le service est temporairement inaccessible. Veuillez renouveler votre demande ultérieurement. "
    "Si le problème persiste, contactez l'éditeur du progiciel ou votre responsable informatique."
)
REASON_LPS_REFUSED = (
    "L'accès par ce progiciel au service n'est pas autorisé. Contactez l'éditeur du progiciel ou votre "
    "responsable informatique."
)


@dataclass
class SoapFault(Exception):
    """A SOAP 1.2 fault in the INSi shape. ``code`` is ``Sender`` or ``Receiver``."""

    code: str
    subcode: str
    reason: str
    detail_code: str
    detail_text: str
    severite: str = "erreur"
    message_id: str | None = None
    rule: str | None = None
    reason_lang: str = "fr"

    def __post_init__(self) -> None:
        super().__init__(f"{self.subcode}/{self.detail_code}: {self.detail_text}")

    @property
    def http_status(self) -> int:
        """500 for every fault, ``Sender`` ones included, as the live INSi answers them.

        SOAP 1.2 part 2 §7.5.1.2 (table 5) would answer ``env:Sender`` with 400, but the live qualif INSi sends
        its ``soap:Sender`` faults (``siram_100``/``desir_550``, ``siram_40``/``desir_1020``) with HTTP 500, and
        clients are written for that: padoa/tlsi-ins reads a fault only when ``err.response.status === 500``
        (``src/ins/insi-client.service.ts`` @12ef794), in the test "should have a failed request if the
        software is not allowed" that its CI runs against the live service. docs/ins.md, "HTTP status".
        """
        return FAULT_HTTP_STATUS


def fault_technical(message_id: str | None = None, rule: str = "INSi:technical") -> SoapFault:
    """``siram_40`` / ``insi_102`` (severite ``fatal``, as the live server sends it): the CNDA 2.03 case 3
    answer of the test INSi (padoa ``insi-helper.test.ts``)."""
    return SoapFault(
        "Receiver", "siram_40", REASON_UNAVAILABLE, "insi_102",
        "L'appel au service de recherche avec les traits d'identité renvoie une erreur technique.",
        severite="fatal", message_id=message_id, rule=rule,
    )


def fault_unknown_idam(message_id: str | None = None) -> SoapFault:
    """``siram_100`` / ``desir_550``: unknown software authorisation number (padoa fake-IDAM fixture)."""
    return SoapFault(
        "Sender", "siram_100", REASON_LPS_REFUSED, "desir_550", "Numéro d'autorisation du logiciel inconnu.",
        severite="erreur", message_id=message_id, rule="INSi:IDAM",
    )


def fault_access_level(message_id: str | None = None, detail: str = "Niveau d'accès insuffisant.") -> SoapFault:
    """``DESIR_560``: certificate CN is not INSI-AUTO / INSI-MANU (padoa README). The subcode the live
    service pairs with it is not recorded; the sandbox uses ``siram_100`` like the other access refusal."""
    return SoapFault("Sender", "siram_100", REASON_LPS_REFUSED, "DESIR_560", detail,
                     severite="erreur", message_id=message_id, rule="INSi:certificate-CN")


def fault_request(detail_code: str, detail: str, message_id: str | None = None, rule: str | None = None) -> SoapFault:
    """A malformed request (XML, headers, body). The real codes of these cases are not public: the subcode
    ``siram_10`` was seen in a third-party parser test only and the ``sandbox_*`` detail codes are the
    sandbox's own (documented in docs/ins.md)."""
    return SoapFault("Sender", "siram_10", "La requête est invalide : " + detail, detail_code, detail,
                     severite="erreur", message_id=message_id, rule=rule or f"INSi:{detail_code}")


def build_fault(f: SoapFault) -> bytes:
    mid = f" messageID={quoteattr(f.message_id)}" if f.message_id else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap:Envelope xmlns:soap="{NS_SOAP12}"><soap:Body><soap:Fault>'
        f"<soap:Code><soap:Value>soap:{f.code}</soap:Value>"
        f"<soap:Subcode><soap:Value>soap:{escape(f.subcode)}</soap:Value></soap:Subcode></soap:Code>"
        f'<soap:Reason><soap:Text xml:lang="{f.reason_lang}">{escape(f.reason)}</soap:Text></soap:Reason>'
        f'<soap:Detail><siram:Erreur xmlns:siram="{NS_SIRAM}" code={quoteattr(f.detail_code)}{mid} '
        f"severite={quoteattr(f.severite)}>{escape(f.detail_text)}</siram:Erreur></soap:Detail>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


# --------------------------------------------------------------------------- parsing

def parse_xml(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse an untrusted document with the sandbox's hardened parser (:mod:`app.xmlsafe`: size limit,
    no DTD at all so no entity expansion of any kind, no network, no huge trees). Raises
    :class:`SoapFault` (Sender) on anything else."""
    if len(body) > max_bytes:
        raise fault_request("sandbox_size", f"message de {len(body)} octets, limite {max_bytes}",
                            rule="INSi:size")
    try:
        return parse_untrusted(body, max_bytes=max_bytes)
    except UnsafeXmlError:
        raise fault_request("sandbox_dtd", "DTD et entités interdites dans un message SOAP",
                            rule="INSi:xml-dtd") from None
    except InvalidXmlError as err:
        raise fault_request("sandbox_xml", f"XML mal formé ({err})", rule="INSi:xml") from None


@dataclass
class Lps:
    idam: str | None
    idam_r: str | None
    version: str | None = None
    instance: str | None = None
    nom: str | None = None


@dataclass
class SoapRequest:
    action: str
    operation: str
    message_id: str
    lps: Lps
    body: etree._Element
    bam_version: str
    lps_version: str
    has_security: bool = False
    saml_assertion: bool = False
    saml_issuer: str | None = None
    couverture: dict = field(default_factory=dict)


def _text(el: etree._Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip()


def _child(parent: etree._Element | None, ns: str, name: str) -> etree._Element | None:
    if parent is None:
        return None
    return parent.find(f"{{{ns}}}{name}")


def _children(parent: etree._Element | None) -> dict[Any, etree._Element]:
    """The first child of each tag, in one pass: ``_children(p).get(tag)`` is ``p.find(tag)`` (a ``find`` costs
    about 1 µs, and an envelope needs twenty of them)."""
    found: dict[Any, etree._Element] = {}
    if parent is not None:
        for child in parent:
            if child.tag not in found:
                found[child.tag] = child
    return found


_SOAP_HEADER, _SOAP_BODY = f"{{{NS_SOAP12}}}Header", f"{{{NS_SOAP12}}}Body"
_WSA_MESSAGE_ID, _WSA_ACTION = f"{{{NS_WSA}}}MessageID", f"{{{NS_WSA}}}Action"
_WSSE_SECURITY = f"{{{NS_WSSE}}}Security"
_BAM, _BAM_ID, _BAM_TEMPS = f"{{{NS_CTXBAM}}}ContexteBAM", f"{{{NS_CTXBAM}}}Id", f"{{{NS_CTXBAM}}}Temps"
_BAM_COUVERTURE = f"{{{NS_CTXBAM}}}COUVERTURE"
_BAM_BENEFICIAIRE, _BAM_ASSURE = f"{{{NS_CTXBAM}}}BENEFICIAIRE", f"{{{NS_CTXBAM}}}ASSURE"
_LPS, _LPS_ID, _LPS_TEMPS = f"{{{NS_CTXLPS}}}ContexteLPS", f"{{{NS_CTXLPS}}}Id", f"{{{NS_CTXLPS}}}Temps"
_LPS_LPS, _LPS_IDAM, _LPS_VERSION = f"{{{NS_CTXLPS}}}LPS", f"{{{NS_CTXLPS}}}IDAM", f"{{{NS_CTXLPS}}}Version"
_LPS_INSTANCE, _LPS_NOM = f"{{{NS_CTXLPS}}}Instance", f"{{{NS_CTXLPS}}}Nom"


def parse_request(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> SoapRequest:
    """Parse and check an INSi request envelope (everything but the IDAM registry and the certificate)."""
    root = parse_xml(body, max_bytes=max_bytes)
    if root.tag == f"{{{NS_SOAP11}}}Envelope":
        raise SoapFault("VersionMismatch", "siram_10", "INSi parle SOAP 1.2 uniquement",
                        "sandbox_soap_version", "Enveloppe SOAP 1.1 reçue ; INSi attend SOAP 1.2 "
                        f"({NS_SOAP12})", rule="INSi:soap12")
    if root.tag != f"{{{NS_SOAP12}}}Envelope":
        raise fault_request("sandbox_envelope", "la racine n'est pas une enveloppe SOAP 1.2", rule="INSi:envelope")
    envelope = _children(root)
    header = envelope.get(_SOAP_HEADER)
    body_el = envelope.get(_SOAP_BODY)
    headers = _children(header)
    message_id = _text(headers.get(_WSA_MESSAGE_ID))
    if header is None:
        raise fault_request("sandbox_header", "en-tête SOAP absent (ContexteBAM, ContexteLPS, Action, MessageID)",
                            rule="INSi:header")
    if not message_id:
        raise fault_request("sandbox_wsa_messageid", "wsa:MessageID absent", rule="INSi:wsa-MessageID")
    action = _text(headers.get(_WSA_ACTION))
    if not action:
        raise fault_request("sandbox_wsa_action", "wsa:Action absent", message_id, rule="INSi:wsa-Action")
    if action not in OPERATIONS:
        raise fault_request("sandbox_wsa_action", f"wsa:Action inconnue : {action}", message_id,
                            rule="INSi:wsa-Action")
    bam = headers.get(_BAM)
    if bam is None:
        raise fault_request("sandbox_ctxbam", "ContexteBAM absent", message_id, rule="INSi:ContexteBAM")
    if bam.get("Version") != "01_02":
        raise fault_request("sandbox_ctxbam", f"ContexteBAM Version {bam.get('Version')!r}, 01_02 attendu",
                            message_id, rule="INSi:ContexteBAM-Version")
    lps = headers.get(_LPS)
    if lps is None:
        raise fault_request("sandbox_ctxlps", "ContexteLPS absent", message_id, rule="INSi:ContexteLPS")
    if lps.get("Version") != "01_00":
        raise fault_request("sandbox_ctxlps", f"ContexteLPS Version {lps.get('Version')!r}, 01_00 attendu",
                            message_id, rule="INSi:ContexteLPS-Version")
    bam_children, lps_children = _children(bam), _children(lps)
    for children, name, id_tag, temps_tag in ((bam_children, "ContexteBAM", _BAM_ID, _BAM_TEMPS),
                                              (lps_children, "ContexteLPS", _LPS_ID, _LPS_TEMPS)):
        if not _text(children.get(id_tag)) or not _text(children.get(temps_tag)):
            raise fault_request("sandbox_" + name.lower(), f"{name} : Id et Temps sont obligatoires", message_id,
                                rule=f"INSi:{name}-Id-Temps")
    software = _children(lps_children.get(_LPS_LPS))
    idam_el = software.get(_LPS_IDAM)
    lps_info = Lps(
        idam=_text(idam_el), idam_r=idam_el.get("R") if idam_el is not None else None,
        version=_text(software.get(_LPS_VERSION)), instance=_text(software.get(_LPS_INSTANCE)),
        nom=_text(software.get(_LPS_NOM)),
    )
    security = headers.get(_WSSE_SECURITY)
    assertion = security.find(f".//{{{NS_SAML2}}}Assertion") if security is not None else None
    if body_el is None or len(body_el) == 0:
        raise fault_request("sandbox_body", "corps SOAP vide", message_id, rule="INSi:body")
    payload = body_el[0]
    operation, ns, element = OPERATIONS[action]
    if payload.tag != f"{{{ns}}}{element}":
        raise fault_request("sandbox_body", f"l'action {operation} attend {{{ns}}}{element}, reçu {payload.tag}",
                            message_id, rule="INSi:body-action")
    couverture: dict = {}
    cov = bam_children.get(_BAM_COUVERTURE)
    if cov is not None:
        coverage = _children(cov)  # usually empty
        ben = coverage.get(_BAM_BENEFICIAIRE)
        if ben is not None:
            couverture = {
                "Nir": _text(_child(_child(ben, NS_CTXBAM, "Nir"), NS_CTXBAM, "Num")),
                "DateNai": _text(_child(ben, NS_CTXBAM, "DateNai")),
                "Rang": _text(_child(ben, NS_CTXBAM, "Rang")),
            }
        ass = coverage.get(_BAM_ASSURE)
        if ass is not None:
            couverture["Assure"] = _text(_child(_child(ass, NS_CTXBAM, "Id"), NS_CTXBAM, "Num"))
    return SoapRequest(
        action=action, operation=operation, message_id=message_id, lps=lps_info, body=payload,
        bam_version="01_02", lps_version="01_00", has_security=security is not None,
        saml_assertion=assertion is not None,
        saml_issuer=_text(assertion.find(f"{{{NS_SAML2}}}Issuer")) if assertion is not None else None,
        couverture=couverture,
    )


@dataclass
class TraitsBody:
    NomNaissance: str | None
    Prenom: list[str]
    Sexe: str | None
    DateNaissance: str | None
    LieuNaissance: str | None


def _sequence_reader(element: str, ns: str, order: list[str], repeatable: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    """A reader of an ``xsd:sequence`` of optional elements: each child must be one of ``order`` in namespace
    ``ns``, in that order, at most once unless ``repeatable``. Comments and processing instructions are not
    elements and are skipped. Anything else is a ``siram_10``/``sandbox_body`` fault whose rule is
    ``INSi:<element>`` (``INSi:<element>-order`` for the order). The one mechanism of the trait search
    (``RECSANSVITALE``), the Carte Vitale search (``RECVITALE``) and its ``Matricule`` elements."""
    tags = {f"{{{ns}}}{name}": (name, position) for position, name in enumerate(order)}  # tag -> (name, rank)

    def read(payload: etree._Element, message_id: str | None = None) -> dict[str, list[etree._Element]]:
        found: dict[str, list[etree._Element]] = {}
        last, last_rank = "", -1
        for child in payload:
            known = tags.get(child.tag)
            if known is None:
                if not isinstance(child.tag, str):  # a comment or a processing instruction
                    continue
                raise fault_request("sandbox_body", f"élément inattendu dans {element} : "
                                    f"{etree.QName(child).localname}", message_id, rule=f"INSi:{element}")
            local, position = known
            if position < last_rank:
                raise fault_request("sandbox_body", f"ordre des éléments de {element} : {local} après {last}",
                                    message_id, rule=f"INSi:{element}-order")
            same = found.get(local)
            if same is None:
                found[local] = [child]
            elif local in repeatable:
                same.append(child)
            else:
                raise fault_request("sandbox_body", f"{local} répété", message_id, rule=f"INSi:{element}")
            last, last_rank = local, position
        return found

    return read


def _stripped(el: etree._Element) -> str:
    return (el.text or "").strip()


# INSi_RECSANS_INS.xsd, type TraitsDIdentite
_read_recsans = _sequence_reader("RECSANSVITALE", NS_RECSANS,
                                 ["NomNaissance", "Prenom", "Sexe", "DateNaissance", "LieuNaissance"],
                                 frozenset({"Prenom"}))


def parse_traits(payload: etree._Element, message_id: str | None = None) -> TraitsBody:
    """``RECSANSVITALE`` (type ``TraitsDIdentite``): the XSD fixes the element order."""
    found = _read_recsans(payload, message_id)
    get = found.get

    def one(k: str) -> str | None:
        els = get(k)
        return (els[0].text or "").strip() if els else None

    return TraitsBody(one("NomNaissance"), [(el.text or "").strip() for el in get("Prenom", ())], one("Sexe"),
                      one("DateNaissance"), one("LieuNaissance"))


@dataclass
class VitaleBody:
    MatriculeIndividu: str | None
    MatriculeOD: str | None
    NomNaissance: str | None
    DateNaissance: str | None
    RangNaissance: str | None
    MatriculeIndividuCle: str | None = None
    MatriculeODCle: str | None = None


# INSi_RECVITALE_INS.xsd, types Beneficiaire and Matricule
_read_recvitale = _sequence_reader("RECVITALE", NS_RECVIT,
                                   ["MatriculeIndividu", "MatriculeOD", "NomNaissance", "DateNaissance",
                                    "RangNaissance"])
_read_matricules = {name: _sequence_reader(name, NS_RECVIT, ["NumIdentifiant", "Cle", "TypeMatricule"])
                    for name in ("MatriculeIndividu", "MatriculeOD")}


def parse_vitale(payload: etree._Element, message_id: str | None = None) -> VitaleBody:
    """``RECVITALE`` (type ``Beneficiaire``): its order is fixed by the XSD, and so is the order of each
    ``Matricule`` (``NumIdentifiant``, ``Cle``, ``TypeMatricule``), checked as :func:`parse_traits` does."""
    found = _read_recvitale(payload, message_id)

    def first(within: dict[str, list[etree._Element]], k: str) -> str | None:
        els = within.get(k)
        return _stripped(els[0]) if els else None

    def one(k: str) -> str | None:
        return first(found, k)

    def mat(name: str) -> tuple[str | None, str | None]:
        els = found.get(name)
        if not els:
            return None, None
        parts = _read_matricules[name](els[0], message_id)
        return first(parts, "NumIdentifiant"), first(parts, "Cle")

    individu, individu_key = mat("MatriculeIndividu")
    od, od_key = mat("MatriculeOD")
    return VitaleBody(
        MatriculeIndividu=individu, MatriculeOD=od, NomNaissance=one("NomNaissance"),
        DateNaissance=one("DateNaissance"), RangNaissance=one("RangNaissance"),
        MatriculeIndividuCle=individu_key, MatriculeODCle=od_key,
    )


# --------------------------------------------------------------------------- answers


def _ins_xml(tag: str, rec: InsRecord, oid: str) -> str:
    typ = f"<TypeMatricule>{escape(rec.type_matricule)}</TypeMatricule>" if rec.type_matricule else ""
    deb = f"<DateDeb>{rec.date_deb}</DateDeb>" if rec.date_deb else ""
    fin = f"<DateFin>{rec.date_fin}</DateFin>" if rec.date_fin else ""
    return (
        f"<{tag}><IdIndividu><NumIdentifiant>{rec.number}</NumIdentifiant><Cle>{rec.key}</Cle>{typ}</IdIndividu>"
        f"<OID>{oid}</OID>{deb}{fin}</{tag}>"
    )


def resultat_xml(outcome: Outcome, oid_of, *, with_prenom: bool = False) -> str:
    """The ``RESULTAT`` element as the live INSi writes it. ``oid_of(InsRecord) -> str`` applies the OID policy.

    Layout of the live answers padoa/tlsi-ins records from the qualif service (``getPierreAlainLiveXmlResponse``,
    ``getAdrtroisToussaintXmlResponse``, ``getTchitchiCatarinaXmlResponse``, ``getCR02XmlResponse`` in
    ``src/ins/fixtures/`` @12ef794): default namespace first, then ``ns0`` (RecVit) and ``ns1`` (RecSans);
    ``IdIndividu`` carries ``NumIdentifiant`` and ``Cle`` (no live answer carries ``TypeMatricule``; a
    fixture may still give one, XSD ``INSi_RESULTAT_INS.xsd``); ``DateDeb``/``DateFin`` after the ``OID``.
    ``TIQ`` carries ``ListePrenom`` only, like live answers (``Prenom`` too if ``with_prenom``: some CNDA sample
    files carry it, reference §6.5)."""
    head = (
        f'<RESULTAT xmlns="{NS_RESULTAT}" xmlns:ns0="{NS_RECVIT}" xmlns:ns1="{NS_RECSANS}">'
        f"<CR><CodeCR>{outcome.code}</CodeCR><LibelleCR>{escape(outcome.label)}</LibelleCR></CR>"
    )
    p: PersonRecord | None = outcome.person
    if p is None or p.ins_actif is None:
        return head + "</RESULTAT>"
    parts = [_ins_xml("INSACTIF", p.ins_actif, oid_of(p.ins_actif))]
    parts += [_ins_xml("INSHISTO", h, oid_of(h)) for h in p.ins_histo]
    prenom = f"<Prenom>{escape(p.first_prenom)}</Prenom>" if with_prenom else ""
    lieu = f"<LieuNaissance>{escape(p.lieu_naissance)}</LieuNaissance>" if p.lieu_naissance else ""
    tiq = (
        f"<TIQ><NomNaissance>{escape(p.nom_naissance)}</NomNaissance>{prenom}"
        f"<ListePrenom>{escape(p.liste_prenom)}</ListePrenom><Sexe>{p.sexe}</Sexe>"
        f"<DateNaissance>{p.date_naissance}</DateNaissance>{lieu}</TIQ>"
    )
    return head + "<INDIVIDU>" + "".join(parts) + tiq + "</INDIVIDU></RESULTAT>"


def build_response(resultat: str) -> bytes:
    """The envelope of a live answer (same recordings as :func:`resultat_xml`): ``soap:Envelope`` around an
    ``env:Body`` that declares both ``S`` and ``env``."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap:Envelope xmlns:soap="{NS_SOAP12}"><env:Body xmlns:S="{NS_SOAP12}" xmlns:env="{NS_SOAP12}">'
        f"{resultat}</env:Body></soap:Envelope>"
    ).encode()


# --------------------------------------------------------------------------- client side (tests, bench, docs)


def build_request(
    body_xml: str,
    *,
    action: str = ACTION_TRAITS,
    idam: str = "SEGURSANDBOX01",
    message_id: str = "uuid:b3549edd-4ae9-472a-b26f-fd2fb4ef397f",
    version: str = "1.0",
    name: str = "segur-sandbox-client",
    security: str = "",
    bam_version: str = "01_02",
    lps_version: str = "01_00",
    temps: str = "2026-11-24T10:00:00.000Z",
) -> bytes:
    """A request as the padoa client builds it (``insi-client.fixture.ts``): headers then body."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{NS_SOAP12}" xmlns:ctxbam="{NS_CTXBAM}" xmlns:ctxlps="{NS_CTXLPS}" '
        f'xmlns:insi_recsans_ins="{NS_RECSANS}" xmlns:insi_recvit_ins="{NS_RECVIT}">'
        "<soap:Header>"
        f'<ctxbam:ContexteBAM Version="{bam_version}"><ctxbam:Id>1f7425e2-b913-415c-adaa-785ee1076a70</ctxbam:Id>'
        f"<ctxbam:Temps>{temps}</ctxbam:Temps><ctxbam:Emetteur>medecin@example.org</ctxbam:Emetteur>"
        "<ctxbam:COUVERTURE></ctxbam:COUVERTURE></ctxbam:ContexteBAM>"
        f'<ctxlps:ContexteLPS Nature="CTXLPS" Version="{lps_version}">'
        f"<ctxlps:Id>1f7425e2-b913-415c-adaa-785ee1076a70</ctxlps:Id><ctxlps:Temps>{temps}</ctxlps:Temps>"
        "<ctxlps:Emetteur>medecin@example.org</ctxlps:Emetteur><ctxlps:LPS>"
        f'<ctxlps:IDAM R="4">{escape(idam)}</ctxlps:IDAM><ctxlps:Version>{escape(version)}</ctxlps:Version>'
        "<ctxlps:Instance>b3549edd-4ae9-472a-b26f-fd2fb4ef397f</ctxlps:Instance>"
        f"<ctxlps:Nom>urn:lps:{escape(name)}:{escape(version)}</ctxlps:Nom></ctxlps:LPS></ctxlps:ContexteLPS>"
        f'<wsa:Action xmlns:wsa="{NS_WSA}">{escape(action)}</wsa:Action>'
        f'<wsa:MessageID xmlns:wsa="{NS_WSA}">{escape(message_id)}</wsa:MessageID>'
        f"{security}</soap:Header><soap:Body>{body_xml}</soap:Body></soap:Envelope>"
    ).encode()


def recsansvitale_xml(nom: str, prenoms: list[str] | str, sexe: str, date: str, lieu: str | None = None) -> str:
    if isinstance(prenoms, str):
        prenoms = [prenoms]
    p = "".join(f"<insi_recsans_ins:Prenom>{escape(x)}</insi_recsans_ins:Prenom>" for x in prenoms)
    lieu_xml = f"<insi_recsans_ins:LieuNaissance>{escape(lieu)}</insi_recsans_ins:LieuNaissance>" if lieu else ""
    return (
        f'<insi_recsans_ins:RECSANSVITALE xmlns:insi_recsans_ins="{NS_RECSANS}">'
        f"<insi_recsans_ins:NomNaissance>{escape(nom)}</insi_recsans_ins:NomNaissance>{p}"
        f"<insi_recsans_ins:Sexe>{escape(sexe)}</insi_recsans_ins:Sexe>"
        f"<insi_recsans_ins:DateNaissance>{escape(date)}</insi_recsans_ins:DateNaissance>{lieu_xml}"
        "</insi_recsans_ins:RECSANSVITALE>"
    )


def recvitale_xml(matricule_od: str, date: str, rang: str | None = "1", nom: str | None = None,
                  matricule_individu: str | None = None) -> str:
    def mat(tag: str, value: str) -> str:
        return (f"<insi_recvit_ins:{tag}><insi_recvit_ins:NumIdentifiant>{value[:13]}</insi_recvit_ins:NumIdentifiant>"
                f"<insi_recvit_ins:Cle>{value[13:15]}</insi_recvit_ins:Cle></insi_recvit_ins:{tag}>")

    parts = [mat("MatriculeIndividu", matricule_individu) if matricule_individu else "",
             mat("MatriculeOD", matricule_od)]
    if nom:
        parts.append(f"<insi_recvit_ins:NomNaissance>{escape(nom)}</insi_recvit_ins:NomNaissance>")
    parts.append(f"<insi_recvit_ins:DateNaissance>{escape(date)}</insi_recvit_ins:DateNaissance>")
    if rang:
        parts.append(f"<insi_recvit_ins:RangNaissance>{escape(rang)}</insi_recvit_ins:RangNaissance>")
    return f'<insi_recvit_ins:RECVITALE xmlns:insi_recvit_ins="{NS_RECVIT}">' + "".join(parts) + \
        "</insi_recvit_ins:RECVITALE>"


def saml_security(issuer: str = "CN=DOCTEUR TEST,OU=10B0000000,O=CPS") -> str:
    """A structurally plausible CPx SAML assertion in ``wsse:Security`` (not signed: the sandbox does not
    check signatures)."""
    return (
        f'<wsse:Security xmlns:wsse="{NS_WSSE}"><saml2:Assertion xmlns:saml2="{NS_SAML2}" ID="_a1" '
        f'IssueInstant="2026-11-24T10:00:00Z" Version="2.0"><saml2:Issuer>{escape(issuer)}</saml2:Issuer>'
        '<saml2:Subject><saml2:NameID NameQualifier="CPS">810000000000</saml2:NameID></saml2:Subject>'
        "</saml2:Assertion></wsse:Security>"
    )
