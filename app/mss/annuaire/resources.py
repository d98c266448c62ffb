"""The directory the stub publishes: Practitioner, PractitionerRole, Organization in the v2 shape.

Built per request from the store (small): the sandbox's PSC professionals (``SubjectRefPro`` exercices and
activities), the structures of their activities and the sandbox MSSanté mailboxes. Shapes follow the
documentation's example answers (``ansforge/annuaire-sante-fhir-documentation`` @9f3d7d0:
getting-started/test-api.md, use-case/uc-call-type.md, uc-segur.md, uc-bal-mss.md) and the IG's as-dp
examples (``ansforge/IG-fhir-annuaire`` @5fbc358 input/fsh/examples/DP/). What the store lacks is derived
deterministically or read from ``structures.json``; docs/mss.md lists what is synthetic.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from app.mss import service
from app.mss.annuaire import codes as c
from app.mss.models import MssMailbox

Directory = dict[str, dict[str, dict[str, Any]]]
FALLBACK_UPDATED = datetime(2024, 1, 1, tzinfo=UTC)


@cache
def structure_extras() -> dict[str, dict[str, str]]:
    data = json.loads((Path(__file__).with_name("structures.json")).read_text(encoding="utf-8"))
    return dict(data["structures"])


def _number(*parts: str, digits: int = 7) -> int:
    """A stable number of ``digits`` digits for ``parts`` (the real ids are opaque numbers)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    low = 10 ** (digits - 1)
    return low + int(digest[:15], 16) % (9 * low)


# Technical ids in the real form: 003-… Practitioner, 005-… PractitionerRole (resources/practitioner*.md,
# test-api.md), 001-01-… Organization (version-1 link.md; Organization ids are unchanged in v2: nouveautes.md).
def practitioner_id(sni: str) -> str:
    return f"003-{_number('person', sni)}-{_number('exercice', sni)}"


def role_id(sni: str, structure: str, index: int) -> str:
    return f"005-{_number('person', sni, digits=5)}-{_number('activity', sni, structure, str(index))}"


def organization_id(kind: str, key: str) -> str:
    return f"001-01-{_number(kind, key, digits=6)}"


def lastupdated(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _meta(resource_type: str, updated: datetime, system: str, authority: str) -> dict[str, Any]:
    """meta as test-api.md shows it, with the IG's data trace in meta.extension (rulesets.fsh rs-as-core)."""
    return {
        "extension": [{"url": c.DATA_TRACE_EXT, "extension": [
            {"url": "autorite-enregistrement",
             "valueCodeableConcept": {"coding": [{"system": c.TRE_R25, "code": authority}]}},
            {"url": "systeme-information", "valueCode": system},
        ]}],
        "versionId": "1", "lastUpdated": lastupdated(updated), "source": c.SOURCE,
        "profile": list(c.PROFILES[resource_type]),
    }


def _identifier(system: str, value: str, type_code: str | None) -> dict[str, Any]:
    ident: dict[str, Any] = {"use": "official"}
    if type_code:
        ident["type"] = {"coding": [{"system": c.IDENTIFIER_TYPE, "code": type_code}]}
    ident.update({"system": system, "value": value})
    return ident


def _coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def mailbox_telecom(m: MssMailbox) -> dict[str, Any]:
    meta: list[dict[str, Any]] = [
        {"url": "type", "valueCodeableConcept": {"coding": [{"system": c.TRE_R257, "code": m.type}]}},
    ]
    if m.description:
        meta.append({"url": "description", "valueString": m.description})
    if m.service:
        meta.append({"url": "service", "valueString": m.service})
    meta.append({"url": "digitization", "valueBoolean": False})
    meta.append({"url": "listeRouge", "valueBoolean": False})
    return {
        "extension": [
            {"url": c.EMAIL_TYPE_EXT, "valueCoding": {"system": c.TRE_R256, "code": "MSSANTE"}},
            {"url": c.MAILBOX_EXT, "extension": meta},
        ],
        "system": "email",
        "value": m.address,
    }


def _latest(rows: list[MssMailbox]) -> datetime:
    stamps = [r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC) for r in rows if r.created_at]
    return max(stamps, default=FALLBACK_UPDATED)


def _authority(activity: dict[str, Any] | None) -> str:
    value = (activity or {}).get("autoriteDenregistrement") or "RPPS"
    return value.split("/", 1)[0] or "RPPS"


def smartcard_number(sni: str) -> str:
    """Synthetic CPS number (10 characters, like a real one); docs/mss.md."""
    return f"2{_number('cps', sni, digits=9)}"


def _exercices(p: Any) -> list[dict[str, Any]]:
    return list(p.userinfo.get("SubjectRefPro", {}).get("exercices", []))


def _practitioner(p: Any, mailboxes: list[MssMailbox], per: list[MssMailbox]) -> dict[str, Any]:
    sni = p.subject_name_id
    exercices = _exercices(p)
    first = exercices[0] if exercices else {}
    identifiers = [_identifier(c.IDNPS, sni, "IDNPS")]
    if p.rpps:
        identifiers.append(_identifier(c.RPPS, p.rpps, "RPPS"))
    name: dict[str, Any] = {"use": "usual", "family": first.get("nomDexercice") or p.family_name,
                            "given": [first.get("prenomDexercice") or p.given_name]}
    if p.userinfo.get("codeCivilite"):
        name["prefix"] = [p.userinfo["codeCivilite"]]
    if first.get("codeCiviliteDexercice"):
        name["suffix"] = [first["codeCiviliteDexercice"]]
    qualification: list[dict[str, Any]] = []
    for ex in exercices or [{"codeProfession": p.profession_code}]:
        coding = [{"system": c.TRE_G15, "code": ex.get("codeProfession") or p.profession_code}]
        if ex.get("codeCategorieProfessionnelle"):
            coding.append({"system": c.TRE_R09, "code": ex["codeCategorieProfessionnelle"]})
        qualification.append({"code": {"coding": coding}})
        if ex.get("codeSavoirFaire"):
            skill = [{"system": c.TRE_R38, "code": ex["codeSavoirFaire"]}]
            if ex.get("codeTypeSavoirFaire"):
                skill.append({"system": c.TRE_R04, "code": ex["codeTypeSavoirFaire"]})
            qualification.append({"code": {"coding": skill}})
    published = [m for m in mailboxes if m.type in ("PER", "CAB") and service.may_use(m, sni)]
    activities = p.activities
    resource: dict[str, Any] = {
        "resourceType": "Practitioner", "id": practitioner_id(sni),
        "meta": _meta("Practitioner", _latest(per + published), "RPPS",
                      _authority(activities[0] if activities else None)),
        "language": "fr",
        "extension": [{"url": c.SMARTCARD_EXT, "extension": [
            {"url": "type", "valueCodeableConcept": _coding(c.TRE_R87, "CPS")},
            {"url": "number", "valueString": smartcard_number(sni)},
        ]}],
        "identifier": identifiers, "active": True, "name": [name],
    }
    if published:
        resource["telecom"] = [mailbox_telecom(m) for m in published]
    resource["qualification"] = qualification
    return resource


def _structure_id(activity: dict[str, Any]) -> str | None:
    return activity.get("identifiantTechniqueDeLaStructure") or None


def _org_type(ext_code: str | None, system: str, code: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if ext_code:
        entry["extension"] = [{"url": c.ORGANIZATION_TYPES_EXT, "valueCode": ext_code}]
    entry["coding"] = [{"system": system, "code": code}]
    return entry


def _address(activity: dict[str, Any]) -> dict[str, Any]:
    parts = [(activity.get("numeroVoie"), "houseNumber"), (activity.get("codeTypeDeVoie"), "streetNameType"),
             (activity.get("libelleVoie"), "streetNameBase")]
    line = " ".join(v for v, _ in parts if v)
    address: dict[str, Any] = {}
    if activity.get("codeCommune"):
        address["extension"] = [{"url": c.INSEE_CODE_EXT,
                                 "valueCoding": {"system": c.TRE_R13, "code": activity["codeCommune"]}}]
    if line:
        address["line"] = [line]
        address["_line"] = [{"extension": [
            {"url": f"http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-{kind}", "valueString": v}
            for v, kind in parts if v]}]
    cedex = (activity.get("bureauCedex") or "").split(" ", 1)
    if len(cedex) == 2 and cedex[1]:
        address["city"] = cedex[1]
    if activity.get("codePostal"):
        address["postalCode"] = activity["codePostal"]
    return address


def _site(activity: dict[str, Any], mailboxes: list[MssMailbox], stamp: datetime,
          legal_entity: str | None) -> dict[str, Any]:
    sid = _structure_id(activity) or ""
    extras = structure_extras().get(sid, {})
    finess = activity.get("numeroFinessSite") or ""
    identifiers = []
    if activity.get("ancienIdentifiantDeLaStructure"):
        identifiers.append(_identifier(c.IDNST, activity["ancienIdentifiantDeLaStructure"], "IDNST"))
    if finess:
        identifiers.append(_identifier(c.FINESS, finess, "FINEG"))
    identifiers.append(_identifier(c.RPPS_RANG, sid, "RPPSRG"))
    if activity.get("numeroSiretSite"):
        identifiers.append(_identifier(c.SIRENE, activity["numeroSiretSite"], "SIRET"))
    types = [_org_type("organizationType", c.ORGANIZATION_TYPE, "GEOGRAPHICAL-ENTITY")]
    if activity.get("codeSecteurDactivite"):
        types.append(_org_type("secteurActiviteRASS", c.TRE_R02, activity["codeSecteurDactivite"]))
    if extras.get("categorieEtablissement"):
        # uc-segur.md shows the category without the as-ext-organization-types extension
        types.append(_org_type(None, c.TRE_R66, extras["categorieEtablissement"]))
    extension: list[dict[str, Any]] = []
    if extras.get("opened"):
        extension.append({"url": c.USE_PERIOD_EXT, "valuePeriod": {"start": extras["opened"]}})
    if extras.get("pharmacy_licence"):
        extension.append({"url": c.PHARMACY_LICENCE_EXT, "valueString": extras["pharmacy_licence"]})
    telecom: list[dict[str, Any]] = []
    if activity.get("telephone"):
        telecom.append({"system": "phone", "value": activity["telephone"]})
    telecom.extend(mailbox_telecom(m) for m in mailboxes if m.structure_id == sid and m.type in ("ORG", "APP"))
    resource: dict[str, Any] = {
        "resourceType": "Organization", "id": organization_id("site", sid),
        "meta": _meta("Organization", stamp, "FINESS" if finess else "RPPS", "ARS" if finess else _authority(activity)),
        "language": "fr",
    }
    if extension:
        resource["extension"] = extension
    resource.update({"identifier": identifiers, "active": True, "type": types,
                     "name": activity.get("raisonSocialeSite") or sid})
    if telecom:
        resource["telecom"] = telecom
    address = _address(activity)
    if address:
        resource["address"] = [address]
    if legal_entity:
        resource["partOf"] = {"reference": f"Organization/{legal_entity}"}
    return resource


def _legal_entity(finess_ej: str, name: str, stamp: datetime) -> dict[str, Any]:
    """The FINESS legal entity a FINESS site belongs to (IG PP16DP-Organization.fsh: FINEJ, LEGAL-ENTITY)."""
    return {
        "resourceType": "Organization", "id": organization_id("legal", finess_ej),
        "meta": _meta("Organization", stamp, "FINESS", "ARS"), "language": "fr",
        "identifier": [_identifier(c.IDNST, f"1{finess_ej}", "IDNST"), _identifier(c.FINESS, finess_ej, "FINEJ")],
        "active": True,
        "type": [_org_type("organizationType", c.ORGANIZATION_TYPE, "LEGAL-ENTITY")],
        "name": name,
    }


def _role(p: Any, activity: dict[str, Any], index: int, mailboxes: list[MssMailbox], per: list[MssMailbox],
          organization: str | None) -> dict[str, Any]:
    sni, sid = p.subject_name_id, _structure_id(activity) or ""
    code = []
    for system, key in ((c.TRE_R22, "codeGenreActivite"), (c.TRE_R23, "codeModeExercice"),
                        (c.TRE_R21, "codeRole"), (c.TRE_R06, "codeSectionPharmacien")):
        if activity.get(key):
            code.append(_coding(system, activity[key]))
    published = [m for m in mailboxes if m.type == "PER" and m.owner_subject == sni and m.structure_id == sid]
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole", "id": role_id(sni, sid, index),
        "meta": _meta("PractitionerRole", _latest(per + published), "RPPS", _authority(activity)),
        "language": "fr",
        # identifiant de la situation d'exercice (IG PP16DP-PractitionerRole.fsh); synthetic value
        "identifier": [{"system": c.RPPS, "value": f"1{_number('situation', sni, sid, str(index), digits=9)}"}],
        "active": True,
        "practitioner": {"reference": f"Practitioner/{practitioner_id(sni)}"},
    }
    if organization:
        resource["organization"] = {"reference": f"Organization/{organization}"}
    if code:
        resource["code"] = code
    if published:
        resource["telecom"] = [mailbox_telecom(m) for m in published]
    return resource


async def directory(session: Any) -> Directory:
    """Every resource of the stub, by type and id."""
    from app.psc.service import list_professionals

    await service.ensure_per_mailboxes(session)
    mailboxes = [m for m in await service.list_mailboxes(session) if m.type != service.PATIENT and m.active]
    per_of: dict[str, list[MssMailbox]] = {}
    for m in mailboxes:
        if m.type == "PER" and m.owner_subject:
            per_of.setdefault(m.owner_subject, []).append(m)
    out: Directory = {"Practitioner": {}, "PractitionerRole": {}, "Organization": {}}
    sites: dict[str, tuple[dict[str, Any], list[MssMailbox]]] = {}
    for p in await list_professionals(session):
        per = per_of.get(p.subject_name_id, [])
        practitioner = _practitioner(p, mailboxes, per)
        out["Practitioner"][practitioner["id"]] = practitioner
        for index, activity in enumerate(p.activities):
            sid = _structure_id(activity)
            if sid:
                sites.setdefault(sid, (activity, []))[1].extend(per)
            role = _role(p, activity, index, mailboxes, per, organization_id("site", sid) if sid else None)
            out["PractitionerRole"][role["id"]] = role
    legal: dict[str, tuple[str, list[datetime]]] = {}
    for sid, (activity, people) in sites.items():
        own = [m for m in mailboxes if m.structure_id == sid and m.type in ("ORG", "APP")]
        stamp = _latest(people + own)
        finess_ej = activity.get("numeroFinessetablissementJuridique") or ""
        parent = None
        if finess_ej:
            parent = organization_id("legal", finess_ej)
            name = structure_extras().get(sid, {}).get("legal_entity_name") or finess_ej
            legal.setdefault(finess_ej, (name, []))[1].append(stamp)
        site = _site(activity, mailboxes, stamp, parent)
        out["Organization"][site["id"]] = site
    for finess_ej, (name, stamps) in legal.items():
        entity = _legal_entity(finess_ej, name, max(stamps))
        out["Organization"][entity["id"]] = entity
    return out
