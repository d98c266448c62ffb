"""What the PSC token check keeps in memory, per store: revoked jtis, professionals, verified tokens.

Per tenant (:mod:`app.tenancy`): the revocations and professionals are kept for each tenant apart
(:class:`TenantMemory`), :attr:`PscMemory.revoked` and :attr:`PscMemory.professionals` being the current
tenant's; the events name their tenant, and a tenant's reset or deletion (``TOPIC_RESET`` keyed by its name)
forgets that tenant only. The clients are cached by (store, tenant, client_id). The verified tokens are kept
by token: a token names its tenant's issuer, and its claims, issuer included, are checked on every use.

Every protected request of the sandbox checks a PSC access token. Reading the revocation table and the
professional from the store on each request cost about 0.4 ms of CPU, more than the rest of the check;
so this worker keeps them, and :mod:`app.events` keeps them right:

- revocations and new professionals are published by the transaction that writes them, applied here
  when it commits, and relayed by PostgreSQL to the other workers (``app.events``);
- the revoked set is loaded from the store when the worker starts and again whenever the PostgreSQL
  listener reconnects; while the listener is down, :meth:`PscMemory.revocations_known` is false and the
  check reads the store, as it did before;
- a reset of a tenant (or its deletion) forgets what was kept of that tenant, and the verified tokens (its
  revocations are deleted by it, as before);
- a token's signature is verified once: the claims of a token already verified are reused while the key
  that verified it is in the key ring (its claims are still checked on every use: issuer, audience,
  expiry, type); at most :data:`MAX_VERIFIED` tokens are kept;
- the clients the token endpoint authenticates are kept ``psc_client_cache_ttl`` seconds (a snapshot,
  :class:`CachedClient`); creating a client or resetting a tenant forgets them all.

All of it is a shortcut, behind one seam: :func:`recall` gives the check this memory when
``settings.fast_paths`` is true, and :data:`PLAIN` (which knows nothing and keeps nothing: every check
reads the store, as while the listener is down) when it is false; :func:`cached_client` and
:func:`keep_client` likewise answer nothing and keep nothing. This module reads the store (the revocations
it loads) and nothing of the PSC service: the service reads it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from app.db import as_utc, utcnow
from app.events import TOPIC_RESET, StoreEvents, events_for, store_key
from app.psc.models import RevokedToken
from app.psc.singleflight import SingleFlight
from app.tenancy import ALL_TENANTS, DEFAULT_TENANT, current_tenant

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.config import Settings

TOPIC_REVOKED = "psc.revoked"
"""Key: ``<jti> <exp as epoch seconds, or - when unknown> <tenant>`` (no tenant: the default one)."""
TOPIC_PROFESSIONAL = "psc.professional"
"""Key: ``<SubjectNameID> <tenant>`` of a professional created or changed (no tenant: the default one)."""
TOPIC_CLIENT = "psc.client"
"""Key: the client_id of a client created or changed (every worker forgets every cached client)."""

MAX_VERIFIED = 20_000
"""Verified tokens kept (the oldest half is dropped beyond it)."""
PURGE_EVERY = 1_000
"""Expired revocations are purged after this many new ones."""
NEVER = float("inf")


@dataclass(frozen=True)
class CachedProfessional:
    """A professional row as the token check needs it: its fields and its userinfo as JSON text."""

    subject_name_id: str
    rpps: str | None
    given_name: str
    family_name: str
    profession_code: str
    userinfo: dict[str, Any]
    userinfo_json: str


@dataclass(frozen=True)
class CachedClient:
    """A read-only snapshot of a client row (what token issuance needs), safe to keep across requests."""

    client_id: str
    secret_sha256: str | None
    token_endpoint_auth_method: str
    access_token_alg: str
    client_metadata: dict[str, Any]


@dataclass
class TenantMemory:
    """What is kept of one tenant's world."""

    revoked: dict[str, float] = field(default_factory=dict)
    """jti -> its expiry (epoch seconds; ``inf`` when unknown)."""
    professionals: dict[str, CachedProfessional] = field(default_factory=dict)
    """SubjectNameID -> the professional."""


@dataclass
class PscMemory:
    store: StoreEvents
    tenants: dict[str, TenantMemory] = field(default_factory=dict)
    """tenant -> what is kept of it."""
    verified: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    """token -> (its claims, the kid that verified it): reused only while that key is in the key ring."""
    loaded: bool = False
    generation: int = 0
    """Changed whenever professionals are forgotten: a professional read from the store before that is
    not kept (it may be one the reset just deleted)."""
    sessionmakers: list[async_sessionmaker[AsyncSession]] = field(default_factory=list)
    """Those of the running apps on this store (one in a server; several in a test process)."""
    retention: float = 3600.0
    """Seconds a revocation is kept after its token expired: longer than any expiry leeway (the lifespan
    raises it to ``psc_leeway`` plus a minute if that is longer)."""
    _since_purge: int = 0

    def of(self, tenant: str) -> TenantMemory:
        kept = self.tenants.get(tenant)
        if kept is None:
            kept = self.tenants[tenant] = TenantMemory()
        return kept

    @property
    def revoked(self) -> dict[str, float]:
        """The current tenant's revoked jtis (jti -> expiry)."""
        return self.of(current_tenant()).revoked

    @property
    def professionals(self) -> dict[str, CachedProfessional]:
        """The current tenant's professionals kept (SubjectNameID -> professional)."""
        return self.of(current_tenant()).professionals

    @property
    def revocations_known(self) -> bool:
        """True when :attr:`revoked` holds every revocation of the store (else ask the store)."""
        return self.loaded and self.store.relayed

    # --- events ---------------------------------------------------------------------------------

    def on_revoked(self, key: str) -> None:
        jti, _, rest = key.partition(" ")
        exp, _, tenant = rest.partition(" ")
        self.of(tenant or DEFAULT_TENANT).revoked[jti] = float(exp) if exp and exp != "-" else NEVER
        self._since_purge += 1
        if self._since_purge >= PURGE_EVERY:
            self.purge()

    def on_professional(self, key: str) -> None:
        sni, _, tenant = key.rpartition(" ") if " " in key else (key, "", DEFAULT_TENANT)
        self.generation += 1
        self.of(tenant).professionals.pop(sni, None)

    def on_reset(self, key: str = "") -> None:
        """A tenant was reset or deleted (``key``: its name; ``""`` is the default tenant): forget it."""
        self.generation += 1
        self.tenants.pop(key or DEFAULT_TENANT, None)
        self.verified.clear()

    def purge(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        # a token expired for longer than any leeway can no longer be presented successfully
        for kept in self.tenants.values():
            kept.revoked = {jti: exp for jti, exp in kept.revoked.items() if exp > now - self.retention}
        self._since_purge = 0

    # --- loading --------------------------------------------------------------------------------

    async def load(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Every tenant's revocations (the worker's memory serves every tenant: one query over them all)."""
        # expired within the retention: a token inside its expiry leeway must still be known as revoked
        cutoff = utcnow() - timedelta(seconds=self.retention)
        async with sessionmaker() as session:
            rows = (
                await session.execute(
                    select(RevokedToken.tenant, RevokedToken.jti, RevokedToken.expires_at).where(
                        or_(RevokedToken.expires_at.is_(None), RevokedToken.expires_at > cutoff)
                    ),
                    execution_options={ALL_TENANTS: True},
                )
            ).all()
        revoked: dict[str, dict[str, float]] = {}
        for tenant, jti, expires_at in rows:
            revoked.setdefault(tenant, {})[jti] = _epoch(expires_at) if expires_at is not None else NEVER
        for tenant, loaded in revoked.items():
            kept = self.of(tenant)
            # merged, not replaced: a revocation is never undone, and one may have arrived during the query
            kept.revoked = {**loaded, **kept.revoked}
        self.generation += 1
        for kept in self.tenants.values():
            kept.professionals.clear()  # changes missed while the listener was down
        self.verified.clear()
        self.loaded = True

    async def resync(self) -> None:
        if self.sessionmakers:
            await self.load(self.sessionmakers[-1])

    def remember_verified(self, token: str, claims: dict[str, Any], kid: str) -> None:
        if len(self.verified) >= MAX_VERIFIED:
            for old in list(self.verified)[: MAX_VERIFIED // 2]:
                del self.verified[old]
        self.verified[token] = (claims, kid)

    def remember_professional(self, pro: CachedProfessional, generation: int) -> None:
        """Keep ``pro`` (of the current tenant), read from the store at ``generation``, unless a reset
        committed since."""
        if self.generation == generation:
            self.of(current_tenant()).professionals[pro.subject_name_id] = pro


class PlainMemory:
    """The memory of the plain path (``settings.fast_paths`` false): it knows nothing and keeps nothing,
    so every check reads the store."""

    revocations_known = False
    generation = 0
    revoked: Mapping[str, float] = MappingProxyType({})
    professionals: Mapping[str, CachedProfessional] = MappingProxyType({})
    verified: Mapping[str, tuple[dict[str, Any], str]] = MappingProxyType({})

    def remember_verified(self, token: str, claims: dict[str, Any], kid: str) -> None:
        pass

    def remember_professional(self, pro: CachedProfessional, generation: int) -> None:
        pass


PLAIN = PlainMemory()


def recall(settings: Settings) -> PscMemory | PlainMemory:
    """What the token check may trust without reading the store: this worker's memory of the store on
    the fast path, nothing (:data:`PLAIN`) with ``settings.fast_paths`` false."""
    return memory_for(settings.database_url) if settings.fast_paths else PLAIN


def _epoch(value: Any) -> float:
    return float(as_utc(value).timestamp())


_MEMORIES: dict[str, PscMemory] = {}
_BY_URL: dict[str, PscMemory] = {}


def memory_for(database_url: str) -> PscMemory:
    memory = _BY_URL.get(database_url)
    if memory is not None:
        return memory
    key = store_key(database_url)
    memory = _MEMORIES.get(key)
    if memory is None:
        store = events_for(database_url)
        memory = _MEMORIES[key] = PscMemory(store)
        store.subscribe(TOPIC_REVOKED, memory.on_revoked)
        store.subscribe(TOPIC_PROFESSIONAL, memory.on_professional)
        store.subscribe(TOPIC_RESET, memory.on_reset)
    _BY_URL[database_url] = memory
    return memory


def revoked_key(jti: str, expires_at: Any) -> str:
    """The ``TOPIC_REVOKED`` key of a revocation in the current tenant."""
    return f"{jti} {_epoch(expires_at) if expires_at is not None else '-'} {current_tenant()}"


def professional_key(subject_name_id: str) -> str:
    """The ``TOPIC_PROFESSIONAL`` key of a professional of the current tenant."""
    return f"{subject_name_id} {current_tenant()}"


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Load the revocations of the store into this worker's memory, and again after every reconnection
    of the PostgreSQL listener (the platform starts that listener before the domains' lifespans)."""
    settings = app.state.settings
    memory = memory_for(settings.database_url)
    memory.retention = max(memory.retention, settings.psc_leeway + 60.0)
    memory.store.on_resync(memory.resync)
    memory.store.subscribe(TOPIC_CLIENT, clear_client_cache)
    memory.store.subscribe(TOPIC_RESET, clear_client_cache)
    # known before the load: a reconnection of the listener during it must reload (what was notified
    # between the loss and the reconnection may be after the load's snapshot)
    memory.sessionmakers.append(app.state.sessionmaker)
    try:
        await memory.load(app.state.sessionmaker)
        yield
    finally:
        memory.sessionmakers.remove(app.state.sessionmaker)
        if not memory.sessionmakers:  # no app of this process serves the store any more
            memory.loaded = False


# --- clients --------------------------------------------------------------------------------------

_CLIENTS: dict[tuple[str, str, str], tuple[float, CachedClient]] = {}
"""(database URL, tenant, client_id) -> (when it was read, the client)."""
MAX_CLIENTS = 10_000
"""Cached clients kept (all are forgotten beyond it)."""


CLIENT_READS: SingleFlight[CachedClient | None] = SingleFlight()
"""The store reads of clients missing from the cache, one per client (of a tenant) however many requests miss it
together."""


def clear_client_cache(_key: str = "") -> None:
    """Forget every cached client (a client was created or changed, or the store was reset), and the reads under
    way (they may have begun before the change)."""
    _CLIENTS.clear()
    CLIENT_READS.forget()


async def read_client(
    settings: Settings, client_id: str, read: Callable[[], Awaitable[CachedClient | None]]
) -> CachedClient | None:
    """``read()`` the client from the store: on the fast path the requests that miss the cache together (it
    expires under load) share one read; on the plain path each reads for itself."""
    if not settings.fast_paths:
        return await read()
    return await CLIENT_READS.run((settings.database_url, current_tenant(), client_id), read)


def cached_client(settings: Settings, client_id: str) -> CachedClient | None:
    """The current tenant's client from this worker's cache (None on a miss, a stale entry, or on the plain
    path)."""
    if not settings.fast_paths or settings.psc_client_cache_ttl <= 0:
        return None
    hit = _CLIENTS.get((settings.database_url, current_tenant(), client_id))
    if hit is None or time.monotonic() - hit[0] >= settings.psc_client_cache_ttl:
        return None
    return hit[1]


def keep_client(settings: Settings, client: CachedClient) -> None:
    """Keep ``client`` (of the current tenant) for ``psc_client_cache_ttl`` seconds (nothing on the plain path)."""
    if not settings.fast_paths or settings.psc_client_cache_ttl <= 0:
        return
    if len(_CLIENTS) > MAX_CLIENTS:
        _CLIENTS.clear()
    _CLIENTS[(settings.database_url, current_tenant(), client.client_id)] = (time.monotonic(), client)
