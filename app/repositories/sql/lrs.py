"""The tenant's LRS deliveries beyond the shared delivery log: what reconfiguring, removing and watching need.

The LRS is a webhook row of kind `xapi`; its deliveries live in webhook_deliveries with the others."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain.lrs import LrsHealth, LrsTotals
from app.domain.webhooks import DeliveryStatus, WebhookKind
from app.repositories.sql import tables as t

PENDING, SUCCEEDED = DeliveryStatus.PENDING.value, DeliveryStatus.SUCCEEDED.value


class SqlLrsDeliveries:
    """Callers hold the tenant's webhook-set lock (SqlWebhooks.update or .delete in the same transaction)."""

    def __init__(self, conn: AsyncConnection, tenant_id: UUID) -> None:
        self._conn, self._tenant_id = conn, tenant_id

    def _of(self, webhook_id: UUID) -> list[Any]:
        d = t.webhook_deliveries.c
        return [d.tenant_id == self._tenant_id, d.webhook_id == webhook_id]

    async def retry_pending_now(self, webhook_id: UUID, now: datetime) -> int:
        """Every pending delivery becomes due now (with settings just fixed, waiting out a backoff loses time)."""
        d = t.webhook_deliveries.c
        result = await self._conn.execute(
            update(t.webhook_deliveries).where(*self._of(webhook_id), d.status == PENDING).values(next_attempt_at=now)
        )
        return result.rowcount

    async def pending(self, webhook_id: UUID) -> int:
        d = t.webhook_deliveries.c
        stmt = select(func.count()).select_from(t.webhook_deliveries).where(*self._of(webhook_id), d.status == PENDING)
        return (await self._conn.execute(stmt)).scalar() or 0

    async def discard_pending(self, webhook_id: UUID) -> int:
        d = t.webhook_deliveries.c
        result = await self._conn.execute(delete(t.webhook_deliveries).where(*self._of(webhook_id), d.status == PENDING))
        return result.rowcount

    async def health(self, webhook_id: UUID) -> LrsHealth:
        d, w = t.webhook_deliveries.c, t.webhooks.c
        mine = self._of(webhook_id)
        last_success = (await self._conn.execute(
            select(func.max(d.last_attempt_at)).where(*mine, d.status == SUCCEEDED)
        )).scalar()
        failure = (await self._conn.execute(
            select(d.last_attempt_at, d.last_status_code, d.last_error)
            .where(*mine, d.status != SUCCEEDED, d.attempts > 0)
            .order_by(d.last_attempt_at.desc()).limit(1)
        )).first()
        backlog, oldest = (await self._conn.execute(
            select(func.count(), func.min(d.created_at)).where(*mine, d.status == PENDING)
        )).one()
        failing_since = (await self._conn.execute(
            select(w.failing_since).where(w.tenant_id == self._tenant_id, w.id == webhook_id)
        )).scalar()
        return LrsHealth(
            last_success_at=last_success, last_failure_at=failure.last_attempt_at if failure else None,
            last_failure_status_code=failure.last_status_code if failure else None,
            last_failure_error=failure.last_error if failure else None,
            backlog=backlog or 0, oldest_pending_at=oldest, failing_since=failing_since,
        )


async def lrs_totals(engine: AsyncEngine) -> LrsTotals:
    """Across tenants, for /metrics: the LRS backlog, its oldest statement, and the LRSs failing now."""
    d, w = t.webhook_deliveries.c, t.webhooks.c
    lrs = w.kind == WebhookKind.XAPI.value
    async with engine.connect() as conn:
        backlog, oldest = (await conn.execute(
            select(func.count(), func.min(d.created_at))
            .select_from(t.webhook_deliveries.join(t.webhooks, (w.tenant_id == d.tenant_id) & (w.id == d.webhook_id)))
            .where(lrs, d.status == PENDING)
        )).one()
        failing, since = (await conn.execute(
            select(func.count(), func.min(w.failing_since)).where(lrs, w.failing_since.is_not(None))
        )).one()
    return LrsTotals(backlog or 0, oldest, since, failing or 0)
