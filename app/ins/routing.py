"""A route class for the INSi hot paths: FastAPI documents them as usual, and calls them without its per-request
machinery when they do not need it.

``POST /insi/v1/search-traits`` and ``POST /lps`` read their body and settings themselves and return a
``Response``. FastAPI's standard request handler still runs its whole pipeline for them (endpoint context,
telemetry hook, dependency solving for a lone ``Request``, the response-is-a-Response check): about 14 µs per
request, measured. :class:`LeanRoute` keeps the :class:`~fastapi.routing.APIRoute` (OpenAPI, operation id,
response models, body limit, exception handling all unchanged) and hands the request straight to the endpoint,
but only when the *effective* route — with the dependencies of every ``include_router`` it went through —
has nothing to solve; otherwise it falls back to FastAPI's handler, so a dependency added later (an
authentication, say) is never skipped.

A fast path (``settings.fast_paths``, read per request from ``request.app.state.settings``): with it off, the
plain :class:`~fastapi.routing.APIRoute` pipeline answers, FastAPI's own handler built for the route as included
(tests/ins/test_routing.py compares both answers). Read per request, not decided once: the handler belongs to a
module-level router that every app built in the process includes, whatever its settings, and the settings are
an app's (tests swap them on a live app); the read costs about 0.5 µs (Starlette's ``State`` attribute fallback).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response


def _effective(route: APIRoute) -> Any:
    """The route as included (FastAPI builds one handler per inclusion, with the inclusion's dependencies), or
    ``None`` when this FastAPI does not say (then the lean path is not taken)."""
    var = getattr(fastapi_routing, "_effective_route_context_var", None)
    if var is None:
        return None
    context = var.get()
    if context is None:  # the route's own handler (APIRoute.__init__, or a route added to the app itself)
        return route
    # An inclusion context this code does not recognise (a FastAPI that renamed its fields, say) must not be
    # mistaken for "no inclusion": the bare route would not show the inclusion's dependencies.
    return context if getattr(context, "original_route", None) is route else None


def takes_only_the_request(dependant: Any, endpoint: Callable[..., Any]) -> bool:
    """Does calling ``endpoint(request)`` do all FastAPI would have done for this dependant?"""
    if dependant is None or dependant.call is not endpoint or dependant.request_param_name is None:
        return False
    if (dependant.dependencies or dependant.path_params or dependant.query_params or dependant.header_params
            or dependant.cookie_params or dependant.body_params):
        return False
    return (dependant.websocket_param_name is None and dependant.http_connection_param_name is None
            and dependant.response_param_name is None and dependant.background_tasks_param_name is None
            and dependant.security_scopes_param_name is None)


class LeanRoute(APIRoute):
    """An ``APIRoute`` whose ``async def endpoint(request) -> Response`` is called directly when it can be."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        effective = _effective(self)
        if effective is None or not takes_only_the_request(getattr(effective, "dependant", None), self.endpoint):
            return super().get_route_handler()
        endpoint = self.endpoint
        inclusion = fastapi_routing._effective_route_context_var.get()
        standard: list[Callable[[Request], Coroutine[Any, Any, Response]]] = []

        def plain() -> Callable[[Request], Coroutine[Any, Any, Response]]:
            """FastAPI's handler for the route as included, built the first time fast paths are off."""
            if not standard:
                token = fastapi_routing._effective_route_context_var.set(inclusion)
                try:
                    standard.append(super(LeanRoute, self).get_route_handler())
                finally:
                    fastapi_routing._effective_route_context_var.reset(token)
            return standard[0]

        async def handler(request: Request) -> Response:
            if request.app.state.settings.fast_paths:
                return await endpoint(request)  # type: ignore[no-any-return]
            return await plain()(request)

        return handler
