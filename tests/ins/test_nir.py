"""NIR / NIA rules and the OID catalogue (pure), with property tests."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ins import nir
from app.shared.identifiers import OID_INS_C, OID_INS_NIA, OID_INS_NIR, OID_INS_NIR_DEMO, OID_INS_NIR_TEST

# Matricules and keys returned by the qualif INSi (reference ins.md §4).
RECORDED = [
    ("2751263220749", "74"), ("297022A020778", "78"), ("160012B020777", "13"), ("1090763220834", "89"),
    ("2090763220834", "39"), ("2090663220123", "55"), ("1090763220888", "35"), ("180032B020401", "23"),
    ("2360663220836", "56"), ("1100863220830", "60"), ("1010663220754", "60"),
]


@pytest.mark.parametrize(("number", "key"), RECORDED)
def test_key_of_recorded_test_persons(number: str, key: str) -> None:
    assert nir.compute_key(number) == key
    assert nir.is_valid(number + key)


def test_corsica_reads_2a_as_19_and_2b_as_18() -> None:
    assert nir.compute_key("297022A020778") == f"{97 - int('2970219020778') % 97:02d}"
    assert nir.compute_key("160012B020777") == f"{97 - int('1600118020777') % 97:02d}"
    assert nir.explain("297022A02077878").place == {
        "kind": "corsica", "cog": "2A020", "department": "2A", "commune": "020", "country": None}


def test_hermann_recorded_keys_fail_mod_97() -> None:
    exp = nir.explain("181036322045660")
    assert not exp.valid and exp.expected_key == "76" and exp.issues[0]["rule"] == "NIR:key"
    assert nir.compute_key("2810363220456") == "26"


@pytest.mark.parametrize("month", ["20", "30", "35", "42", "51", "62"])
def test_unknown_month_values_are_accepted(month: str) -> None:
    number = f"148{month}99350123"
    exp = nir.explain(number + nir.compute_key(number))
    assert exp.valid and exp.month["known"] is False


@pytest.mark.parametrize("month", ["00", "13", "19", "43", "50", "63", "99"])
def test_impossible_months_are_refused(month: str) -> None:
    number = f"148{month}63220123"
    with pytest.raises(nir.NirError) as err:
        nir.validate(number + nir.compute_key(number))
    assert err.value.rule == "NIR:month"


@pytest.mark.parametrize("sex", "3478")
def test_temporary_numbers_are_not_nirs(sex: str) -> None:
    number = f"{sex}8001632201234"[:13]
    exp = nir.explain(number + nir.compute_key(number))
    assert exp.kind == "temporary"
    assert any(i["rule"] == "NIR:temporary" for i in exp.issues)
    with pytest.raises(nir.NirError):
        nir.validate(number + nir.compute_key(number))


def test_overseas_and_abroad_places() -> None:
    overseas = nir.explain("1700297105001" + nir.compute_key("1700297105001")).place
    assert overseas["kind"] == "overseas" and overseas["department"] == "971" and overseas["commune"] == "05"
    abroad = nir.explain("1790499243001" + nir.compute_key("1790499243001")).place
    assert abroad["kind"] == "abroad" and abroad["country"] == "243"


def test_nir_and_nia_are_told_apart_by_oid_only() -> None:
    ins = "109076322088835"
    assert nir.validate(ins).kind is None
    assert nir.validate(ins, OID_INS_NIA).kind == "NIA"
    assert nir.validate(ins, OID_INS_NIR).kind == "NIR"
    assert nir.explain(ins, OID_INS_NIA).kind == "NIA"
    assert nir.explain(ins).kind.startswith("NIR or NIA")


def test_oid_catalogue() -> None:
    assert nir.check_oid("urn:oid:1.2.250.1.213.1.4.10").type_code == "INS-NIR-TEST"
    assert nir.check_oid(OID_INS_NIR_DEMO).type_code == "INS-NIR-DEMO"  # demo NIR, not a "test NIA"
    with pytest.raises(nir.OidError) as err:
        nir.check_oid(OID_INS_C)
    assert err.value.rule == "INS:oid-legacy"
    assert nir.check_oid(OID_INS_C, allow_legacy=True).legacy
    for wrong in ("1.2.250.1.213.1.4.5", "1.2.250.1.213.1.1.1", "2.16.840.1.113883.2.8.2.1", ""):
        with pytest.raises(nir.OidError) as err:
            nir.check_oid(wrong)
        assert err.value.rule == "INS:oid" and "not an INS assigning authority" in err.value.message


def test_oid_policy() -> None:
    assert nir.oid_for("NIR", "real") == OID_INS_NIR
    assert nir.oid_for("NIA", "real") == OID_INS_NIA
    assert nir.oid_for("NIR", "test") == OID_INS_NIR_TEST
    assert nir.oid_for("NIA", "test") == OID_INS_NIA  # no test-NIA OID exists


@pytest.mark.parametrize(("value", "rule"), [
    ("", "NIR:length"), ("12345", "NIR:length"), ("2751263220749A4", "NIR:key-format"),
    ("2751263X2074974", "NIR:format"), ("275126322074975", "NIR:key"), ("275126322074", "NIR:length"),
])
def test_refusals_name_the_rule(value: str, rule: str) -> None:
    with pytest.raises(nir.NirError) as err:
        nir.validate(value)
    assert err.value.rule == rule


def test_spaces_are_tolerated_in_input() -> None:
    assert nir.validate("2 75 12 63 220 749 74").ins == "275126322074974"


KINDS = st.sampled_from(["metropolitan", "corsica", "overseas", "abroad", "unknown_month"])


@settings(max_examples=300, deadline=None)
@given(kind=KINDS, seed=st.integers(0, 2**32), sex=st.sampled_from([None, "M", "F"]))
def test_generated_numbers_are_valid(kind: str, seed: int, sex: str | None) -> None:
    value = nir.generate(kind, sex=sex, rng=random.Random(seed))
    exp = nir.explain(value)
    assert exp.valid, exp.issues
    assert len(value) == 15
    expected_place = {"unknown_month": "metropolitan"}.get(kind, kind)
    assert exp.place["kind"] == expected_place
    if kind == "unknown_month":
        assert exp.month["known"] is False
    if sex:
        assert exp.sex["digit"] == ("1" if sex == "M" else "2")


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), kind=KINDS, pos=st.integers(0, 12), delta=st.integers(1, 9))
def test_any_single_digit_error_is_detected(seed: int, kind: str, pos: int, delta: int) -> None:
    value = nir.generate(kind, rng=random.Random(seed))
    if not value[pos].isdigit() or value[5:7] in ("2A", "2B") and pos in (5, 6):
        return
    changed = value[:pos] + str((int(value[pos]) + delta) % 10) + value[pos + 1:]
    assert not nir.is_valid(changed)


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), pos=st.integers(0, 11))
def test_any_adjacent_transposition_is_detected(seed: int, pos: int) -> None:
    value = nir.generate("metropolitan", rng=random.Random(seed))
    a, b = value[pos], value[pos + 1]
    if a == b:
        return
    swapped = value[:pos] + b + a + value[pos + 2:]
    assert not nir.is_valid(swapped)


@given(number=st.from_regex(r"\A[12][0-9]{2}(0[1-9]|1[0-2])(2[AB]|[0-9]{2})[0-9]{6}\Z"))
def test_key_is_two_digits_and_closes_mod_97(number: str) -> None:
    key = nir.compute_key(number)
    assert len(key) == 2 and 1 <= int(key) <= 97
    numeric = int(number.replace("2A", "19", 1) if number[5:7] == "2A" else
                  number.replace("2B", "18", 1) if number[5:7] == "2B" else number)
    assert (numeric + int(key)) % 97 == 0
