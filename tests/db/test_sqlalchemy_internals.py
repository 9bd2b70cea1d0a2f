"""The private SQLAlchemy names the PostgreSQL fast paths rely on (app/repositories/sql/pg/internals.py).

Each test fails loudly if an upgrade of SQLAlchemy renames or changes one, instead of a request failing later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from app.repositories.sql import tables as t
from app.repositories.sql.engine import make_engine
from app.repositories.sql.pg.driver import RawStatement, in_transaction
from app.repositories.sql.pg.internals import begin_if_pending, bind_processors, invalidate_pool
from tests.conftest import POSTGRES_URL

needs_postgres = pytest.mark.skipif(POSTGRES_URL is None, reason="needs STINT_TEST_DATABASE_URL (CI sets it)")


def test_bind_processors_convert_what_sqlalchemy_would_before_the_driver() -> None:
    stmt = t.events.insert()
    dialect = PGDialect_asyncpg(json_serializer=lambda value: f"json:{value}")
    compiled = stmt.compile(dialect=dialect, column_keys=["tenant_id", "id", "data", "occurred_at"])
    processors = bind_processors(compiled)
    assert isinstance(processors, dict) and set(processors) >= {"data", "occurred_at"}
    assert processors["data"]({"a": 1}) == "json:{'a': 1}", "JSON goes to the driver as text, by the engine's serialiser"
    paris = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=1)))
    assert processors["occurred_at"](paris) == datetime(2026, 1, 1, 11, tzinfo=UTC), "datetimes go as UTC"


def test_a_raw_statement_sends_the_values_sqlalchemy_would() -> None:
    stmt = select(t.events.c.id).where(t.events.c.tenant_id == bindparam("tenant"), t.events.c.occurred_at > bindparam("at"))
    raw = RawStatement(stmt, PGDialect_asyncpg())
    tenant = uuid4()
    at = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert "$1" in raw.sql and "$2" in raw.sql
    assert raw.args({"tenant": tenant, "at": at}) == [tenant, datetime(2026, 1, 1, 10, tzinfo=UTC)]


@needs_postgres
async def test_a_write_sent_to_the_driver_first_begins_sqlalchemys_transaction() -> None:
    assert POSTGRES_URL is not None
    engine = make_engine(POSTGRES_URL)
    try:
        async with engine.connect() as conn:
            await conn.begin()
            pooled = await conn.get_raw_connection()
            assert pooled.dbapi_connection._transaction is None, "SQLAlchemy's BEGIN waits for its first statement"
            await begin_if_pending(pooled, conn.in_transaction())
            driver = await in_transaction(conn)
            assert driver.is_in_transaction(), "the driver's connection is inside the transaction"
            await driver.execute("CREATE TEMP TABLE internals_probe (n int) ON COMMIT DROP")
            await conn.rollback()
            assert not driver.is_in_transaction(), "SQLAlchemy's rollback ended the transaction the driver began"
    finally:
        await engine.dispose()


@needs_postgres
async def test_invalidating_the_pool_recycles_every_connection_pooled_before() -> None:
    assert POSTGRES_URL is not None
    engine = make_engine(POSTGRES_URL)
    try:
        async with engine.connect() as first:
            before = (await first.execute(text("SELECT pg_backend_pid()"))).scalar()
        async with engine.connect() as conn:
            invalidate_pool(conn.sync_connection, ConnectionError("cut"))
        async with engine.connect() as again:
            after = (await again.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert before != after, "a connection pooled before the cut is not handed out again"
    finally:
        await engine.dispose()
