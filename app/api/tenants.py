"""Tenants over HTTP: the ``/t/{tenant}`` path prefix, the directory of tenants, their control API.

``/t/{tenant}/<any path>`` is ``<any path>`` in that tenant's world: the middleware takes the prefix off
(so every face, its routes and its error shapes are the same as at the default paths) and runs the
request with the tenant as current (:mod:`app.tenancy`); absolute URLs the sandbox emits are given the
prefix back (:func:`app.api.urls.absolute_url`). An unknown or ill-formed tenant is a 404 in the shape of
the protocol the rest of the path belongs to.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.deps import SessionDep, SettingsDep
from app.api.errors import ProblemError, render_generic
from app.api.models import Tenant
from app.api.store import delete_tenant_rows, seed_store
from app.api.urls import absolute_url
from app.db import as_utc, utcnow
from app.events import TOPIC_RESET, publish
from app.tenancy import (
    DEFAULT_TENANT,
    PATH_PREFIX,
    is_valid_tenant_name,
    use_tenant,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

TOPIC_TENANTS = "store.tenants"
"""Published when a tenant is created or deleted: every worker forgets its directory of tenants."""
TENANT_KEY = "segur.tenant"
"""The scope key holding the tenant a request was addressed to."""


class TenantDirectory:
    """The names of the tenants that exist, kept in memory; a name not known is looked up in the store
    once (another worker may have created it) before a request to it is refused."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def forget(self, _key: str = "") -> None:
        self._known = set()

    async def resync(self) -> None:
        self.forget()

    async def exists(self, sessionmaker: async_sessionmaker[AsyncSession], name: str) -> bool:
        if name == DEFAULT_TENANT or name in self._known:
            return True
        async with sessionmaker() as session:
            found = await session.get(Tenant, name) is not None
        if found:
            self._known.add(name)
        return found


def directory_of(app: FastAPI) -> TenantDirectory:
    directory = getattr(app.state, "tenants", None)
    if directory is None:
        directory = app.state.tenants = TenantDirectory()
    return directory


class TenantPathMiddleware:
    """Outermost middleware: ``/t/{tenant}/rest`` becomes ``/rest`` run in ``tenant``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PATH_PREFIX):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        name, _, rest = path[len(PATH_PREFIX):].partition("/")
        rest = "/" + rest
        inner = dict(scope, path=rest, raw_path=rest.encode("latin-1", "replace"))
        inner[TENANT_KEY] = name
        app = scope["app"]
        if not is_valid_tenant_name(name) or not await directory_of(app).exists(app.state.sessionmaker, name):
            response = render_generic(
                Request(inner, receive), 404,
                f"no tenant {name[:64]!r} here: create it with POST /sandbox/v1/tenants, or drop the /t/ prefix "
                "for the default tenant", rule="sandbox:unknown-tenant",
            )
            await response(inner, receive, send)
            return
        with use_tenant(name):
            await self.app(inner, receive, send)


# --- control API -------------------------------------------------------------------------------------

router = APIRouter(prefix="/sandbox/v1/tenants", tags=["sandbox"])
TenantName = Annotated[str, Path(description="the tenant's name", max_length=64)]


class TenantCreate(BaseModel):
    name: str = Field(description="lower-case letters, digits and inner hyphens, 1-40 characters; not `default`",
                      examples=["pipeline-42"], max_length=64)
    seed: Literal["fixtures", "empty"] = Field(
        "fixtures", description="`fixtures`: the same test professionals, clients, persons, DMPs and mailboxes as "
        "the default tenant; `empty`: nothing but what the harness creates")


class TenantRead(BaseModel):
    name: str
    seeded: str
    created_at: datetime
    base_url: str = Field(description="prefix every HTTP face's path with it (the PSC issuer too)")
    mail_login_prefix: str = Field(description="SMTP AUTH / IMAP LOGIN user names are `<tenant>/<login>`")


class TenantDeleted(BaseModel):
    name: str
    rows_deleted: int


def _read(row: Tenant, settings: SettingsDep) -> TenantRead:
    return TenantRead(name=row.name, seeded=row.seeded, created_at=as_utc(row.created_at),
                      base_url=absolute_url(settings, "", tenant=row.name).rstrip("/"),
                      mail_login_prefix=f"{row.name}/")


def _check_name(name: str) -> None:
    if name == DEFAULT_TENANT:
        raise ProblemError(409, "Reserved name", "`default` is the world at the paths without /t/: it always exists "
                           "and cannot be created or deleted (reset it with POST /sandbox/v1/reset)",
                           rule="sandbox:tenant-reserved")
    if not is_valid_tenant_name(name):
        raise ProblemError(422, "Invalid tenant name", f"{name[:64]!r}: a tenant's name is 1-40 lower-case letters, "
                           "digits and inner hyphens (it goes into URLs, logins and the PSC issuer)",
                           rule="sandbox:tenant-name")


@router.post("", status_code=201, response_model=TenantRead, operation_id="sandbox_create_tenant",
             summary="Create a tenant: a whole, isolated world at /t/{name}",
             responses={409: {"description": "exists already, or `default`"},
                        422: {"description": "an ill-formed name"}})
async def create_tenant(request: Request, response: Response, session: SessionDep, settings: SettingsDep,
                        body: TenantCreate) -> TenantRead:
    _check_name(body.name)
    if await session.get(Tenant, body.name) is not None:
        raise ProblemError(409, "Tenant exists", f"tenant {body.name!r} exists already; delete it first, or reset "
                           f"it with POST /t/{body.name}/sandbox/v1/reset", rule="sandbox:tenant-exists")
    row = Tenant(name=body.name, created_at=utcnow(), seeded=body.seed)
    session.add(row)
    await session.flush()
    if body.seed == "fixtures":
        with use_tenant(body.name):
            await seed_store(session, settings, request.app.state.domains)
    await publish(session, TOPIC_TENANTS, body.name)
    response.headers["Location"] = absolute_url(settings, f"/sandbox/v1/tenants/{body.name}")
    return _read(row, settings)


@router.get("", response_model=list[TenantRead], operation_id="sandbox_list_tenants",
            summary="The tenants that exist (`default` is implicit and not listed)")
async def list_tenants(session: SessionDep, settings: SettingsDep) -> list[TenantRead]:
    rows = (await session.scalars(select(Tenant).order_by(Tenant.name))).all()
    return [_read(row, settings) for row in rows]


async def _tenant(session: AsyncSession, name: str) -> Tenant:
    row = await session.get(Tenant, name) if is_valid_tenant_name(name) else None
    if row is None:
        raise ProblemError(404, "No such tenant", f"no tenant {name[:64]!r}", rule="sandbox:unknown-tenant")
    return row


@router.get("/{name}", response_model=TenantRead, operation_id="sandbox_read_tenant", summary="One tenant",
            responses={404: {"description": "no such tenant"}})
async def read_tenant(session: SessionDep, settings: SettingsDep, name: TenantName) -> TenantRead:
    return _read(await _tenant(session, name), settings)


@router.delete("/{name}", response_model=TenantDeleted, operation_id="sandbox_delete_tenant",
               summary="Delete a tenant and all its data, in one transaction",
               responses={404: {"description": "no such tenant"}, 409: {"description": "`default`"}})
async def delete_tenant(request: Request, session: SessionDep, name: TenantName) -> TenantDeleted:
    _check_name(name)
    row = await _tenant(session, name)
    deleted = await delete_tenant_rows(session, name)
    await session.delete(row)
    await publish(session, TOPIC_TENANTS, name)
    await publish(session, TOPIC_RESET, name)  # what workers keep in memory of its world is forgotten
    return TenantDeleted(name=name, rows_deleted=deleted)

