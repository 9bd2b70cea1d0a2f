"""The workers' cross-tenant views on the in-memory data: the outbox (webhook deliveries) and the deadline queue.

Each unit of work copies every tenant's data on entry and publishes the rows it wrote on commit, after checking
that nobody committed a change to them meanwhile (the fakes' stand-in for the SQL side's row locks)."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any, Self
from uuid import UUID

from app.domain.assignment import Assignment
from app.domain.deadlines import ReminderPolicy, next_deadline
from app.domain.errors import ConcurrentUpdate
from app.domain.events import Event
from app.domain.ports import IdGenerator
from app.domain.webhooks import Claimed, Delivery, DeliveryStatus, Health
from app.repositories.memory.base import Store
from app.repositories.memory.records import as_stored
from app.repositories.memory.webhooks import store_events

_Key = tuple[UUID, str, UUID]
"""(tenant, table, id) of a row a cross-tenant unit of work wrote."""


class _AcrossTenants:
    """The copy, the rows written (with what they were when first read), and the events to store on commit."""

    def __init__(self, stores: dict[UUID, Store], ids: IdGenerator) -> None:
        self._stores, self._ids = stores, ids
        self.committed = False

    def _begin(self) -> dict[UUID, Store]:
        self._work = copy.deepcopy(self._stores)
        self._originals: dict[_Key, Any] = {}
        self._events: list[Event] = []
        return self._work

    def _write(self, tenant_id: UUID, table: str, item: Any) -> None:
        rows = getattr(self._work[tenant_id], table)
        self._originals.setdefault((tenant_id, table, item.id), copy.deepcopy(rows.get(item.id)))
        rows[item.id] = copy.deepcopy(item)

    def _add_events(self, events: list[Event]) -> None:
        self._events += events

    async def commit(self) -> None:
        for (tenant_id, table, item_id), original in self._originals.items():
            if getattr(self._stores.setdefault(tenant_id, Store()), table).get(item_id) != original:
                raise ConcurrentUpdate(table)
        for tenant_id, table, item_id in self._originals:
            getattr(self._stores[tenant_id], table)[item_id] = copy.deepcopy(getattr(self._work[tenant_id], table)[item_id])
        for tenant_id in sorted({e.tenant_id for e in self._events}):  # tenants in one order, as the SQL store takes them
            mine = sorted((e for e in self._events if e.tenant_id == tenant_id), key=lambda e: e.id)
            await store_events(self._stores.setdefault(tenant_id, Store()), tenant_id, mine, self._ids.new_id)
        self._originals, self._events = {}, []
        self.committed = True

    async def __aexit__(self, *exc: object) -> None:
        return None


class MemoryOutbox:
    """Webhook deliveries across every tenant: the delivery worker's view."""

    def __init__(self, uow: MemoryOutboxUnitOfWork, work: dict[UUID, Store]) -> None:
        self._uow, self._work = uow, work

    async def claim(self, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
        """Due deliveries of active webhooks, never one while an earlier event of the same subject is still pending
        for that webhook; each is leased (its next attempt pushed `lease` ahead) until this unit of work commits."""
        due: list[tuple[Delivery, Store]] = []
        for store in self._work.values():
            pending = [d for d in store.deliveries.values() if d.status is DeliveryStatus.PENDING]
            for d in pending:
                hook = store.webhooks.get(d.webhook_id)
                blocked = any(
                    e.webhook_id == d.webhook_id and e.subject_id == d.subject_id and e.event_pos < d.event_pos for e in pending
                )
                if hook is not None and hook.active and d.next_attempt_at is not None and d.next_attempt_at <= now and not blocked:
                    due.append((d, store))
        due.sort(key=lambda pair: (pair[0].next_attempt_at, pair[0].id))
        claimed = []
        for delivery, store in due[:limit]:
            claimed.append(Claimed(
                copy.deepcopy(delivery), copy.deepcopy(store.webhooks[delivery.webhook_id]),
                as_stored(store.events[delivery.event_id]), now + lease,
            ))
            self._uow._write(delivery.tenant_id, "deliveries", _leased(delivery, now + lease))
        return claimed

    async def save(self, results: list[tuple[Delivery, datetime]], health: list[Health]) -> set[UUID]:
        """Attempts, each written only while its lease is the one it was claimed under (a re-claim or a manual
        retry meanwhile wins); webhook health only at the version claimed (an admin's change meanwhile wins)."""
        for delivery, leased_until in results:
            stored = self._work.get(delivery.tenant_id, Store()).deliveries.get(delivery.id)
            if stored is not None and stored.next_attempt_at == leased_until:
                self._uow._write(delivery.tenant_id, "deliveries", delivery)
        disabled: set[UUID] = set()
        for change in sorted(health, key=lambda h: (h.tenant_id, h.webhook_id)):
            hook = copy.deepcopy(self._work.get(change.tenant_id, Store()).webhooks.get(change.webhook_id))
            if hook is None or hook.version != change.claimed_version:
                continue
            hook.failing_since = change.failing_since
            if change.disable_reason is not None:
                hook.active, hook.disabled_reason, hook.version = False, change.disable_reason, hook.version + 1
                disabled.add(change.webhook_id)
            self._uow._write(change.tenant_id, "webhooks", hook)
        return disabled

    async def add_events(self, events: list[Event]) -> None:
        self._uow._add_events(events)


def _leased(delivery: Delivery, until: datetime) -> Delivery:
    leased = copy.deepcopy(delivery)
    leased.next_attempt_at = until
    return leased


class MemoryOutboxUnitOfWork(_AcrossTenants):
    async def __aenter__(self) -> Self:
        self.outbox = MemoryOutbox(self, self._begin())
        return self


class MemoryDeadlineQueue:
    """Assignments with a deadline due, across every tenant: the sweeper's view."""

    def __init__(self, uow: MemorySweepUnitOfWork, work: dict[UUID, Store], policy: ReminderPolicy) -> None:
        self._uow, self._work, self._policy = uow, work, policy

    def _due(self, now: datetime) -> list[tuple[datetime, Assignment]]:
        due = []
        for store in self._work.values():
            for assignment in store.assignments.values():
                deadline = next_deadline(assignment, self._policy)
                if deadline is not None and deadline <= now:
                    due.append((deadline, assignment))
        return sorted(due, key=lambda pair: (pair[0], pair[1].id))

    async def claim_due(self, now: datetime, limit: int) -> list[Assignment]:
        return [copy.deepcopy(assignment) for _, assignment in self._due(now)[:limit]]

    async def save(self, swept: list[tuple[Assignment, int]]) -> None:
        for assignment, expected in swept:
            stored = self._work.get(assignment.tenant_id, Store()).assignments.get(assignment.id)
            if stored is None or stored.version != expected:
                raise ConcurrentUpdate("assignment")
            self._uow._write(assignment.tenant_id, "assignments", assignment)

    async def add_events(self, events: list[Event]) -> None:
        self._uow._add_events(events)

    async def oldest_due(self, now: datetime) -> datetime | None:
        due = self._due(now)
        return due[0][0] if due else None


class MemorySweepUnitOfWork(_AcrossTenants):
    def __init__(self, stores: dict[UUID, Store], ids: IdGenerator, policy: ReminderPolicy) -> None:
        super().__init__(stores, ids)
        self._policy = policy

    async def __aenter__(self) -> Self:
        self.deadlines = MemoryDeadlineQueue(self, self._begin(), self._policy)
        return self
