"""The sandbox as an installed wheel, as ``pipx install``, a CI image or the Docker image get it: built
from this tree, installed in a fresh virtual environment, started from an empty directory with no
setting. The ``app`` package comes only from the wheel (the new environment borrows the test
environment's third-party packages through a ``.pth`` line, so nothing is downloaded again; that
environment's editable install of ``app`` is not processed, since a ``.pth`` line adds a directory to
``sys.path`` without running that directory's own ``.pth`` files)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.db import head_revisions
from tests.conftest import drop_fresh_database, free_port, fresh_database_url

ROOT = Path(__file__).resolve().parents[1]
# What a built wheel must not be made from: the tree's own environment, state and build leftovers
# (setuptools reuses build/lib, where a file deleted from the tree would live on).
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
)


class Installed:
    def __init__(self, venv: Path) -> None:
        self.venv = venv

    @property
    def command(self) -> str:
        return str(self.venv / "bin" / "segur-sandbox")

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def env(self, **values: str) -> dict[str, str]:
        """The environment of a user who set nothing: no SEGUR_* variable, no PYTHONPATH."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SEGUR_") and k != "PYTHONPATH"}
        return {**clean, **values}

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.command, *args], cwd=cwd, env=self.env(), capture_output=True, text=True,
                              timeout=60)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("packaging")
    source, dist, venv = base / "source", base / "dist", base / "venv"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", "--no-deps", "-q", "-w", str(dist),
         str(source)], capture_output=True, text=True, timeout=180,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("segur_sandbox-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    installed_wheel = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(venv / "bin" / "python"),
         "install", "--no-deps", "-q", str(wheel)], capture_output=True, text=True, timeout=120,
    )
    assert installed_wheel.returncode == 0, installed_wheel.stderr
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    borrowed = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(purelib) / "_borrowed_dependencies.pth").write_text("\n".join(borrowed) + "\n")
    yield Installed(venv)


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    """The working directory of a command: nothing in it (no migrations/, no alembic.ini, no var/)."""
    directory = tmp_path / "empty"
    directory.mkdir()
    return directory


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status, response.read()


def test_the_wheel_carries_the_migrations(installed: Installed, empty: Path) -> None:
    probe = subprocess.run(
        [installed.python, "-c", "import app, app.db; print(app.__file__); print(app.db.migrations_directory())"],
        cwd=empty, env=installed.env(), capture_output=True, text=True, timeout=30,
    )
    assert probe.returncode == 0, probe.stderr
    package_file, migrations = (Path(line) for line in probe.stdout.split())
    assert package_file.is_relative_to(installed.venv), f"app imported from {package_file}, not from the wheel"
    assert migrations.is_relative_to(installed.venv)
    assert (migrations / "env.py").is_file() and (migrations / "script.py.mako").is_file()
    assert {path.name for path in (migrations / "versions").glob("*.py")} == {
        path.name for path in (ROOT / "app" / "migrations" / "versions").glob("*.py")
    }


def test_the_installed_sandbox_serves_from_an_empty_directory(installed: Installed, empty: Path) -> None:
    port, smtp_port = free_port(), free_port()
    process = subprocess.Popen(
        [installed.command, "serve", "--port", str(port), "--smtp-port", str(smtp_port)],
        cwd=empty, env=installed.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status != 200 and process.poll() is None:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/readyz")
            except OSError:
                time.sleep(0.05)
        assert status == 200, f"not ready (exit code {process.poll()})"
        status, body = _get(f"http://127.0.0.1:{port}/dmp/fhir/metadata")
        assert status == 200 and json.loads(body)["resourceType"] == "CapabilityStatement"
        status, body = _get(f"http://127.0.0.1:{port}/auth/realms/esante-wallet/.well-known/openid-configuration")
        assert status == 200 and json.loads(body)["issuer"].startswith(f"http://localhost:{port}/")
        status, body = _get(f"http://127.0.0.1:{port}/")  # the web console: its templates and script are in the wheel
        assert status == 200 and b"Vue d'ensemble" in body
        status, body = _get(f"http://127.0.0.1:{port}/console/static/console.js")
        assert status == 200 and b"liveRows" in body
        with socket.create_connection(("127.0.0.1", smtp_port), timeout=5) as smtp:
            assert smtp.recv(512).startswith(b"220")
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert (empty / "var" / "segur-sandbox.db").is_file()  # the default store, where it was started


@pytest.mark.postgresql
def test_the_installed_command_migrates_postgresql_from_an_empty_directory(
    installed: Installed, empty: Path, postgresql_url: str, tmp_path: Path,
) -> None:
    url, name = fresh_database_url("postgresql", postgresql_url, tmp_path, "packaging")
    try:
        upgraded = installed.run("db", "upgrade", "--database-url", url, cwd=empty)
        assert upgraded.returncode == 0, upgraded.stderr
        current = installed.run("db", "current", "--database-url", url, cwd=empty)
        assert current.returncode == 0, current.stderr
        assert set(current.stdout.split()) == head_revisions()
    finally:
        drop_fresh_database("postgresql", postgresql_url, name)
    assert list(empty.iterdir()) == []  # on PostgreSQL nothing is written where it was run
