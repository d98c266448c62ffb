"""The RNIV identity status engine (app/ins/rniv.py)."""

from __future__ import annotations

import pytest
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from app.ins import rniv


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
