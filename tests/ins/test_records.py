"""app.ins.records: a row of ins_person read as the rules' PersonRecord, whichever driver returned it."""

from __future__ import annotations

import json

from app.ins import records, search


def _row(histo: object) -> tuple:
    return (7, "ECETINSI", "PIERRE-ALAIN MURIEL FLORIANT", "M", "2009-07-14", "63220", None, "1090763220834", "89",
            "NIR", None, None, None, histo, None)


def test_history_as_a_list_or_as_json_text_reads_the_same() -> None:
    histo = [{"number": "2090763220834", "key": "39", "kind": "NIR", "type": None, "deb": "2019-03-01",
              "fin": "2019-02-28"}]
    person = records.record(_row(histo))
    assert records.record(_row(json.dumps(histo))) == person  # asyncpg returns JSON columns as text
    assert person.ins_actif == search.InsRecord("1090763220834", "89", "NIR", None, None, None)
    assert [h.ins for h in person.ins_histo] == ["209076322083439"]
    assert records.histo_json(person) == histo
    assert len(records.PERSON_COLUMNS) == len(_row(None))


def test_no_history_and_no_active_ins() -> None:
    for empty in (None, "[]", [], ""):
        assert records.record(_row(empty)).ins_histo == ()
    fault = records.record((8, "D'AEION", "COEUR", "M", "1987-01-01", None, None, None, None, None, None, None,
                            None, [], "insi_102"))
    assert fault.ins_actif is None and fault.fault == "insi_102"
