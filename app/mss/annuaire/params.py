"""The search parameter table: one row per parameter the stub answers, per resource type.

The table is the single source of truth: the search code reads it to accept, parse and match a
parameter, and the CapabilityStatement (``capability.py``) is generated from it, so the two cannot drift.
Rows come from the documentation's per-resource tables (``ansforge/annuaire-sante-fhir-documentation``
@9f3d7d0 docs/pages/guide/version-2/resources/{practitioner,practitioner-role,organization}.md) and the
IG's CapabilityStatement (``ansforge/IG-fhir-annuaire`` @5fbc358
input/fsh/CapabilityStatement/AsServerDPCapabilityStatement.fsh), which adds ``data-registration-authority``
and ``type-smartcard`` on Practitioner and ``address-line`` on Organization.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.mss.annuaire import codes as c

Resource = dict[str, Any]
Token = tuple[str | None, str]  # (system, code)

HL7 = "http://hl7.org/fhir/SearchParameter"
AS_SP = f"{c.IG}/SearchParameter"


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str  # token | string | reference | date
    values: Callable[[Resource], list[Any]]
    documentation: str
    definition: str | None = None


# --- what each parameter reads ----------------------------------------------------------------------

def _ids(r: Resource) -> list[Token]:
    return [(None, r["id"])]


def _active(r: Resource) -> list[Token]:
    return [(None, "true" if r.get("active", True) else "false")]


def _identifiers(r: Resource) -> list[Token]:
    return [(i.get("system"), i.get("value", "")) for i in r.get("identifier", [])]


def _identifier_types(r: Resource) -> list[Token]:
    return [(cd.get("system"), cd.get("code", "")) for i in r.get("identifier", [])
            for cd in i.get("type", {}).get("coding", [])]


def _codings(field: str) -> Callable[[Resource], list[Token]]:
    def read(r: Resource) -> list[Token]:
        items = r.get(field, [])
        items = items if isinstance(items, list) else [items]
        out: list[Token] = []
        for item in items:
            concept = item.get("code", item) if field == "qualification" else item
            out.extend((cd.get("system"), cd.get("code", "")) for cd in concept.get("coding", []))
        return out
    return read


def _trace(part: str) -> Callable[[Resource], list[Token]]:
    """as-ext-data-trace, read where the profiles put it (meta.extension, IG rulesets.fsh)."""
    def read(r: Resource) -> list[Token]:
        out: list[Token] = []
        for ext in r.get("meta", {}).get("extension", []):
            if ext.get("url") != c.DATA_TRACE_EXT:
                continue
            for sub in ext.get("extension", []):
                if sub.get("url") != part:
                    continue
                if "valueCode" in sub:
                    out.append((None, sub["valueCode"]))
                for cd in sub.get("valueCodeableConcept", {}).get("coding", []):
                    out.append((cd.get("system"), cd.get("code", "")))
        return out
    return read


def _smartcard(part: str) -> Callable[[Resource], list[Any]]:
    def read(r: Resource) -> list[Any]:
        out: list[Any] = []
        for ext in r.get("extension", []):
            if ext.get("url") != c.SMARTCARD_EXT:
                continue
            for sub in ext.get("extension", []):
                if sub.get("url") == part == "number":
                    out.append(sub["valueString"])
                elif sub.get("url") == part == "type":
                    out.extend((cd.get("system"), cd.get("code", "")) for cd in sub["valueCodeableConcept"]["coding"])
        return out
    return read


def _mailboxes(r: Resource) -> list[str]:
    return [t["value"] for t in r.get("telecom", [])
            if any(e.get("url") == c.MAILBOX_EXT for e in t.get("extension", []))]


def _human(*parts: str) -> Callable[[Resource], list[str]]:
    def read(r: Resource) -> list[str]:
        out: list[str] = []
        for name in r.get("name", []):
            for part in parts:
                value = name.get(part)
                out.extend(value if isinstance(value, list) else [value] if value else [])
        return out
    return read


def _org_names(r: Resource) -> list[str]:
    return [r["name"], *r.get("alias", [])] if r.get("name") else list(r.get("alias", []))


def _address(*parts: str) -> Callable[[Resource], list[str]]:
    def read(r: Resource) -> list[str]:
        out: list[str] = []
        for address in r.get("address", []):
            for part in parts:
                value = address.get(part)
                out.extend(value if isinstance(value, list) else [value] if value else [])
        return out
    return read


def _licence(r: Resource) -> list[str]:
    return [e["valueString"] for e in r.get("extension", []) if e.get("url") == c.PHARMACY_LICENCE_EXT]


def _reference(field: str) -> Callable[[Resource], list[str]]:
    def read(r: Resource) -> list[str]:
        ref = r.get(field, {}).get("reference")
        return [ref] if ref else []
    return read


def _last_updated(r: Resource) -> list[str]:
    return [r["meta"]["lastUpdated"]]


# --- the table ------------------------------------------------------------------------------------

def _common(kind: str) -> list[SearchParam]:
    return [
        SearchParam("_id", "token", _ids, f"Recherche sur l'ID technique de la ressource {kind}.",
                    f"{HL7}/Resource-id"),
        SearchParam("_lastUpdated", "date", _last_updated,
                    "Date de mise à jour (préfixes eq, ne, gt, lt, ge, le, sa, eb, ap; précision année, mois, "
                    "jour ou date complète, UTC si sans fuseau).", f"{HL7}/Resource-lastUpdated"),
        SearchParam("active", "token", _active, f"Recherche sur le statut de la ressource {kind} (true | false).",
                    f"{HL7}/{kind}-active"),
        SearchParam("data-information-system", "token", _trace("systeme-information"),
                    "Recherche sur le système d'information (RPPS, FINESS, MSS, CG).",
                    f"{AS_SP}/as-sp-data-information-system"),
        SearchParam("data-registration-authority", "token", _trace("autorite-enregistrement"),
                    "Recherche sur l'autorité d'enregistrement.", f"{AS_SP}/as-sp-data-registration-authority"),
        SearchParam("identifier", "token", _identifiers, f"Recherche sur l'identifiant métier de la ressource {kind}.",
                    f"{HL7}/{kind}-identifier"),
        SearchParam("mailbox-mss", "string", _mailboxes,
                    "Recherche sur les Messageries Sécurisées de Santé (MSS); modificateurs contains et exact.",
                    f"{AS_SP}/as-sp-mailbox-mss"),
    ]


SEARCH_PARAMS: dict[str, dict[str, SearchParam]] = {
    kind: {p.name: p for p in sorted(params, key=lambda p: p.name)} for kind, params in {
        "Practitioner": [
            *_common("Practitioner"),
            SearchParam("family", "string", _human("family"), "Recherche sur le nom d'exercice du professionnel.",
                        f"{HL7}/individual-family"),
            SearchParam("given", "string", _human("given"), "Recherche sur le prénom d'exercice du professionnel.",
                        f"{HL7}/individual-given"),
            SearchParam("identifier-type", "token", _identifier_types,
                        "Recherche sur le type d'identifiant (IDNPS, RPPS)."),
            SearchParam("name", "string", _human("family", "given", "prefix", "suffix"),
                        "Recherche sur le nom complet (nom, prénom, préfixe de civilité, suffixe de civilité "
                        "d'exercice).", f"{HL7}/Practitioner-name"),
            SearchParam("number-smartcard", "string", _smartcard("number"),
                        "Recherche sur le numéro de carte CPx des professionnels.", f"{AS_SP}/as-sp-number-smartcard"),
            SearchParam("qualification-code", "token", _codings("qualification"),
                        "Recherche sur la profession, la catégorie professionnelle, le savoir-faire et le type de "
                        "savoir-faire.", f"{AS_SP}/as-sp-qualification-code"),
            SearchParam("type-smartcard", "token", _smartcard("type"),
                        "Recherche sur le type de carte CPx des professionnels.", f"{AS_SP}/as-sp-type-smartcard"),
        ],
        "PractitionerRole": [
            *_common("PractitionerRole"),
            SearchParam("organization", "reference", _reference("organization"),
                        "Référence vers l'ID technique de la structure de l'activité.",
                        f"{HL7}/PractitionerRole-organization"),
            SearchParam("practitioner", "reference", _reference("practitioner"),
                        "Référence vers l'ID technique du Practitioner de l'activité.",
                        f"{HL7}/PractitionerRole-practitioner"),
            SearchParam("role", "token", _codings("code"),
                        "Recherche sur la fonction (TRE_R21), le genre d'activité (TRE_R22), le mode d'exercice "
                        "(TRE_R23) ou la section Tableau des Pharmaciens (TRE_R06).", f"{HL7}/PractitionerRole-role"),
        ],
        "Organization": [
            *_common("Organization"),
            SearchParam("address", "string", _address("line", "city", "postalCode"),
                        "Recherche sur l'adresse de la structure.", f"{HL7}/Organization-address"),
            SearchParam("address-city", "string", _address("city"), "Recherche sur la commune de la structure.",
                        f"{HL7}/Organization-address-city"),
            SearchParam("address-line", "string", _address("line"), "Recherche sur la ligne d'adresse.",
                        f"{AS_SP}/as-sp-address-line"),
            SearchParam("address-postalcode", "string", _address("postalCode"),
                        "Recherche sur le code postal de la structure.", f"{HL7}/Organization-address-postalcode"),
            SearchParam("identifier-type", "token", _identifier_types,
                        "Recherche sur le type d'identifiant (IDNST, FINEG, FINEJ, RPPSRG, SIRET)."),
            SearchParam("name", "string", _org_names, "Recherche sur la raison sociale; modificateurs contains et "
                        "exact.", f"{HL7}/Organization-name"),
            SearchParam("partof", "reference", _reference("partOf"),
                        "Recherche des entités géographiques rattachées à une même entité juridique.",
                        f"{HL7}/Organization-partof"),
            SearchParam("pharmacy-licence", "string", _licence,
                        "Recherche sur le numéro de licence des pharmacies d'officine.",
                        f"{AS_SP}/as-sp-pharmacy-licence"),
            SearchParam("type", "token", _codings("type"),
                        "Recherche sur le type de structure, le secteur d'activité (TRE_R02) ou la catégorie "
                        "d'établissement (TRE_R66).", f"{HL7}/Organization-type"),
        ],
    }.items()
}

MODIFIERS = {"string": {"exact", "contains", "missing"}, "token": {"not", "missing"},
             "reference": {"missing"}, "date": {"missing"}}
# resources/practitioner.md §4.3 documents name:family=MASI&name:given=BRUNO: read as family= and given=
ALIASES = {("Practitioner", "name:family"): "family", ("Practitioner", "name:given"): "given"}

# _include / _revinclude: field of the source resource holding the reference, and the target type.
INCLUDES: dict[str, dict[str, tuple[str, str]]] = {
    "Practitioner": {},
    "PractitionerRole": {"PractitionerRole:organization": ("organization", "Organization"),
                         "PractitionerRole:practitioner": ("practitioner", "Practitioner")},
    "Organization": {"Organization:partof": ("partOf", "Organization")},
}
# source type, field: Device and HealthcareService are not served (no data): accepted, include nothing.
REVINCLUDES: dict[str, dict[str, tuple[str, str]]] = {
    "Practitioner": {"PractitionerRole:practitioner": ("PractitionerRole", "practitioner")},
    "PractitionerRole": {},
    "Organization": {"Device:organization": ("Device", "owner"),
                     "HealthcareService:organization": ("HealthcareService", "providedBy"),
                     "Organization:partof": ("Organization", "partOf"),
                     "PractitionerRole:organization": ("PractitionerRole", "organization")},
}
WILDCARD_INCLUDE = {"PractitionerRole", "Organization"}  # _include=* (practitioner-role.md, organization.md)

# Result parameters (advanced/modifying-search-results.md) and the ones only ignored.
RESULT_PARAMS = ("_count", "_total", "_include", "_revinclude", "_elements", "_summary")
IGNORED_PARAMS = ("_pretty", "_format")
DEFAULT_COUNT = 50  # api-basics.md: "renvoie les 50 premiers résultats"
MAX_COUNT = 10000  # modifying-search-results.md: _count=10000
# _elements always keeps these (the documentation's _elements=name example keeps identifier and active)
ELEMENTS_KEPT = ("resourceType", "id", "meta", "identifier", "active")
