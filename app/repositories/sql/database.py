"""The storage adapter as the composition root wires it: the engine, the unit-of-work factories, and the
adapters of the ports that are not a unit of work (tenant directory, idempotency keys, maintenance, health)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain.deadlines import ReminderPolicy
from app.domain.ports import IdGenerator
from app.repositories.clock import Uuid7Ids
from app.repositories.sql.directory import SqlTenantDirectory
from app.repositories.sql.engine import connect, make_engine
from app.repositories.sql.health import SqlHealth
from app.repositories.sql.idempotency import SqlIdempotencyStore
from app.repositories.sql.maintenance import SqlMaintenance
from app.repositories.sql.statements import use_home_page
from app.repositories.sql.unit_of_work import SqlOutboxUnitOfWork, SqlSweepUnitOfWork, SqlUnitOfWork

__all__ = ["Database", "make_engine"]


class Database:
    def __init__(
        self, engine: AsyncEngine, policy: ReminderPolicy | None = None, ids: IdGenerator | None = None, *,
        statement_home_page: str | None = None,
    ) -> None:
        self.engine = engine
        if statement_home_page:  # the actor homePage of xAPI statements made while a tenant has no LRS naming one
            use_home_page(engine, statement_home_page)
        self.policy = policy or ReminderPolicy()
        self._new_id = (ids or Uuid7Ids()).new_id
        self.directory = SqlTenantDirectory(engine)
        self.idempotency = SqlIdempotencyStore(engine)
        self.maintenance = SqlMaintenance(engine)
        self.health = SqlHealth(engine)

    @classmethod
    def from_url(
        cls, url: str, policy: ReminderPolicy | None = None, *, statement_home_page: str | None = None, **engine_options: Any,
    ) -> Database:
        return cls(make_engine(url, **engine_options), policy, statement_home_page=statement_home_page)

    def uow(self, tenant_id: UUID, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, tenant_id, self.policy, self._new_id, readonly)

    def sweep_uow(self) -> SqlSweepUnitOfWork:
        return SqlSweepUnitOfWork(self.engine, self.policy, self._new_id)

    def outbox_uow(self) -> SqlOutboxUnitOfWork:
        return SqlOutboxUnitOfWork(self.engine, self._new_id)

    async def connect(self) -> AsyncConnection:
        return await connect(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()
