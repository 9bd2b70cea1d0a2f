"""The in-memory unit of work of one tenant, and the database that holds every tenant's data.

A unit of work copies the tenant's data on entry and publishes what it wrote on commit, so an
uncommitted unit of work leaves nothing behind."""

from __future__ import annotations

import copy
from typing import Self
from uuid import UUID

from app.domain.deadlines import ReminderPolicy
from app.domain.errors import ConcurrentUpdate
from app.domain.events import Event
from app.domain.ports import IdGenerator
from app.repositories.clock import Uuid7Ids
from app.repositories.memory.base import Repo, Store
from app.repositories.memory.records import (
    MemoryAssignments,
    MemoryBriefs,
    MemoryEvents,
    MemoryEvidence,
    MemoryExtensions,
    MemoryImports,
    MemoryPeople,
    MemoryReviews,
    MemorySkills,
    MemorySubmissions,
)
from app.repositories.memory.statements import MemoryLrsDeliveries, MemoryStatementStore
from app.repositories.memory.webhooks import MemoryDeliveries, MemoryWebhooks, store_events
from app.repositories.memory.workers import MemoryOutboxUnitOfWork, MemorySweepUnitOfWork


class MemoryUnitOfWork:
    def __init__(self, stores: dict[UUID, Store], tenant_id: UUID, ids: IdGenerator | None = None) -> None:
        self._stores, self.tenant_id = stores, tenant_id
        self._ids = ids or Uuid7Ids()
        self.committed = False

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self._stores.setdefault(self.tenant_id, Store()))
        w = self._work
        self.people = MemoryPeople(w.people, "person")
        self.people.assignments = w.assignments
        self.skills = MemorySkills(w.skills, "skill")
        self.briefs = MemoryBriefs(w.briefs, "brief")
        self.assignments = MemoryAssignments(w.assignments, "assignment")
        self.assignments.people = self.people
        self.submissions = MemorySubmissions(w.submissions, "submission")
        self.reviews = MemoryReviews(w.reviews, "review")
        self.evidence = MemoryEvidence(w.evidence, "evidence")
        self.extensions = MemoryExtensions(w.extensions, "extension")
        self.events = MemoryEvents(w.events, "event")
        self.webhooks = MemoryWebhooks(w.webhooks, "webhook")
        self.deliveries = MemoryDeliveries(w.deliveries, "delivery")
        self.webhooks.deliveries = self.deliveries
        self.statements = MemoryStatementStore(w.statements)
        self.lrs = MemoryLrsDeliveries(self.deliveries, self.webhooks)
        self.imports = MemoryImports(w.imports, "import", w.import_rows)
        return self

    async def commit(self) -> None:
        """Compare-and-set against what other units of work committed meanwhile, publish the writes, then the
        events: numbered as they commit (as on SQLite) and queued to the webhooks as they stand after this commit."""
        live = self._stores.setdefault(self.tenant_id, Store())
        repos: dict[str, Repo] = {name: getattr(self, name) for name in vars(live) if name not in ("import_rows", "events", "statements")}
        for name, repo in repos.items():
            for item_id, expected in repo.expected.items():
                current = getattr(live, name).get(item_id)
                if current is None or current.version != expected:
                    raise ConcurrentUpdate(repo.kind)
        for name, repo in repos.items():
            rows = getattr(live, name)
            for item_id in repo.written:
                if item_id in rows or item_id not in repo.overwrites:  # an overwrite of a row deleted meanwhile writes nothing
                    rows[item_id] = copy.deepcopy(repo.rows[item_id])
            for item_id in repo.deleted:
                rows.pop(item_id, None)
        live.import_rows = copy.deepcopy(self._work.import_rows)
        events: list[Event] = [self.events.rows[event_id] for event_id in sorted(self.events.written)]
        await store_events(live, self.tenant_id, events, self._ids.new_id)
        self.committed = True

    async def __aexit__(self, *exc: object) -> None:
        return None


class MemoryDatabase:
    """Holds every tenant's data; `uow(tenant_id)` is the UnitOfWorkFactory, `outbox_uow` and `sweep_uow` the
    workers' cross-tenant ones (as app.repositories.sql.Database names them)."""

    def __init__(self, policy: ReminderPolicy | None = None, ids: IdGenerator | None = None) -> None:
        self.stores: dict[UUID, Store] = {}
        self.policy = policy or ReminderPolicy()
        self.ids = ids or Uuid7Ids()

    def uow(self, tenant_id: UUID, *, readonly: bool = False) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.stores, tenant_id, self.ids)

    def outbox_uow(self) -> MemoryOutboxUnitOfWork:
        return MemoryOutboxUnitOfWork(self.stores, self.ids)

    def sweep_uow(self) -> MemorySweepUnitOfWork:
        return MemorySweepUnitOfWork(self.stores, self.ids, self.policy)

    def events(self, tenant_id: UUID) -> list[Event]:
        store = self.stores.get(tenant_id, Store())
        return sorted(store.events.values(), key=lambda e: e.id)
