"""The DMP's one error model (app/dmp/exceptions.py): a kind, the rule, both texts, the element, the XDS code;
several independent refusals at once, the most important speaking for them."""

from __future__ import annotations

import pytest

from app.dmp.exceptions import XDS_DUPLICATE, DmpError, DmpErrors, Kind, Refusals, rank


def _error(kind: Kind, rule: str = "r") -> DmpError:
    return DmpError(kind, f"{kind} in English", rule=rule, french=f"{kind} en français", element="X.y")


def test_an_error_carries_what_every_face_needs():
    error = DmpError(Kind.DUPLICATE, "already there", rule="XDS:uniqueId-unique", french="déjà là",
                     element="DocumentReference.masterIdentifier", xds_code=XDS_DUPLICATE)
    assert (error.kind, error.rule, error.english, error.french) == (Kind.DUPLICATE, "XDS:uniqueId-unique",
                                                                     "already there", "déjà là")
    assert error.elements == ["DocumentReference.masterIdentifier"] and error.xds_code == XDS_DUPLICATE
    assert error.errors == [error] and error.entry is None and str(error) == "already there"


def test_precedence_invalid_then_unprocessable_then_not_allowed_then_not_found_then_conflict():
    ordered = [Kind.INVALID, Kind.UNPROCESSABLE, Kind.NOT_ALLOWED, Kind.NOT_FOUND, Kind.CONFLICT]
    assert [rank(k) for k in ordered] == sorted(rank(k) for k in ordered)
    assert rank(Kind.REQUIRED) == rank(Kind.INVALID) and rank(Kind.DUPLICATE) == rank(Kind.CONFLICT)
    errors = DmpErrors([_error(Kind.DUPLICATE, "a"), _error(Kind.NOT_FOUND, "b"), _error(Kind.UNKNOWN_CODE, "c"),
                        _error(Kind.INVALID_CHANGE, "d")])
    assert (errors.kind, errors.rule) == (Kind.UNKNOWN_CODE, "c")  # the first of the most important
    assert [e.rule for e in errors.errors] == ["a", "b", "c", "d"]
    with pytest.raises(ValueError):
        DmpErrors([])


def test_the_collector_keeps_every_refusal_and_raises_them_together():
    refusals = Refusals()
    refusals.raise_any()  # nothing refused: nothing raised
    with refusals.check():
        raise _error(Kind.CONFLICT, "first")
    with pytest.raises(DmpError) as one:
        refusals.raise_any()
    assert one.value.rule == "first" and not isinstance(one.value, DmpErrors)
    with refusals.check():
        raise DmpErrors([_error(Kind.INVALID, "second"), _error(Kind.FORBIDDEN, "third")])
    with pytest.raises(DmpErrors) as many:
        refusals.raise_any()
    assert [e.rule for e in many.value.errors] == ["first", "second", "third"] and many.value.rule == "second"
