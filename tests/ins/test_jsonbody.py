"""app.ins.jsonbody: the orjson answer (fast path) is FastAPI's JSONResponse answer (plain path), byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ins.jsonbody import json_response


def _both(body: object, status: int = 200) -> tuple[tuple, tuple]:
    fast, plain = json_response(body, status, fast=True), json_response(body, status, fast=False)
    return ((fast.status_code, fast.headers["content-type"], fast.headers["content-length"], fast.body),
            (plain.status_code, plain.headers["content-type"], plain.headers["content-length"], plain.body))


@pytest.mark.parametrize("body", [
    {"CR": {"CodeCR": "01", "LibelleCR": "Aucune identite trouvee"}},
    {"result": "KO", "reasons": [{"rule": "INS:unknown", "message": "Identité récupérée — « ok »"}],
     "provisional": True, "INSACTIF": None},
    {"NomNaissance": "D'ARTAGNAN DE L'HERAULT", "INSHISTO": [], "n": 0, "big": 2 ** 53, "neg": -1},
    [], {}, "é", None,
])
@pytest.mark.parametrize("status", [200, 201])
def test_fast_and_plain_answers_are_the_same_bytes(body: object, status: int) -> None:
    fast, plain = _both(body, status)
    assert fast == plain
    assert fast[1] == "application/json"


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1)
    | st.text(st.characters(blacklist_categories=("Cs",))),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",))),
                                                                 inner, max_size=4),
    max_leaves=12,
)


@given(JSONISH)
def test_any_answer_of_strings_numbers_and_containers_is_the_same_bytes(body: object) -> None:
    fast, plain = _both(body)
    assert fast == plain
