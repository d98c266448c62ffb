"""Pure search, verification, FHIR and RNIV rules, driven by the shipped fixtures."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from fhir.resources.R4B.patient import Patient

from app.ins import fhir, national_base, nir, rniv, search, traits

FIXTURES = national_base.builtin_fixtures()
RECORDS = [p.record(i) for i, p in enumerate(FIXTURES.persons)]
SCENARIOS = json.loads((resources.files("app.ins") / "fixtures" / "scenarios.json").read_text())["scenarios"]


def real(rec: search.InsRecord) -> str:
    return nir.oid_for(rec.kind, "real")


def test_fixtures_cover_the_reference_and_60_synthetic_persons() -> None:
    names = {(p.NomNaissance, p.ListePrenom) for p in FIXTURES.persons}
    for expected in [("ADRUN", "ZOE"), ("ADRTROIS", "DOMINIQUE"), ("ADRTROIS", "TOUSSAINT"), ("ECETINSI",
                     "PIERRE-ALAIN MURIEL FLORIANT"), ("PROVISOIRE", "MATRICULE"), ("CORSE", "ANTHONY"),
                     ("HERMANN", "GATIEN"), ("TCHITCHI", "CATARINA BELLA"), ("DE VINCI", "LEONARDO"),
                     ("D'AEION", "COEUR"), ("D'ARTAGNAN DE L'HERAULT", "PIERRE-ALAIN MURIEL FLORIANT")]:
        assert expected in names
    synthetic = [p for p in FIXTURES.persons if (p.source or "").startswith("sandbox synthetic")]
    assert len(synthetic) >= 60
    # every key is valid except HERMANN's recorded ones
    for p in FIXTURES.persons:
        for entry in ([p.INSACTIF] if p.INSACTIF else []) + p.INSHISTO:
            number, key = entry.IdIndividu.NumIdentifiant, entry.IdIndividu.Cle
            assert (nir.compute_key(number) == key) != (p.NomNaissance == "HERMANN" and number + key in
                                                        ("181036322045660", "281036322045610"))
    categories = " ".join(p.source for p in synthetic)
    for word in ("homonym", "double family name", "born abroad", "overseas", "unknown birth day", "twin",
                 "card", "NIA"):
        assert word in categories
    assert len(FIXTURES.cards) >= 5 and any(len(c.BENEFICIAIRES) >= 3 for c in FIXTURES.cards)


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


@pytest.mark.parametrize("record", [r for r in RECORDS if r.ins_actif], ids=lambda r: r.nom_naissance)
def test_every_fixture_person_is_a_valid_fr_core_patient(record: search.PersonRecord) -> None:
    res = fhir.patient(record, real, date_insi="2026-11-24")
    Patient.model_validate(res)
    assert res["meta"]["profile"] == [fhir.PROFILE_PATIENT_INS]
    name = res["name"][0]
    assert name["given"] == [traits.first_prenom(record.liste_prenom)]
    assert name["extension"][0] == {"url": fhir.EXT_BIRTH_LIST, "valueString": record.liste_prenom}
    ident = res["identifier"][0]
    assert ident["value"] == record.ins_actif.ins
    assert ident["system"] == f"urn:oid:{real(record.ins_actif)}"
    assert ident["use"] == ("temp" if record.ins_actif.kind == "NIA" else "official")


def test_patient_details() -> None:
    ecetinsi = next(r for r in RECORDS if r.nom_naissance == "ECETINSI")
    res = fhir.patient(ecetinsi, lambda r: nir.oid_for(r.kind, "test"), status="QUAL", validation_mode="CN")
    assert [i["use"] for i in res["identifier"]] == ["official", "old"]
    assert res["identifier"][0]["type"]["coding"][0]["code"] == "INS-NIR-TEST"
    rel = {e["url"]: e for e in res["extension"][0]["extension"]}
    assert rel["identityStatus"]["valueCoding"]["code"] == "QUAL"
    assert rel["validationMode"]["valueCoding"]["code"] == "CN"
    place = res["extension"][1]["valueAddress"]["extension"][0]
    assert place["url"] == fhir.EXT_INSEE and place["valueCoding"]["code"] == "63220"
    old = fhir.patient(ecetinsi, real, status="QUAL", status_system="old")
    assert old["extension"][0]["extension"][0]["valueCoding"]["code"] == "VALI"
    assert old["extension"][0]["extension"][0]["valueCoding"]["system"] == fhir.CS_STATUS_OLD
    lunar = next(r for r in RECORDS if r.date_naissance == "1948-00-00")
    assert fhir.patient(lunar, real)["birthDate"] == "1948"
    corse = next(r for r in RECORDS if r.nom_naissance == "CORSE")
    assert len(fhir.patient(corse, real)["identifier"]) == 1  # the repeated active INS is not duplicated


@pytest.mark.parametrize(("events", "status"), [
    ([], "PROV"),
    ([{"type": "insi_ok"}], "RECUP"),
    ([{"type": "document", "mode": "CN"}], "VALI"),
    ([{"type": "insi_ok"}, {"type": "document", "mode": "PA"}], "QUAL"),
    ([{"type": "document", "mode": "CS"}, {"type": "insi_ok"}], "QUAL"),
    ([{"type": "document", "mode": "AV"}], "QUAL"),
    ([{"type": "insi_ok"}, {"type": "document", "mode": "CN"}, {"type": "strict_trait_edit", "trait": "Sexe"}],
     "PROV"),
    ([{"type": "insi_ok"}, {"type": "document", "mode": "CN"}, {"type": "attribute_add", "attribute": "DOUT"}],
     "PROV"),
    ([{"type": "insi_ok"}, {"type": "attribute_add", "attribute": "HOMD"}], "RECUP"),
    ([{"type": "insi_ok"}, {"type": "document", "mode": "CN"}, {"type": "insi_ko"}], "VALI"),
])
def test_rniv_statuses(events: list[dict], status: str) -> None:
    res = rniv.run(events)
    assert res.state.status == status
    assert res.state.shareable is (status == "QUAL")


def test_rniv_refusals() -> None:
    doubtful = rniv.run([{"type": "attribute_add", "attribute": "FICT"}, {"type": "insi_ok"}])
    assert doubtful.state.status == "PROV" and doubtful.steps[1].rule == "RNIV:EXI-SI-09"
    lunar = rniv.run([{"type": "insi_ok", "DateNaissance": "1950-05-00"}])
    assert lunar.state.status == "PROV" and lunar.steps[0].rule == "INS:rule-11"
    empty = rniv.run([{"type": "insi_ok", "NomNaissance": ""}])
    assert empty.steps[0].rule == "INS:rule-12"
    both = rniv.run([{"type": "attribute_add", "attribute": "FICT"}, {"type": "attribute_add", "attribute": "DOUT"}])
    assert both.steps[1].rule == "RNIV:DOUT-FICT"
    adult = rniv.run([{"type": "document", "mode": "LEP"}], initial=rniv.IdentityState(minor=False))
    assert adult.state.status == "PROV" and adult.steps[0].rule == "RNIV:document-minor"
    with pytest.raises(rniv.RnivError):
        rniv.run([{"type": "document", "mode": "PERMIS"}])
    with pytest.raises(rniv.RnivError):
        rniv.run([{"type": "teleport"}])


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                       lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                       max_leaves=8)
EVENT = st.fixed_dictionaries({"type": st.sampled_from(["insi_ok", "insi_ko", "document", "attribute_add",
                                                        "attribute_remove", "strict_trait_edit", "other"])},
                              optional={"mode": JSONISH, "attribute": JSONISH, "trait": JSONISH,
                                        "DateNaissance": JSONISH, "NomNaissance": JSONISH})


@given(st.lists(EVENT, max_size=6))
def test_rniv_engine_never_fails_on_odd_events(events: list[dict]) -> None:
    try:
        res = rniv.run(events)
    except rniv.RnivError:
        return
    assert res.state.status in rniv.STATUSES


@given(st.text(max_size=4))
def test_card_rank_of_any_text(rank: str) -> None:
    holder = next(c for c in FIXTURES.cards if c.NumeroSerie == "VITALE-ROUSSEAU-0001")
    out = _card_outcome(search.VitaleQuery(holder.MatriculeOD.NumIdentifiant, "2015-04-10", rank or None))
    assert out.code in ("00", "01", "02")
