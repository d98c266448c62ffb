"""Annuaire Santé FHIR stub (``/fhir/v2``): Practitioner, PractitionerRole, Organization.

Mirrors the real API (https://gateway.api.esante.gouv.fr/fhir/v2, FHIR R4, header ``ESANTE-API-KEY``;
mss.md §7), which has no sandbox data: here the directory publishes the sandbox's PSC professionals,
the structures of their activities and the sandbox MSSanté mailboxes, as ``telecom`` with the
``as-ext-mailbox-mss-metadata`` extension (IG ``ansforge/IG-fhir-annuaire``): ``type`` as a
TRE_R257 CodeableConcept, ``description``, ``service``, ``digitization``, ``listeRouge``. Carriers, per
the IG: PER on Practitioner and PractitionerRole, CAB on Practitioner, ORG/APP on Organization.

Searches: ``_id``, ``identifier`` (``[system|]value``), ``name``, ``family``, ``given`` (FHIR string
search: case- and accent-insensitive "starts with"; ``:exact``, ``:contains``), ``mailbox-mss``
(``:contains``, ``:exact``), ``active``, ``_include``, ``_revinclude``, ``_count``. Unknown
parameters are refused (400) rather than ignored, so a typo in a vendor's query shows up.
``mailbox-mss-type`` is **not** exposed (one integrator reports the real server lacks it; mss.md §10.6).
FINESS identifiers use ``https://finess.esante.gouv.fr`` (mss.md §10.7); the http form is accepted in
searches.
"""

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from app.api.deps import SessionDep, SettingsDep
from app.api.errors import FhirError
from app.mss import addresses, service
from app.mss.models import MssMailbox
from app.numbers import ascii_count

router = APIRouter(prefix="/fhir/v2", tags=["annuaire"])

IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
RPPS = "https://rpps.esante.gouv.fr"
FINESS = "https://finess.esante.gouv.fr"
FINESS_ALIASES = {FINESS, "http://finess.esante.gouv.fr"}
IDNST = "urn:oid:1.2.250.1.71.4.2.2"
SIRET = "https://sirene.fr"
MAILBOX_EXT = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata"
EMAIL_TYPE_EXT = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type"
TRE_R256 = "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie"
TRE_R257 = "https://mos.esante.gouv.fr/NOS/TRE_R257-TypeBAL/FHIR/TRE-R257-TypeBAL"
TRE_G15 = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
FHIR_JSON = "application/fhir+json"

COMMON = {"_id", "identifier", "_include", "_revinclude", "_count", "active", "_format", "_total"}
PARAMETERS = {
    "Practitioner": COMMON | {"name", "family", "given", "mailbox-mss"},
    "PractitionerRole": COMMON | {"practitioner", "organization", "mailbox-mss", "role"},
    "Organization": COMMON | {"name", "mailbox-mss"},
}
INCLUDES = {
    "PractitionerRole": {"PractitionerRole:practitioner", "PractitionerRole:organization"},
}
REVINCLUDES = {
    "Practitioner": {"PractitionerRole:practitioner"},
    "Organization": {"PractitionerRole:organization"},
}


async def check_api_key(settings: SettingsDep,
                        esante_api_key: Annotated[str | None, Header(alias="ESANTE-API-KEY")] = None) -> None:
    expected = settings.mss_annuaire_api_key
    if expected and not hmac.compare_digest((esante_api_key or "").encode(), expected.encode()):
        raise FhirError(401, "security",
                        "En-tête ESANTE-API-KEY absent ou invalide / missing or invalid ESANTE-API-KEY header "
                        "(SEGUR_MSS_ANNUAIRE_API_KEY)", rule="ANN:api-key")


# --- building the directory -----------------------------------------------------------------------

def mailbox_telecom(m: MssMailbox) -> dict[str, Any]:
    meta: list[dict[str, Any]] = [
        {"url": "type", "valueCodeableConcept": {"coding": [{"system": TRE_R257, "code": m.type}]}},
    ]
    if m.description:
        meta.append({"url": "description", "valueString": m.description})
    if m.service:
        meta.append({"url": "service", "valueString": m.service})
    meta.append({"url": "digitization", "valueBoolean": False})
    meta.append({"url": "listeRouge", "valueBoolean": False})
    return {
        "extension": [
            {"url": EMAIL_TYPE_EXT, "valueCoding": {"system": TRE_R256, "code": "MSSANTE"}},
            {"url": MAILBOX_EXT, "extension": meta},
        ],
        "system": "email",
        "value": m.address,
    }


def _structure_id(activity: dict[str, Any]) -> str | None:
    return activity.get("identifiantTechniqueDeLaStructure") or None


def _organization(activity: dict[str, Any], mailboxes: list[MssMailbox]) -> dict[str, Any]:
    sid = _structure_id(activity) or ""
    identifiers = [{"use": "official", "system": IDNST, "value": sid}]
    if activity.get("numeroFinessSite"):
        identifiers.append({"use": "official", "system": FINESS, "value": activity["numeroFinessSite"]})
    if activity.get("numeroSiretSite"):
        identifiers.append({"use": "official", "system": SIRET, "value": activity["numeroSiretSite"]})
    line = " ".join(x for x in (activity.get("numeroVoie"), activity.get("libelleVoie")) if x)
    address = {"line": [line] if line else [], "postalCode": activity.get("codePostal") or None,
               "city": (activity.get("bureauCedex") or "").split(" ", 1)[-1] or None, "country": "FR"}
    resource: dict[str, Any] = {
        "resourceType": "Organization", "id": sid, "active": True, "identifier": identifiers,
        "name": activity.get("raisonSocialeSite") or sid,
        "address": [{k: v for k, v in address.items() if v}],
    }
    telecom = [mailbox_telecom(m) for m in mailboxes if m.structure_id == sid and m.type in ("ORG", "APP")]
    if telecom:
        resource["telecom"] = telecom
    return resource


def _practitioner(p: Any, mailboxes: list[MssMailbox]) -> dict[str, Any]:
    sni = p.subject_name_id
    identifiers = [{"use": "official", "system": IDNPS, "value": sni}]
    if p.rpps:
        identifiers.append({"use": "official", "system": RPPS, "value": p.rpps})
    resource: dict[str, Any] = {
        "resourceType": "Practitioner", "id": sni, "active": True, "identifier": identifiers,
        "name": [{"family": p.family_name, "given": [p.given_name]}],
        "qualification": [{"code": {"coding": [{"system": TRE_G15, "code": p.profession_code}]}}],
    }
    telecom = [mailbox_telecom(m) for m in mailboxes if m.type in ("PER", "CAB") and service.may_use(m, sni)]
    if telecom:
        resource["telecom"] = telecom
    return resource


def _role(p: Any, activity: dict[str, Any], mailboxes: list[MssMailbox]) -> dict[str, Any]:
    sni, sid = p.subject_name_id, _structure_id(activity)
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole", "id": f"{sni}-{sid}", "active": True,
        "practitioner": {"reference": f"Practitioner/{sni}"},
        "code": [{"coding": [{"system": TRE_G15, "code": p.profession_code}]}],
    }
    if sid:
        resource["organization"] = {"reference": f"Organization/{sid}"}
    telecom = [mailbox_telecom(m) for m in mailboxes
               if m.type == "PER" and m.owner_subject == sni and m.structure_id == sid]
    if telecom:
        resource["telecom"] = telecom
    return resource


async def directory(session: SessionDep) -> dict[str, dict[str, dict[str, Any]]]:
    """Every resource of the stub, by type and id (small: built per request from the store)."""
    from app.psc.service import list_professionals

    await service.ensure_per_mailboxes(session)
    mailboxes = [m for m in await service.list_mailboxes(session) if m.type != service.PATIENT and m.active]
    out: dict[str, dict[str, dict[str, Any]]] = {"Practitioner": {}, "PractitionerRole": {}, "Organization": {}}
    for p in await list_professionals(session):
        out["Practitioner"][p.subject_name_id] = _practitioner(p, mailboxes)
        for activity in p.activities:
            sid = _structure_id(activity)
            if sid and sid not in out["Organization"]:
                out["Organization"][sid] = _organization(activity, mailboxes)
            role = _role(p, activity, mailboxes)
            out["PractitionerRole"][role["id"]] = role
    return out


# --- searching ------------------------------------------------------------------------------------

def _fold(value: str) -> str:
    return addresses.fold(value).replace("-", " ")


def _string_match(values: list[str], wanted: str, modifier: str | None) -> bool:
    if modifier == "exact":
        return wanted in values
    w = _fold(wanted)
    if modifier == "contains":
        return any(w in _fold(v) for v in values)
    return any(_fold(v).startswith(w) for v in values)


def _names(resource: dict[str, Any], part: str) -> list[str]:
    if resource["resourceType"] == "Organization":
        return [resource.get("name", "")]
    values: list[str] = []
    for name in resource.get("name", []):
        if part in ("family", "name") and name.get("family"):
            values.append(name["family"])
        if part in ("given", "name"):
            values.extend(name.get("given", []))
    return values


def _mailboxes(resource: dict[str, Any]) -> list[str]:
    return [t["value"] for t in resource.get("telecom", []) if any(e["url"] == MAILBOX_EXT for e in t["extension"])]


def _identifier_match(resource: dict[str, Any], wanted: str) -> bool:
    system, sep, value = wanted.rpartition("|")
    systems = FINESS_ALIASES if system in FINESS_ALIASES else {system}
    for ident in resource.get("identifier", []):
        if ident.get("value") == value and (not sep or not system or ident.get("system") in systems):
            return True
    return False


def _matches(resource: dict[str, Any], name: str, modifier: str | None, values: list[str]) -> bool:
    """OR over comma-separated values (FHIR search)."""
    for wanted in values:
        if name == "_id" and resource["id"] == wanted:
            return True
        if name == "identifier" and _identifier_match(resource, wanted):
            return True
        if name in ("name", "family", "given") and _string_match(_names(resource, name), wanted, modifier):
            return True
        if name == "mailbox-mss" and _string_match(_mailboxes(resource), wanted, modifier):
            return True
        if name == "active" and str(resource.get("active", True)).lower() == wanted.lower():
            return True
        if name in ("practitioner", "organization"):
            ref = resource.get(name, {}).get("reference", "")
            if ref in (wanted, f"{name.title()}/{wanted}"):
                return True
        if name == "role" and any(c.get("code") == wanted.split("|")[-1]
                                  for cc in resource.get("code", []) for c in cc.get("coding", [])):
            return True
    return False


def _bundle(request: Request, matches: list[dict[str, Any]], included: list[dict[str, Any]]) -> dict[str, Any]:
    base = request.app.state.settings.public_base_url + "/fhir/v2"
    query = str(request.url.query)
    return {
        "resourceType": "Bundle", "type": "searchset", "total": len(matches),
        "link": [{"relation": "self", "url": f"{base}/{request.url.path.rsplit('/', 1)[-1]}"
                  + (f"?{query}" if query else "")}],
        "entry": [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": mode}}
            for mode, group in (("match", matches), ("include", included)) for r in group
        ],
    }


async def search(request: Request, session: SessionDep, resource_type: str) -> JSONResponse:
    params: list[tuple[str, str]] = list(request.query_params.multi_items())
    allowed = PARAMETERS[resource_type]
    criteria: list[tuple[str, str | None, list[str]]] = []
    includes: list[str] = []
    revincludes: list[str] = []
    count = 50
    for key, value in params:
        name, _, modifier = key.partition(":")
        if name not in allowed:
            raise FhirError(400, "not-supported", f"paramètre de recherche non supporté / unsupported search "
                            f"parameter '{key}' on {resource_type}", rule="ANN:search.parameter")
        if modifier and not (name in ("name", "family", "given", "mailbox-mss") and modifier in ("exact", "contains")):
            raise FhirError(400, "not-supported", f"unsupported modifier '{key}'", rule="ANN:search.modifier")
        if name == "_include":
            if value not in INCLUDES.get(resource_type, set()):
                raise FhirError(400, "not-supported", f"unsupported _include={value}", rule="ANN:search.include")
            includes.append(value)
        elif name == "_revinclude":
            if value not in REVINCLUDES.get(resource_type, set()):
                raise FhirError(400, "not-supported", f"unsupported _revinclude={value}", rule="ANN:search.include")
            revincludes.append(value)
        elif name == "_count":
            requested = ascii_count(value)
            if requested is None:
                raise FhirError(400, "invalid", "_count must be a non-negative integer (1 to 9 ASCII digits)",
                                rule="ANN:search.count")
            count = min(requested, 1000)
        elif name in ("_format", "_total"):
            continue
        else:
            criteria.append((name, modifier or None, [v for v in value.split(",") if v]))
    data = await directory(session)
    matches = [r for r in data[resource_type].values()
               if all(_matches(r, n, m, v) for n, m, v in criteria)]
    matches.sort(key=lambda r: r["id"])
    total_matches = matches
    matches = matches[:count]
    included: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for inc in includes:
        field = inc.split(":", 1)[1]
        for r in matches:
            ref = r.get(field, {}).get("reference", "")
            rtype, _, rid = ref.partition("/")
            target = data.get(rtype, {}).get(rid)
            if target is not None and (rtype, rid) not in seen:
                seen.add((rtype, rid))
                included.append(target)
    for rev in revincludes:
        field = rev.split(":", 1)[1]
        ids = {f"{resource_type}/{r['id']}" for r in matches}
        for role in data["PractitionerRole"].values():
            if role.get(field, {}).get("reference") in ids and ("PractitionerRole", role["id"]) not in seen:
                seen.add(("PractitionerRole", role["id"]))
                included.append(role)
    bundle = _bundle(request, matches, included)
    bundle["total"] = len(total_matches)
    return JSONResponse(bundle, media_type=FHIR_JSON)


async def read(session: SessionDep, resource_type: str, resource_id: str) -> JSONResponse:
    resource = (await directory(session))[resource_type].get(resource_id)
    if resource is None:
        raise FhirError(404, "not-found", f"{resource_type}/{resource_id} inconnu / not found",
                        rule="ANN:read.not-found")
    return JSONResponse(resource, media_type=FHIR_JSON)


def _register(resource_type: str) -> None:
    async def search_endpoint(request: Request, session: SessionDep) -> JSONResponse:
        return await search(request, session, resource_type)

    async def read_endpoint(session: SessionDep, resource_id: str) -> JSONResponse:
        return await read(session, resource_type, resource_id)

    router.add_api_route(f"/{resource_type}", search_endpoint, methods=["GET"],
                         dependencies=[Depends(check_api_key)], operation_id=f"annuaire_search_{resource_type}",
                         summary=f"Search {resource_type} (Annuaire Santé FHIR API stub)",
                         response_class=JSONResponse,
                         responses={400: {"description": "unsupported parameter (OperationOutcome)"},
                                    401: {"description": "missing or invalid ESANTE-API-KEY"}})
    router.add_api_route(f"/{resource_type}/{{resource_id}}", read_endpoint, methods=["GET"],
                         dependencies=[Depends(check_api_key)], operation_id=f"annuaire_read_{resource_type}",
                         summary=f"Read one {resource_type}", response_class=JSONResponse,
                         responses={404: {"description": "unknown id (OperationOutcome)"}})


for _type in ("Practitioner", "PractitionerRole", "Organization"):
    _register(_type)
