"""A submission's codes against the CI-SIS value sets (app/dmp/codes.py): refused by name, as the domain's error."""

from __future__ import annotations

import pytest

from app.dmp.codes import check_code
from app.dmp.exceptions import XDS_METADATA, DmpError, Kind
from app.dmp.submission import Code

LOINC = "http://loinc.org"


def test_a_code_of_the_set_passes_and_lenient_mode_takes_any():
    check_code("type", Code(LOINC, "11502-2"), expression="DocumentReference.type", lenient=False)
    check_code("type", Code(LOINC, "no-such-code"), expression="DocumentReference.type", lenient=True)


def test_a_code_outside_the_set_is_refused_naming_the_set_and_the_element():
    with pytest.raises(DmpError) as info:
        check_code("type", Code(LOINC, "no-such-code"), expression="DocumentReference.type", lenient=False,
                   rule_prefix="PDSm-simplified:")
    error = info.value
    assert (error.kind, error.xds_code, error.elements) == (Kind.INVALID, XDS_METADATA, ["DocumentReference.type"])
    assert error.rule.startswith("PDSm-simplified:type-") and "JDV" in error.english and error.french
