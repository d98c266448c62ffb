"""Settings refuse what cannot work, naming the subsystem; the app factory answers in protocol shape
even when a route fails unexpectedly."""

from __future__ import annotations

import logging

import httpx
import pytest

from app.config import SettingsError, load_settings, normalise_database_url
from app.main import create_app


@pytest.mark.parametrize(("given", "expected"), [
    ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("postgresql://u@h:5433/db", "postgresql+asyncpg://u@h:5433/db"),
    ("sqlite:///./var/x.db", "sqlite+aiosqlite:///./var/x.db"),
    ("sqlite+aiosqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
])
def test_database_urls_get_their_async_driver(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize(("overrides", "subsystem", "fragment"), [
    ({"database_url": "mysql://root@localhost/x"}, "[database]", "mysql"),
    ({"database_url": "not a url"}, "[database]", "not a URL"),
    ({"public_base_url": "localhost:8000"}, "[http]", "absolute"),
    ({"public_base_url": "http://x/?a=b"}, "[http]", "query"),
    ({"http_port": 70000}, "[http]", "SEGUR_HTTP_PORT"),
    ({"smtp_port": -1}, "[smtp]", "SEGUR_SMTP_PORT"),
    ({"max_body_bytes": 10}, "[http]", "SEGUR_MAX_BODY_BYTES"),
    ({"log_format": "xml"}, "[config]", "SEGUR_LOG_FORMAT"),
])
def test_unsafe_settings_are_refused_naming_the_subsystem(overrides, subsystem: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**overrides)
    assert subsystem in str(caught.value)
    assert fragment in str(caught.value)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGUR_PUBLIC_BASE_URL", "https://sandbox.example.org/")
    monkeypatch.setenv("SEGUR_MAX_BODY_BYTES", "4096")
    settings = load_settings()
    assert settings.public_base_url == "https://sandbox.example.org"
    assert settings.max_body_bytes == 4096


def test_embedded_store_migrates_itself_postgresql_does_not_by_default() -> None:
    assert load_settings(database_url="sqlite:///x.db").migrate_on_start is True
    assert load_settings(database_url="postgresql://u@h/db").migrate_on_start is False
    assert load_settings(database_url="postgresql://u@h/db", auto_migrate=True).migrate_on_start is True


async def test_unexpected_errors_are_500_in_protocol_shape_without_traceback(
    tmp_path,
) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/x.db", public_base_url="http://sandbox.test",
                             smtp_port=0, access_log=False)
    app = create_app(settings)

    @app.get("/dmp/fhir/_boom")
    async def boom_fhir() -> None:
        raise RuntimeError("kaboom secret internals")

    @app.get("/sandbox/v1/_boom")
    async def boom_plain() -> None:
        raise ValueError("kaboom")

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("segur.errors").addHandler(handler)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
            fhir = await client.get("/dmp/fhir/_boom")
            plain = await client.get("/sandbox/v1/_boom")
    assert fhir.status_code == 500 and fhir.json()["resourceType"] == "OperationOutcome"
    assert "kaboom" not in fhir.text and "Traceback" not in fhir.text
    assert plain.status_code == 500 and plain.headers["content-type"] == "application/problem+json"
    assert plain.json()["request_id"] in plain.json()["detail"]
    logging.getLogger("segur.errors").removeHandler(handler)
    # the traceback goes to the log, with the request id, and nowhere else
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in records)
    assert any(fhir.headers["x-request-id"] in r.getMessage() for r in records)


def test_control_token_too_short_is_refused() -> None:
    from app.config import SettingsError, load_settings

    with pytest.raises(SettingsError, match=r"\[control\]"):
        load_settings(control_token="short")
