"""The INSi SOAP 1.2 endpoint (``POST /lps``) and its WSDL (``GET /lps?wsdl``): SOAP in, service calls, SOAP out.

Authentication is simulated (reference §1.1, padoa README): INSi authenticates the *caller* by a mutual-TLS
legal-entity certificate whose CN must be ``INSI-AUTO`` or ``INSI-MANU`` (else ``DESIR_560``), or by a CPx SAML
assertion in ``wsse:Security``. The sandbox reads the CN from a header (``SEGUR_INS_CERT_CN_HEADER``, default
``X-Client-Cert-CN``) that a test client or a TLS-terminating proxy sets, and checks the assertion's structure
(not its signature); a Pro Santé Connect access token is checked by the platform
(:func:`app.api.deps.authenticate_professional`). The software itself is identified by its CNDA number
``ContexteLPS/LPS/IDAM`` (unknown: ``siram_100`` / ``desir_550``). Domain errors become faults through
:func:`app.ins.soap.faults.map_error`.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import NoReturn

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.deps import SettingsDep, authenticate_professional
from app.api.errors import AuthError
from app.api.journal import context_of, note_facts, note_refusal
from app.api.urls import absolute_url
from app.faults import rules as fault_rules
from app.faults import service as faults
from app.ins import nir, search, searches, traits
from app.ins.call_log import call_facts, call_log
from app.ins.exceptions import InsError
from app.ins.soap import answers, bodies, envelope
from app.ins.soap.faults import (
    SOAP_MEDIA_TYPE,
    fault_access_level,
    fault_request,
    fault_technical,
    fault_unknown_idam,
    map_error,
    render_lps_error,
)
from app.numbers import ascii_count

ACCEPTED_CN = ("INSI-AUTO", "INSI-MANU")

router = APIRouter(tags=["ins"])


@lru_cache(maxsize=1)
def _wsdl_template() -> str:
    return (resources.files("app.ins") / "wsdl" / "DESIR_ICIR_EXP_1.5.0.wsdl").read_text(encoding="utf-8")


def wsdl_document(location: str) -> str:
    """The WSDL whose ``soap12:address`` is ``location`` (the current tenant's ``/lps``: a client that loads
    ``/t/{tenant}/lps?wsdl`` then calls that tenant's INSi)."""
    return _wsdl_template().replace("{{LOCATION}}", location)


async def _psc_subject(request: Request, authorization: str, mid: str) -> str:
    async with request.app.state.sessionmaker() as session:
        try:
            professional = await authenticate_professional(request, session, authorization)
        except AuthError as err:
            raise fault_access_level(
                mid, f"Niveau d'accès insuffisant : jeton Pro Santé Connect refusé ({err.description})."
            ) from None
    return professional.subject_name_id


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    declared_length = ascii_count(declared, max_digits=18)
    if declared_length is not None and declared_length > limit:
        raise fault_request("sandbox_size", f"message de {declared} octets, limite {limit}", rule="INSi:size")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise fault_request("sandbox_size", f"message de plus de {limit} octets", rule="INSi:size")
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
    return Response(wsdl_document(absolute_url(settings, "/lps")), media_type="text/xml; charset=utf-8")


async def _credential(request: Request, settings, req: envelope.SoapRequest) -> str:  # type: ignore[no-untyped-def]
    """Who calls (TLS comes before anything else on the real service): ``certificate:CN``, ``psc:subject``,
    ``cpx:issuer`` or ``none``; ``DESIR_560`` when refused."""
    mid = req.message_id
    cn = request.headers.get(settings.ins_cert_cn_header)
    if cn is not None:
        if cn.strip() not in ACCEPTED_CN:
            raise fault_access_level(mid, f"Niveau d'accès insuffisant : CN du certificat {cn.strip()!r}, "
                                          "INSI-AUTO ou INSI-MANU attendu.")
        return f"certificate:{cn.strip()}"
    authorization = request.headers.get("authorization")
    if authorization is not None:
        # SC.INS/PSC.01: a user logged in with Pro Santé Connect calls INSi with that identity (CI-SIS PSC
        # transport volet). The token must be a valid access token of this sandbox's PSC.
        return "psc:" + await _psc_subject(request, authorization, mid)
    if req.saml_assertion:
        return f"cpx:{req.saml_issuer or ''}"
    if settings.ins_require_credential:
        raise fault_access_level(mid, "Niveau d'accès insuffisant : ni certificat (CN INSI-AUTO / INSI-MANU) "
                                      "ni assertion CPx dans wsse:Security.")
    return "none"


async def _refuse_values(request: Request, idam: str, err: traits.TraitError, mid: str,
                         detail_code: str) -> NoReturn:
    """A search whose values break a trait rule (traits or Carte Vitale search alike): an unknown IDAM is
    still answered first, then the fault :func:`~app.ins.soap.faults.map_error` gives the rule (a character
    outside INSi's set is the technical fault the test INSi answers, CNDA 2.03 case 3)."""
    async with request.app.state.sessionmaker() as session:
        try:
            await searches.check_idam(session, idam)
        except InsError as refused:
            raise map_error(refused, mid) from None
    raise map_error(err, mid, detail_code=detail_code) from None


async def _injected(request: Request, target: str, mid: str | None) -> faults.Injection | None:
    """Fault injection (/sandbox/v1/faults), once the request's values are checked (a real refusal is answered
    as such and does not count): unavailability is INSi's siram_40/insi_102 fault (reference ins.md §3, "service
    temporarily unavailable, retry later"); a wrong answer (returned) is a valid CR 01 or 02."""
    injection = await faults.check(request, target)
    if injection is not None and injection.kind == fault_rules.UNAVAILABLE:
        raise fault_technical(mid, rule=injection.name)
    return injection


async def _search_by_card(request: Request, req: envelope.SoapRequest,
                          idam: str) -> tuple[search.Outcome, faults.Injection | None]:
    """``rechercherInsAvecCarteVitale``: the same two steps as the trait search, the XSD order of
    ``RECVITALE``, then its values; the IDAM, then the card. With the fault injected, if any."""
    mid = req.message_id
    v = bodies.parse_vitale(req.body, mid)
    try:
        traits.check_vitale([("MatriculeIndividu", v.MatriculeIndividu, v.MatriculeIndividuCle),
                             ("MatriculeOD", v.MatriculeOD, v.MatriculeODCle)],
                            v.NomNaissance, v.DateNaissance)
    except traits.TraitError as err:
        await _refuse_values(request, idam, err, mid, "sandbox_vitale")
    injection = await _injected(request, "ins.search_vitale", mid)
    async with request.app.state.sessionmaker() as session:
        try:
            await searches.check_idam(session, idam)
        except InsError as err:
            raise map_error(err, mid) from None
        # Pyxvital-style requests carry the card data in ContexteBAM/COUVERTURE (ASSURE, BENEFICIAIRE)
        cov = req.couverture
        matricule_od = v.MatriculeOD or cov.get("Assure")
        date = v.DateNaissance or cov.get("DateNai")
        if not matricule_od or not date:
            raise fault_request("sandbox_vitale", "RECVITALE : MatriculeOD et DateNaissance sont "
                                "obligatoires (ou COUVERTURE/ASSURE et BENEFICIAIRE/DateNai)", mid,
                                rule="INSi:RECVITALE")
        return await searches.search_by_card(session, search.VitaleQuery(
            matricule_od=matricule_od, date_naissance=date,
            rang_naissance=v.RangNaissance or cov.get("Rang"), nom_naissance=v.NomNaissance,
            matricule_individu=v.MatriculeIndividu or cov.get("Nir"),
        )), injection


async def lps(request: Request) -> Response:
    # app.state.settings rather than SettingsDep: a sync dependency costs a threadpool hop per request
    settings = request.app.state.settings
    body = await _read_limited(request, settings.ins_soap_max_bytes)
    req = envelope.parse_request(body, max_bytes=settings.ins_soap_max_bytes)
    mid = req.message_id

    # 1. the caller's credential
    credential = await _credential(request, settings, req)
    context = context_of(request)
    if context is not None:
        context.extra["ins_credential"] = credential
    # sandbox fault injection, for clients' retry / error paths
    injected = request.headers.get("x-segur-ins-fault")
    if injected is not None:
        if injected.strip() == "insi_102":
            raise fault_technical(mid, rule="INSi:injected-fault")
        raise fault_request("sandbox_fault_header", f"X-Segur-INS-Fault {injected!r} inconnu (insi_102)",
                            mid, rule="INSi:injected-fault")
    # 2. the software's CNDA authorisation number (checked in the same round trip as the search)
    if req.lps.idam_r is not None and req.lps.idam_r != "4":
        raise fault_request("sandbox_idam_r", f"IDAM R={req.lps.idam_r!r}, R=\"4\" attendu", mid,
                            rule="INSi:IDAM-R")
    idam = req.lps.idam
    if not idam:
        raise fault_unknown_idam(mid)
    note_facts(request, actor=f"ins:{idam}", credential=credential)

    policy = settings.ins_oid_policy

    def oid_of(rec: search.InsRecord) -> str:
        return nir.oid_for(rec.kind, policy)

    if req.operation == "rechercherInsAvecTraitsIdentite":
        t = bodies.parse_traits(req.body, mid)
        try:
            query = traits.check_query(t.NomNaissance, t.Prenom, t.Sexe, t.DateNaissance, t.LieuNaissance)
        except traits.TraitError as err:
            await _refuse_values(request, idam, err, mid, "sandbox_traits")
        injection = await _injected(request, "ins.search_traits", mid)
        try:
            outcome = await searches.search_by_traits_fast(request.app.state, query, idam=idam)
        except InsError as err:
            raise map_error(err, mid) from None
    else:
        outcome, injection = await _search_by_card(request, req, idam)
    if outcome.fault:
        raise fault_technical(mid, rule="INSi:simulated-fault")
    if injection is not None:
        outcome = search.wrong_answer(injection.rule.answer)
    if context is not None:
        # the call log INS rules 37/39 ask vendors to keep, server side: journaled as the entry's detail
        context.extra["operation"] = req.operation
        context.detail = call_log(req.operation, outcome, oid_of, credential, idam, mid)
        note_facts(request, **call_facts(req.operation, outcome, credential))
    xml = answers.resultat_xml(outcome, oid_of, with_prenom=settings.ins_tiq_prenom)
    return Response(answers.build_response(xml), media_type=SOAP_MEDIA_TYPE)


router.add_api_route(
    "/lps",
    lps,
    methods=["POST"],
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
