"""Sequence sets (pure): RFC 3501 §9 ``sequence-set``/``seq-range``, §6.4.8 (``n:*`` beyond the last UID),
RFC 4315 ``uid-set`` compression."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.mss.imap.sequence import (
    STAR,
    Members,
    compress,
    contains,
    highest,
    is_sequence_set,
    merged,
    parse_sequence_set,
    resolve,
)
from app.mss.imap.wire import ImapSyntaxError


def test_parse():
    assert parse_sequence_set("1:3,5,7:*") == [(1, 3), (5, 5), (7, None)]
    assert parse_sequence_set("5:2") == [(2, 5)]  # either order (§9 seq-range)
    assert parse_sequence_set("*:4") == [(4, None)]
    assert parse_sequence_set("*") == [(STAR, None)]
    assert parse_sequence_set("*:*") == [(STAR, None)]
    assert parse_sequence_set("4294967295") == [(4294967295, 4294967295)]


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty sequence set"),
    ("1,", "empty element"),
    (",1", "empty element"),
    ("0", "numbers start at 1"),
    ("1:03", "numbers start at 1"),
    ("1:2:3", "more than one ':'"),
    ("1::2", "more than one ':'"),
    ("a", "not a number"),
    ("1:", "not a number"),
    ("²", "not a number"),
    ("4294967296", "above 4294967295"),
    ("9" * 50, "above 4294967295"),
])
def test_parse_errors(text, message):
    with pytest.raises(ImapSyntaxError, match=message):
        parse_sequence_set(text)


def test_resolve_message_numbers():
    msns = range(1, 6)
    assert resolve(parse_sequence_set("2:4,*"), msns) == [2, 3, 4, 5]
    assert resolve(parse_sequence_set("4,2,4"), msns) == [2, 4]
    assert resolve(parse_sequence_set("*"), msns) == [5]
    assert resolve(parse_sequence_set("1:*"), []) == []


def test_resolve_uids_rfc3501_6_4_8():
    uids = [3, 7, 9]
    assert resolve(parse_sequence_set("1:4"), uids) == [3]
    assert resolve(parse_sequence_set("8:*"), uids) == [9]
    assert resolve(parse_sequence_set("10:*"), uids) == [9]  # n:* with n > max names the max
    assert resolve(parse_sequence_set("*:10"), uids) == [9]
    assert resolve(parse_sequence_set("4:2"), uids) == [3]
    assert resolve(parse_sequence_set("10:20"), uids) == []
    assert resolve(parse_sequence_set("*"), uids) == [9]


def test_resolve_is_bounded_by_the_folder_not_the_ranges():
    """``1:*,1:*,...`` (2,000 ranges fit in a line) names each message once, without building a list of
    ranges x messages first."""
    uids = list(range(1, 20_001))
    ranges = parse_sequence_set(",".join(["1:*"] * 400))
    tracemalloc.start()
    try:
        picked = resolve(ranges, uids)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert picked == uids
    assert peak < 1_000_000  # the answer (160 KB of pointers), not 400 x 20,000 of them
    assert merged(ranges, 20_000) == [(1, 20_000)]
    assert merged(parse_sequence_set("9,1:3,4,7:*,12:8,2"), 10) == [(1, 4), (7, 12)]


SETS = st.lists(st.tuples(st.integers(1, 60), st.one_of(st.none(), st.integers(1, 60))), min_size=1, max_size=8).map(
    lambda pairs: ",".join(f"{a}" if b == a else f"{a}:{'*' if b is None else b}" for a, b in pairs))


@given(SETS, st.lists(st.integers(1, 60), unique=True).map(sorted))
def test_resolve_and_members_agree_with_the_definition(text, values):
    ranges = parse_sequence_set(text)
    largest = values[-1] if values else 0
    assert resolve(ranges, values) == [v for v in values if contains(ranges, v, largest)]
    members = Members.of(ranges)
    for largest in (1, 30, 60):
        assert [v for v in range(1, 70) if members.contains(v, largest)] == [
            v for v in range(1, 70) if contains(ranges, v, largest)]


def test_contains_and_highest():
    ranges = parse_sequence_set("2:4,10:*")
    assert [v for v in range(1, 13) if contains(ranges, v, 12)] == [2, 3, 4, 10, 11, 12]
    assert [v for v in range(1, 6) if contains(ranges, v, 5)] == [2, 3, 4, 5]  # 10:* is 5:10 when 5 is the max
    assert highest(ranges) == 10
    assert highest(parse_sequence_set("*")) is None


def test_is_sequence_set():
    assert is_sequence_set("1:*,4")
    assert not is_sequence_set("ALL")
    assert not is_sequence_set("")


def test_compress():
    assert compress([1, 2, 3, 5]) == "1:3,5"
    assert compress([7]) == "7"
    assert compress([]) == ""
    assert compress([5, 6, 1, 2]) == "5:6,1:2"  # order kept: COPYUID's two sets correspond (RFC 4315 §3)


@given(st.lists(st.integers(1, 200), unique=True).map(sorted), st.lists(st.integers(1, 200), unique=True))
def test_compress_round_trip(values, others):
    if not values:
        return
    universe = sorted(set(values) | set(others))
    assert resolve(parse_sequence_set(compress(values)), universe) == values
