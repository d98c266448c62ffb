"""The DMP's patient actions without the store: the labels a patient writes and who filed a document
(app/dmp/patient.py); the store-touching actions are tested over HTTP in tests/mes/api."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.dmp import patient
from app.dmp.exceptions import DmpError
from app.dmp.patch import TRE_A07, V3_CONFIDENTIALITY

N = (V3_CONFIDENTIALITY, "N", "normal")


def test_masking_adds_one_tre_a07_code_and_keeps_the_level() -> None:
    masked = patient._labels_with([list(N)], "MASQUE_PS", True)
    assert masked == [N, (TRE_A07, "MASQUE_PS", "Masqué aux professionnels de santé")]
    assert patient._labels_with(masked, "MASQUE_PS", True) == masked  # no duplicate
    assert patient._labels_with(masked, "MASQUE_PS", False) == [N]


def test_a_level_is_kept_or_added() -> None:
    assert patient._labels_with([], "MASQUE_PS", False) == [N]
    restricted = (V3_CONFIDENTIALITY, "R", "restricted")
    assert patient._labels_with([restricted], "INVISIBLE_REPRESENTANTS_LEGAUX", True)[0] == restricted


def test_at_most_four_codes() -> None:
    full = [N, (TRE_A07, "INVISIBLE_PATIENT", ""), (TRE_A07, "MASQUE_PSOCIAL", ""), (TRE_A07, "MASQUE_PT", "")]
    with pytest.raises(DmpError) as refused:
        patient._labels_with(full, "MASQUE_PS", True)
    assert refused.value.rule == "PDSm4DMP:confidentiality-1..4"


@pytest.mark.parametrize(("facility", "klass", "practice", "author", "origin"), [
    ("EXP_PATIENT", "90", "EXP_PATIENT", None, "patient"),
    ("EXP_PATIENT", "90", "EXP_PATIENT", "10001000016", "professional"),  # a professional's, whatever its codes
    ("SA01", "60", "AMO", None, "assurance_maladie"),
    ("SA01", "10", "ETABLISSEMENT", "10001000016", "professional"),
])
def test_origin(facility: str, klass: str, practice: str, author: str | None, origin: str) -> None:
    doc = SimpleNamespace(facility_code=facility, class_code=klass, practice_code=practice, author_rpps=author)
    assert patient.origin_of(doc) == origin  # type: ignore[arg-type]


def test_type_codes_come_from_j66() -> None:
    assert patient.type_code("11488-4").display
    with pytest.raises(DmpError):
        patient.type_code("00000-0")
