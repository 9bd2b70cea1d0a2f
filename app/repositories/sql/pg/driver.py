"""asyncpg underneath SQLAlchemy: for the few statements sent to the driver directly (hot paths, COPY, the sequencer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import asyncpg
from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.errors import ConcurrentUpdate, Conflict, StorageUnavailable
from app.repositories.sql.pg.internals import begin_if_pending, bind_processors, invalidate_pool

R = TypeVar("R")

CONNECTION_LOST = (
    OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError, asyncpg.exceptions.CrashShutdownError, asyncpg.exceptions.CannotConnectNowError,
)
"""The connection is gone (cut, server shut down or restarting): the others pooled with it likely are too."""
TIMED_OUT = (TimeoutError, asyncpg.exceptions.QueryCanceledError)
"""The database did not answer in time (client command_timeout; server statement_timeout or a cancel)."""
CONNECTION_FAILURES = CONNECTION_LOST + TIMED_OUT


def announce(conn: AsyncConnection, statement: str, parameters: tuple[Any, ...]) -> None:
    """Tell SQLAlchemy's cursor-event listeners (statement logs, the round-trip tests) about a statement sent
    to the driver directly, as if SQLAlchemy had sent it; free when nobody listens."""
    sync = conn.sync_connection
    if sync is not None and sync.dispatch.before_cursor_execute:
        sync.dispatch.before_cursor_execute(sync, None, statement, parameters, None, False)


async def connection_failed(conn: AsyncConnection, exc: BaseException) -> NoReturn:
    """A statement sent to asyncpg directly failed with its connection, or timed out: report the storage
    unavailable (503). SQLAlchemy is not there to notice, so do what its own handling does:
    - the connection is lost: mark every connection pooled before now for recycling (a cut usually took
      them all), and drop this one;
    - the server cancelled the statement (statement_timeout): the connection is sound, and the unit of
      work's rollback ends the transaction;
    - the client stopped waiting (command_timeout): drop this connection only, whose state is unknown."""
    if not isinstance(exc, asyncpg.exceptions.QueryCanceledError):
        if isinstance(exc, CONNECTION_LOST):
            invalidate_pool(conn.sync_connection, exc)
        await conn.invalidate(exc)
    raise StorageUnavailable() from exc


class RecordRow:
    """An asyncpg Record seen as a SQLAlchemy Row: attributes and `_mapping` by column name."""

    __slots__ = ("_mapping",)

    def __init__(self, record: Any) -> None:
        self._mapping = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


async def driver_of(conn: AsyncConnection) -> Any:
    """The asyncpg connection under SQLAlchemy's, in whatever transaction SQLAlchemy has begun on it."""
    return (await conn.get_raw_connection()).driver_connection


class RawStatement:
    """A Core statement compiled once for asyncpg: its SQL text, its parameters' order and their bind
    conversions (UTC datetimes, JSON as text), so a hot write skips SQLAlchemy's execute path (~100 µs of
    CPU a statement against the driver's ~20 µs) and still sends what SQLAlchemy would have."""

    __slots__ = ("sql", "_names", "_convert", "_fixed")

    def __init__(self, stmt: Any, dialect: Any, column_keys: tuple[str, ...] | None = None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=None if column_keys is None else list(column_keys))
        self.sql: str = compiled.string
        if "POSTCOMPILE" in self.sql:
            raise ValueError("an IN list is expanded as it is executed: use = ANY(array) in a statement compiled once")
        self._names: tuple[str, ...] = tuple(compiled.positiontup or ())
        processors = bind_processors(compiled)  # what SQLAlchemy applies to each parameter before the driver
        self._convert = tuple(processors.get(name) for name in self._names)
        # Values written into the statement (`state == "x"`); a parameter without one must always be given.
        self._fixed = {
            name: bind.value for name, bind in compiled.binds.items()
            if not bind.required and bind.callable is None and bind.value is not None
        }

    def args(self, params: dict[str, Any]) -> list[Any]:
        values = [params[name] if name in params or name not in self._fixed else self._fixed[name] for name in self._names]
        return [value if convert is None else convert(value) for value, convert in zip(values, self._convert, strict=True)]


_COMPILED: LRUCache[tuple[Any, ...], RawStatement] = LRUCache(maxsize=1_000)
"""Statements are built once each; many engines (the tests') must not grow this forever."""


def raw_statement(stmt: Any, dialect: Any, column_keys: tuple[str, ...] | None = None) -> RawStatement:
    """`stmt` compiled for `dialect` (the engine's own: it carries the JSON serialiser), once per shape."""
    shape = (stmt, dialect, column_keys)
    compiled = _COMPILED.get(shape)
    if compiled is None:
        compiled = _COMPILED[shape] = RawStatement(stmt, dialect, column_keys)
    return compiled


async def in_transaction(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, inside SQLAlchemy's transaction: SQLAlchemy sends BEGIN only with
    its own first statement, so a write sent to the driver first begins it the way SQLAlchemy would."""
    pooled = await conn.get_raw_connection()
    await begin_if_pending(pooled, conn.in_transaction())
    return pooled.driver_connection


async def send(conn: AsyncConnection, method: str, sql: str, *args: Any, conflict: Callable[[str], Conflict], **options: Any) -> Any:
    """Send a statement to asyncpg directly, in the unit of work's transaction, with the errors SQLAlchemy's
    path gives: a unique key taken is `conflict`, a deadlock or serialisation failure ConcurrentUpdate (as the
    unit of work reports them), a failed connection StorageUnavailable. `method` is asyncpg's (for COPY,
    `sql` is the table's name)."""
    try:
        driver = await in_transaction(conn)
    except Exception as exc:  # BEGIN failed: only the connection can make it fail
        await connection_failed(conn, exc)
    announce(conn, f"COPY {sql}" if method.startswith("copy") else sql, args)
    try:
        return await getattr(driver, method)(sql, *args, **options)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise conflict(str(exc)) from exc
    except asyncpg.exceptions.TransactionRollbackError as exc:  # 40001, 40P01: sound, only unlucky
        raise ConcurrentUpdate("data") from exc
    except CONNECTION_FAILURES as exc:
        await connection_failed(conn, exc)


async def write(
    conn: AsyncConnection, stmt: RawStatement, params: dict[str, Any] | list[dict[str, Any]], conflict: Callable[[str], Conflict],
) -> str:
    """`stmt` with `params`, or with each of a list of them (executemany); returns the command status."""
    if isinstance(params, list) and len(params) > 1:
        await send(conn, "executemany", stmt.sql, [stmt.args(p) for p in params], conflict=conflict)
        return ""
    one = params[0] if isinstance(params, list) else params
    status: str = await send(conn, "execute", stmt.sql, *stmt.args(one), conflict=conflict)
    return status


def changed_rows(status: str) -> int:
    """The row count of a command status (`UPDATE 1`)."""
    return int(status.rsplit(" ", 1)[-1])


async def with_driver(conn: AsyncConnection, work: Callable[[Any], Awaitable[R]]) -> R:
    """Run `work` on the asyncpg connection under `conn`; a failure of the connection is StorageUnavailable.
    (An error PostgreSQL reports about a statement is a bug here, and goes up as it is.)"""
    driver = await driver_of(conn)
    try:
        return await work(driver)
    except CONNECTION_FAILURES as exc:
        await connection_failed(conn, exc)


async def fetch_read(conn: AsyncConnection, sql: str, *parameters: Any, one: bool = False) -> Any:
    """A plain read sent to the driver directly (a primary-key read, the signed-in person's page): a read this
    simple fails only when its connection does, so any failure is StorageUnavailable."""
    driver = await driver_of(conn)
    announce(conn, sql, parameters)
    try:
        return await (driver.fetchrow(sql, *parameters) if one else driver.fetch(sql, *parameters))
    except Exception as exc:
        await connection_failed(conn, exc)
