"""The signing keys in the store (app/psc/signing.py): rotation, the key ring cache."""

from __future__ import annotations

from app.db import as_utc
from app.psc import service, signing
from app.psc.keys import KeyRing
from tests.psc.helpers import (
    GP,
    OIDC,
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


async def test_unknown_kids_and_certs_do_not_reload_the_key_ring(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
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
    # a ring older than the interval is reloaded on an unknown kid (rotation by another worker)
    for cached in signing.RINGS.values():
        cached.loaded_at -= signing.UNKNOWN_KID_RELOAD_INTERVAL + 1
    before = len(builds)
    token = b64url_json({"alg": "RS256", "kid": "unknown-late"}) + ".e30.eA"
    assert (await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert len(builds) == before + 1
