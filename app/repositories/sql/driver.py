"""asyncpg underneath SQLAlchemy: for the few statements sent to the driver directly (hot paths, COPY, the sequencer)."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

CONNECTION_LOST = (
    OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError, asyncpg.exceptions.CrashShutdownError, asyncpg.exceptions.CannotConnectNowError,
)
"""The connection is gone (cut, server shut down or restarting): the others pooled with it likely are too."""
TIMED_OUT = (TimeoutError, asyncpg.exceptions.QueryCanceledError)
"""The database did not answer in time (client command_timeout; server statement_timeout or a cancel)."""
CONNECTION_FAILURES = CONNECTION_LOST + TIMED_OUT


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

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._names)

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
