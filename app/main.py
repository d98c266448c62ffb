"""The application factory: ``create_app(settings)`` wires the platform and every domain.

Nothing runs at import time. The lifespan opens the store (checking that its schema is this version's,
migrating and seeding the embedded default on first start), starts the journal writer, then each domain's
own lifespan (signing keys, the SMTP listener, ...), and closes them in reverse order.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from app import __version__, console
from app.api import health, sandbox, tenants
from app.api.deps import current_professional, refuse_nul_characters, require_control_token
from app.api.errors import install_exception_handlers
from app.api.hotpaths import HotPathMiddleware, hot_routes
from app.api.journal import JournalWriter
from app.api.middleware import RequestContextMiddleware
from app.api.openapi_errors import install_error_responses
from app.api.store import seed_store
from app.config import Settings, load_settings
from app.conformance.router import router as conformance_router
from app.db import Base, check_schema, create_engine, create_sessionmaker, upgrade
from app.domains import import_models, load_domains
from app.events import events_for
from app.faults import router as faults_router
from app.keygen import prefetch_rsa_2048
from app.logs import configure_logging
from app.tenancy import install_tenant_guard, tenant_tables

logger = logging.getLogger("segur.startup")

DESCRIPTION = """
**Ségur Sandbox** simulates, in one process, the four *services socles* of France's Ségur du numérique
en santé — **INS** (the INSi teleservice), **DMP** (PDSm / IHE MHD document sharing), **MSSanté**
(secure messaging, over real SMTP) and **Pro Santé Connect** (OpenID Connect) — with the paths, codes
and errors of the real services and clearer messages.

Point your software at this base URL instead of the real host. Protected APIs take a PSC access token
(`Authorization: Bearer ...`) issued by the sandbox's own PSC. The `sandbox` tag is the control API a
test harness uses to arrange fixtures, reset the store and read the journal of every exchange.
"""

PLATFORM_TAGS = [
    {"name": "platform", "description": "Health checks."},
    {"name": "sandbox", "description": "Control API: reset, journal, fixtures of every service."},
]


def operation_id(route: APIRoute) -> str:
    """A stable OpenAPI operation id: the owner (domain, or ``platform``) and the endpoint's function name,
    e.g. ``dmp_search_document_references``; generated clients keep their method names as long as the
    function keeps its name (tests/test_main.py holds the list)."""
    owner = route.endpoint.__module__.split(".")[1]
    return f"{'platform' if owner == 'api' else owner}_{route.name}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format)
    domains = load_domains()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        try:
            fresh_store = settings.is_fresh_sqlite_store
            if not (fresh_store and settings.migrate_on_start):  # a new file about to be migrated: nothing to read
                # Before anything queries a table: a store whose schema is missing, behind (and not migrated
                # now) or ahead stops the start with one line, not a driver's traceback from a domain.
                await check_schema(engine, migrating=settings.migrate_on_start)
            if settings.migrate_on_start:
                if fresh_store:
                    prefetch_rsa_2048(2)  # the PSC signing key and the SMTP certificate, made during migrations
                started = time.perf_counter()
                await upgrade(engine)
                migrated = time.perf_counter()
                async with app.state.sessionmaker() as session, session.begin():
                    await seed_store(session, settings, domains)
                logger.info("store ready: migrations %.0f ms, fixtures %.0f ms",
                            (migrated - started) * 1000, (time.perf_counter() - migrated) * 1000)
            import_models()  # after the migrations: their batch copies (INSERT INTO _alembic_tmp_...) move every tenant
            install_tenant_guard(engine.sync_engine, {table.name for table in tenant_tables(Base.metadata)})
            journal = JournalWriter(engine, fast_paths=settings.fast_paths)
            app.state.journal = journal
            journal.start()
            async with AsyncExitStack() as stack:
                store_events = events_for(settings.database_url)
                await store_events.start(settings.database_url)
                stack.push_async_callback(store_events.stop)
                directory = tenants.directory_of(app)
                store_events.subscribe(tenants.TOPIC_TENANTS, directory.forget)
                store_events.on_resync(directory.resync)
                for domain in domains:
                    if domain.lifespan is not None:
                        await stack.enter_async_context(domain.lifespan(app))
                # What start-up built (routes, models, fixtures, value sets: ~180,000 objects) lives as long as
                # the process; a full collection walked it all in ~120 ms, the p99 of every service. Frozen,
                # the collector leaves it alone (Python's gc.freeze; nothing is collected first: that would
                # cost the same 120 ms at start-up).
                gc.freeze()
                try:
                    yield
                finally:
                    await journal.stop()
        finally:
            await engine.dispose()

    tags = [*PLATFORM_TAGS]
    for domain in domains:
        tags.extend(domain.openapi_tags)
    app = FastAPI(
        title="Ségur Sandbox",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=tags,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # FastAPI's native OpenTelemetry hooks look up the global providers (reading os.environ) on every
        # request: 6 % of a userinfo call. The sandbox exports no telemetry; its journal is the trace.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.domains = domains
    app.state.readiness_probes = {}
    app.state.error_renderers = {
        prefix: renderer for domain in domains for prefix, renderer in domain.error_renderers.items()
    }
    install_exception_handlers(app)
    for domain in domains:
        for exc_class, handler in domain.exception_handlers.items():
            app.add_exception_handler(exc_class, handler)  # type: ignore[arg-type]
    authenticators = [domain.authenticate for domain in domains if domain.authenticate is not None]
    if len(authenticators) != 1:
        raise RuntimeError(f"exactly one domain must provide the PSC bearer check, found {len(authenticators)}")
    app.state.authenticate_professional = authenticators[0]
    control = [Depends(require_control_token), Depends(refuse_nul_characters)]
    bearer = [Depends(current_professional)]
    app.include_router(health.router)
    app.include_router(sandbox.router, dependencies=control)
    app.include_router(tenants.router, dependencies=control)
    app.include_router(conformance_router, dependencies=control)
    faults_router.install(app, dependencies=control)
    for domain in domains:
        for router in domain.routers:
            # Authentication attached where a router is included: every control route is covered.
            is_control = router.prefix.startswith("/sandbox")
            app.include_router(router, dependencies=control if is_control else None)
        for router in domain.protected_routers:
            app.include_router(router, dependencies=bearer)
    console.install(app)  # the web console at / (its pages stay out of the OpenAPI document)
    install_error_responses(app)
    routes = [route for domain in domains if domain.hot_operations
              for route in hot_routes([r for r in domain.routers if not r.prefix.startswith("/sandbox")],
                                      domain.hot_operations)]
    if routes:  # inside the request context; it passes every request on when fast paths are off
        app.add_middleware(HotPathMiddleware, fastapi=app, routes=routes)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_limits={prefix: limit for domain in domains if domain.body_limits
                     for prefix, limit in domain.body_limits(settings).items()},
        access_log=settings.access_log,
        log_json=settings.log_format == "json",
    )
    app.add_middleware(tenants.TenantPathMiddleware)  # outermost: /t/{tenant}/... runs in that tenant
    return app
