"""app.api.hotpaths: exact method and path go beside the router, everything else through it; only endpoints
that take the request alone qualify; what they raise is rendered by the application's handlers."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from app.api.hotpaths import HotPathMiddleware, hot_routes

calls: list[str] = []


class Refusal(Exception):
    pass


async def echo(request: Request) -> Response:
    calls.append("echo")
    if request.query_params.get("fail") == "refusal":
        raise Refusal("refused")
    if request.query_params.get("fail") == "http":
        raise HTTPException(418, "teapot")
    if request.query_params.get("fail") == "other":
        raise RuntimeError("boom")
    if request.query_params.get("url_for"):
        return PlainTextResponse(str(request.url_for("echo")))
    return PlainTextResponse(await request.body())


async def with_parameter(request: Request, name: str) -> Response:
    return PlainTextResponse(name)


def _dependency() -> None:
    return None


async def not_a_response(request: Request) -> dict[str, str]:
    return {"not": "a response"}


def synchronous(request: Request) -> Response:
    return PlainTextResponse("sync")


def _app(*operation_ids: str) -> FastAPI:
    router = APIRouter()
    router.add_api_route("/echo", echo, methods=["POST"], operation_id="echo", name="echo")
    router.add_api_route("/param", with_parameter, methods=["GET"], operation_id="param")
    router.add_api_route("/dep", echo, methods=["GET"], operation_id="dep", dependencies=[Depends(_dependency)])
    router.add_api_route("/dict", not_a_response, methods=["GET"], operation_id="dict")
    router.add_api_route("/sync", synchronous, methods=["GET"], operation_id="sync")
    app = FastAPI()
    app.state.settings = SimpleNamespace(fast_paths=True)
    app.include_router(router)

    @app.exception_handler(Refusal)
    async def refusal(request: Request, exc: Refusal) -> Response:
        return JSONResponse({"refused": str(exc), "route": request.scope["route"].operation_id}, status_code=403)

    app.add_middleware(HotPathMiddleware, fastapi=app, routes=hot_routes([router], operation_ids))
    return app


async def _request(app: FastAPI, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://t") as http:
        return await http.request(method, path, content=b"hello")


async def test_only_the_exact_method_and_path_go_beside_the_router(routed: list[str]) -> None:
    app = _app("echo")
    response = await _request(app, "POST", "/echo")
    assert (response.status_code, response.text, routed) == (200, "hello", [])
    assert (await _request(app, "GET", "/echo")).status_code == 405  # another method: the router's answer
    assert (await _request(app, "POST", "/echo/")).status_code == 307  # another path: the router's redirect
    assert routed == ["/echo", "/echo/"]


async def test_what_the_endpoint_raises_goes_to_the_application_handlers() -> None:
    app = _app("echo")
    refused = await _request(app, "POST", "/echo?fail=refusal")
    assert (refused.status_code, refused.json()) == (403, {"refused": "refused", "route": "echo"})
    teapot = await _request(app, "POST", "/echo?fail=http")
    assert (teapot.status_code, teapot.json()) == (418, {"detail": "teapot"})  # FastAPI's HTTPException handler
    assert (await _request(app, "POST", "/echo?fail=other")).status_code == 500  # left to the outer layers


async def test_the_scope_holds_what_the_router_would_have_set() -> None:
    response = await _request(_app("echo"), "POST", "/echo?url_for=1")
    assert (response.status_code, response.text) == (200, "http://t/echo")


async def test_fast_paths_off_every_request_goes_through_the_router(routed: list[str]) -> None:
    app = _app("echo")
    app.state.settings = SimpleNamespace(fast_paths=False)  # read per request, as tests swap a live app's settings
    response = await _request(app, "POST", "/echo")
    assert (response.status_code, response.text, routed) == (200, "hello", ["/echo"])


async def test_a_hot_endpoint_must_return_a_response() -> None:
    """Beside the router nothing would serialise another value: a 500, never a half answer."""
    assert (await _request(_app("dict"), "GET", "/dict")).status_code == 500


async def test_under_a_root_path_the_router_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    """The router matches the path without the root path; the hot path steps aside rather than guess."""
    app = _app("echo")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, root_path="/echo"),
                                 base_url="http://t") as http:
        answer = await http.post("/echo", content=b"hello")  # the path /echo, the route path "" under the root
    assert answer.status_code == 404


@pytest.mark.parametrize("operation_id", ["param", "dep", "sync"])
def test_an_endpoint_that_needs_fastapi_cannot_be_hot(operation_id: str) -> None:
    app = _app(operation_id)
    with pytest.raises(ValueError, match="request alone"):
        app.build_middleware_stack()


def test_an_unknown_operation_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="no route with operation id"):
        hot_routes([APIRouter()], ["nothing"])
