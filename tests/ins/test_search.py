"""The pure search and verification rules (app/ins/search.py), driven by the shipped fixtures."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from app.ins import national_base, nir, search, traits

FIXTURES = national_base.builtin_fixtures()

RECORDS = [p.record(i) for i, p in enumerate(FIXTURES.persons)]


SCENARIOS = json.loads((resources.files("app.ins") / "fixtures" / "scenarios.json").read_text())["scenarios"]


def real(rec: search.InsRecord) -> str:
    return nir.oid_for(rec.kind, "real")


@pytest.mark.parametrize("case", SCENARIOS, ids=[s["label"] for s in SCENARIOS])
def test_every_scenario_outcome(case: dict) -> None:
    q = case["RECSANSVITALE"]
    try:
        query = traits.check_query(q["NomNaissance"], q["Prenom"], q["Sexe"], q["DateNaissance"],
                                   q.get("LieuNaissance"))
    except traits.TraitError as err:
        assert case["CodeCR"] == "fault:insi_102" and err.rule == "INSi:charset"
        return
    out = search.search_by_traits(query, RECORDS)
    got = f"fault:{out.fault}" if out.fault else out.code
    assert got == case["CodeCR"]
    if case["INS"]:
        assert out.person.ins_actif.ins == case["INS"]
    if got == "00":
        assert out.label == "OK"
    elif got == "01":
        assert out.label == "Aucune identite trouvee" and out.person is None
    elif got == "02":
        assert out.label == "Plusieurs identites trouvees" and out.person is None


def _card_outcome(q: search.VitaleQuery) -> search.Outcome:
    cards = [search.Card(c.MatriculeOD.NumIdentifiant, tuple(b.record() for b in c.BENEFICIAIRES), c.NumeroSerie)
             for c in FIXTURES.cards]
    chosen = search.select_beneficiaries(q, cards)
    by_ins = {r.ins_actif.ins: r for r in RECORDS if r.ins_actif}
    return search.decide_vitale([by_ins[b.ins] for b in chosen])


def test_card_designates_the_beneficiary_not_the_holder() -> None:
    holder = next(c for c in FIXTURES.cards if c.NumeroSerie == "VITALE-ROUSSEAU-0001")
    od = holder.MatriculeOD.NumIdentifiant
    twin2 = _card_outcome(search.VitaleQuery(od, "2015-04-10", "2"))
    assert twin2.code == "00" and twin2.person.liste_prenom == "EMMA"
    twin1 = _card_outcome(search.VitaleQuery(od, "2015-04-10", "1"))
    assert twin1.person.liste_prenom == "LUCAS"
    both = _card_outcome(search.VitaleQuery(od, "2015-04-10", None))
    assert both.code == "02"
    spouse = _card_outcome(search.VitaleQuery(od, "1986-06-12", "1"))
    assert spouse.person.liste_prenom == "JULIE"
    assert _card_outcome(search.VitaleQuery(od, "1999-01-01", "1")).code == "01"
    assert _card_outcome(search.VitaleQuery("1999999999999", "2015-04-10", "1")).code == "01"


def test_verification() -> None:
    ecetinsi = next(r for r in RECORDS if r.nom_naissance == "ECETINSI")
    q = traits.check_query("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14")
    assert search.verify("109076322083489", "NIR", q, ecetinsi).result == "OK"
    old = search.verify("209076322083439", "NIR", q, ecetinsi)
    assert old.result == "KO" and old.historical and old.reasons[0]["rule"] == "INSi:verify-historical"
    wrong = search.verify("109076322083489", "NIR", traits.check_query("ECETINSI", "PIERRE", "M", "2009-07-14"),
                          ecetinsi)
    assert wrong.result == "KO" and wrong.reasons[0]["rule"] == "INSi:verify-Prenom"
    assert search.verify("109076322083489", "NIA", q, ecetinsi).reasons[0]["rule"] == "INSi:verify-oid"
    assert search.verify("100000000000000", "NIR", q, None).result == "KO"


@given(st.text(max_size=4))
def test_card_rank_of_any_text(rank: str) -> None:
    holder = next(c for c in FIXTURES.cards if c.NumeroSerie == "VITALE-ROUSSEAU-0001")
    out = _card_outcome(search.VitaleQuery(holder.MatriculeOD.NumIdentifiant, "2015-04-10", rank or None))
    assert out.code in ("00", "01", "02")
