"""INSi identity traits: character set, normalisation, prénoms, lunar dates, sex, COG. Pure: no I/O.

Sources (reference ``ins.md`` §1.3, §1.5, §3.3):
- INSi values are upper-case A-Z without diacritics; separators: space, apostrophe, hyphen and the double
  hyphen of a double family name. padoa/tlsi-ins validates with ``^[A-Z]+(?:(?:-{1,2}|[' ])[A-Z]+)*$``
  (``src/ins/class/insi-person.class.ts``).
- CNDA test 2.03 case 3 feeds ``D’ÆION`` / ``CŒUR``: the software must refuse or transliterate them
  (``D'AEION`` / ``COEUR``) before calling INSi.
- ``ListePrenom`` = every birth prénom in civil-status order, space-separated; the first prénom is its first
  token, a compound prénom keeping its hyphen (padoa ``insi-helper.ts``).
- ``DateNaissance`` is typed ``DateLunaire`` (``\\d{4}-\\d{2}-\\d{2}``); ``00`` for an unknown day/month is
  [recalled, unconfirmed] RNIPP practice: accepted and echoed without calendar validation of the 00 parts.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from app.ins.exceptions import TraitError

NAME_PATTERN = re.compile(r"^[A-Z]+(?:(?:-{1,2}|[' ])[A-Z]+)*$")
DATE_PATTERN = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
COG_PATTERN = re.compile(r"^(?:[0-9]{2}|2[AB])[0-9]{3}$")
# A matricule as INSi types it (INSi_RESULTAT_INS.xsd NumIdentifiant, reference §1.5) and its 2-digit key
MATRICULE_PATTERN = re.compile(r"^[0-9]{6}[A-Za-z0-9][0-9]{6}$")
KEY_PATTERN = re.compile(r"^[0-9]{2}$")
SEXES = ("M", "F")

# Characters a client may have to transliterate; the CNDA 2.03 case 3 ones first.
_TRANSLITERATION = {
    "’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "′": "'",
    "Æ": "AE", "æ": "AE", "Œ": "OE", "œ": "OE", "ß": "SS", "Ø": "O", "ø": "O", "Ð": "D", "ð": "D",
    "Þ": "TH", "þ": "TH", "Ł": "L", "ł": "L", "‐": "-", "‑": "-", "–": "-", "—": "-",
}


def normalise(value: str) -> str:
    """The INSi form of a typed name: transliterate ’ Æ Œ, strip accents, upper-case, collapse spaces.

    Digits and other symbols are kept (so :func:`check_name` still refuses them): a normaliser must not
    silently change an identity beyond what the CNDA cases show.
    """
    out = []
    for ch in value or "":
        ch = _TRANSLITERATION.get(ch, ch)
        decomposed = unicodedata.normalize("NFKD", ch)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    text = "".join(out).upper()
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s*(-{1,2})\s*", r"\1", text)
    text = re.sub(r"\s*'\s*", "'", text)
    return text


def check_name(value: str | None, field: str, *, required: bool = True) -> str | None:
    """Return ``value`` if it is in INSi's character set, else raise :class:`TraitError`."""
    if value is None or value == "":
        if required:
            raise TraitError(field, "INSi:required", f"{field} is required")
        return None
    if NAME_PATTERN.match(value):
        return value
    suggestion: str | None = normalise(value)
    if not NAME_PATTERN.match(suggestion or ""):
        suggestion = None
    bad = sorted({ch for ch in value if not (ch.isascii() and (ch.isupper() or ch in " '-"))})
    detail = f" (characters not allowed: {' '.join(repr(c) for c in bad)})" if bad else " (separator misplaced)"
    raise TraitError(
        field,
        "INSi:charset",
        f"{field} {value!r} is outside the INSi character set: A-Z, space, apostrophe, hyphen, double "
        f"hyphen{detail}" + (f"; INSi form: {suggestion!r}" if suggestion else ""),
        suggestion,
    )


def split_prenoms(values: list[str] | str | None) -> list[str]:
    """The prénom tokens of one or more ``Prenom`` values (space-separated; hyphens kept)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    tokens: list[str] = []
    for v in values:
        tokens.extend(t for t in (v or "").split(" ") if t)
    return tokens


def first_prenom(liste_prenom: str) -> str:
    """Premier prénom de naissance: the first token of ``ListePrenom`` (a compound prénom keeps its hyphen)."""
    tokens = split_prenoms(liste_prenom)
    return tokens[0] if tokens else ""


def prenoms_match(query: list[str], liste_prenom: str) -> bool:
    """Does the queried prénom (or list) match this person's ``ListePrenom``?

    Sandbox rule (reference §7 "Matching rules"): one queried prénom matches any single prénom of the list;
    several prénoms match only the whole list in civil-status order. So TCHITCHI ``OLA`` -> no match,
    ``CATARINA`` -> match, ``OLA CATARINA BELLA`` -> no match (the list is ``CATARINA BELLA``).
    """
    tokens = split_prenoms(query)
    if not tokens:
        return True
    listed = split_prenoms(liste_prenom)
    if len(tokens) == 1:
        return tokens[0] in listed
    return tokens == listed


@dataclass(frozen=True)
class LunarDate:
    year: int
    month: int | None  # None when the month is unknown (00)
    day: int | None  # None when the day is unknown (00)

    @property
    def insi(self) -> str:
        return f"{self.year:04d}-{self.month or 0:02d}-{self.day or 0:02d}"

    @property
    def is_lunar(self) -> bool:
        return self.month is None or self.day is None

    @property
    def fhir(self) -> str:
        """FHIR ``date`` (a partial date when day or month is unknown: ``1960``, ``1960-05``)."""
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return self.insi


def parse_lunar_date(value: str | None, field: str = "DateNaissance") -> LunarDate:
    if not value:
        raise TraitError(field, "INSi:required", f"{field} is required")
    m = DATE_PATTERN.match(value)
    if not m:
        raise TraitError(field, "INSi:DateLunaire", f"{field} {value!r} is not YYYY-MM-DD (DateLunaire)")
    year, month, day = (int(g) for g in m.groups())
    if year == 0 or month > 12 or day > 31:
        raise TraitError(field, "INSi:DateLunaire", f"{field} {value!r} is not a possible date")
    if month == 0 and day != 0:
        raise TraitError(field, "INSi:DateLunaire",
                         f"{field} {value!r}: an unknown month (00) needs an unknown day (00)")
    if month and day:
        try:
            dt.date(year, month, day)
        except ValueError:
            raise TraitError(field, "INSi:DateLunaire", f"{field} {value!r} is not a calendar date") from None
    return LunarDate(year, month or None, day or None)


def check_sex(value: str | None, field: str = "Sexe", *, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise TraitError(field, "INSi:required", f"{field} is required")
        return None
    if value not in SEXES:
        raise TraitError(field, "INSi:Sexe", f"{field} {value!r}: INSi knows M or F only")
    return value


def check_cog(value: str | None, field: str = "LieuNaissance", *, required: bool = False) -> str | None:
    """5-character COG (INSEE commune or 99xxx country), not a postal code."""
    if value is None or value == "":
        if required:
            raise TraitError(field, "INSi:required", f"{field} is required")
        return None
    if not COG_PATTERN.match(value):
        raise TraitError(field, "INSi:COG",
                         f"{field} {value!r} is not a 5-character COG code (e.g. 63220, 2A004, 99100)")
    return value


@dataclass(frozen=True)
class TraitQuery:
    """A search by traits (``RECSANSVITALE``), already checked."""

    nom_naissance: str
    prenoms: tuple[str, ...]
    sexe: str | None
    date_naissance: str | None
    lieu_naissance: str | None = None


def check_query(
    nom_naissance: str | None,
    prenoms: list[str] | str | None,
    sexe: str | None,
    date_naissance: str | None,
    lieu_naissance: str | None = None,
) -> TraitQuery:
    """Validate a trait search and return it; raise :class:`TraitError` for the first broken rule.

    Birth name, a prénom, sex and birth date are required here: every client observed sends them
    (padoa ``insi-person.class.ts``), and INSi itself cannot search on less.
    """
    check_name(nom_naissance, "NomNaissance")
    if isinstance(prenoms, str):
        prenoms = [prenoms]
    prenoms = [p for p in (prenoms or []) if p is not None]
    if not prenoms or not any(prenoms):
        raise TraitError("Prenom", "INSi:required", "Prenom is required")
    for p in prenoms:
        for token in split_prenoms(p):
            check_name(token, "Prenom")
    check_sex(sexe)
    parse_lunar_date(date_naissance)
    check_cog(lieu_naissance)
    return TraitQuery(nom_naissance or "", tuple(prenoms), sexe, date_naissance, lieu_naissance or None)


def check_matricule(number: str | None, key: str | None, field: str) -> None:
    """``NumIdentifiant`` (13 characters, only the 7th may be a letter: ``2A``/``2B``) and ``Cle`` (2 digits)
    of a ``Matricule`` sent to INSi, when present. The key is not checked mod 97: INSi's own answers carry
    keys that fail it (HERMANN, reference §6.3)."""
    if number and not MATRICULE_PATTERN.match(number):
        raise TraitError(f"{field}.NumIdentifiant", "INSi:matricule",
                         f"{field}.NumIdentifiant {number!r} is not a 13-character matricule (6 digits, a digit "
                         "or letter, 6 digits; the key goes in Cle)")
    if key and not KEY_PATTERN.match(key):
        raise TraitError(f"{field}.Cle", "INSi:matricule", f"{field}.Cle {key!r} is not a 2-digit key")


def check_vitale(
    matricules: list[tuple[str, str | None, str | None]],
    nom_naissance: str | None,
    date_naissance: str | None,
) -> None:
    """The values of a Carte Vitale search (``RECVITALE``), checked with the rules of the trait search and in
    the element order of the XSD: each ``(field, NumIdentifiant, Cle)`` of ``matricules``, then the birth name
    in INSi's character set (:func:`check_name`, so ``D’ÆION`` is refused with rule ``INSi:charset`` exactly as
    in ``RECSANSVITALE``), then the ``DateLunaire``. All are optional here (the caller decides what is
    required); ``RangNaissance`` is free text in the XSD and is not checked. Raises :class:`TraitError`."""
    for field, number, key in matricules:
        check_matricule(number, key, field)
    check_name(nom_naissance, "NomNaissance", required=False)
    if date_naissance:
        parse_lunar_date(date_naissance)
