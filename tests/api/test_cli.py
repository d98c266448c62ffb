"""The ``segur-sandbox`` command, run as a user runs it: a real process, a real port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from app import __version__

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    result = _run("version")
    assert result.returncode == 0
    assert result.stdout.strip() == __version__


def test_invalid_configuration_is_refused_before_start() -> None:
    result = _run("serve", env={"SEGUR_DATABASE_URL": "oracle://x"})
    assert result.returncode == 2
    assert "[database]" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_current_and_seed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    before = _run("db", "current", "--database-url", url)
    assert before.returncode == 1 and "not at head" in before.stderr
    upgraded = _run("db", "upgrade", "--database-url", url)
    assert upgraded.returncode == 0, upgraded.stderr
    current = _run("db", "current", "--database-url", url)
    assert current.returncode == 0, current.stderr
    from app.db import head_revisions

    assert set(current.stdout.split()) == head_revisions()
    seeded = _run("seed", "--database-url", url)
    assert seeded.returncode == 0, seeded.stderr
    again = _run("seed", "--reset", "--database-url", url)
    assert again.returncode == 0, again.stderr


def test_serve_starts_on_the_embedded_store_and_is_ready(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        smtp_port = sock.getsockname()[1]
    env = {**os.environ, "SEGUR_DATABASE_URL": f"sqlite:///{tmp_path}/serve.db", "SEGUR_LOG_FORMAT": "json"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--smtp-port", str(smtp_port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                    status = response.status
            except OSError:
                time.sleep(0.05)
        assert status == 200
        assert (tmp_path / "serve.db").exists()
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert '"logger": "segur.access"' in stderr  # JSON access log
