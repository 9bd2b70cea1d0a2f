"""The three places where the fast paths need something SQLAlchemy keeps private, each behind one function.

tests/db/test_sqlalchemy_internals.py pins every one of them, so an upgrade that renames or changes one fails
there, loudly, instead of somewhere in a request."""

from __future__ import annotations

from typing import Any


def bind_processors(compiled: Any) -> dict[str, Any]:
    """The conversion SQLAlchemy applies to each named parameter of a compiled statement before it reaches the
    driver (UTC datetimes, JSON as text). No public API exposes it; `SQLCompiler._bind_processors` is it."""
    processors: dict[str, Any] = compiled._bind_processors
    return processors


async def begin_if_pending(pooled: Any, in_transaction: bool) -> None:
    """SQLAlchemy sends BEGIN with its first statement; when the first statement of a transaction goes to the
    driver directly, begin it the way SQLAlchemy's asyncpg adapter would (`_start_transaction`), so the adapter
    knows of the transaction and commits or rolls back that one."""
    adapter = pooled.dbapi_connection
    if adapter._transaction is None and in_transaction:
        await adapter._start_transaction()


def invalidate_pool(sync_connection: Any, exc: BaseException) -> None:
    """Mark every connection pooled before now for recycling, as SQLAlchemy does itself when it sees a
    disconnect (`Pool._invalidate`): a cut usually took them all."""
    if sync_connection is not None and sync_connection.connection is not None:
        sync_connection.engine.pool._invalidate(sync_connection.connection, exc)
