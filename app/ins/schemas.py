"""Pydantic shapes of the INS domain: fixture / control-API bodies (INSi's own element names) and the
JSON facade requests. Validation names the field and the rule (``TraitError`` / ``NirError`` messages)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.ins import nir, traits
from app.ins.search import CardBeneficiary, InsRecord, PersonRecord
from app.shared.identifiers import OID_CATALOGUE, OID_INS_NIR


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NirNumberIn(_Strict):
    """A 13-character number of the NIR shape and, when given, its 2-digit key (:mod:`app.ins.nir`):
    ``Cle`` absent or null is "not given"; an empty one is refused."""

    NumIdentifiant: str = Field(max_length=20, description="13 characters of the NIR shape (INSi pattern "
                                "\\d{6}[A-Za-z0-9]\\d{6})", examples=["2751263220749"])
    Cle: str | None = Field(default=None, description="2-digit key (absent or null: not given)", examples=["74"])

    @field_validator("NumIdentifiant")
    @classmethod
    def _number(cls, v: str) -> str:
        v = nir.clean(v)
        if len(v) != 13:
            raise ValueError(f"[NIR:length] NumIdentifiant has 13 characters, got {len(v)}")
        try:
            nir.compute_key(v)
        except nir.NirError as err:
            raise ValueError(f"[{err.rule}] {err.message}") from None
        return v

    @field_validator("Cle")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is not None and not (len(v) == 2 and v.isascii() and v.isdigit()):
            raise ValueError(f"[NIR:key-format] Cle is 2 digits, got {v!r}")
        return v


class IdIndividuIn(NirNumberIn):
    TypeMatricule: str | None = Field(default=None, max_length=8, examples=["NIR"])


class InsEntry(_Strict):
    IdIndividu: IdIndividuIn
    OID: str = Field(examples=[OID_INS_NIR])
    DateDeb: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    DateFin: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")

    @field_validator("OID")
    @classmethod
    def _oid(cls, v: str) -> str:
        try:
            return nir.check_oid(v).oid
        except nir.OidError as err:
            raise ValueError(f"[{err.rule}] {err.message}") from None

    def record(self, *, check_key: bool = True) -> InsRecord:
        info = OID_CATALOGUE[self.OID]
        number = self.IdIndividu.NumIdentifiant
        key = self.IdIndividu.Cle or nir.compute_key(number)
        if check_key and key != nir.compute_key(number):
            raise ValueError(
                f"[NIR:key] key {key} of {number} does not match 97 - (number mod 97) = {nir.compute_key(number)} "
                "(set accept_invalid_key to keep a recorded key, as for HERMANN)"
            )
        return InsRecord(number, key, "NIA" if info.kind == "NIA" else "NIR",
                         self.IdIndividu.TypeMatricule, self.DateDeb, self.DateFin)


def _trait(check, value, field):
    try:
        return check(value, field)
    except traits.TraitError as err:
        raise ValueError(f"[{err.rule}] {err.message}") from None


class PersonIn(_Strict):
    """An INSi test identity (``TIQ`` traits + ``INSACTIF`` / ``INSHISTO``), as fixtures and
    ``POST /sandbox/v1/persons`` take it."""

    NomNaissance: str = Field(max_length=100, examples=["ADRUN"])
    ListePrenom: str = Field(max_length=255, examples=["ZOE"],
                             description="every birth prénom, civil-status order, space-separated")
    Sexe: Literal["M", "F"]
    DateNaissance: str = Field(examples=["1975-12-31"], description="DateLunaire: 00 allowed for day/month")
    LieuNaissance: str | None = Field(default=None, examples=["63220"], description="COG code")
    INSACTIF: InsEntry | None = None
    INSHISTO: list[InsEntry] = Field(default_factory=list, max_length=50)
    RangNaissance: str | None = Field(default=None, pattern=r"^[1-9][0-9]?$")
    fault: Literal["insi_102"] | None = Field(default=None, description="answer a siram_40/insi_102 technical fault")
    accept_invalid_key: bool = Field(default=False, description="keep recorded keys failing mod 97 (HERMANN)")
    source: str | None = None

    @field_validator("NomNaissance")
    @classmethod
    def _nom(cls, v: str) -> str:
        return _trait(traits.check_name, v, "NomNaissance")

    @field_validator("ListePrenom")
    @classmethod
    def _liste(cls, v: str) -> str:
        for token in traits.split_prenoms(v):
            _trait(traits.check_name, token, "ListePrenom")
        if not traits.split_prenoms(v):
            raise ValueError("[INSi:required] ListePrenom is required")
        return " ".join(traits.split_prenoms(v))

    @field_validator("DateNaissance")
    @classmethod
    def _date(cls, v: str) -> str:
        _trait(traits.parse_lunar_date, v, "DateNaissance")
        return v

    @field_validator("LieuNaissance")
    @classmethod
    def _lieu(cls, v: str | None) -> str | None:
        return _trait(traits.check_cog, v, "LieuNaissance")

    @model_validator(mode="after")
    def _ins(self) -> PersonIn:
        if self.INSACTIF is None and self.fault is None:
            raise ValueError("[INS:INSACTIF] a person needs INSACTIF (or a simulated fault)")
        self.record()  # key checks
        return self

    def record(self, id: int | None = None) -> PersonRecord:
        check = not self.accept_invalid_key
        return PersonRecord(
            nom_naissance=self.NomNaissance,
            liste_prenom=self.ListePrenom,
            sexe=self.Sexe,
            date_naissance=self.DateNaissance,
            lieu_naissance=self.LieuNaissance,
            ins_actif=self.INSACTIF.record(check_key=check) if self.INSACTIF else None,
            ins_histo=tuple(h.record(check_key=check) for h in self.INSHISTO),
            rang_naissance=self.RangNaissance,
            fault=self.fault,
            id=id,
        )


class Matricule(_Strict):
    NumIdentifiant: str = Field(max_length=20)
    Cle: str | None = Field(default=None, max_length=2)


class CardMatricule(NirNumberIn):
    """A matricule a Carte Vitale carries (``MatriculeOD`` of the insured person, ``MatriculeIndividu`` of a
    beneficiary): a :class:`NirNumberIn` whose key, when given, must be 97 - (number mod 97)."""

    @model_validator(mode="after")
    def _key_matches(self) -> CardMatricule:
        expected = nir.compute_key(self.NumIdentifiant)
        if self.Cle is not None and self.Cle != expected:
            raise ValueError(f"[NIR:key] Cle {self.Cle} of {self.NumIdentifiant} does not match "
                             f"97 - (number mod 97) = {expected}")
        return self


class BeneficiaryIn(_Strict):
    INS: str = Field(description="active INS (15 characters) of the person this beneficiary is",
                     examples=["275126322074974"])
    DateNaissance: str = Field(max_length=10)
    RangNaissance: str = Field(default="1", pattern=r"^[1-9][0-9]?$")
    NomNaissance: str | None = Field(default=None, max_length=100)
    MatriculeIndividu: CardMatricule | None = None

    @field_validator("INS")
    @classmethod
    def _ins(cls, v: str) -> str:
        v = nir.clean(v)
        if len(v) != 15:
            raise ValueError("[NIR:length] INS has 15 characters (13 + key)")
        return v

    def record(self) -> CardBeneficiary:
        return CardBeneficiary(
            ins=self.INS, date_naissance=self.DateNaissance, rang_naissance=self.RangNaissance,
            nom_naissance=self.NomNaissance,
            matricule_individu=self.MatriculeIndividu.NumIdentifiant if self.MatriculeIndividu else None,
        )


class CardIn(_Strict):
    """A simulated Carte Vitale: its insured person (ouvrant droit) and beneficiaries."""

    NumeroSerie: str | None = Field(default=None, max_length=64)
    MatriculeOD: CardMatricule
    BENEFICIAIRES: list[BeneficiaryIn] = Field(min_length=1, max_length=20)


class IdamIn(_Strict):
    """A software authorisation number (CNDA) INSi accepts in ``ContexteLPS/LPS/IDAM``."""

    IDAM: str = Field(min_length=1, max_length=64, examples=["SEGURSANDBOX01"])
    Nom: str | None = Field(default=None, max_length=255)
    source: str | None = None


class FixtureFile(_Strict):
    """A user fixture file: any of the three lists."""

    persons: list[PersonIn] = Field(default_factory=list)
    cards: list[CardIn] = Field(default_factory=list)
    idams: list[IdamIn] = Field(default_factory=list)


# --------------------------------------------------------------------------- JSON facade requests


class TraitsSearch(BaseModel):
    """Search by traits (``RECSANSVITALE``). Values must already be in INSi form (A-Z, no accents)."""

    model_config = ConfigDict(extra="forbid")
    NomNaissance: str = Field(examples=["ADRUN"])
    Prenom: list[str] | str = Field(examples=["ZOE"])
    Sexe: str = Field(examples=["F"])
    DateNaissance: str = Field(examples=["1975-12-31"])
    LieuNaissance: str | None = Field(default=None, examples=[None])


class VitaleSearch(BaseModel):
    """Search driven by a Carte Vitale read (``RECVITALE``)."""

    model_config = ConfigDict(extra="forbid")
    MatriculeOD: Matricule
    DateNaissance: str = Field(examples=["1975-12-31"])
    RangNaissance: str | None = Field(default=None, examples=["1"])
    NomNaissance: str | None = None
    MatriculeIndividu: Matricule | None = None


class InsFourni(BaseModel):
    model_config = ConfigDict(extra="forbid")
    IdIndividu: Matricule
    OID: str = Field(examples=[OID_INS_NIR])


class VerifyRequest(BaseModel):
    """Provisional verification shape ``IndividuVerifie{INSFourni, TraitsIdentiteIndividu}``."""

    model_config = ConfigDict(extra="forbid")
    INSFourni: InsFourni
    TraitsIdentiteIndividu: TraitsSearch

