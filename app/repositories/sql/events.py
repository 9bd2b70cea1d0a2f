"""Events: stored when the unit of work commits, numbered for the feed, and queued to the webhooks that want them
(the transactional outbox), all in the caller's transaction."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from cachetools import LRUCache
from sqlalchemy import BigInteger, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.events import Event
from app.domain.pagination import Page, PageRequest
from app.domain.webhooks import Webhook, outbox_deliveries
from app.repositories.clock import Uuid7Ids
from app.repositories.sql import mapping as m
from app.repositories.sql import statements
from app.repositories.sql import tables as t
from app.repositories.sql.base import TenantTable
from app.repositories.sql.pg import events as pg
from app.repositories.sql.pg.driver import with_driver
from app.repositories.sql.pg.sequencer import number_waiting
from app.repositories.sql.queries import insert_statement

_ALLOCATE_SEQS = (
    update(t.event_counters).where(t.event_counters.c.tenant_id == bindparam("tenant"))
    .values(last_seq=t.event_counters.c.last_seq + bindparam("count", type_=BigInteger))
    .returning(t.event_counters.c.last_seq, t.event_counters.c.webhooks_version)
)
_DEFAULT_IDS = Uuid7Ids()


async def allocate_seqs(conn: AsyncConnection, tenant_id: UUID, count: int) -> tuple[list[int], int]:
    """SQLite: number `count` new events of the tenant; returns (their seqs, webhooks_version).

    SQLite has one writer at a time: the counter row stays locked until the transaction ends, so a later
    transaction gets later seqs, and a rollback returns them. (PostgreSQL: see pg/events.py.)"""
    params = {"tenant": tenant_id, "count": count}
    row = (await conn.execute(_ALLOCATE_SEQS, params)).first()
    if row is None:  # a tenant from before the counters existed
        await conn.execute(insert(t.event_counters).values(tenant_id=tenant_id, last_seq=0, webhooks_version=0))
        row = (await conn.execute(_ALLOCATE_SEQS, params)).first()
    assert row is not None
    return list(range(row.last_seq - count + 1, row.last_seq + 1)), row.webhooks_version


class ActiveWebhooks:
    """Per tenant, the webhooks that receive events, cached per process and keyed by the tenant's
    webhooks_version (bumped in the same transaction as any webhook change, read with the event seqs),
    so the cache is never stale and costs no query while nothing changed."""

    def __init__(self) -> None:
        self._cache: LRUCache[UUID, tuple[int, list[Webhook]]] = LRUCache(maxsize=10_000)

    async def of(self, conn: AsyncConnection, tenant_id: UUID, version: int) -> list[Webhook]:
        cached = self._cache.get(tenant_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        rows = (await conn.execute(select(t.webhooks).where(t.webhooks.c.tenant_id == tenant_id))).all()
        hooks = [m.webhook_from(row) for row in rows]
        self._cache[tenant_id] = (version, hooks)
        return hooks


ACTIVE_WEBHOOKS = ActiveWebhooks()


async def store_events(conn: AsyncConnection, events: list[Event], new_id: Callable[[], UUID] = _DEFAULT_IDS.new_id) -> list[Event]:
    """Number events, store them, and queue their webhook deliveries (the outbox rule is the domain's
    `outbox_deliveries`), all in the caller's transaction. Tenants are locked in one order, so concurrent
    writers never deadlock."""
    by_tenant: dict[UUID, list[Event]] = {}
    for event in events:
        by_tenant.setdefault(event.tenant_id, []).append(event)
    postgres = conn.dialect.name == "postgresql"
    stored: list[Event] = []
    deliveries: list[dict[str, Any]] = []
    frozen: list[statements.Frozen] = []
    for tenant_id in sorted(by_tenant):
        if postgres:
            batch, webhooks_version = await pg.store_tenant_events(conn, tenant_id, by_tenant[tenant_id])
        else:
            seqs, webhooks_version = await allocate_seqs(conn, tenant_id, len(by_tenant[tenant_id]))
            batch = [dataclasses.replace(e, seq=seq, pos=seq) for e, seq in zip(by_tenant[tenant_id], seqs, strict=True)]
        stored += batch
        hooks = await ACTIVE_WEBHOOKS.of(conn, tenant_id, webhooks_version)
        queued = outbox_deliveries(batch, hooks, new_id)
        tenant_statements = await statements.freeze(conn, tenant_id, batch, hooks)
        statements.attach(queued, tenant_statements)
        frozen += tenant_statements.values()
        deliveries += [m.delivery_values(d) for d in queued]
    if not postgres:
        await conn.execute(insert_statement(t.events), [m.event_values(event) for event in stored])
        if deliveries:
            await conn.execute(insert_statement(t.webhook_deliveries), deliveries)
    elif deliveries:
        await pg.insert_deliveries(conn, deliveries)
    await statements.store(conn, frozen)
    return stored


class SqlEvents(TenantTable[Event]):
    """Events are held until the unit of work commits, then stored in one statement with their feed seqs."""

    table, kind = t.events, "event"
    to_values, from_row = staticmethod(m.event_values), staticmethod(m.event_from)

    def __init__(self, conn: AsyncConnection, tenant_id: UUID, new_id: Callable[[], UUID] = _DEFAULT_IDS.new_id) -> None:
        super().__init__(conn, tenant_id)
        self._pending: list[Event] = []
        self._new_id = new_id

    async def add(self, event: Event) -> None:
        self._pending.append(event)

    async def flush(self) -> list[Event]:
        """Store the pending events (just before commit); returns them with their seqs."""
        if not self._pending:
            return []
        pending, self._pending = self._pending, []
        return await store_events(self._conn, pending, self._new_id)

    async def list_for_subject(self, subject_id: UUID, page: PageRequest) -> Page[Event]:
        return await self._page(page, self.table.c.subject_id == subject_id)

    async def feed(
        self, after: int, limit: int, types: tuple[str, ...] = (), subject_id: UUID | None = None, since: datetime | None = None,
    ) -> list[Event]:
        """Events after seq `after`, in seq order; `types` may hold `prefix.*` patterns. On PostgreSQL the
        events committed since the last poll are numbered first, so the feed holds every acknowledged change."""
        if self._postgres:
            await with_driver(self._conn, lambda driver: number_waiting(driver, self._tenant_id))
        c = self.table.c
        conditions = [c.seq > after] + ([] if since is None else [c.occurred_at > since])
        if types:
            exact = [p for p in types if not p.endswith(".*")]
            prefixes = [p[:-1] for p in types if p.endswith(".*")]
            conditions.append(or_(c.type.in_(exact), *(c.type.startswith(prefix, autoescape=True) for prefix in prefixes)))
        if subject_id is not None:
            conditions.append(c.subject_id == subject_id)
        stmt = select(self.table).where(self._scoped(*conditions)).order_by(c.seq).limit(limit)
        return [m.event_from(row) for row in (await self._conn.execute(stmt)).all()]
