"""The signing keys in the store (app/psc/signing.py): rotation, the key ring cache."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import event

from app.db import as_utc
from app.psc import keys, memory, service, signing
from app.psc.keys import KeyRing
from tests.psc.helpers import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    GP,
    OIDC,
    TOKEN,
    access_token_for,
    b64url_json,
    jwt_header,
)


async def test_key_rotation_keeps_old_tokens_valid(client) -> None:  # type: ignore[no-untyped-def]
    before = await access_token_for(client, GP)
    old_kid = jwt_header(before)["kid"]
    rotated = await client.post("/sandbox/v1/signing-keys", json={"alg": "RS256"})
    assert rotated.status_code == 201
    new_kid = rotated.json()["kid"]
    kids = {k["kid"] for k in (await client.get(OIDC + "/certs")).json()["keys"]}
    assert {old_kid, new_kid} <= kids
    after = await access_token_for(client, GP)
    assert jwt_header(after)["kid"] == new_kid
    for token in (before, after):
        me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200


async def test_rotated_key_leaves_the_jwks_after_its_window(app, client, session) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from sqlalchemy import select, update

    from app.db import utcnow
    from app.psc.models import SigningKey

    old = await access_token_for(client, GP)
    old_kid = jwt_header(old)["kid"]
    async with app.state.sessionmaker() as own, own.begin():
        new_kid = await service.rotate_signing_key(own, app.state.settings)
    row = (await session.scalars(select(SigningKey).where(SigningKey.kid == old_kid))).one()
    settings = app.state.settings
    window = max(settings.psc_access_token_ttl, settings.psc_id_token_ttl, settings.psc_refresh_token_ttl)
    assert row.active is False and row.publish_until is not None
    assert (as_utc(row.publish_until) - utcnow()).total_seconds() >= window
    await session.execute(
        update(SigningKey).where(SigningKey.kid == old_kid).values(publish_until=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    kids = {k["kid"] for k in (await client.get(OIDC + "/certs")).json()["keys"]}
    assert new_kid in kids and old_kid not in kids
    me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {old}"})
    assert me.status_code == 401


async def test_unknown_kids_and_certs_do_not_reload_the_key_ring(client, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get(OIDC + "/certs")).status_code == 200  # the ring is loaded (and now fresh)
    builds: list[int] = []
    real_build = KeyRing.build.__func__  # type: ignore[attr-defined]

    def counting(cls, stored):  # type: ignore[no-untyped-def]
        builds.append(1)
        return real_build(cls, stored)

    monkeypatch.setattr(KeyRing, "build", classmethod(counting))
    for i in range(5):
        token = b64url_json({"alg": "RS256", "kid": f"unknown-{i}"}) + ".e30.eA"
        response = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    for _ in range(5):
        assert (await client.get(OIDC + "/certs")).status_code == 200
    assert len(builds) <= 1, len(builds)
    # a ring older than the interval is read again on an unknown kid (rotation by another worker); the same keys
    # give the same ring, parsed once
    for cached in signing.RINGS.values():
        cached.loaded_at -= signing.UNKNOWN_KID_RELOAD_INTERVAL + 1
    before = len(builds)
    token = b64url_json({"alg": "RS256", "kid": "unknown-late"}) + ".e30.eA"
    assert (await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert len(builds) == before
    assert time.monotonic() - signing.RINGS[settings.database_url].loaded_at < 1  # read afresh


async def test_stale_caches_are_read_once_by_the_requests_that_find_them_stale(app, client, settings) -> None:  # type: ignore[no-untyped-def]
    """Issue 16: under load every request in flight found the key ring (and the token endpoint's client cache)
    stale at the same instant and read the store again, the key ring parsing every key each time (72 ms of CPU
    on the event loop): the token endpoint's p99 grew run after run. The requests that find a cache stale
    together now share one read, and a ring read again with the same keys is not parsed again."""
    form = {"grant_type": "client_credentials"}
    auth = (CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET)
    assert (await client.post(TOKEN, data=form, auth=auth)).status_code == 200  # both caches filled
    for cached in signing.RINGS.values():
        cached.loaded_at -= settings.psc_key_cache_ttl + 1
    memory.clear_client_cache()
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    parsed: list[str] = []
    real_import = keys.import_jwk

    def counting_import(data):  # type: ignore[no-untyped-def]
        parsed.append(data.get("kid", "?"))
        return real_import(data)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(keys, "import_jwk", counting_import)
            answers = await asyncio.gather(*(client.post(TOKEN, data=form, auth=auth) for _ in range(16)))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [a.status_code for a in answers] == [200] * 16
    assert parsed == []  # the same keys: the ring is not parsed again
    assert sum("FROM psc_signing_key" in s for s in statements) == 1
    client_reads = sum("FROM psc_client" in s for s in statements)
    # the plain path keeps no client cache and shares no read: each request reads its client
    assert client_reads == (1 if settings.fast_paths else 16)
