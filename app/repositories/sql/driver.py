"""asyncpg underneath SQLAlchemy: for the few statements sent to the driver directly (hot paths, COPY, the sequencer)."""

from __future__ import annotations

from typing import Any, NoReturn

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.errors import StorageUnavailable

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
        sync = conn.sync_connection
        if isinstance(exc, CONNECTION_LOST) and sync is not None and sync.connection is not None:
            sync.engine.pool._invalidate(sync.connection, exc)
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
        processors = compiled._bind_processors  # what SQLAlchemy applies to each parameter before the driver
        self._convert = tuple(processors.get(name) for name in self._names)
        # Values written into the statement (`state == "x"`); a parameter without one must always be given.
        self._fixed = {
            name: bind.value for name, bind in compiled.binds.items()
            if not bind.required and bind.callable is None and bind.value is not None
        }

    def args(self, params: dict[str, Any]) -> list[Any]:
        values = [params[name] if name in params or name not in self._fixed else self._fixed[name] for name in self._names]
        return [value if convert is None else convert(value) for value, convert in zip(values, self._convert)]


_COMPILED: dict[tuple[Any, ...], RawStatement] = {}


def raw_statement(stmt: Any, dialect: Any, column_keys: tuple[str, ...] | None = None) -> RawStatement:
    """`stmt` compiled for `dialect` (the engine's own: it carries the JSON serialiser), once per shape."""
    shape = (stmt, dialect, column_keys)
    compiled = _COMPILED.get(shape)
    if compiled is None:
        if len(_COMPILED) > 1_000:  # statements are built once each; many engines (tests) must not grow this forever
            _COMPILED.clear()
        compiled = _COMPILED[shape] = RawStatement(stmt, dialect, column_keys)
    return compiled


async def in_transaction(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, inside SQLAlchemy's transaction: SQLAlchemy sends BEGIN only with
    its own first statement, so a write sent to the driver first begins it the way SQLAlchemy would."""
    pooled = await conn.get_raw_connection()
    adapter = pooled.dbapi_connection
    if adapter._transaction is None and conn.in_transaction():
        await adapter._start_transaction()
    return pooled.driver_connection
