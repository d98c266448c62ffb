"""INSi trait rules (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ins import traits


@pytest.mark.parametrize("value", [
    "ADRUN", "D'ARTAGNAN DE L'HERAULT", "MARTIN--DURAND", "SAINT-JUST", "DE VINCI", "PIERRE-ALAIN", "O'NEILL",
])
def test_insi_character_set_accepts(value: str) -> None:
    assert traits.check_name(value, "NomNaissance") == value


@pytest.mark.parametrize(("value", "suggestion"), [
    ("D’ÆION", "D'AEION"),  # CNDA 2.03 case 3: typographic apostrophe and ligature
    ("CŒUR", "COEUR"),
    ("García-Hämmadi", "GARCIA-HAMMADI"),
    ("zoé", "ZOE"),
    ("HÉLÈNE", "HELENE"),
])
def test_cnda_characters_are_refused_with_their_insi_form(value: str, suggestion: str) -> None:
    with pytest.raises(traits.TraitError) as err:
        traits.check_name(value, "NomNaissance")
    assert err.value.rule == "INSi:charset"
    assert err.value.field == "NomNaissance"
    assert err.value.suggestion == suggestion
    assert traits.normalise(value) == suggestion


@pytest.mark.parametrize("value", ["DUPONT2", "A---B", "-MARTIN", "MARTIN-", "DE  VINCI", "O''NEILL", " ZOE"])
def test_digits_and_misplaced_separators_are_refused(value: str) -> None:
    with pytest.raises(traits.TraitError) as err:
        traits.check_name(value, "Prenom")
    assert err.value.rule == "INSi:charset"


def test_first_prenom_and_list() -> None:
    assert traits.first_prenom("PIERRE-ALAIN MURIEL FLORIANT") == "PIERRE-ALAIN"
    assert traits.split_prenoms(["OLA", "CATARINA BELLA"]) == ["OLA", "CATARINA", "BELLA"]


@pytest.mark.parametrize(("query", "matches"), [
    (["CATARINA"], True), (["BELLA"], True), (["OLA"], False), (["CATARINA BELLA"], True),
    (["CATARINA", "BELLA"], True), (["BELLA CATARINA"], False), (["OLA CATARINA BELLA"], False), ([], True),
])
def test_prenom_matching(query: list[str], matches: bool) -> None:
    assert traits.prenoms_match(query, "CATARINA BELLA") is matches


def test_compound_prenom_is_one_prenom() -> None:
    assert traits.prenoms_match(["PIERRE-ALAIN"], "PIERRE-ALAIN MURIEL FLORIANT")
    assert not traits.prenoms_match(["PIERRE"], "PIERRE-ALAIN MURIEL FLORIANT")


@pytest.mark.parametrize(("value", "fhir", "lunar"), [
    ("1975-12-31", "1975-12-31", False), ("1950-05-00", "1950-05", True), ("1948-00-00", "1948", True),
    ("2000-02-29", "2000-02-29", False),
])
def test_lunar_dates(value: str, fhir: str, lunar: bool) -> None:
    d = traits.parse_lunar_date(value)
    assert d.insi == value and d.fhir == fhir and d.is_lunar is lunar


@pytest.mark.parametrize("value", ["1975-13-01", "1975-02-30", "1948-00-12", "75-12-31", "1975/12/31", "",
                                   "0000-01-01", "2001-02-29"])
def test_impossible_dates_are_refused(value: str) -> None:
    with pytest.raises(traits.TraitError):
        traits.parse_lunar_date(value)


def test_sex_and_cog() -> None:
    assert traits.check_sex("F") == "F"
    with pytest.raises(traits.TraitError) as err:
        traits.check_sex("U")
    assert err.value.rule == "INSi:Sexe"
    for ok in ("63220", "2A004", "2B033", "97105", "99100"):
        assert traits.check_cog(ok) == ok
    for bad in ("75001A", "2C004", "6322", "PARIS"):
        with pytest.raises(traits.TraitError):
            traits.check_cog(bad)


def test_query_requires_the_four_traits() -> None:
    for args, field in [
        ((None, "ZOE", "F", "1975-12-31"), "NomNaissance"), (("ADRUN", None, "F", "1975-12-31"), "Prenom"),
        (("ADRUN", "ZOE", None, "1975-12-31"), "Sexe"), (("ADRUN", "ZOE", "F", None), "DateNaissance"),
    ]:
        with pytest.raises(traits.TraitError) as err:
            traits.check_query(*args)
        assert err.value.field == field and err.value.rule == "INSi:required"


@given(st.text(alphabet="abcdeéèêàçôùÆŒœæ’'- ABCXYZ", max_size=30))
def test_normalise_is_idempotent_and_yields_the_insi_set(value: str) -> None:
    once = traits.normalise(value)
    assert traits.normalise(once) == once
    assert once == once.upper()
    assert all(c.isascii() for c in once)
