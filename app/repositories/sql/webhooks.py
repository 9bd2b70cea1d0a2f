"""Webhooks (and the LRS, a webhook of kind xapi), their deliveries, and the delivery worker's outbox.

Any change of a tenant's webhooks takes its webhook-set lock first (PostgreSQL; SQLite's single writer does that
by itself) and bumps its webhooks_version, so every event stored after the change commits is queued to the new set."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.events import Event
from app.domain.pagination import Page, PageRequest, cursor_id
from app.domain.webhooks import Claimed, Delivery, DeliveryStatus, Health, Webhook, WebhookKind
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t
from app.repositories.sql.base import TenantTable
from app.repositories.sql.events import store_events
from app.repositories.sql.pg import events as pg


async def lock_webhook_set(conn: AsyncConnection, tenant_id: UUID) -> None:
    """Before changing a tenant's webhooks, before any other lock: wait for the events in flight, and hold
    off new ones until commit (PostgreSQL; SQLite's single writer does that by itself)."""
    if conn.dialect.name == "postgresql":
        await pg.lock_webhook_set(conn, tenant_id)


async def bump_webhooks_version(conn: AsyncConnection, tenant_id: UUID) -> None:
    """The caller holds lock_webhook_set, taken before any other lock (SqlWebhooks, SqlOutbox.save)."""
    c = t.event_counters.c
    await conn.execute(update(t.event_counters).where(c.tenant_id == tenant_id).values(webhooks_version=c.webhooks_version + 1))


class SqlWebhooks(TenantTable[Webhook]):
    """Any change takes the tenant's webhook-set lock first and bumps its webhooks_version, so every event
    stored after the change commits is queued to the new set."""

    table, kind = t.webhooks, "webhook"
    to_values, from_row = staticmethod(m.webhook_values), staticmethod(m.webhook_from)

    async def add(self, webhook: Webhook) -> None:
        await lock_webhook_set(self._conn, self._tenant_id)
        await self._insert(webhook)
        await bump_webhooks_version(self._conn, self._tenant_id)

    async def get(self, webhook_id: UUID) -> Webhook | None:
        return await self._get(self.table.c.id == webhook_id)

    async def update(self, webhook: Webhook, expected_version: int) -> None:
        await lock_webhook_set(self._conn, self._tenant_id)
        await self._cas(webhook, webhook.id, expected_version)
        await bump_webhooks_version(self._conn, self._tenant_id)

    async def delete(self, webhook_id: UUID) -> None:
        # The webhook set's lock first, as everyone takes it before deliveries and webhooks: event writers
        # before their deliveries' foreign keys lock the webhook, the delivery worker before its updates.
        await lock_webhook_set(self._conn, self._tenant_id)
        await self._conn.execute(t.webhook_deliveries.delete().where(
            t.webhook_deliveries.c.tenant_id == self._tenant_id, t.webhook_deliveries.c.webhook_id == webhook_id))
        await self._conn.execute(self.table.delete().where(self._scoped(self.table.c.id == webhook_id)))
        await bump_webhooks_version(self._conn, self._tenant_id)

    async def list(self, page: PageRequest, kind: WebhookKind = WebhookKind.STANDARD) -> Page[Webhook]:
        return await self._page(page, self.table.c.kind == kind.value)


class SqlDeliveries(TenantTable[Delivery]):
    table, kind = t.webhook_deliveries, "delivery"
    to_values, from_row = staticmethod(m.delivery_values), staticmethod(m.delivery_from)

    async def get(self, webhook_id: UUID, delivery_id: UUID) -> Delivery | None:
        return await self._get(self.table.c.webhook_id == webhook_id, self.table.c.id == delivery_id)

    async def update(self, delivery: Delivery) -> None:
        await self._conn.execute(
            update(self.table).where(self._scoped(self.table.c.id == delivery.id)).values(m.delivery_values(delivery))
        )

    async def list(self, webhook_id: UUID, page: PageRequest) -> Page[Delivery]:
        """Newest first: what an integrator debugging a receiver wants to see."""
        c = self.table.c
        after = cursor_id(page.after)
        conditions = [c.webhook_id == webhook_id] + ([] if after is None else [c.id < after])
        stmt = select(self.table).where(self._scoped(*conditions)).order_by(c.id.desc()).limit(page.limit + 1)
        return Page.from_rows([m.delivery_from(row) for row in (await self._conn.execute(stmt)).all()], page)


class SqlOutbox:
    """The delivery worker's cross-tenant view of the outbox."""

    def __init__(self, conn: AsyncConnection, new_id: Callable[[], UUID]) -> None:
        self._conn, self._new_id = conn, new_id

    async def claim(self, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
        """Due deliveries of active webhooks, never one while an earlier event of the same subject is still
        pending for that webhook; each is leased (its next attempt pushed `lease` ahead) so a worker that
        dies mid-delivery only delays it."""
        d, w, e = t.webhook_deliveries.c, t.webhooks.c, t.events.c
        earlier = t.webhook_deliveries.alias("earlier")
        blocked = select(literal(1)).where(
            earlier.c.tenant_id == d.tenant_id, earlier.c.webhook_id == d.webhook_id, earlier.c.subject_id == d.subject_id,
            earlier.c.status == DeliveryStatus.PENDING.value, earlier.c.event_pos < d.event_pos,
        ).exists()
        stmt = (
            select(t.webhook_deliveries, *[c.label(f"w_{c.name}") for c in t.webhooks.c], *[c.label(f"e_{c.name}") for c in t.events.c])
            .join(t.webhooks, and_(w.tenant_id == d.tenant_id, w.id == d.webhook_id))
            .join(t.events, and_(e.tenant_id == d.tenant_id, e.id == d.event_id))
            .where(d.status == DeliveryStatus.PENDING.value, d.next_attempt_at <= now, w.active.is_(True), ~blocked)
            .order_by(d.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=t.webhook_deliveries)
        )
        rows = (await self._conn.execute(stmt)).all()
        claimed = []
        for row in rows:
            values = row._mapping
            delivery = m.delivery_from(row)
            webhook = m.webhook_from(_prefixed(values, "w_"))
            event = m.event_from(_prefixed(values, "e_"))
            claimed.append(Claimed(delivery, webhook, event, now + lease))
        if claimed:
            await self._conn.execute(
                update(t.webhook_deliveries)
                .where(tuple_(d.tenant_id, d.id).in_([(c.delivery.tenant_id, c.delivery.id) for c in claimed]))
                .values(next_attempt_at=now + lease)
            )
        return claimed

    async def save(self, results: list[tuple[Delivery, datetime]], health: list[Health]) -> set[UUID]:
        """Record attempts and webhook health; returns the webhooks this actually disabled.

        A delivery is written only while its lease is still the one this worker took (another worker may
        have re-claimed it, or someone retried it by hand); a webhook only at the version it was claimed
        at (an admin's change meanwhile wins). Webhooks are locked in (tenant, id) order, as events are.
        """
        d, w = t.webhook_deliveries.c, t.webhooks.c
        for tenant_id in sorted({change.tenant_id for change in health if change.disable_reason is not None}):
            await lock_webhook_set(self._conn, tenant_id)  # before the deliveries, in the order a webhook's delete takes them
        for delivery, leased_until in results:
            await self._conn.execute(
                update(t.webhook_deliveries)
                .where(d.tenant_id == delivery.tenant_id, d.id == delivery.id, d.next_attempt_at == leased_until)
                .values(m.delivery_values(delivery))
            )
        disabled: set[UUID] = set()
        for change in sorted(health, key=lambda h: (h.tenant_id, h.webhook_id)):
            values: dict[str, Any] = {"failing_since": change.failing_since}
            if change.disable_reason is not None:
                values.update(active=False, disabled_reason=change.disable_reason, version=w.version + 1)
            written = await self._conn.execute(
                update(t.webhooks)
                .where(w.tenant_id == change.tenant_id, w.id == change.webhook_id, w.version == change.claimed_version)
                .values(values)
            )
            if written.rowcount == 1 and change.disable_reason is not None:
                await bump_webhooks_version(self._conn, change.tenant_id)
                disabled.add(change.webhook_id)
        return disabled

    async def add_events(self, events: list[Event]) -> None:
        if events:
            await store_events(self._conn, events, self._new_id)


class _Prefixed(dict):
    """A row's columns under a prefix, as a mapping that row converters accept."""

    @property
    def _mapping(self) -> _Prefixed:
        return self


def _prefixed(values: Any, prefix: str) -> Any:
    return _Prefixed({key[len(prefix):]: value for key, value in values.items() if key.startswith(prefix)})
