"""The INSi SOAP 1.2 endpoint (``POST /lps``) and its WSDL (``GET /lps?wsdl``).

Authentication is simulated (reference §1.1, padoa README): INSi authenticates the *caller* by a mutual-TLS
legal-entity certificate whose CN must be ``INSI-AUTO`` or ``INSI-MANU`` (else ``DESIR_560``), or by a CPx SAML
assertion in ``wsse:Security``. The sandbox reads the CN from a header (``SEGUR_INS_CERT_CN_HEADER``, default
``X-Client-Cert-CN``) that a test client or a TLS-terminating proxy sets, and checks the assertion's structure
(not its signature). The software itself is identified by its CNDA number ``ContexteLPS/LPS/IDAM`` (unknown:
``siram_100`` / ``desir_550``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import NoReturn

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.deps import SettingsDep
from app.api.journal import context_of, note_refusal
from app.ins import nir, search, service, soap, traits
from app.ins.routing import LeanRoute
from app.numbers import ascii_count

SOAP_MEDIA_TYPE = "application/soap+xml; charset=utf-8"
ACCEPTED_CN = ("INSI-AUTO", "INSI-MANU")

router = APIRouter(tags=["ins"])


@lru_cache(maxsize=1)
def _wsdl_template() -> str:
    return (resources.files("app.ins") / "wsdl" / "DESIR_ICIR_EXP_1.5.0.wsdl").read_text(encoding="utf-8")


def wsdl_document(public_base_url: str) -> str:
    return _wsdl_template().replace("{{LOCATION}}", f"{public_base_url}/lps")


def _fault_response(fault: soap.SoapFault) -> Response:
    return Response(soap.build_fault(fault), status_code=fault.http_status, media_type=SOAP_MEDIA_TYPE)


async def soap_fault_handler(request: Request, exc: soap.SoapFault) -> Response:
    """Exception handler of :class:`app.ins.soap.SoapFault` (registered in ``DOMAIN.exception_handlers``)."""
    note_refusal(request, rule=exc.rule, detail=f"{exc.subcode}/{exc.detail_code}: {exc.detail_text}",
                 status=exc.http_status)
    return _fault_response(exc)


# Answered at the HTTP layer, before any SOAP processing, so with their HTTP status (docs/ins.md, "HTTP status")
HTTP_LAYER_STATUSES = frozenset({404, 405})


def render_lps_error(request: Request, status: int, message: str, rule: str | None) -> Response:
    """Generic errors under ``/lps`` (unknown route, 405, 413, unexpected error) as INSi-shaped faults.

    An unknown path (404) or method (405) keeps its HTTP status; anything else (a body over the platform's
    limit, a body nested too deeply, an unexpected error) is a fault of the SOAP endpoint and is answered
    with the HTTP status of every INSi fault (:data:`app.ins.soap.FAULT_HTTP_STATUS`)."""
    if status >= 500:
        fault = soap.fault_technical(rule=rule or "platform:unexpected")
        fault.detail_text = message
    else:
        fault = soap.fault_request(f"sandbox_http_{status}", message, rule=rule)
    http_status = status if status in HTTP_LAYER_STATUSES else fault.http_status
    return Response(soap.build_fault(fault), status_code=http_status, media_type=SOAP_MEDIA_TYPE)


async def _refuse_values(sessionmaker, idam: str, err: traits.TraitError, mid: str,  # type: ignore[no-untyped-def]
                         detail_code: str) -> NoReturn:
    """A search whose values break a trait rule (traits or Carte Vitale search alike): an unknown IDAM is
    still answered first, then a character outside INSi's set is the technical fault the test INSi answers
    (CNDA 2.03 case 3: ``siram_40``/``insi_102``), any other rule a ``siram_10`` fault with ``detail_code``."""
    async with sessionmaker() as session:
        if not await service.idam_known(session, idam):
            raise soap.fault_unknown_idam(mid) from None
    if err.rule == "INSi:charset":
        raise soap.fault_technical(mid, rule="INSi:charset") from None
    raise soap.fault_request(detail_code, err.message, mid, rule=err.rule) from None


async def _psc_subject(request: Request, settings, authorization: str, mid: str) -> str:  # type: ignore[no-untyped-def]
    from app.api.deps import authenticate_professional
    from app.api.errors import AuthError

    async with request.app.state.sessionmaker() as session:
        try:
            professional = await authenticate_professional(request, session, authorization)
        except AuthError as err:
            raise soap.fault_access_level(
                mid, f"Niveau d'accès insuffisant : jeton Pro Santé Connect refusé ({err.description})."
            ) from None
    return professional.subject_name_id


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    declared_length = ascii_count(declared, max_digits=18)
    if declared_length is not None and declared_length > limit:
        raise soap.fault_request("sandbox_size", f"message de {declared} octets, limite {limit}", rule="INSi:size")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise soap.fault_request("sandbox_size", f"message de plus de {limit} octets", rule="INSi:size")
        chunks.append(chunk)
    return b"".join(chunks)


@router.get(
    "/lps",
    summary="WSDL of the simulated INSi (`GET /lps?wsdl`)",
    description="A self-contained WSDL compatible with DESIR_ICIR_EXP_1.5.0 (same namespaces, operations, "
    "actions and element names), whose address is this sandbox.",
    operation_id="ins_wsdl",
    response_class=Response,
    responses={200: {"content": {"text/xml": {}}},
               405: {"description": "SOAP fault: INSi is consulted by POST (no `wsdl` parameter); `Allow: POST`",
                     "content": {"application/soap+xml": {}}}},
)
async def wsdl(request: Request, settings: SettingsDep) -> Response:
    if "wsdl" not in {k.lower() for k in request.query_params}:
        # a method error, answered as render_lps_error answers the others (405, at the HTTP layer)
        message = "INSi se consulte par POST ; le WSDL est en GET /lps?wsdl"
        note_refusal(request, rule="INSi:wsdl", detail=f"siram_10/sandbox_http_405: {message}", status=405)
        response = render_lps_error(request, 405, message, "INSi:wsdl")
        response.headers["Allow"] = "POST"
        return response
    return Response(wsdl_document(settings.public_base_url), media_type="text/xml; charset=utf-8")


async def lps(request: Request) -> Response:
    # app.state.settings rather than SettingsDep: a sync dependency costs a threadpool hop per request
    settings = request.app.state.settings
    body = await _read_limited(request, settings.ins_soap_max_bytes)
    req = soap.parse_request(body, max_bytes=settings.ins_soap_max_bytes)
    mid = req.message_id

    # 1. the caller's credential (TLS comes before anything else on the real service)
    cn = request.headers.get(settings.ins_cert_cn_header)
    authorization = request.headers.get("authorization")
    context = context_of(request)
    if cn is not None:
        if cn.strip() not in ACCEPTED_CN:
            raise soap.fault_access_level(mid, f"Niveau d'accès insuffisant : CN du certificat {cn.strip()!r}, "
                                               "INSI-AUTO ou INSI-MANU attendu.")
        credential = f"certificate:{cn.strip()}"
    elif authorization is not None:
        # SC.INS/PSC.01: a user logged in with Pro Santé Connect calls INSi with that identity (CI-SIS PSC
        # transport volet). The token must be a valid access token of this sandbox's PSC.
        credential = "psc:" + await _psc_subject(request, settings, authorization, mid)
    elif req.saml_assertion:
        credential = f"cpx:{req.saml_issuer or ''}"
    elif settings.ins_require_credential:
        raise soap.fault_access_level(mid, "Niveau d'accès insuffisant : ni certificat (CN INSI-AUTO / INSI-MANU) "
                                           "ni assertion CPx dans wsse:Security.")
    else:
        credential = "none"
    if context is not None:
        context.extra["ins_credential"] = credential
    # sandbox fault injection, for clients' retry / error paths
    injected = request.headers.get("x-segur-ins-fault")
    if injected is not None:
        if injected.strip() == "insi_102":
            raise soap.fault_technical(mid, rule="INSi:injected-fault")
        raise soap.fault_request("sandbox_fault_header", f"X-Segur-INS-Fault {injected!r} inconnu (insi_102)",
                                 mid, rule="INSi:injected-fault")
    # 2. the software's CNDA authorisation number (checked in the same round trip as the search)
    if req.lps.idam_r is not None and req.lps.idam_r != "4":
        raise soap.fault_request("sandbox_idam_r", f"IDAM R={req.lps.idam_r!r}, R=\"4\" attendu", mid,
                                 rule="INSi:IDAM-R")
    idam = req.lps.idam
    if not idam:
        raise soap.fault_unknown_idam(mid)
    sessionmaker = request.app.state.sessionmaker

    policy = settings.ins_oid_policy

    def oid_of(rec: search.InsRecord) -> str:
        return nir.oid_for(rec.kind, policy)

    if req.operation == "rechercherInsAvecTraitsIdentite":
        t = soap.parse_traits(req.body, mid)
        try:
            query = traits.check_query(t.NomNaissance, t.Prenom, t.Sexe, t.DateNaissance, t.LieuNaissance)
        except traits.TraitError as err:
            await _refuse_values(sessionmaker, idam, err, mid, "sandbox_traits")
        known, outcome = await service.search_by_traits_fast(request.app.state, query, idam=idam)
        if not known:
            raise soap.fault_unknown_idam(mid)
    else:
        # the same two steps as the trait search: the XSD order of RECVITALE, then its values
        v = soap.parse_vitale(req.body, mid)
        try:
            traits.check_vitale([("MatriculeIndividu", v.MatriculeIndividu, v.MatriculeIndividuCle),
                                 ("MatriculeOD", v.MatriculeOD, v.MatriculeODCle)],
                                v.NomNaissance, v.DateNaissance)
        except traits.TraitError as err:
            await _refuse_values(sessionmaker, idam, err, mid, "sandbox_vitale")
        async with sessionmaker() as session:
            if not await service.idam_known(session, idam):
                raise soap.fault_unknown_idam(mid)
            # Pyxvital-style requests carry the card data in ContexteBAM/COUVERTURE (ASSURE, BENEFICIAIRE)
            cov = req.couverture
            matricule_od = v.MatriculeOD or cov.get("Assure")
            date = v.DateNaissance or cov.get("DateNai")
            if not matricule_od or not date:
                raise soap.fault_request("sandbox_vitale", "RECVITALE : MatriculeOD et DateNaissance sont "
                                         "obligatoires (ou COUVERTURE/ASSURE et BENEFICIAIRE/DateNai)", mid,
                                         rule="INSi:RECVITALE")
            outcome = await service.search_by_card(session, search.VitaleQuery(
                matricule_od=matricule_od, date_naissance=date,
                rang_naissance=v.RangNaissance or cov.get("Rang"), nom_naissance=v.NomNaissance,
                matricule_individu=v.MatriculeIndividu or cov.get("Nir"),
            ))
    if outcome.fault:
        raise soap.fault_technical(mid, rule="INSi:simulated-fault")
    if context is not None:
        # the call log INS rules 37/39 ask vendors to keep, server side: journaled as the entry's detail
        context.extra["operation"] = req.operation
        context.detail = call_log(req.operation, outcome, oid_of, credential, idam, mid)
    xml = soap.resultat_xml(outcome, oid_of, with_prenom=settings.ins_tiq_prenom)
    return Response(soap.build_response(xml), media_type=SOAP_MEDIA_TYPE)


router.add_api_route(
    "/lps",
    lps,
    methods=["POST"],
    route_class_override=LeanRoute,  # called without FastAPI's per-request pipeline (app/ins/routing.py)
    summary="INSi SOAP 1.2 endpoint: rechercherInsAvecTraitsIdentite, rechercherInsAvecCarteVitale",
    description="SOAP 1.2 document/literal, as the INSi test service. Headers ContexteBAM 01_02, ContexteLPS "
    "01_00 with a known `IDAM R=\"4\"`, wsa:Action, wsa:MessageID; caller authenticated by the CN header "
    "(`X-Client-Cert-CN: INSI-AUTO`) or a CPx SAML assertion in wsse:Security. Answers `RESULTAT` with "
    "CodeCR 00/01/02, or a SOAP fault with siram_NN / siram:Erreur codes.",
    operation_id="ins_soap",
    response_class=Response,
    responses={200: {"content": {"application/soap+xml": {}}},
               500: {"description": "SOAP fault, Sender (e.g. siram_100/desir_550) or Receiver (e.g. "
                     "siram_40/insi_102): the live INSi answers every fault with HTTP 500",
                     "content": {"application/soap+xml": {}}}},
)


def call_log(operation: str, outcome: search.Outcome, oid_of, credential: str, idam: str | None,  # type: ignore[no-untyped-def]
             message_id: str | None) -> str:
    """One line per INSi answer: operation, CodeCR, INS and OID returned (active and history), credential."""
    parts = [f"{operation} CodeCR={outcome.code}"]
    p = outcome.person
    if p is not None and p.ins_actif is not None:
        parts.append(f"INS={p.ins_actif.ins} OID={oid_of(p.ins_actif)}")
        if p.ins_histo:
            parts.append("INSHISTO=" + ",".join(h.ins for h in p.ins_histo))
    parts.append(f"credential={credential} IDAM={idam} MessageID={message_id}")
    return " ".join(parts)[:1024]
