"""The INSi operations on the store (app/ins/searches.py)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import asyncpg

from app.ins import searches, traits
from app.ins.exceptions import IdamRefused
from app.ins.readpool import ReadPool
from app.ins.search import Outcome


async def test_search_by_traits_in_the_store(client, session):
    q = traits.check_query("DE VINCI", "LEONARDO", "M", "2014-02-01")
    assert (await searches.search_by_traits(session, q)).code == "02"
    q = traits.check_query("D'AEION", "COEUR", "M", "1987-01-01")
    assert (await searches.search_by_traits(session, q)).fault == "insi_102"
    q = traits.check_query("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14")
    out = await searches.search_by_traits(session, q)
    assert out.code == "00" and [h.ins for h in out.person.ins_histo] == ["209076322083439"]


QUERIES = [
    ("ADRUN", "ZOE", "F", "1975-12-31", "00"),
    ("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14", "00"),
    ("DE VINCI", "LEONARDO", "M", "2014-02-01", "02"),
    ("MARTIN", "JEAN", "M", "1901-01-01", "01"),
    ("D'AEION", "COEUR", "M", "1987-01-01", "fault"),
]


async def _answers(state: object) -> list[object]:
    """Every query of :data:`QUERIES`, without an IDAM, with a known one and with an unknown one."""
    out: list[object] = []
    for nom, prenom, sexe, date, _ in QUERIES:
        query = traits.check_query(nom, prenom, sexe, date)
        for idam in (None, "SEGURSANDBOX01", "NOT-AN-IDAM"):
            try:
                out.append(await searches.search_by_traits_fast(state, query, idam=idam))
            except IdamRefused as err:
                out.append(("refused", err.idam, err.rule))
    return out


async def test_the_fast_search_answers_as_the_plain_search(app, client) -> None:  # type: ignore[no-untyped-def]
    """The plain path (the statement through a session) answers each query as the rules expect; on PostgreSQL,
    the fast path (the same statement compiled for asyncpg, on a ReadPool) answers exactly the same."""
    plain = await _answers(SimpleNamespace(sessionmaker=app.state.sessionmaker))
    for i, (*_, code) in enumerate(QUERIES):
        found, with_idam, refused = plain[3 * i:3 * i + 3]
        assert isinstance(found, Outcome)
        assert (found.fault == "insi_102") if code == "fault" else (found.code == code)
        assert with_idam == found  # a known IDAM changes nothing
        assert refused == ("refused", "NOT-AN-IDAM", "INSi:IDAM")
    url = app.state.settings.database_url
    if not url.startswith("postgresql"):
        return  # no fast path on SQLite: the plain path is the only one
    pool = await asyncpg.create_pool(url.replace("postgresql+asyncpg://", "postgresql://", 1), min_size=1, max_size=2)
    reads = ReadPool(pool, 2)
    try:
        fast = await _answers(SimpleNamespace(ins_pg_pool=reads))
    finally:
        await reads.close()
        await pool.close()
    assert fast == plain


def test_the_fast_sql_is_the_statement_compiled_for_asyncpg() -> None:
    """One query definition: the fast path's SQL is SQLAlchemy's for the same statement, not a copy."""
    from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

    tenant = searches.TENANT_PARAM
    for with_idam, statement in ((False, searches.TRAITS), (True, searches.TRAITS_IDAM)):
        compiled = searches.compiled_for_asyncpg(with_idam)
        assert compiled.sql == str(searches._in_tenant(statement).compile(dialect=asyncpg_dialect.dialect()))
        assert re.search(r"\b(ins_person|p)\.tenant = \$", compiled.sql)  # asyncpg bypasses the criteria
        assert set(compiled.names) == {"nom_naissance", "date_naissance", tenant} | ({"idam"} if with_idam else set())
        values = {"nom_naissance": "N", "date_naissance": "D", "idam": "I", tenant: "T"}
        assert compiled.args(values) == [values[name] for name in compiled.names]
