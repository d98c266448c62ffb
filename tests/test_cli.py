"""The ``segur-sandbox`` command, run as a user runs it: a real process, a real port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import __version__
from tests.conftest import drop_fresh_database, free_port, fresh_database_url

ROOT = Path(__file__).resolve().parents[1]


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


def test_keys_rotate_publishes_the_new_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/keys.db"
    assert _run("db", "upgrade", "--database-url", url).returncode == 0
    assert _run("seed", "--database-url", url).returncode == 0
    first = _run("keys", "rotate", "--database-url", url)
    assert first.returncode == 0, first.stderr
    second = _run("keys", "rotate", "--alg", "ES256", "--database-url", url)
    assert second.returncode == 0, second.stderr
    kid1, kid2 = first.stdout.strip(), second.stdout.strip()
    assert kid1 and kid2 and kid1 != kid2

    import asyncio

    from sqlalchemy import text

    from app.db import create_engine

    async def kids() -> set[str]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/keys.db")
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT kid FROM psc_signing_key"))).all()
        await engine.dispose()
        return {row[0] for row in rows}

    assert {kid1, kid2} <= asyncio.run(kids())


def test_xdm_build_and_inspect(tmp_path: Path) -> None:
    cda = tmp_path / "report.xml"
    cda.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="11502-2" codeSystem="2.16.840.1.113883.6.1"/>'
        '<recordTarget><patientRole><id root="1.2.250.1.213.1.4.8" extension="279035121518989"/>'
        "</patientRole></recordTarget>"
        '<component><nonXMLBody><text mediaType="application/pdf" representation="B64">JVBERi0xLjQK</text>'
        "</nonXMLBody></component></ClinicalDocument>"
    )
    archive = tmp_path / "IHE_XDM.ZIP"
    built = _run("xdm", "build", str(cda), "-o", str(archive))
    assert built.returncode == 0, built.stderr
    assert archive.exists()
    inspected = _run("xdm", "inspect", str(archive))
    assert "SUBSET01" in inspected.stdout or "METADATA" in inspected.stdout.upper(), inspected.stdout
    assert "urn:ihe:iti:xds-sd:pdf:2008" in inspected.stdout, inspected.stdout  # level 1 PDF: JDV_J10 format code


def test_xdm_build_refuses_a_cda_without_body(tmp_path: Path) -> None:
    """CDA R2 ``ClinicalDocument.component`` is 1..1: without a body the builder cannot tell the format code."""
    cda = tmp_path / "bodiless.xml"
    cda.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="11502-2" codeSystem="2.16.840.1.113883.6.1"/>'
        '<recordTarget><patientRole><id root="1.2.250.1.213.1.4.8" extension="279035121518989"/>'
        "</patientRole></recordTarget></ClinicalDocument>"
    )
    built = _run("xdm", "build", str(cda), "-o", str(tmp_path / "IHE_XDM.ZIP"))
    assert built.returncode != 0
    assert "no body" in built.stderr and "Traceback" not in built.stderr, built.stderr


def test_seed_loads_a_users_own_ins_fixture_file(tmp_path: Path) -> None:
    import json

    url = f"sqlite:///{tmp_path}/own.db"
    assert _run("db", "upgrade", "--database-url", url).returncode == 0
    own = tmp_path / "mine.json"
    own.write_text(json.dumps({"persons": [{
        "NomNaissance": "MAPERSONNE", "ListePrenom": "ALICE", "Sexe": "F", "DateNaissance": "1990-05-17",
        "LieuNaissance": "75056",
        "INSACTIF": {"IdIndividu": {"NumIdentifiant": "2900575056123", "Cle": f"{97 - 2900575056123 % 97:02d}"},
                     "OID": "1.2.250.1.213.1.4.8"},
    }]}))
    loaded = _run("seed", "--ins-file", str(own), "--database-url", url)
    assert loaded.returncode == 0, loaded.stderr
    assert "'persons': 1" in loaded.stderr, loaded.stderr
    again = _run("seed", "--ins-file", str(own), "--database-url", url)  # idempotent
    assert "'persons': 0" in again.stderr, again.stderr

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    refused = _run("seed", "--ins-file", str(broken), "--database-url", url)
    assert refused.returncode == 2
    assert "nothing loaded" in refused.stderr and "Traceback" not in refused.stderr


# --- a store whose schema is not this version's: one line, the command that fixes it, no traceback ---------

def _serve_refused(database_url: str, **env: str) -> str:
    """``serve`` on ``database_url`` must stop before listening: exit code 2, one line on stderr."""
    result = _run("serve", "--port", str(free_port()), "--smtp-port", str(free_port()),
                  "--database-url", database_url, env=env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("[database] ")
    return lines[0]


def _expected_heads() -> str:
    from app.db import head_revisions

    return " ".join(sorted(head_revisions()))


@pytest.fixture
def fresh_postgresql(postgresql_url: str, tmp_path: Path) -> Iterator[str]:
    url, name = fresh_database_url("postgresql", postgresql_url, tmp_path, "schema")
    yield url
    drop_fresh_database("postgresql", postgresql_url, name)


@pytest.mark.postgresql
def test_serve_refuses_an_empty_postgresql_database(fresh_postgresql: str) -> None:
    line = _serve_refused(fresh_postgresql)
    assert "the schema is missing" in line
    assert f"expected heads: {_expected_heads()}" in line
    assert "`segur-sandbox db upgrade`" in line and "SEGUR_AUTO_MIGRATE=true" in line


@pytest.mark.postgresql
def test_serve_refuses_a_postgresql_schema_one_step_behind(fresh_postgresql: str) -> None:
    assert _run("db", "upgrade", "--database-url", fresh_postgresql).returncode == 0
    assert _run("db", "downgrade", "mss@-1", "--database-url", fresh_postgresql).returncode == 0
    line = _serve_refused(fresh_postgresql)
    assert "the schema is behind" in line
    assert "at dmp_0002 ins_0002 mes_0002 mss_0004 platform_0004 psc_0002" in line  # mss_0004 undone
    assert f"expected heads: {_expected_heads()}" in line and "`segur-sandbox db upgrade`" in line


def test_serve_refuses_an_unmigrated_sqlite_store_when_auto_migrate_is_off(tmp_path: Path) -> None:
    store = tmp_path / "empty.db"
    store.touch()  # an empty SQLite database: not a fresh store, nothing migrated
    line = _serve_refused(f"sqlite:///{store}", SEGUR_AUTO_MIGRATE="false")
    assert "the schema is missing" in line and "`segur-sandbox db upgrade`" in line


def test_a_store_ahead_of_the_migrations_is_refused_by_serve_and_db_upgrade(tmp_path: Path) -> None:
    """A revision the scripts do not know (a newer sandbox migrated it): even auto-migrate stops, as does
    ``db upgrade`` (Alembic itself answered with a traceback: "Can't locate revision")."""
    import sqlite3

    store = tmp_path / "ahead.db"
    url = f"sqlite:///{store}"
    assert _run("db", "upgrade", "--database-url", url).returncode == 0
    with sqlite3.connect(store) as connection:
        connection.execute("INSERT INTO alembic_version (version_num) VALUES ('zzz_0099')")
    line = _serve_refused(url)  # SQLite: auto-migrate on by default
    assert "the schema is ahead" in line and "zzz_0099" in line and f"heads here: {_expected_heads()}" in line
    upgraded = _run("db", "upgrade", "--database-url", url)
    assert upgraded.returncode == 2 and "Traceback" not in upgraded.stderr
    assert upgraded.stderr.strip().splitlines() == [line]


def test_serve_migrates_a_sqlite_store_one_step_behind(tmp_path: Path) -> None:
    """Auto-migrate (SQLite's default) brings a store behind up to the heads: the check does not refuse it."""
    url = f"sqlite:///{tmp_path}/behind.db"
    assert _run("db", "upgrade", "--database-url", url).returncode == 0
    assert _run("db", "downgrade", "mss@-1", "--database-url", url).returncode == 0
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--smtp-port", str(free_port()),
         "--database-url", url], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status != 200 and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                    status = response.status
            except OSError:
                time.sleep(0.05)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert status == 200, stderr
    current = _run("db", "current", "--database-url", url)
    assert current.returncode == 0 and current.stdout.split() == _expected_heads().split()


def test_vihf_prints_a_signed_assertion_from_a_running_sandbox(tmp_path: Path) -> None:
    """``segur-sandbox vihf`` asks a running sandbox (POST /sandbox/v1/dmps/vihf) and prints the assertion."""
    from lxml import etree

    port = free_port()
    env = {**os.environ, "SEGUR_DATABASE_URL": f"sqlite:///{tmp_path}/vihf.db"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--smtp-port", str(free_port())],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        result = _run("vihf", "--subject", "810001000016", "--patient", "275126322074974", "--mode",
                      "bris_de_glace", "--reason", "urgence", "--url", base)
        assert result.returncode == 0, result.stderr
        assertion = etree.fromstring(result.stdout.strip().encode())
        assert etree.QName(assertion).localname == "Assertion"
        assert "client certificate subject (INDIRECTE): CN=" in result.stderr
        assert "bris_de_glace" in result.stdout
        unknown = _run("vihf", "--subject", "899999999999", "--patient", "275126322074974", "--url", base)
        assert unknown.returncode == 1 and "404" in unknown.stderr and not unknown.stdout
    finally:
        process.terminate()
        process.communicate(timeout=10)
    unreachable = _run("vihf", "--subject", "810001000016", "--patient", "275126322074974", "--url", base)
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
