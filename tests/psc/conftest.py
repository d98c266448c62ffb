"""PSC test fixtures: an Authlib OAuth client speaking to the sandbox over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.psc.helpers import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, PUBLIC_CLIENT, REDIRECT_URI


@pytest.fixture
def oauth_factory(app, client):  # type: ignore[no-untyped-def]
    """Build ``authlib`` ``AsyncOAuth2Client`` instances bound to the app (the ``client`` fixture resets)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import AsyncOAuth2Client

    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("transport", httpx.ASGITransport(app=app))
        kwargs.setdefault("base_url", str(client.base_url))
        oauth = AsyncOAuth2Client(**kwargs)
        made.append(oauth)
        return oauth

    yield make


@pytest.fixture
async def public_oauth(oauth_factory) -> AsyncIterator[Any]:  # type: ignore[no-untyped-def]
    oauth = oauth_factory(
        client_id=PUBLIC_CLIENT,
        token_endpoint_auth_method="none",
        redirect_uri=REDIRECT_URI,
        scope="openid scope_all",
        code_challenge_method="S256",
    )
    yield oauth
    await oauth.aclose()


@pytest.fixture
async def confidential_oauth(oauth_factory) -> AsyncIterator[Any]:  # type: ignore[no-untyped-def]
    oauth = oauth_factory(
        client_id=CONFIDENTIAL_CLIENT,
        client_secret=CONFIDENTIAL_SECRET,
        token_endpoint_auth_method="client_secret_basic",
        redirect_uri=REDIRECT_URI,
        scope="openid scope_all",
    )
    yield oauth
    await oauth.aclose()


@pytest.fixture
def forced_fast_paths(app, monkeypatch):  # type: ignore[no-untyped-def]
    """For the tests of a shortcut itself (the worker's memory): the app takes its fast paths
    whatever ``SEGUR_FAST_PATHS`` says. The plain path's answers are compared with them in test_memory."""
    monkeypatch.setattr(app.state.settings, "fast_paths", True)


@pytest.fixture
async def both_paths(app, client):  # type: ignore[no-untyped-def]
    """Two apps on the test store: ``True`` with the fast paths (memory, LazySession), ``False`` without."""
    from contextlib import AsyncExitStack

    from app.main import create_app
    from tests.conftest import BASE_URL

    clients: dict[bool, httpx.AsyncClient] = {}
    async with AsyncExitStack() as stack:
        for fast in (True, False):
            application = create_app(app.state.settings.model_copy(update={"fast_paths": fast}))
            await stack.enter_async_context(application.router.lifespan_context(application))
            transport = httpx.ASGITransport(app=application)
            clients[fast] = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url=BASE_URL))
        yield clients
