"""The workers' cross-tenant chores that are not a unit of work: numbering the feed, the import jobs' queue, and
the operations figures /metrics reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.errors import StorageUnavailable
from app.domain.lrs import LrsTotals
from app.domain.ports import OperationsStats
from app.repositories.sql import tables as t
from app.repositories.sql.engine import connect, is_unavailable
from app.repositories.sql.lrs import lrs_totals
from app.repositories.sql.pg.driver import CONNECTION_FAILURES, connection_failed, driver_of
from app.repositories.sql.pg.sequencer import number_every_tenant


class SqlMaintenance:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def number_waiting_events(self) -> int:
        """Give feed seqs to committed events still without one, for every tenant (PostgreSQL only: SQLite
        numbers events as it stores them). Polls do this too; the worker keeps the backlog short for
        tenants that poll rarely or never, so no poll pays for a long one."""
        if self.engine.dialect.name != "postgresql":
            return 0
        conn = await connect(self.engine)
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            numbered = await number_every_tenant(await driver_of(conn))
        except CONNECTION_FAILURES as exc:
            await connection_failed(conn, exc)
        finally:
            await conn.close()
        return numbered

    async def claim_import(self, now: datetime, lease: timedelta) -> tuple[UUID, UUID, int] | None:
        """Take the oldest queued job (or a running one whose worker's lease ran out) for `lease`:
        returns (tenant_id, job_id, version claimed at). Other workers skip a job being claimed."""
        j = t.import_jobs.c
        pending = or_(j.state == "queued", and_(j.state == "running", j.lease_until <= now))
        stmt = select(j.tenant_id, j.id, j.version).where(pending).order_by(j.created_at).limit(1)
        if self.engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        try:
            async with self.engine.begin() as conn:
                row = (await conn.execute(stmt)).first()
                if row is None:
                    return None
                await conn.execute(
                    update(t.import_jobs).where(j.tenant_id == row.tenant_id, j.id == row.id, j.version == row.version)
                    .values(state="running", lease_until=now + lease, version=row.version + 1)
                )
        except Exception as exc:
            if is_unavailable(exc):
                raise StorageUnavailable() from exc
            raise
        return row.tenant_id, row.id, row.version + 1

    async def fail_broken_uploads(self, received_before: datetime, now: datetime) -> int:
        """Jobs still `receiving` long after they began lost their upload (the process serving it died):
        mark them failed and drop their rows."""
        j, r = t.import_jobs.c, t.import_rows.c
        async with self.engine.begin() as conn:
            stale = (await conn.execute(
                select(j.tenant_id, j.id).where(j.state == "receiving", j.created_at < received_before).limit(100)
            )).all()
            for tenant_id, job_id in stale:
                await conn.execute(t.import_rows.delete().where(r.tenant_id == tenant_id, r.job_id == job_id))
                await conn.execute(
                    update(t.import_jobs).where(j.tenant_id == tenant_id, j.id == job_id, j.state == "receiving")
                    .values(state="failed", error="The upload broke off before the file was in.", finished_at=now,
                            updated_at=now, version=j.version + 1)
                )
        return len(stale)

    async def lrs_totals(self) -> LrsTotals:
        return await lrs_totals(self.engine)

    async def operations_stats(self, now: datetime) -> OperationsStats:
        d, a = t.webhook_deliveries.c, t.assignments.c
        async with self.engine.connect() as conn:
            pending = (await conn.execute(select(func.count()).where(d.status == "pending"))).scalar() or 0
            failed = (await conn.execute(select(func.count()).where(d.status == "failed"))).scalar() or 0
            oldest = (await conn.execute(
                select(func.min(a.next_deadline_at)).where(a.next_deadline_at.is_not(None), a.next_deadline_at <= now)
            )).scalar()
        return OperationsStats(pending, failed, 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()))
