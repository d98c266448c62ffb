"""app.ins.synthetic: bulk test persons in the fixture shape (the bench's 10,000), valid and distinct."""

from __future__ import annotations

from app.ins import nir, synthetic
from app.ins.schemas import FixtureFile


def test_bulk_persons_are_valid_distinct_and_reproducible() -> None:
    persons = list(synthetic.bulk_persons(2500))
    fixture = FixtureFile.model_validate({"persons": persons})  # the control API's own checks
    numbers = [p.INSACTIF.IdIndividu.NumIdentifiant for p in fixture.persons if p.INSACTIF]
    assert len(set(numbers)) == len(numbers) == 2500
    assert all(nir.is_valid(p["INSACTIF"]["IdIndividu"]["NumIdentifiant"] + p["INSACTIF"]["IdIndividu"]["Cle"])
               for p in persons)
    assert list(synthetic.bulk_persons(50)) == persons[:50]
