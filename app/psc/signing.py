"""The realm's signing keys: kept in the store (``psc_signing_key``), parsed into a key ring cached per
worker, rotated with the previous key published until the tokens it signed have expired."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import as_utc, utcnow
from app.psc.exceptions import UnsupportedAlgorithm
from app.psc.keys import SIGNING_ALGS, KeyRing, SigningAlg, StoredKey, generate_private_jwk
from app.psc.models import SigningKey
from app.psc.singleflight import SingleFlight

if TYPE_CHECKING:
    from app.config import Settings


@dataclass
class CachedRing:
    ring: KeyRing
    loaded_at: float


RINGS: dict[str, CachedRing] = {}
"""database URL -> its parsed key ring, kept ``psc_key_cache_ttl`` seconds. Not one of the fast paths: parsing
the keys costs tens of milliseconds (RSA private key checks), so every path keeps them; a rotation made by
another worker shows within the TTL, and an unknown ``kid`` reloads at once (at most once a second)."""
_RING_READS: SingleFlight[KeyRing] = SingleFlight()
UNKNOWN_KID_RELOAD_INTERVAL = 1.0
"""Seconds between two reloads of the key ring caused by tokens naming an unknown ``kid`` (per worker)."""


async def ensure_signing_keys(session: AsyncSession, settings: Settings) -> None:
    rows = (await session.scalars(select(SigningKey).where(SigningKey.active.is_(True)))).all()
    have = {row.alg for row in rows}
    for alg in SIGNING_ALGS:
        if alg not in have:
            jwk = generate_private_jwk(alg)
            session.add(SigningKey(kid=jwk["kid"], alg=alg, private_jwk=jwk, active=True, created_at=utcnow()))
    await session.flush()
    if have != set(SIGNING_ALGS):
        RINGS.pop(settings.database_url, None)
        _RING_READS.forget()


def fresh_ring(settings: Settings) -> CachedRing | None:
    """The cached key ring if it is younger than ``psc_key_cache_ttl``."""
    cached = RINGS.get(settings.database_url)
    if cached is None or time.monotonic() - cached.loaded_at >= settings.psc_key_cache_ttl:
        return None
    return cached


async def get_keyring(session: AsyncSession, settings: Settings, *, reload: bool = False) -> KeyRing:
    """The parsed keys of this store, cached per worker for ``psc_key_cache_ttl`` seconds. The requests that
    find the ring stale together share one read (``reload``, asked on an unknown ``kid``, reads at once)."""
    if not reload and (cached := fresh_ring(settings)) is not None:
        return cached.ring
    if reload:
        return await _read_keyring(session, settings)
    return await _RING_READS.run(settings.database_url, lambda: _read_keyring(session, settings))


async def _read_keyring(session: AsyncSession, settings: Settings) -> KeyRing:
    now = time.monotonic()
    cutoff = utcnow()
    rows = (await session.scalars(select(SigningKey).order_by(SigningKey.created_at))).all()
    if not any(row.active for row in rows):
        await ensure_signing_keys(session, settings)
        rows = (await session.scalars(select(SigningKey).order_by(SigningKey.created_at))).all()
    stored = [
        StoredKey(kid=row.kid, alg=row.alg, private_jwk=row.private_jwk, active=row.active)  # type: ignore[arg-type]
        for row in rows
        if row.active or row.publish_until is None or as_utc(row.publish_until) > cutoff
    ]
    previous = RINGS.get(settings.database_url)
    ring = previous.ring.refreshed(stored) if previous is not None else KeyRing.build(stored)
    RINGS[settings.database_url] = CachedRing(ring, now)
    return ring


async def rotate_signing_key(session: AsyncSession, settings: Settings, alg: str = "RS256") -> str:
    """Add a new ``alg`` key and make it the active one; the previous key stays published in the JWKS
    until every token it signed has expired (the longest token lifetime from now), then drops out.
    Returns the new ``kid``. What ``segur-sandbox keys rotate`` calls."""
    if alg not in SIGNING_ALGS:
        raise UnsupportedAlgorithm(f"alg must be one of {SIGNING_ALGS}", rule="PSC:keys.alg")
    signing_alg: SigningAlg = alg  # type: ignore[assignment]
    longest = (
        max(settings.psc_access_token_ttl, settings.psc_id_token_ttl, settings.psc_refresh_token_ttl)
        + settings.psc_leeway
    )
    publish_until = utcnow() + timedelta(seconds=longest)
    await session.execute(
        update(SigningKey)
        .where(SigningKey.alg == signing_alg, SigningKey.active.is_(True))
        .values(active=False, publish_until=publish_until)
    )
    jwk = generate_private_jwk(signing_alg)
    session.add(SigningKey(kid=jwk["kid"], alg=signing_alg, private_jwk=jwk, active=True, created_at=utcnow()))
    # Keys whose publication window has closed are no longer needed.
    await session.execute(delete(SigningKey).where(SigningKey.active.is_(False), SigningKey.publish_until < utcnow()))
    await session.flush()
    RINGS.pop(settings.database_url, None)
    _RING_READS.forget()
    return jwk["kid"]
