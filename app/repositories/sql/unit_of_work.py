"""Units of work: one connection and one transaction each, rolled back unless `commit()` was called.

`Transaction` is the one base; the tenant's unit of work and the sweeper's and delivery worker's cross-tenant
ones are siblings on it, each holding only the repositories it offers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self
from uuid import UUID

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain.deadlines import ReminderPolicy
from app.domain.errors import StorageUnavailable
from app.repositories.sql.assignments import SqlAssignments
from app.repositories.sql.catalog import SqlBriefs, SqlSkills
from app.repositories.sql.deadlines import SqlDeadlineQueue
from app.repositories.sql.engine import connect, is_unavailable, storage_error
from app.repositories.sql.events import SqlEvents
from app.repositories.sql.imports import SqlImports
from app.repositories.sql.lrs import SqlLrsDeliveries
from app.repositories.sql.people import SqlPeople
from app.repositories.sql.statements import SqlStatementStore
from app.repositories.sql.webhooks import SqlDeliveries, SqlOutbox, SqlWebhooks
from app.repositories.sql.work import SqlEvidence, SqlExtensions, SqlReviews, SqlSubmissions


class Transaction:
    """One connection, one transaction; rolled back unless `commit()` was called. A driver failure leaves as
    the port's error (StorageUnavailable, ConcurrentUpdate), mapped in engine.py."""

    def __init__(self, engine: AsyncEngine, *, readonly: bool = False) -> None:
        self._engine = engine
        self._readonly = readonly and engine.dialect.name == "postgresql"
        self._conn: AsyncConnection | None = None

    async def _open(self) -> AsyncConnection:
        conn = self._conn = await connect(self._engine)
        try:
            if self._readonly:  # each read runs on its own: no BEGIN/ROLLBACK round trips (SQLite keeps its lock order)
                await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.begin()
        except Exception as exc:
            await conn.close()
            if is_unavailable(exc) or isinstance(exc, DBAPIError):  # BEGIN fails only with its connection
                raise StorageUnavailable() from exc
            raise
        return conn

    async def _before_commit(self) -> None:
        """What must be written last, in the same transaction (the tenant's pending events)."""

    async def commit(self) -> None:
        assert self._conn is not None
        await self._before_commit()
        await self._conn.commit()

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._conn is not None
        exc = exc_info[1] if len(exc_info) > 1 and isinstance(exc_info[1], BaseException) else None
        try:
            await self._conn.rollback()  # a no-op after commit
            await self._conn.close()
        except Exception:
            if exc is None:
                raise
        if exc is not None:
            error = storage_error(exc)
            if error is not None:
                raise error from exc


class SqlUnitOfWork(Transaction):
    """One tenant's data: every repository of the UnitOfWork port."""

    def __init__(
        self, engine: AsyncEngine, tenant_id: UUID, policy: ReminderPolicy, new_id: Callable[[], UUID], readonly: bool = False,
    ) -> None:
        super().__init__(engine, readonly=readonly)
        self.tenant_id = tenant_id
        self._policy, self._new_id = policy, new_id

    async def __aenter__(self) -> Self:
        conn = await self._open()
        tenant = self.tenant_id
        self.people = SqlPeople(conn, tenant)
        self.skills = SqlSkills(conn, tenant)
        self.briefs = SqlBriefs(conn, tenant)
        self.assignments = SqlAssignments(conn, tenant, self._policy)
        self.submissions = SqlSubmissions(conn, tenant)
        self.reviews = SqlReviews(conn, tenant)
        self.evidence = SqlEvidence(conn, tenant)
        self.extensions = SqlExtensions(conn, tenant)
        self.events = SqlEvents(conn, tenant, self._new_id)
        self.webhooks = SqlWebhooks(conn, tenant)
        self.deliveries = SqlDeliveries(conn, tenant)
        self.statements = SqlStatementStore(conn, tenant)
        self.lrs = SqlLrsDeliveries(conn, tenant)
        self.imports = SqlImports(conn, tenant)
        return self

    async def _before_commit(self) -> None:
        await self.events.flush()


class SqlSweepUnitOfWork(Transaction):
    """A transaction over every tenant's deadlines, for the sweeper only."""

    def __init__(self, engine: AsyncEngine, policy: ReminderPolicy, new_id: Callable[[], UUID]) -> None:
        super().__init__(engine)
        self._policy, self._new_id = policy, new_id

    async def __aenter__(self) -> Self:
        self.deadlines = SqlDeadlineQueue(await self._open(), self._policy, self._new_id)
        return self


class SqlOutboxUnitOfWork(Transaction):
    """A transaction over every tenant's webhook deliveries, for the delivery worker only."""

    def __init__(self, engine: AsyncEngine, new_id: Callable[[], UUID]) -> None:
        super().__init__(engine)
        self._new_id = new_id

    async def __aenter__(self) -> Self:
        self.outbox = SqlOutbox(await self._open(), self._new_id)
        return self
