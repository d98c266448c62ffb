"""The hottest endpoints dispatched by exact path, beside FastAPI's router (a fast path, issue 16).

FastAPI 0.165's router matches a request twice (once to choose, once to handle) against every included
router before the one holding the route, through several layers of per-request bookkeeping; for the PSC
token and userinfo endpoints that was ~150 µs of the ~500 µs a token costs in process (``bench/peers``,
README "Performance decisions"). Those endpoints take only the ``Request`` (no dependency, no validation:
they read their form or header themselves), so this middleware, placed just inside
:class:`app.api.middleware.RequestContextMiddleware` (request id, body limit, journal), calls them directly
when method and path match exactly, and renders what they raise with the application's own exception
handlers, as Starlette's ``ExceptionMiddleware`` would. Anything else — another method, a path with a
trailing slash, a non-HTTP scope — goes down the normal stack unchanged.

Only routes that need nothing FastAPI would add are accepted (:func:`hot_route`): a route with
dependencies, parameters other than the request, or a response model is refused at start-up, and a domain
names its hot routes among the routers it has included without dependencies (``Domain.hot_operations``).
``SEGUR_FAST_PATHS=false`` leaves this middleware out; the suite runs both ways, and
``tests/api/test_hotpaths.py`` compares the two answers request by request.
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
    """The routes of ``routers`` named by ``operation_ids`` (each must exist). The routers must be included
    without dependencies: those would not run beside the router."""
    wanted = set(operation_ids)
    found = [route for router in routers for route in router.routes
             if isinstance(route, APIRoute) and route.operation_id in wanted]
    missing = wanted - {route.operation_id for route in found}
    if missing:
        raise ValueError(f"no route with operation id {sorted(missing)}")
    return found


def hot_route(route: APIRoute) -> Endpoint:
    """The route's endpoint, if it can be called with the request alone and answer as the router would."""
    parameters = list(inspect.signature(route.endpoint).parameters.values())
    plain = (
        len(parameters) == 1
        and parameters[0].annotation in (Request, "Request")
        and not route.dependencies
        and not route.dependant.dependencies
        and route.response_model is None
    )
    if not plain:
        raise ValueError(f"{route.operation_id or route.name}: only an endpoint taking the request alone, with no "
                         "dependency or response model, can be dispatched beside the router")
    return route.endpoint  # type: ignore[no-any-return]


class HotPathMiddleware:
    def __init__(self, app: ASGIApp, *, fastapi: FastAPI, routes: Iterable[APIRoute]) -> None:
        self.app = app
        self.fastapi = fastapi
        self.routes: dict[tuple[str, str], tuple[APIRoute, Endpoint]] = {}
        for route in routes:
            endpoint = hot_route(route)
            for method in route.methods or ():
                self.routes[(method, route.path)] = (route, endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        route, endpoint = found
        scope["route"] = route  # what the journal names the operation by, as after the router
        scope["endpoint"] = endpoint
        scope["path_params"] = {}
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
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
