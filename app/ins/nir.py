"""NIR / NIA rules, and checks against the INS OID catalogue (:mod:`app.shared.identifiers`). Pure: no I/O.

Sources (see docs/ins.md and the reference ``ins.md`` §2):
- structure ``S AA MM LLLLL OOO KK``: INSEE https://xml.insee.fr/schema/2004/nir.html, python-stdnum
  ``stdnum/fr/nir.py``;
- key = 97 - (13 first characters mod 97), ``2A`` read as 19 and ``2B`` as 18 before the modulo
  (python-stdnum; Faker PR #2373; checked on INSi test data ``297022A020778``->78, ``160012B020777``->13);
- unknown-month values 20, 30-42, 51-62: assurance-maladie-digital/nir-validation issue #20;
- sex digits 3/4/7/8 are temporary numbers, not NIRs: nir-validation issue #3;
- INSi's own pattern for the 13 characters ``\\d{6}[A-Za-z0-9]\\d{6}``: ``INSi_RESULTAT_INS.xsd`` type NIR;
- a NIA is formatted like a NIR, only the OID tells them apart (CNDA ``TEST_2.05``: OID .9);
- OIDs: FR Core ``FRCorePatientINSProfile.fsh`` / ``FRCoreCodeSystemv2-0203.fsh``.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field
from typing import Literal

from app.ins.exceptions import NirError, OidError
from app.shared.identifiers import (  # the one OID catalogue, shared with DMP and MSSanté
    OID_CATALOGUE,
    OID_INS_NIA,
    OID_INS_NIR,
    OID_INS_NIR_TEST,
    IdentifierKind,
    OidInfo,
)


def check_oid(oid: str, *, allow_legacy: bool = False) -> OidInfo:
    """Return the catalogue entry of ``oid`` or raise :class:`OidError` saying why it is refused."""
    oid = (oid or "").strip().removeprefix("urn:oid:")
    info = OID_CATALOGUE.get(oid)
    if info is None:
        hint = ""
        if oid.startswith("1.2.250.1.213.1.4."):
            hint = " (same arc as the INS OIDs but not one of them)"
        raise OidError(
            oid,
            f"OID {oid!r} is not an INS assigning authority{hint}; expected one of "
            + ", ".join(f"{o} ({i.type_code})" for o, i in OID_CATALOGUE.items() if not i.legacy),
        )
    if info.legacy and not allow_legacy:
        raise OidError(oid, f"OID {oid} is the legacy INS-C, not accepted since 2021 (INS = NIR or NIA only)",
                       rule="INS:oid-legacy")
    return info


def oid_for(kind: IdentifierKind, policy: Literal["real", "test"] = "real") -> str:
    """OID an INSi answer carries for a NIR/NIA under the configured policy.

    ``real``: what the qualif INSi returns for its fictitious persons (.8 / .9). ``test``: .10 for a NIR;
    no test-NIA OID exists, so a NIA keeps .9 (reference §2.3 and §6.2).
    """
    if kind == "NIA":
        return OID_INS_NIA
    return OID_INS_NIR if policy == "real" else OID_INS_NIR_TEST


# --------------------------------------------------------------------------- structure

UNKNOWN_MONTHS = frozenset({20, *range(30, 43), *range(51, 63)})
NIR_SEX_DIGITS = frozenset("12")
TEMPORARY_SEX_DIGITS = frozenset("3478")

_SHAPE = re.compile(r"^[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{6}$")
_KEY = re.compile(r"^[0-9]{2}$")


def _numeric13(number13: str) -> int:
    dept = number13[5:7]
    if dept == "2A":
        number13 = number13[:5] + "19" + number13[7:]
    elif dept == "2B":
        number13 = number13[:5] + "18" + number13[7:]
    return int(number13)


def compute_key(number13: str) -> str:
    """Key of the 13-character number: ``97 - (n mod 97)`` on 2 digits, 2A->19 and 2B->18."""
    number13 = number13.upper()
    if not _SHAPE.match(number13):
        raise NirError("NIR:format", f"{number13!r} is not 13 characters of the NIR shape (digits, 2A/2B for Corsica)")
    return f"{97 - _numeric13(number13) % 97:02d}"


def clean(value: str) -> str:
    """Strip the spaces and dots people type; upper-case the Corsican letters."""
    return re.sub(r"[\s.]", "", value or "").upper()


PlaceKind = Literal["metropolitan", "corsica", "overseas", "abroad"]


@dataclass
class Place:
    kind: PlaceKind
    cog: str  # 5-character COG code of the birthplace
    department: str | None = None
    commune: str | None = None
    country: str | None = None  # INSEE country code (3 digits after 99) when born abroad


@dataclass
class Explanation:
    input: str
    valid: bool
    number: str | None = None
    key: str | None = None
    expected_key: str | None = None
    key_valid: bool | None = None
    kind: str | None = None  # NIR, NIA, temporary, unknown (NIR or NIA: give the OID)
    sex: dict | None = None
    year: str | None = None
    month: dict | None = None
    place: dict | None = None
    order: str | None = None
    oid: dict | None = None
    issues: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _place(number13: str) -> Place:
    dept2 = number13[5:7]
    if dept2 == "99":
        return Place("abroad", number13[5:10], country=number13[7:10])
    if dept2 in {"97", "98"}:
        return Place("overseas", number13[5:10], department=number13[5:8], commune=number13[8:10])
    if dept2 in {"2A", "2B"}:
        return Place("corsica", number13[5:10], department=dept2, commune=number13[7:10])
    return Place("metropolitan", number13[5:10], department=dept2, commune=number13[7:10])


def explain(value: str, oid: str | None = None) -> Explanation:
    """Structured breakdown of a NIR/NIA (never raises): each part, its meaning and every broken rule."""
    raw = value
    value = clean(value)
    exp = Explanation(input=raw, valid=False)

    def issue(rule: str, message: str) -> None:
        exp.issues.append({"rule": rule, "message": message})

    if oid is not None:
        try:
            info = check_oid(oid, allow_legacy=True)
            exp.oid = {"oid": info.oid, "type": info.type_code, "label": info.label}
            if info.legacy:
                issue("INS:oid-legacy", f"OID {info.oid} is the legacy INS-C, not an INS (NIR/NIA)")
        except OidError as err:
            exp.oid = {"oid": err.oid, "type": None, "label": None}
            issue(err.rule, err.message)

    if len(value) not in (13, 15):
        issue("NIR:length", f"a NIR/NIA has 13 characters plus a 2-digit key (15); got {len(value)}")
        return exp
    number, key = value[:13], (value[13:] or None)
    exp.number, exp.key = number, key
    if not _SHAPE.match(number):
        issue("NIR:format", "13 digits expected, only the 7th may be A/B after a 2 (Corsica 2A/2B)")
        return exp
    exp.expected_key = compute_key(number)
    if key is None:
        issue("NIR:key-missing", "the 2-digit key is missing")
    elif not _KEY.match(key):
        issue("NIR:key-format", "the key is 2 digits")
    else:
        exp.key_valid = key == exp.expected_key
        if not exp.key_valid:
            issue("NIR:key", f"key {key} does not match 97 - (number mod 97) = {exp.expected_key}")

    sex = number[0]
    if sex in NIR_SEX_DIGITS:
        exp.sex = {"digit": sex, "meaning": "male" if sex == "1" else "female"}
    elif sex in TEMPORARY_SEX_DIGITS:
        exp.sex = {"digit": sex, "meaning": "temporary number (person being registered); not a NIR"}
        issue("NIR:temporary", f"sex digit {sex}: a temporary number, not a NIR nor a NIA")
    else:
        exp.sex = {"digit": sex, "meaning": "invalid"}
        issue("NIR:sex", f"sex digit {sex} is not 1 or 2 (3/4/7/8 are temporary numbers)")

    exp.year = number[1:3]
    month = int(number[3:5])
    if 1 <= month <= 12:
        exp.month = {"value": number[3:5], "known": True}
    elif month in UNKNOWN_MONTHS:
        exp.month = {"value": number[3:5], "known": False,
                     "meaning": "unknown birth month (fictitious month value); not to be compared with the birth date"}
    else:
        exp.month = {"value": number[3:5], "known": False, "meaning": "invalid"}
        issue("NIR:month", f"month {number[3:5]} is neither 01-12 nor an unknown-month value (20, 30-42, 51-62)")

    place = _place(number)
    exp.place = asdict(place)
    if place.kind == "metropolitan" and place.department == "00":
        issue("NIR:place", "department 00 does not exist")
    exp.order = number[10:13]
    if exp.order == "000":
        issue("NIR:order", "order number 000 does not exist")

    if sex in TEMPORARY_SEX_DIGITS:
        exp.kind = "temporary"  # whatever the OID says: a temporary number is neither a NIR nor a NIA
    elif exp.oid and exp.oid.get("type"):
        exp.kind = {"INS-NIA": "NIA", "INS-C": "INS-C"}.get(exp.oid["type"], "NIR")
    else:
        exp.kind = "NIR or NIA (formatted alike; only the OID tells them apart)"
    exp.valid = not exp.issues
    return exp


@dataclass(frozen=True)
class Matricule:
    number: str  # 13 characters
    key: str  # 2 digits
    kind: IdentifierKind | None  # None when no OID was given

    @property
    def ins(self) -> str:
        return self.number + self.key


def validate(value: str, oid: str | None = None) -> Matricule:
    """Return the matricule or raise :class:`NirError` (or :class:`OidError`) for the first broken rule."""
    if oid is not None:
        info = check_oid(oid)
    exp = explain(value, None)
    if exp.issues:
        first = exp.issues[0]
        raise NirError(first["rule"], first["message"])
    kind: IdentifierKind | None = None
    if oid is not None:
        kind = "NIA" if info.kind == "NIA" else "NIR"
    return Matricule(exp.number or "", exp.key or "", kind)


def is_valid(value: str, oid: str | None = None) -> bool:
    try:
        validate(value, oid)
    except (NirError, OidError):
        return False
    return True


def split(ins: str) -> tuple[str, str]:
    """15-character INS -> (13-character number, 2-digit key), without checking the key."""
    ins = clean(ins)
    return ins[:13], ins[13:15]


# --------------------------------------------------------------------------- generators

GeneratorKind = Literal["metropolitan", "corsica", "overseas", "abroad", "unknown_month"]

# A few real COG codes (INSEE) so generated birthplaces look plausible.
_METRO_COMMUNES = ["63220", "75056", "69123", "13055", "31555", "33063", "44109", "59350", "67482", "35238",
                   "34172", "06088", "21231", "87085", "29019", "76540", "38185", "57463", "45234", "80021"]
_CORSICA_COMMUNES = ["2A004", "2A041", "2A247", "2B033", "2B096", "2B050", "2A020", "2B020"]
_OVERSEAS_COMMUNES = ["97105", "97209", "97302", "97411", "97415", "97608", "97502", "98735"]
_COUNTRIES = ["99100", "99109", "99127", "99134", "99139", "99350", "99351", "99352", "99216", "99243"]


def generate(kind: GeneratorKind = "metropolitan", *, sex: str | None = None, year: int | None = None,
             month: int | None = None, rng: random.Random | None = None) -> str:
    """A synthetic 15-character NIR with a valid key (deterministic given ``rng``)."""
    rng = rng or random.Random()
    sex_digit = sex if sex in ("1", "2") else ("1" if sex == "M" else "2" if sex == "F" else rng.choice("12"))
    yy = f"{(year if year is not None else rng.randint(1930, 2024)) % 100:02d}"
    if kind == "unknown_month":
        mm = rng.choice(sorted(UNKNOWN_MONTHS))
    else:
        mm = month if month is not None else rng.randint(1, 12)
    place = {
        "metropolitan": _METRO_COMMUNES,
        "unknown_month": _METRO_COMMUNES,
        "corsica": _CORSICA_COMMUNES,
        "overseas": _OVERSEAS_COMMUNES,
        "abroad": _COUNTRIES,
    }[kind]
    cog = rng.choice(place)
    order = f"{rng.randint(1, 999):03d}"
    number = f"{sex_digit}{yy}{mm:02d}{cog}{order}"
    return number + compute_key(number)
