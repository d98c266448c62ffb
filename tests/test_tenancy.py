"""The tenant enforced in one place (app/tenancy.py): the ORM criteria on every SELECT, UPDATE and DELETE (joins,
subqueries and relationship loads included), the default of the tenant column on inserts, and the engine's guard
against a Core or text statement that does not name the tenant (``TenantLeak``), unless it says ``all_tenants``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import Integer, String, delete, func, select, text, update
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, joinedload, mapped_column, relationship, selectinload

from app.db import create_engine
from app.ins.models import InsMatricule, InsPerson
from app.tenancy import (
    ALL_TENANTS,
    DEFAULT_TENANT,
    TenantLeak,
    TenantOwned,
    current_tenant,
    install_tenant_guard,
    is_valid_tenant_name,
    set_tenant,
    tenant_path,
    tenant_prefix,
    use_tenant,
)
from tests.tenants import make_tenant

__all__ = ["make_tenant"]

NAME = "TENANCYTEST"


def test_names_prefixes_and_the_context() -> None:
    assert current_tenant() == DEFAULT_TENANT and tenant_prefix() == "" and tenant_path("/mes") == "/mes"
    with use_tenant("a-1"):
        assert current_tenant() == "a-1" and tenant_prefix() == "/t/a-1" and tenant_path("/mes/x") == "/t/a-1/mes/x"
        with use_tenant("b"):
            assert current_tenant() == "b"
        assert current_tenant() == "a-1"
    assert current_tenant() == DEFAULT_TENANT
    with pytest.raises(RuntimeError), use_tenant("c"):
        raise RuntimeError
    assert current_tenant() == DEFAULT_TENANT
    for good in ("a", "0", "a-b", "x" * 40, "pipeline-42"):
        assert is_valid_tenant_name(good), good
    for bad in ("", "A", "-a", "a-", "a_b", "x" * 41, "a b", "a/b", "é", "a\n"):
        assert not is_valid_tenant_name(bad), bad


async def test_set_tenant_lasts_for_the_rest_of_the_task_only() -> None:
    import asyncio

    async def connection() -> str:
        set_tenant("login-tenant")  # what an SMTP/IMAP login does in its connection's task
        await asyncio.sleep(0)
        return current_tenant()

    assert await asyncio.create_task(connection()) == "login-tenant"
    assert current_tenant() == DEFAULT_TENANT


# --- the ORM criteria on the application's own models -----------------------------------------------------

async def _person(sessionmaker: async_sessionmaker, tenant: str, number: str) -> int:  # type: ignore[type-arg]
    """A person and its matricule in ``tenant``, written without naming the tenant (the column's default)."""
    with use_tenant(tenant):
        async with sessionmaker() as session, session.begin():
            person = InsPerson(nom_naissance=NAME, liste_prenom=tenant, sexe="F", date_naissance="1990-01-01",
                               ins_number=number, histo=[])
            session.add(person)
            await session.flush()
            session.add(InsMatricule(person_id=person.id, number=number, key="00", kind="NIR", active=True))
            return person.id


@pytest.fixture
async def two_worlds(client: httpx.AsyncClient, make_tenant, app) -> AsyncIterator[tuple[str, str, dict]]:  # type: ignore[no-untyped-def]
    """Two empty tenants, each with one person of the same name and the same matricule (a natural key reused)."""
    a, b = await make_tenant("orm-a", seed="empty"), await make_tenant("orm-b", seed="empty")
    number = "2" + uuid.uuid4().int.__str__()[:12]
    ids = {a: await _person(app.state.sessionmaker, a, number), b: await _person(app.state.sessionmaker, b, number)}
    yield a, b, {"number": number, **ids}


async def test_inserts_take_the_current_tenant(two_worlds, app) -> None:  # type: ignore[no-untyped-def]
    a, b, ids = two_worlds
    async with app.state.sessionmaker() as session:
        rows = (await session.execute(
            select(InsPerson.tenant, InsPerson.liste_prenom).where(InsPerson.nom_naissance == NAME),
            execution_options={ALL_TENANTS: True})).all()
    assert sorted(rows) == sorted([(a, a), (b, b)])


async def test_select_join_subquery_and_get_see_only_the_current_tenant(two_worlds, app) -> None:  # type: ignore[no-untyped-def]
    a, b, ids = two_worlds
    sessionmaker = app.state.sessionmaker
    for mine, theirs in ((a, b), (b, a)):
        with use_tenant(mine):
            async with sessionmaker() as session:
                people = (await session.scalars(select(InsPerson).where(InsPerson.nom_naissance == NAME))).all()
                assert [p.liste_prenom for p in people] == [mine]
                # a join on the natural key: without the criteria on both sides it would pair across tenants
                pairs = (await session.execute(
                    select(InsPerson.liste_prenom, InsMatricule.tenant)
                    .join(InsMatricule, InsMatricule.number == InsPerson.ins_number)
                    .where(InsMatricule.number == ids["number"]))).all()
                assert pairs == [(mine, mine)]
                # a correlated subquery, and a scalar subquery of the matricules
                having = (await session.scalars(select(InsPerson.liste_prenom).where(
                    InsPerson.ins_number.in_(select(InsMatricule.number).where(InsMatricule.active))))).all()
                assert mine in having and theirs not in having
                counted = await session.scalar(select(
                    select(func.count(InsMatricule.id)).where(InsMatricule.number == ids["number"])
                    .scalar_subquery()))
                assert counted == 1
                assert await session.get(InsPerson, ids[theirs]) is None
                assert (await session.get(InsPerson, ids[mine])) is not None
    async with sessionmaker() as session:  # the default tenant sees neither
        assert (await session.scalars(select(InsPerson).where(InsPerson.nom_naissance == NAME))).all() == []


async def test_update_and_delete_touch_only_the_current_tenant(two_worlds, app) -> None:  # type: ignore[no-untyped-def]
    a, b, ids = two_worlds
    sessionmaker = app.state.sessionmaker
    with use_tenant(a):
        async with sessionmaker() as session, session.begin():
            result = await session.execute(update(InsPerson).where(InsPerson.nom_naissance == NAME)
                                           .values(lieu_naissance="99999"))
            assert result.rowcount == 1
            gone = await session.execute(delete(InsMatricule).where(InsMatricule.number == ids["number"]))
            assert gone.rowcount == 1
    with use_tenant(b):
        async with sessionmaker() as session:
            person = (await session.scalars(select(InsPerson).where(InsPerson.nom_naissance == NAME))).one()
            assert person.lieu_naissance is None
            assert await session.scalar(select(func.count()).select_from(InsMatricule)
                                        .where(InsMatricule.number == ids["number"])) == 1
    # an object loaded in a tenant and changed by the ORM's flush (UPDATE by its whole primary key) stays there
    with use_tenant(b):
        async with sessionmaker() as session, session.begin():
            person = (await session.scalars(select(InsPerson).where(InsPerson.nom_naissance == NAME))).one()
            person.rang_naissance = "2"
    with use_tenant(a):
        async with sessionmaker() as session:
            assert (await session.scalars(select(InsPerson.rang_naissance)
                                          .where(InsPerson.nom_naissance == NAME))).one() is None


def _leak(exc: BaseException) -> TenantLeak | None:
    while exc is not None:
        if isinstance(exc, TenantLeak):
            return exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None


@pytest.mark.parametrize("statement", [
    "core-select", "core-update", "core-delete", "text-select", "text-update",
])
async def test_the_guard_refuses_sql_without_the_tenant(two_worlds, app, statement: str) -> None:  # type: ignore[no-untyped-def]
    a, b, ids = two_worlds
    table = InsPerson.__table__
    statements = {
        "core-select": select(table.c.id).where(table.c.nom_naissance == NAME),
        "core-update": update(table).where(table.c.nom_naissance == NAME).values(lieu_naissance="1"),
        "core-delete": delete(InsMatricule.__table__).where(InsMatricule.__table__.c.number == ids["number"]),
        "text-select": text("SELECT count(*) FROM ins_person WHERE nom_naissance = :n").bindparams(n=NAME),
        "text-update": text("UPDATE ins_matricule SET active = false WHERE number = :n").bindparams(n=ids["number"]),
    }
    with use_tenant(a):
        async with app.state.sessionmaker() as session:
            with pytest.raises((TenantLeak, StatementError)) as raised:
                await session.execute(statements[statement])
            assert _leak(raised.value) is not None, raised.value
            await session.rollback()
    # nothing changed in either tenant
    async with app.state.sessionmaker() as session:
        count = await session.scalar(text("SELECT count(*) FROM ins_matricule WHERE number = :n AND tenant IN (:a, :b)")
                                     .bindparams(n=ids["number"], a=a, b=b))
        assert count == 2


async def test_the_guard_lets_through_the_tenant_named_or_all_tenants(two_worlds, app) -> None:  # type: ignore[no-untyped-def]
    a, b, ids = two_worlds
    table = InsPerson.__table__
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(table).where(table.c.nom_naissance == NAME),
                                    execution_options={ALL_TENANTS: True}) == 2
        assert await session.scalar(text("SELECT count(*) FROM ins_person WHERE nom_naissance = :n"),
                                    {"n": NAME}, execution_options={ALL_TENANTS: True}) == 2
        assert await session.scalar(select(func.count()).select_from(table).where(
            table.c.nom_naissance == NAME, table.c.tenant == a)) == 1
        assert await session.scalar(text("SELECT count(*) FROM ins_person WHERE tenant = :t AND nom_naissance = :n"),
                                    {"t": b, "n": NAME}) == 1


# --- relationship loads, on models of this test's own (the application maps no relationship) ------------

class _Base(DeclarativeBase):
    pass


class Parent(TenantOwned, _Base):
    __tablename__ = "tenancy_test_parent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(32))
    children: Mapped[list[Child]] = relationship(
        primaryjoin="Parent.name == foreign(Child.parent_name)", viewonly=True, order_by="Child.id")
    lazy_children: Mapped[list[Child]] = relationship(
        primaryjoin="Parent.name == foreign(Child.parent_name)", viewonly=True, lazy="select", order_by="Child.id")


class Child(TenantOwned, _Base):
    __tablename__ = "tenancy_test_child"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_name: Mapped[str] = mapped_column(String(32))  # the parent's name: no foreign key, a natural key


@pytest.fixture(scope="module")
async def own_tables(database_url: str) -> AsyncIterator[async_sessionmaker]:  # type: ignore[type-arg]
    """This module's two tables in the test store, guarded like the application's; a name shared by a parent of
    each tenant (the relationship joins on it, as a natural key)."""
    engine = create_engine(database_url)
    install_tenant_guard(engine.sync_engine, {Parent.__tablename__, Child.__tablename__})
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.create_all)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    for tenant in ("rel-a", "rel-b"):
        with use_tenant(tenant):
            async with sessionmaker() as session, session.begin():
                session.add(Parent(name="shared"))
                session.add_all([Child(parent_name="shared") for _ in range(2 if tenant == "rel-a" else 3)])
    yield sessionmaker
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.drop_all)
    await engine.dispose()


@pytest.mark.parametrize("loading", ["selectin", "joined", "lazy"])
async def test_relationship_loads_stay_in_the_tenant(own_tables, loading: str) -> None:  # type: ignore[no-untyped-def]
    for tenant, expected in (("rel-a", 2), ("rel-b", 3)):
        with use_tenant(tenant):
            async with own_tables() as session:
                if loading == "selectin":
                    parent = (await session.scalars(select(Parent).options(selectinload(Parent.children)))).one()
                    children = parent.children
                elif loading == "joined":
                    parent = (await session.scalars(
                        select(Parent).options(joinedload(Parent.children)))).unique().one()
                    children = parent.children
                else:
                    parent = (await session.scalars(select(Parent))).one()
                    children = await session.run_sync(lambda _s, p=parent: list(p.lazy_children))
                assert parent.tenant == tenant
                assert len(children) == expected and {c.tenant for c in children} == {tenant}, loading


async def test_own_tables_guarded_too(own_tables) -> None:  # type: ignore[no-untyped-def]
    async with own_tables() as session:
        with pytest.raises((TenantLeak, StatementError)) as raised:
            await session.execute(select(Child.__table__.c.id))
        assert _leak(raised.value) is not None


def test_the_cli_addresses_a_tenant_by_name() -> None:
    from app.cli import _tenant_base, build_parser

    args = build_parser().parse_args(["report", "--client", "psc:x", "--url", "http://h:8000", "--tenant", "ci-7"])
    assert _tenant_base(args.url, args.tenant) == "http://h:8000/t/ci-7"
    assert _tenant_base("http://h:8000/t/ci-7", None) == "http://h:8000/t/ci-7"  # a tenant's base URL as --url
    assert _tenant_base("http://h:8000", "default") == "http://h:8000"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["seed", "--tenant", "Bad_Name"])
