"""bench/ins_search.py: a run that fails before the load still drops the database it named after its process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_a_failed_preparation_still_drops_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import ins_search  # type: ignore[import-not-found]

    dropped: list[str] = []

    async def prepare(name: str, persons: int, tenants: int = 0) -> None:
        raise RuntimeError("migrations failed")

    async def drop_database(name: str) -> None:
        dropped.append(name)

    monkeypatch.setattr(ins_search, "prepare", prepare)
    monkeypatch.setattr(ins_search, "drop_database", drop_database)
    monkeypatch.setattr(sys, "argv", ["ins_search.py", "--database", "segur_bench_ins_test"])
    with pytest.raises(RuntimeError, match="migrations failed"):
        ins_search.main()
    assert dropped == ["segur_bench_ins_test"]
