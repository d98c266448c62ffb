"""bench/tenants.py works end to end (``--quick``: 3 tenants populated through their own faces, one short round of
each load), so ``make bench`` does not break unnoticed. The figures of so short a run mean nothing; what is checked
is that every load ran in the single-tenant store, in a tenant of the populated one and in its default tenant, with
no failed request (the script fails otherwise), and that the ratios were computed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench/tenants.py"


def test_the_tenants_bench_runs_quick(postgresql_url: str, tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(SCRIPT), "--quick", "--json", str(figures)],
        cwd=ROOT, env={**os.environ, "SEGUR_BENCH_DATABASE_URL": postgresql_url}, capture_output=True, text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tenants benchmark" in result.stdout
    ratios = json.loads(figures.read_text())["ratios"]
    assert set(ratios) == {f"{who} / single, {load}" for who in ("multi tenant", "multi default")
                           for load in ("token", "iti65")}
    assert all(ratio["rps"] > 0 for ratio in ratios.values()), ratios
