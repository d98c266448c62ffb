"""The hottest endpoints dispatched by exact path, beside FastAPI's router (a fast path, issue 16).

FastAPI 0.165's router matches a request twice (once to choose, once to handle) against every included
router before the one holding the route, through several layers of per-request bookkeeping: ~55 µs of a
token, and with FastAPI's request handler 86 µs (525 → 439 µs a token in process; README, "Measured", issue
16). Those endpoints take only the ``Request`` (no dependency, no validation: they read their form or header
themselves), so this middleware, placed just inside
:class:`app.api.middleware.RequestContextMiddleware` (request id, body limit, journal), calls them directly
when method and path match exactly, and renders what they raise with the application's own exception
handlers, as Starlette's ``ExceptionMiddleware`` would. Anything else — another method, a path with a
trailing slash, a non-HTTP scope — goes down the normal stack unchanged.

Only routes that need nothing FastAPI would add are accepted (:func:`check_hot_route`): a route with
dependencies or parameters other than the request is refused at start-up, and a domain names its hot routes
among the routers it has included without dependencies (``Domain.hot_operations``). With
``SEGUR_FAST_PATHS=false`` (read per request) every request goes through the router; the suite runs both ways,
and ``tests/psc/oidc/test_hot_paths.py`` and ``tests/ins/test_routing.py`` compare the answers request by
request. (This replaced INS's ``LeanRoute``, which skipped FastAPI's handler but not its router, through a
private FastAPI context variable.)
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response] | Response]


def hot_routes(routers: Iterable[APIRouter], operation_ids: Iterable[str]) -> list[APIRoute]:
    """The routes of ``routers`` named by ``operation_ids`` (each must exist). The routers must be included as
    they are (no prefix, no dependency, no body limit of the inclusion): those would not apply beside the
    router; ``app.main`` passes only such routers."""
    wanted = set(operation_ids)
    found = [route for router in routers for route in router.routes
             if isinstance(route, APIRoute) and route.operation_id in wanted]
    missing = wanted - {route.operation_id for route in found}
    if missing:
        raise ValueError(f"no route with operation id {sorted(missing)}")
    return found


def takes_only_the_request(dependant: Any, endpoint: Callable[..., Any]) -> bool:
    """Does calling ``endpoint(request)`` do all FastAPI would have done for this dependant: no dependency, no
    path, query, header, cookie or body parameter, nothing but the request?"""
    if dependant is None or dependant.call is not endpoint or dependant.request_param_name is None:
        return False
    if (dependant.dependencies or dependant.path_params or dependant.query_params or dependant.header_params
            or dependant.cookie_params or dependant.body_params):
        return False
    return (dependant.websocket_param_name is None and dependant.http_connection_param_name is None
            and dependant.response_param_name is None and dependant.background_tasks_param_name is None
            and dependant.security_scopes_param_name is None)


def check_hot_route(route: APIRoute) -> None:
    """Refuse a route whose endpoint cannot be called with the request alone and answer as the router would.
    A response model may document the answer: the endpoint must return a ``Response`` (FastAPI validates
    nothing then either), which :class:`HotPathMiddleware` checks on every call."""
    if (route.dependencies or not takes_only_the_request(route.dependant, route.endpoint)
            or not inspect.iscoroutinefunction(route.endpoint)):
        raise ValueError(f"{route.operation_id or route.name}: only a coroutine taking the request alone, with no "
                         "dependency, can be dispatched beside the router")


class HotPathMiddleware:
    def __init__(self, app: ASGIApp, *, fastapi: FastAPI, routes: Iterable[APIRoute]) -> None:
        self.app = app
        self.fastapi = fastapi
        self.routes: dict[tuple[str, str], APIRoute] = {}
        for route in routes:
            check_hot_route(route)
            for method in route.methods or ():
                self.routes[(method, route.path)] = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        # fast paths off (read per request: tests swap a live app's settings), the router and FastAPI's handler;
        # so under a root path (the router matches the path without it; none is configured here)
        if route is None or not self.fastapi.state.settings.fast_paths or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        endpoint: Endpoint = route.endpoint
        scope["route"] = route  # what the journal names the operation by, as after the router
        scope["endpoint"] = endpoint
        scope["path_params"] = {}
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
            if not isinstance(response, Response):
                raise TypeError(f"{route.operation_id}: a hot endpoint must return a Response, not {type(response)}")
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Handler | None:
        """The application's handler for ``exc``, by its class's MRO (as Starlette's ``ExceptionMiddleware``
        looks it up; HTTP status handlers apply to ``HTTPException``, registered by class here too)."""
        handlers: Mapping[Any, Handler] = self.fastapi.exception_handlers
        for cls in type(exc).__mro__:
            if cls is Exception:  # the last-resort handler is RequestContextMiddleware's, outside this one
                return None
            if cls in handlers:
                return handlers[cls]
        return None
