"""Tenants: whole, isolated worlds in one store, one schema — the tenant is a column, enforced here.

A tenant is addressed by a path prefix (``/t/{tenant}/...``, every HTTP face, the PSC issuer included, as
mock-oauth2-server gives each issuer its own path) or, over SMTP/IMAP, by its login; the ``default`` tenant
is the world at today's paths. The tenant of the work in hand is a context variable, set where a request
or a session comes in (:class:`TenantPathMiddleware`, the SMTP/IMAP login) and read by everything below.

Isolation is enforced in one place, not in each query by hand:

- every tenant-owned table mixes in :class:`TenantOwned`: a ``tenant`` column whose default is the
  current tenant, so every ORM or Core insert writes the right one;
- :func:`_scope_to_tenant` (a ``do_orm_execute`` hook on every session) adds ``tenant = <current>`` to
  every ORM SELECT, UPDATE and DELETE, joins, relationship loads and subqueries included
  (``with_loader_criteria``);
- :func:`install_tenant_guard` refuses, on the engine, any SQL statement that reads or writes a
  tenant-owned table without naming the tenant column (a Core statement that bypassed the ORM, a raw
  ``text()``): a leak between tenants is a loud error in the tests, never a silent one in a pipeline.
  The ORM's own UPDATE/DELETE of one row by its whole primary key (a flush) is let through: the row was
  loaded inside the tenant, and a natural key is made unique per tenant by having the tenant in it.

The few statements that act on every tenant (the reset of the whole store, deleting a tenant) say so
with the execution option ``all_tenants=True``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Delete, String, Update, bindparam, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression

DEFAULT_TENANT = "default"
TENANT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
"""A tenant's name: lower-case letters, digits and inner hyphens, 1-40 characters (a DNS label's
alphabet): it appears in URLs, in logins and in the PSC issuer, so nothing there needs escaping."""
PATH_PREFIX = "/t/"
ALL_TENANTS = "all_tenants"
"""Execution option of a statement that acts on every tenant on purpose (reset of the whole store,
deleting a tenant's rows by name)."""

_current: ContextVar[str] = ContextVar("segur_tenant", default=DEFAULT_TENANT)


def current_tenant() -> str:
    """The tenant of the work in hand (``default`` outside any)."""
    return _current.get()


@contextmanager
def use_tenant(name: str) -> Iterator[str]:
    """Run the block in tenant ``name`` (restored after, also on error)."""
    token = _current.set(name)
    try:
        yield name
    finally:
        _current.reset(token)


def set_tenant(name: str) -> None:
    """Make ``name`` the tenant of the rest of this task (an SMTP/IMAP session after its login: each
    connection runs in its own task, so the choice never leaks into another connection)."""
    _current.set(name)


def tenant_prefix(tenant: str | None = None) -> str:
    """The path prefix of a tenant's faces: ``""`` for the default tenant, ``/t/{name}`` otherwise."""
    name = current_tenant() if tenant is None else tenant
    return "" if name == DEFAULT_TENANT else f"{PATH_PREFIX}{name}"


def tenant_path(path: str, tenant: str | None = None) -> str:
    """A site-absolute path (``/mes/...``) as the current tenant's (``/t/a/mes/...``)."""
    return tenant_prefix(tenant) + path


def is_valid_tenant_name(name: str) -> bool:
    return bool(TENANT_NAME.fullmatch(name))  # not match(): its ``$`` also matches before a final newline


class TenantOwned:
    """Mixin of every tenant-owned table: the ``tenant`` column, filled with the current tenant."""

    tenant: Mapped[str] = mapped_column(
        String(64), default=current_tenant, server_default=DEFAULT_TENANT, nullable=False
    )


def tenant_tables(metadata: Any) -> list[Any]:
    """The tables that hold a ``tenant`` column, children first (the order to delete them in)."""
    return [table for table in reversed(metadata.sorted_tables) if "tenant" in table.c]


_TENANT_PARAMETER = bindparam("tenant_scope", callable_=current_tenant, type_=String())
"""The current tenant, read when a statement executes (not when it is built or compiled): one criterion and
one compiled statement serve every tenant, so the SQL cache does not grow with the tenants, and the hook
costs ~9 µs a statement (a criterion built per call with the tenant as a closure value cost ~55 µs)."""
_TENANT_CRITERIA = with_loader_criteria(TenantOwned, lambda cls: cls.tenant == _TENANT_PARAMETER, include_aliases=True)


def _scope_to_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get(ALL_TENANTS):
        return
    state.statement = state.statement.options(_TENANT_CRITERIA)


event.listen(Session, "do_orm_execute", _scope_to_tenant)


class TenantLeak(RuntimeError):
    """A statement on a tenant-owned table that does not name the tenant: it would see, or change, the
    rows of every tenant."""


def _by_primary_key(compiled: Any) -> bool:
    """Whether a compiled statement is an UPDATE or DELETE of one row by its table's whole primary key."""
    statement = getattr(compiled, "statement", None)
    if not isinstance(statement, Update | Delete):
        return False
    table = statement.table
    primary_key = set(getattr(table, "primary_key", ()))
    compared: set[Any] = set()
    for criterion in statement._where_criteria:
        for clause in getattr(criterion, "clauses", (criterion,)):
            if not (isinstance(clause, BinaryExpression) and clause.operator is operators.eq
                    and clause.left in primary_key):
                return False
            compared.add(clause.left)
    return bool(primary_key) and compared == primary_key


_DATA_STATEMENTS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "COPY")
_TABLE_WORD = re.compile(r"\b([a-z_][a-z0-9_]*)\b")


def install_tenant_guard(sync_engine: Any, tenant_table_names: set[str]) -> None:
    """Refuse SQL that touches a tenant-owned table without the tenant column (see module docstring).

    Each distinct statement text is checked once (the compiled cache hands the same strings back), so
    the hot paths pay one set lookup.
    """
    checked: set[str] = set()

    def before_cursor_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                              executemany: bool) -> None:
        if statement in checked:
            return
        if not statement.lstrip()[:6].upper().startswith(_DATA_STATEMENTS):
            return  # DDL (migrations), PRAGMA, TRUNCATE by the reset (ALL_TENANTS), transaction control
        if context is not None and context.execution_options.get(ALL_TENANTS):
            return
        if "_alembic_tmp_" in statement:
            return  # a migration's batch rebuild on SQLite copies every row of a table, on purpose (migrate on start)
        words = set(_TABLE_WORD.findall(statement.lower()))
        touched = words & tenant_table_names
        if touched and "tenant" not in words and not _by_primary_key(getattr(context, "compiled", None)):
            raise TenantLeak(f"statement on {', '.join(sorted(touched))} without the tenant: {statement[:300]}")
        if len(checked) < 10_000:
            checked.add(statement)

    event.listen(sync_engine, "before_cursor_execute", before_cursor_execute)
