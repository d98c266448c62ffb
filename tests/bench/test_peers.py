"""bench/peers/compare.py works end to end (``--quick``: one 2 s run per side), so ``make bench`` does not break
unnoticed. The figures of so short a run mean nothing; what is checked is that every side ran, answered
without errors and was compared, and that the sandbox stored every message it accepted (the script fails
otherwise).

The token comparison needs wrk (Debian package ``wrk``), node and oidc-provider installed in
``bench/peers/oidc/node_modules`` (``make bench`` installs it with npm on first use). The test never runs npm: CI
must not depend on downloads from the npm registry, so without ``node_modules`` the token test is skipped, and
says so. The SMTP comparison needs only PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench/peers/compare.py"
OIDC_PROVIDER = ROOT / "bench/peers/oidc/node_modules/oidc-provider"


def run_quick(only: str, postgresql_url: str, tmp_path: Path) -> dict[str, float]:
    figures = tmp_path / "figures.json"
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(SCRIPT), "--quick", "--no-install", "--only", only, "--json", str(figures)],
        cwd=ROOT, env={**os.environ, "SEGUR_BENCH_DATABASE_URL": postgresql_url}, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" not in result.stdout, result.stdout
    return json.loads(figures.read_text())["ratios"]  # type: ignore[no-any-return]


def test_tokens_side_by_side_with_oidc_provider(postgresql_url: str, tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (Debian package wrk): the token comparison cannot run")
    if shutil.which("node") is None or not OIDC_PROVIDER.is_dir():
        pytest.skip(f"oidc-provider is not installed in {OIDC_PROVIDER.parent} (make bench installs it with npm; "
                    "the tests never download it)")
    ratios = run_quick("tokens", postgresql_url, tmp_path)
    assert set(ratios) == {"token_rate_ratio", "token_p99_ratio", "token_p99_drift", "userinfo_ratio"}
    assert all(value > 0 for value in ratios.values()), ratios


def test_smtp_side_by_side_with_an_aiosmtpd_sink(postgresql_url: str, tmp_path: Path) -> None:
    ratios = run_quick("smtp", postgresql_url, tmp_path)
    assert set(ratios) == {"smtp_rate_ratio"}
    assert ratios["smtp_rate_ratio"] > 0
