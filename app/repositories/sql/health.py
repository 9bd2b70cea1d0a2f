"""The StorageHealth port on an engine: the schema revision /readyz compares, the pool use /metrics reports."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from app.repositories.sql.migrations import current_revision


class SqlHealth:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def schema_revision(self) -> str | None:
        return await current_revision(self._engine)

    def connections_in_use(self) -> int:
        """Connections checked out of the pool (0 for a pool that does not count them, such as NullPool)."""
        return getattr(self._engine.pool, "checkedout", lambda: 0)()
