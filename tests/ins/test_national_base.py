"""The contents of the simulated national base (app/ins/national_base.py): shipped fixtures, seed."""

from __future__ import annotations

from app.ins import national_base, nir, service

FIXTURES = national_base.builtin_fixtures()


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


async def test_seed_is_idempotent(client, session, settings):
    before = len(await service.list_identities(session))
    await national_base.seed(session, settings)
    await session.flush()
    assert len(await service.list_identities(session)) == before
