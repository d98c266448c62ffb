"""What the token check keeps in memory stays right: revocations from this worker, from another worker
(PostgreSQL relays them) and while the relay is down; expiry and key removal still apply to a token
whose signature was verified before."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import update

from app.db import utcnow
from app.events import events_for, publish
from app.psc import service, signing, tokens, verification
from app.psc.exceptions import TokenError
from app.psc.memory import memory_for
from app.psc.models import RevokedToken, SigningKey
from tests.conftest import free_port
from tests.psc.helpers import GP, OIDC, PUBLIC_CLIENT, access_token_for, answers_to_token

ROOT = Path(__file__).resolve().parents[2]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _until(predicate, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not await predicate():
        assert time.monotonic() < deadline, f"{predicate.__name__} not reached within {within} s"
        await asyncio.sleep(0.05)


async def test_a_revoked_token_is_refused_at_once_by_every_protected_route(client) -> None:  # type: ignore[no-untyped-def]
    access = await access_token_for(client, GP)
    for _ in range(2):  # the second call is answered from memory
        assert (await client.get(OIDC + "/userinfo", headers=_bearer(access))).status_code == 200
        assert (await client.get("/psc/v1/me", headers=_bearer(access))).status_code == 200
    revoked = await client.post(OIDC + "/revoke", data={"token": access, "client_id": PUBLIC_CLIENT})
    assert revoked.status_code == 200
    for path in (OIDC + "/userinfo", "/psc/v1/me"):
        refused = await client.get(path, headers=_bearer(access))
        assert refused.status_code == 401, path
    assert "revoked" in (await client.get("/psc/v1/me", headers=_bearer(access))).json()["detail"]


async def test_a_rolled_back_revocation_publishes_nothing(app, client) -> None:  # type: ignore[no-untyped-def]
    memory = memory_for(app.state.settings.database_url)
    async with app.state.sessionmaker() as session:
        session.add(RevokedToken(jti="never-committed", reason="test", revoked_at=utcnow(), expires_at=None))
        await session.flush()
        await publish(session, "psc.revoked", "never-committed -")
        await session.rollback()
    await asyncio.sleep(0.2)  # a NOTIFY would have arrived by now
    assert "never-committed" not in memory.revoked
    async with app.state.sessionmaker() as session, session.begin():
        await publish(session, "psc.revoked", "committed -")
    assert "committed" in memory.revoked  # applied on commit, before anything else runs


async def test_a_token_verified_before_still_expires(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    access = await access_token_for(client, GP)
    assert (await client.get(OIDC + "/userinfo", headers=_bearer(access))).status_code == 200
    later = time.time() + 3600
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    for path in (OIDC + "/userinfo", "/psc/v1/me"):
        refused = await client.get(path, headers=_bearer(access))
        assert refused.status_code == 401 and "expired" in refused.text, path


async def test_a_token_verified_before_is_refused_once_its_key_is_gone(app, client, session) -> None:  # type: ignore[no-untyped-def]
    old = await access_token_for(client, GP)
    assert (await client.get(OIDC + "/userinfo", headers=_bearer(old))).status_code == 200
    old_kid = tokens.unverified_header(old)["kid"]
    async with app.state.sessionmaker() as own, own.begin():
        await service.rotate_signing_key(own, app.state.settings)
    await session.execute(
        update(SigningKey).where(SigningKey.kid == old_kid).values(publish_until=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    signing.RINGS.clear()  # as after psc_key_cache_ttl
    for path in (OIDC + "/userinfo", "/psc/v1/me"):
        assert (await client.get(path, headers=_bearer(old))).status_code == 401, path


async def test_reset_forgets_what_was_kept(forced_fast_paths, app, client) -> None:  # type: ignore[no-untyped-def]
    memory = memory_for(app.state.settings.database_url)
    access = await access_token_for(client, GP)
    assert (await client.get("/psc/v1/me", headers=_bearer(access))).status_code == 200
    assert GP in memory.professionals
    async with app.state.sessionmaker() as session, session.begin():
        await publish(session, "psc.revoked", "some-jti -")
    assert (await client.post("/sandbox/v1/reset")).status_code == 200
    assert GP not in memory.professionals and "some-jti" not in memory.revoked


async def test_a_professional_read_while_the_store_is_reset_is_not_kept(app, client) -> None:  # type: ignore[no-untyped-def]
    memory = memory_for(app.state.settings.database_url)
    access = await access_token_for(client, GP)
    memory.professionals.pop(GP, None)
    async with app.state.sessionmaker() as session:
        read = session.get

        async def read_while_a_reset_commits(*args, **kwargs):  # type: ignore[no-untyped-def]
            row = await read(*args, **kwargs)
            memory.on_reset()  # the reset (which deleted the row) committed while it was read
            return row

        session.get = read_while_a_reset_commits  # type: ignore[method-assign]
        pro = await service.authenticate_access_token(session, app.state.settings, access)
    assert pro.subject_name_id == GP  # this request read it before the reset: answered
    assert GP not in memory.professionals  # but not kept for the next ones


async def test_a_reconnection_during_the_start_up_load_loads_again(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from app.psc import memory as memory_module

    url = f"sqlite+aiosqlite:///{tmp_path / 'alone.db'}"  # a store no other test's memory serves
    settings = SimpleNamespace(database_url=url, psc_leeway=5)
    app = SimpleNamespace(state=SimpleNamespace(settings=settings, sessionmaker=object()))
    memory = memory_for(url)
    loads: list[object] = []

    async def load(sessionmaker) -> None:  # type: ignore[no-untyped-def]
        loads.append(sessionmaker)
        if len(loads) == 1:  # the listener was lost and is back while the first load runs
            await memory.resync()

    monkeypatch.setattr(memory, "load", load)
    async with memory_module.lifespan(app):
        assert loads == [app.state.sessionmaker] * 2
    assert not memory.sessionmakers


async def test_a_verified_token_is_still_checked_for_its_type_audience_and_issuer(  # type: ignore[no-untyped-def]
    forced_fast_paths, app, client, session
) -> None:
    settings = app.state.settings
    access = await access_token_for(client, GP)
    await verification.verify_token(session, settings, access, audience=settings.psc_access_token_audience)
    assert access in memory_for(settings.database_url).verified
    with pytest.raises(TokenError, match="type"):
        await verification.verify_token(session, settings, access, typ=tokens.TYP_REFRESH)
    with pytest.raises(TokenError, match="audience"):
        await verification.verify_token(session, settings, access, audience="someone-else")
    with pytest.raises(TokenError, match="issuer"):
        other = settings.model_copy(update={"public_base_url": "http://elsewhere.test"})
        await verification.verify_token(session, other, access)


def test_the_verified_tokens_kept_are_bounded() -> None:
    from app.events import StoreEvents
    from app.psc.memory import MAX_VERIFIED, PscMemory

    memory = PscMemory(StoreEvents("sqlite://:/bounded"))
    for i in range(MAX_VERIFIED * 2 + 1):
        memory.remember_verified(f"token-{i}", {}, "kid")
    assert len(memory.verified) <= MAX_VERIFIED
    assert f"token-{MAX_VERIFIED * 2}" in memory.verified and "token-0" not in memory.verified


async def test_revocations_are_kept_past_expiry_for_longer_than_the_leeway(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from app.psc import memory as memory_module

    url = f"sqlite+aiosqlite:///{tmp_path / 'lenient.db'}"
    settings = SimpleNamespace(database_url=url, psc_leeway=7200)  # two hours of clock skew tolerated
    app = SimpleNamespace(state=SimpleNamespace(settings=settings, sessionmaker=object()))
    memory = memory_for(url)

    async def load(_sessionmaker) -> None:  # type: ignore[no-untyped-def]
        memory.loaded = True

    monkeypatch.setattr(memory, "load", load)
    async with memory_module.lifespan(app):
        memory.on_revoked(f"expired-90-min-ago {time.time() - 5400}")  # still accepted but for its revocation
        memory.purge()
        assert "expired-90-min-ago" in memory.revoked


async def test_a_revocation_applied_while_the_load_query_runs_is_kept(app, client) -> None:  # type: ignore[no-untyped-def]
    memory = memory_for(app.state.settings.database_url)

    def sessionmaker():  # type: ignore[no-untyped-def]
        session = app.state.sessionmaker()
        query = session.execute

        async def execute_while_a_revocation_commits(*args, **kwargs):  # type: ignore[no-untyped-def]
            result = await query(*args, **kwargs)
            memory.on_revoked("revoked-during-the-load -")  # committed after the query's snapshot
            return result

        session.execute = execute_while_a_revocation_commits
        return session

    await memory.load(sessionmaker)  # type: ignore[arg-type]
    assert "revoked-during-the-load" in memory.revoked


@pytest.mark.postgresql
async def test_another_workers_revocation_reaches_this_one(app, client, database_url) -> None:  # type: ignore[no-untyped-def]
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers share a PostgreSQL store only")
    access = await access_token_for(client, GP)
    assert (await client.get(OIDC + "/userinfo", headers=_bearer(access))).status_code == 200
    # a second worker: a real server process on the same store
    port = free_port()
    env = {
        **os.environ, "SEGUR_DATABASE_URL": database_url, "SEGUR_AUTO_MIGRATE": "false", "SEGUR_SMTP_PORT": "0",
        "SEGUR_ACCESS_LOG": "false", "SEGUR_LOG_LEVEL": "WARNING", "SEGUR_PUBLIC_BASE_URL": str(client.base_url),
    }
    other = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", env=env, cwd=ROOT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as worker:
            async def ready() -> bool:
                try:
                    return (await worker.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await _until(ready, within=90)
            revoked = await worker.post(OIDC + "/revoke", data={"token": access, "client_id": PUBLIC_CLIENT})
            assert revoked.status_code == 200, revoked.text
            there = await worker.get(OIDC + "/userinfo", headers=_bearer(access))
            assert there.status_code == 401, there.text

        async def refused_here() -> bool:
            return (await client.get(OIDC + "/userinfo", headers=_bearer(access))).status_code == 401

        await _until(refused_here, within=10)
    finally:
        other.terminate()
        await asyncio.wait_for(other.wait(), 10)


@pytest.mark.postgresql
async def test_while_the_relay_is_down_the_store_is_read(app, client, database_url) -> None:  # type: ignore[no-untyped-def]
    if not database_url.startswith("postgresql"):
        pytest.skip("the relay is PostgreSQL's LISTEN/NOTIFY")
    memory = memory_for(app.state.settings.database_url)
    store = events_for(app.state.settings.database_url)
    access = await access_token_for(client, GP)
    assert (await client.get(OIDC + "/userinfo", headers=_bearer(access))).status_code == 200
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(dsn, ssl=False)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'segur-sandbox-events' AND datname = current_database()"
        )

        async def relay_down() -> bool:
            return not store.relayed

        await _until(relay_down)
        assert not memory.revocations_known
        # revoked behind the sandbox's back, with no event: only the store knows
        jti = tokens.unverified_claims(access)["jti"]
        await admin.execute(
            "INSERT INTO psc_revoked_token (jti, reason, revoked_at) VALUES ($1, 'test', now())", jti
        )
        assert (await client.get(OIDC + "/userinfo", headers=_bearer(access))).status_code == 401
        assert (await client.get("/psc/v1/me", headers=_bearer(access))).status_code == 401

        async def relay_back() -> bool:
            return memory.revocations_known

        await _until(relay_back)
        assert jti in memory.revoked  # reloaded on reconnection
        assert (await client.get(OIDC + "/userinfo", headers=_bearer(access))).status_code == 401
    finally:
        await admin.close()


async def test_the_fast_and_plain_paths_accept_and_refuse_alike(both_paths, client, session) -> None:  # type: ignore[no-untyped-def]
    access = await access_token_for(client, GP)
    accepted = await answers_to_token(both_paths, access)
    assert accepted[True] == accepted[False]
    assert {status for _, status, _, _ in accepted[True]} == {200}

    # a key rotated: the previous one stays published, so its tokens are still accepted on both paths
    rotated = await client.post("/sandbox/v1/signing-keys", json={"alg": "RS256"})
    assert rotated.status_code == 201
    signing.RINGS.clear()  # as after psc_key_cache_ttl
    after_rotation = await answers_to_token(both_paths, access)
    assert after_rotation[True] == after_rotation[False] == accepted[True]

    # its publication window closed: refused on both paths
    old_kid = tokens.unverified_header(access)["kid"]
    await session.execute(
        update(SigningKey).where(SigningKey.kid == old_kid).values(publish_until=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    signing.RINGS.clear()
    gone = await answers_to_token(both_paths, access)
    assert gone[True] == gone[False]
    assert {status for _, status, _, _ in gone[True]} == {401}

    # revoked: refused on both paths, for the same reason
    fresh = await access_token_for(client, GP)
    await answers_to_token(both_paths, fresh)  # known to the fast path's memory first
    assert (await client.post(OIDC + "/revoke", data={"token": fresh, "client_id": PUBLIC_CLIENT})).status_code == 200
    revoked = await answers_to_token(both_paths, fresh)
    assert revoked[True] == revoked[False]
    assert all(status == 401 and "revoked" in str(body) for _, status, body, _ in revoked[True])


async def test_the_plain_path_trusts_no_memory(app, client, session) -> None:  # type: ignore[no-untyped-def]
    """With fast_paths false, a revocation the memory does not know (the store only) is still seen."""
    from app.psc.memory import PLAIN, recall

    settings = app.state.settings
    plain = settings.model_copy(update={"fast_paths": False})
    fast = settings.model_copy(update={"fast_paths": True})
    assert recall(plain) is PLAIN and recall(fast) is memory_for(settings.database_url)
    access = await access_token_for(client, GP)
    assert (await verification.authenticate_access_token(session, plain, access)).subject_name_id == GP
    assert access not in PLAIN.verified and GP not in PLAIN.professionals
    jti = tokens.unverified_claims(access)["jti"]
    session.add(RevokedToken(jti=jti, reason="test", revoked_at=utcnow(), expires_at=None))  # never published
    await session.flush()
    with pytest.raises(TokenError, match="revoked"):
        await verification.authenticate_access_token(session, plain, access)
