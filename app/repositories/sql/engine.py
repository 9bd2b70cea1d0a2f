"""The engine: its creation, SQLite's pragmas, and the one place that maps a driver failure to what the ports
report (StorageUnavailable, a 503; contention, a 409 to retry)."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.domain.errors import ConcurrentUpdate, StorageUnavailable


def _json_serializer(value: Any) -> str:
    """JSON columns take domain values as they are (datetimes, UUIDs, enums, dataclasses), written by pydantic-core."""
    return to_json(value).decode()


def make_engine(
    url: str, *, connect_timeout: float = 5.0, statement_timeout: float = 30.0, pool_size: int = 20, max_overflow: int = 10,
    **kwargs: Any,
) -> AsyncEngine:
    """`connect_timeout` and `statement_timeout` (seconds) bound how long a request waits on PostgreSQL
    before it answers 503, so an outage is reported quickly instead of piling requests up.

    `pool_size` connections stay open (PostgreSQL only); up to `max_overflow` more are opened under load and
    closed on return. Under the benchmark's 32 concurrent requests a pool of 10 reconnected (TLS attempt and
    authentication included) on a large share of requests: GET ran at 0.6x the rate it reaches with 20."""
    kwargs.setdefault("json_serializer", _json_serializer)
    kwargs.setdefault("hide_parameters", True)  # errors are logged; their parameters may hold secrets
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _serialise_sqlite_writers(engine)
        return engine
    connect_args = {
        "timeout": connect_timeout,
        "command_timeout": statement_timeout,
        "server_settings": {"statement_timeout": str(int(statement_timeout * 1000))},
    }
    kwargs["connect_args"] = connect_args | kwargs.get("connect_args", {})
    options = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_recycle": 1800} | kwargs
    return create_async_engine(url, **options)


def _serialise_sqlite_writers(engine: AsyncEngine) -> None:
    """SQLite: WAL, foreign keys, and BEGIN IMMEDIATE so concurrent transactions queue instead of failing.

    The driver's own transaction handling is turned off so SQLAlchemy's BEGIN is the one that runs
    (the recipe from SQLAlchemy's SQLite dialect documentation).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_unavailable(exc: BaseException) -> bool:
    """The database is not there: refused, cut, timed out, or (SQLite) its file cannot be opened."""
    if isinstance(exc, (OSError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError):
        if exc.connection_invalidated or isinstance(exc.orig, (OSError, ConnectionError)):
            return True
        return "unable to open database file" in str(exc.orig)  # SQLite's file (or its folder) is not there
    return False


def is_contention(exc: BaseException) -> bool:
    """PostgreSQL broke a deadlock, or refused to serialise: the transaction is sound, only unlucky."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


def storage_error(exc: BaseException) -> BaseException | None:
    """What the ports report for a failure the driver raised: StorageUnavailable, ConcurrentUpdate, or None
    (a bug, which goes up as it is)."""
    if is_unavailable(exc):
        return StorageUnavailable()
    if is_contention(exc):
        return ConcurrentUpdate("data")
    return None


async def connect(engine: AsyncEngine) -> AsyncConnection:
    """A pooled connection; none at all (a server that refuses, a SQLite file that cannot open) is StorageUnavailable."""
    try:
        return await engine.connect()
    except Exception as exc:
        if is_unavailable(exc) or isinstance(exc, DBAPIError):
            raise StorageUnavailable() from exc
        raise


async def run_one(engine: AsyncEngine, stmt: Any, *, write: bool = False) -> Any:
    """One statement on its own connection; a read on PostgreSQL runs outside a transaction (no BEGIN/ROLLBACK
    round trips). A unique key taken goes up as IntegrityError for the caller to name."""
    conn = await connect(engine)
    try:
        if not write:
            if engine.dialect.name == "postgresql":
                await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await conn.execute(stmt)
        async with conn.begin():
            return await conn.execute(stmt)
    except IntegrityError:
        raise
    except Exception as exc:
        if is_unavailable(exc):
            raise StorageUnavailable() from exc
        raise
    finally:
        await conn.close()
