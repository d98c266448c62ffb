"""INSi's JSON face (``/insi/v1``): search by traits and by Carte Vitale, verification, NIR tools, RNIV engine.

The facade has no real counterpart (INSi is SOAP only, reference §1.8): it answers the same codes with INSi's
own element names, plus the FR Core ``Patient`` (``fr-core-patient-ins``) of the identity found. It only
translates JSON to the domain's calls and back; the domain's errors become RFC 9457 problem JSON naming the field
and the rule through :func:`problem_of`, the one mapper of this face.
"""

from __future__ import annotations

import random
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.api.errors import ProblemError
from app.api.journal import context_of
from app.faults import rules as fault_rules
from app.faults import service as faults
from app.ins import fhir, nir, rniv, search, searches, traits
from app.ins.call_log import call_log
from app.ins.exceptions import InsError, InsiTechnicalFault, OidError, RnivError, TraitError
from app.ins.individu import answer_body
from app.ins.jsonbody import json_response
from app.ins.schemas import TraitsSearch, VerifyRequest, VitaleSearch
from app.shared.identifiers import OID_INS_NIR

router = APIRouter(prefix="/insi/v1", tags=["ins"])


def problem_of(err: InsError) -> ProblemError:
    """The problem JSON of a domain error: INSi's technical error is a 503 with its SOAP codes (siram_40 /
    insi_102); a refused value a 400 naming the field, the rule and, for a trait, its INSi form."""
    if isinstance(err, InsiTechnicalFault):
        return ProblemError(
            503, "INSi technical error",
            "L'appel au service de recherche avec les traits d'identité renvoie une erreur technique "
            "(what the test INSi answers for this case: SOAP fault siram_40 / insi_102).",
            rule=err.rule, extra={"siram": "siram_40", "code": "insi_102", "severite": "fatal"},
        )
    if isinstance(err, OidError):
        return ProblemError(400, "Invalid OID", err.message, rule=err.rule, extra={"field": err.field})
    if isinstance(err, RnivError):
        return ProblemError(400, "Invalid RNIV event", err.message, rule=err.rule,
                            extra={"field": f"events.{err.field}"})
    extra: dict[str, Any] = {"field": err.field}
    if isinstance(err, TraitError) and err.suggestion:
        extra["suggestion"] = err.suggestion
    return ProblemError(400, "Invalid identity trait", err.message, rule=err.rule, extra=extra)


def _fault_problem(rule: str = "INSi:simulated-fault") -> ProblemError:
    return problem_of(InsiTechnicalFault(rule))


async def _injected(request: Request, target: str) -> str | None:
    """Fault injection (/sandbox/v1/faults): unavailability is the 503 of INSi's technical fault; a wrong answer
    the CodeCR (01 or 02) to answer instead of the search's."""
    injection = await faults.check(request, target)
    if injection is None:
        return None
    if injection.kind == fault_rules.UNAVAILABLE:
        raise _fault_problem(injection.name)
    return injection.rule.answer


class CR(BaseModel):
    CodeCR: str = Field(examples=["00"])
    LibelleCR: str = Field(examples=["OK"])


class SearchAnswer(BaseModel):
    CR: CR
    INDIVIDU: dict | None = Field(default=None, description="INSACTIF, INSHISTO[], TIQ (only for CodeCR 00)")
    patient: dict | None = Field(default=None, description="FR Core Patient (fr-core-patient-ins), status RECUP")


def _answer(outcome: search.Outcome, settings: Any, method: str) -> Response:
    if outcome.fault:
        raise _fault_problem()
    return json_response(answer_body(outcome, settings, method), fast=settings.fast_paths)


def _log_call(request: Request, operation: str, outcome: search.Outcome, settings: Any) -> None:
    """The INSi call log, journaled as the entry's detail (same line as over SOAP)."""
    context = context_of(request)
    if context is not None and not outcome.fault:
        context.detail = call_log(operation, outcome, lambda r: nir.oid_for(r.kind, settings.ins_oid_policy),
                                  "json-facade", None, None)


def _check_traits(t: TraitsSearch, prefix: str = "") -> traits.TraitQuery:
    try:
        return traits.check_query(t.NomNaissance, t.Prenom, t.Sexe, t.DateNaissance, t.LieuNaissance)
    except TraitError as err:
        err.field = prefix + err.field
        raise problem_of(err) from None


async def search_traits(request: Request) -> Response:
    # The hot path: the body is validated here rather than by FastAPI's dependency machinery, and settings
    # come from app.state (a sync dependency would cost a threadpool hop per request).
    try:
        body = TraitsSearch.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    settings = request.app.state.settings
    if request.headers.get("x-segur-ins-fault") == "insi_102":
        raise _fault_problem()
    query = _check_traits(body)
    wrong = await _injected(request, "ins.search_traits")
    outcome = await searches.search_by_traits_fast(request.app.state, query)
    if wrong is not None and not outcome.fault:
        outcome = search.wrong_answer(wrong)
    _log_call(request, "search-traits", outcome, settings)
    return _answer(outcome, settings, "INSI")


router.add_api_route(
    "/search-traits",
    search_traits,
    methods=["POST"],
    summary="rechercherInsAvecTraitsIdentite (RECSANSVITALE) as JSON",
    description="Traits must already be in INSi form (upper case A-Z, no accents); anything else is a 400 "
    "naming the field, the rule and the INSi form. Unknown person: CodeCR 01, never a generic identity.",
    operation_id="insi_search_traits",
    response_model=SearchAnswer,
    responses={400: {"description": "invalid trait (problem JSON)"},
               503: {"description": "simulated INSi technical fault (siram_40/insi_102)"}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": TraitsSearch.model_json_schema(),
        "example": {"NomNaissance": "ADRUN", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "1975-12-31"}}}}},
)


@router.post(
    "/search-vitale",
    summary="rechercherInsAvecCarteVitale (RECVITALE) as JSON",
    description="The card designates one beneficiary (MatriculeOD + DateNaissance + RangNaissance); INSi "
    "answers that beneficiary's INS.",
    operation_id="insi_search_vitale",
    response_model=SearchAnswer,
    responses={503: {"description": "INSi technical fault (siram_40/insi_102), e.g. injected by /sandbox/v1/faults"}},
)
async def search_vitale(body: VitaleSearch, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        traits.parse_lunar_date(body.DateNaissance)
    except TraitError as err:
        raise problem_of(err) from None
    number = nir.clean(body.MatriculeOD.NumIdentifiant)
    if len(number) != 13:
        raise ProblemError(400, "Invalid matricule", "MatriculeOD.NumIdentifiant has 13 characters",
                           rule="NIR:length", extra={"field": "MatriculeOD.NumIdentifiant"})
    wrong = await _injected(request, "ins.search_vitale")
    outcome = await searches.search_by_card(session, search.VitaleQuery(
        matricule_od=number, date_naissance=body.DateNaissance, rang_naissance=body.RangNaissance,
        nom_naissance=body.NomNaissance,
        matricule_individu=nir.clean(body.MatriculeIndividu.NumIdentifiant) if body.MatriculeIndividu else None,
    ))
    if wrong is not None and not outcome.fault:
        outcome = search.wrong_answer(wrong)
    _log_call(request, "search-vitale", outcome, settings)
    return _answer(outcome, settings, "CV")


class VerifyAnswer(BaseModel):
    result: Literal["OK", "KO"]
    reasons: list[dict]
    provisional: bool = Field(True, description="the verification operation's real shape is not public")
    INSACTIF: dict | None = None


@router.post(
    "/verify",
    summary="Verify a supplied INS (matricule + OID) against traits (provisional shape)",
    description="Shape `IndividuVerifie{INSFourni, TraitsIdentiteIndividu}` from public traces (re-connect/"
    "sesame-ins `check_ins.xml`); the real operation is not in WSDL 1.5.0. OK when the matricule is the "
    "person's active INS of that kind and every trait sent matches; KO otherwise (with reasons: unknown, "
    "historical matricule, wrong OID, differing trait).",
    operation_id="insi_verify",
    response_model=VerifyAnswer,
    responses={503: {"description": "INSi technical fault (siram_40/insi_102), e.g. injected by /sandbox/v1/faults"}},
)
async def verify(body: VerifyRequest, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        nir.check_oid(body.INSFourni.OID)
    except OidError as err:
        err.field = "INSFourni.OID"
        raise problem_of(err) from None
    ins = nir.clean(body.INSFourni.IdIndividu.NumIdentifiant + (body.INSFourni.IdIndividu.Cle or ""))
    if len(ins) != 15:
        raise ProblemError(400, "Invalid matricule", "INSFourni.IdIndividu: 13 characters and a 2-digit Cle",
                           rule="NIR:length", extra={"field": "INSFourni.IdIndividu"})
    query = _check_traits(body.TraitsIdentiteIndividu, "TraitsIdentiteIndividu.")
    await _injected(request, "ins.verify")
    v = await searches.verify(session, ins=ins, oid=body.INSFourni.OID, query=query)
    out: dict[str, Any] = {"result": v.result, "reasons": v.reasons, "provisional": True}
    if v.person is not None and v.person.ins_actif is not None and v.historical:
        a = v.person.ins_actif
        out["INSACTIF"] = {"IdIndividu": {"NumIdentifiant": a.number, "Cle": a.key},
                           "OID": nir.oid_for(a.kind, settings.ins_oid_policy)}
    return json_response(out, fast=settings.fast_paths)


# --------------------------------------------------------------------------- NIR tools


@router.get(
    "/nir/generate",
    summary="Synthetic NIRs with valid keys (Corsica, overseas, born abroad, unknown month)",
    operation_id="insi_nir_generate",
)
async def nir_generate(
    kind: Annotated[nir.GeneratorKind, Query()] = "metropolitan",
    sex: Annotated[Literal["M", "F"] | None, Query()] = None,
    year: Annotated[int | None, Query(ge=1900, le=2099)] = None,
    count: Annotated[int, Query(ge=1, le=100)] = 1,
    seed: Annotated[int | None, Query(description="same seed, same numbers")] = None,
) -> dict:
    rng = random.Random(seed)
    values = [nir.generate(kind, sex=sex, year=year, rng=rng) for _ in range(count)]
    return {"kind": kind, "values": [{"ins": v, "explanation": nir.explain(v).as_dict()} for v in values]}


@router.get(
    "/nir/{value}",
    summary="Explain a NIR/NIA: sex, year, month (unknown-month values), place, order, key, OID",
    description="Never fails on a wrong number: the breakdown lists every broken rule in `issues`.",
    operation_id="insi_nir_explain",
)
async def nir_explain(
    value: Annotated[str, Path(max_length=32)],
    oid: Annotated[str | None, Query(max_length=64, description="tells a NIR from a NIA")] = None,
) -> dict:
    return nir.explain(value, oid).as_dict()


class NirValidate(BaseModel):
    ins: str = Field(max_length=32, examples=["297022A02077878"])
    oid: str | None = Field(default=None, max_length=64, examples=[OID_INS_NIR])


@router.post(
    "/nir/validate",
    summary="Validate a NIR/NIA (+ OID): 200 with its breakdown, or 422 naming the rule",
    operation_id="insi_nir_validate",
)
async def nir_validate(body: NirValidate) -> dict:
    exp = nir.explain(body.ins, body.oid)
    if exp.issues:
        first = exp.issues[0]
        field = "oid" if first["rule"].startswith("INS:oid") else "ins"
        raise ProblemError(422, "Invalid INS", first["message"], rule=first["rule"],
                           extra={"field": field, "issues": exp.issues})
    return exp.as_dict()


# --------------------------------------------------------------------------- RNIV


class RnivInitial(BaseModel):
    insi: bool = False
    document: str | None = None
    attributes: list[str] = Field(default_factory=list)
    minor: bool | None = None


class RnivRequest(BaseModel):
    events: list[dict] = Field(
        max_length=100,
        examples=[[{"type": "insi_ok", "DateNaissance": "1975-12-31"}, {"type": "document", "mode": "CN"}]],
        description="types: insi_ok (INSi 00 or verification OK; optional DateNaissance, NomNaissance, "
        "ListePrenom, Sexe), insi_ko, document (mode: CN, PA, CS, eCN, IN, AV, LECV, AN, LEP, CC, ANCV), "
        "attribute_add / attribute_remove (attribute: HOMD, HOMA, DOUT, FICT), strict_trait_edit (trait)",
    )
    initial: RnivInitial | None = None


@router.post(
    "/rniv",
    summary="RNIV identity status engine: PROV / RECUP / VALI / QUAL after a list of events",
    description="Only a QUAL identity may carry and share its INS (`shareable`). Refused events (INSi call on "
    "a doubtful identity, INS with a 00 birth day/month, ...) are listed with the rule that refused them.",
    operation_id="insi_rniv",
)
async def rniv_status(body: RnivRequest, settings: SettingsDep) -> dict:
    init = body.initial or RnivInitial()
    bad = [a for a in init.attributes if a not in rniv.ATTRIBUTES]
    if bad:
        raise ProblemError(400, "Invalid RNIV attribute", f"unknown attributes {bad}", rule="RNIV:attribute",
                           extra={"field": "initial.attributes"})
    state = rniv.IdentityState(init.insi, init.document, frozenset(init.attributes), init.minor)
    try:
        res = rniv.run(body.events, initial=state)
    except RnivError as err:
        raise problem_of(err) from None
    status = res.state.status
    code = status if settings.ins_status_system == "new" else fhir.OLD_STATUS[status]
    return {
        "status": status,
        "shareable": res.state.shareable,
        "identityStatus": {"system": fhir.CS_STATUS if settings.ins_status_system == "new" else fhir.CS_STATUS_OLD,
                           "code": code},
        "state": {"insi": res.state.insi, "document": res.state.document,
                  "attributes": sorted(res.state.attributes), "minor": res.state.minor},
        "steps": [{"event": s.event, "accepted": s.accepted, "status": s.status, "rule": s.rule,
                   "message": s.message} for s in res.steps],
    }
