"""In-memory webhooks, their delivery log, the xAPI statement source, and the outbox rule applied on commit.

Events are numbered and queued to the webhooks that want them as they are published, with the domain's
rule (`outbox_deliveries`) and the statement an LRS gets (`xapi.statement`), as the SQL store does."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any
from uuid import UUID

from app.domain import xapi
from app.domain.events import Event
from app.domain.pagination import Page, PageRequest, cursor_id
from app.domain.webhooks import Delivery, Webhook, WebhookKind, outbox_deliveries
from app.repositories.memory.base import Repo, Store, page_of
from app.repositories.sql.mapping import event_document


class MemoryWebhooks(Repo):
    deliveries: MemoryDeliveries
    """The unit of work's deliveries: deleting a webhook deletes its log."""

    async def add(self, webhook: Webhook) -> None:
        await self._add(webhook)

    async def get(self, webhook_id: UUID) -> Webhook | None:
        return await self._get(webhook_id)

    async def update(self, webhook: Webhook, expected_version: int) -> None:
        await self._update(webhook, expected_version)

    async def delete(self, webhook_id: UUID) -> None:
        for delivery_id in [d.id for d in self.deliveries.rows.values() if d.webhook_id == webhook_id]:
            self.deliveries._remove(delivery_id)
        self._remove(webhook_id)

    async def list(self, page: PageRequest, kind: WebhookKind = WebhookKind.STANDARD) -> Page[Webhook]:
        return page_of([w for w in self.rows.values() if w.kind is kind], page)


class MemoryDeliveries(Repo):
    async def get(self, webhook_id: UUID, delivery_id: UUID) -> Delivery | None:
        return self._find(id=delivery_id, webhook_id=webhook_id)

    async def update(self, delivery: Delivery) -> None:
        self._put(delivery)

    async def list(self, webhook_id: UUID, page: PageRequest) -> Page[Delivery]:
        """Newest first."""
        rows = sorted((d for d in self.rows.values() if d.webhook_id == webhook_id), key=lambda d: d.id, reverse=True)
        after = cursor_id(page.after)
        if after is not None:
            rows = [d for d in rows if d.id < after]
        return Page.from_rows([copy.deepcopy(d) for d in rows[: page.limit + 1]], page)


class MemoryStatementSource:
    """Learners and skill names of any tenant (the tenant is the caller's argument, as on the SQL side).

    `own`: the unit of work's copy of its tenant, so its uncommitted writes are seen, as in a transaction."""

    def __init__(self, stores: dict[UUID, Store], own: tuple[UUID, Store] | None = None) -> None:
        self._stores, self._own = stores, own

    def _store(self, tenant_id: UUID) -> Store:
        if self._own is not None and self._own[0] == tenant_id:
            return self._own[1]
        return self._stores.get(tenant_id) or Store()

    async def learners(self, tenant_id: UUID, person_ids: set[UUID]) -> dict[UUID, xapi.Learner]:
        wanted = {UUID(str(i)) for i in person_ids}
        people = self._store(tenant_id).people
        return {i: xapi.Learner(people[i].external_id, people[i].email, people[i].display_name) for i in wanted if i in people}

    async def skill_names(self, tenant_id: UUID, skill_ids: set[UUID]) -> dict[UUID, str]:
        wanted = {UUID(str(i)) for i in skill_ids}
        skills = self._store(tenant_id).skills
        return {i: skills[i].name for i in wanted if i in skills}


async def store_events(store: Store, tenant_id: UUID, events: list[Event], new_id: Callable[[], UUID]) -> list[Event]:
    """Number one tenant's events as they are published, store them, and queue their deliveries (the outbox)."""
    next_seq = max((e.seq or 0 for e in store.events.values()), default=0) + 1
    stored = [dataclasses.replace(event, seq=next_seq + offset, pos=next_seq + offset) for offset, event in enumerate(events)]
    store.events.update({event.id: copy.deepcopy(event) for event in stored})
    hooks = sorted(store.webhooks.values(), key=lambda hook: hook.id)
    queued = outbox_deliveries(stored, hooks, new_id)
    if any(d.payload is not None for d in queued):
        await attach_statements(MemoryStatementSource({tenant_id: store}), tenant_id, queued, {e.id: e for e in stored},
                                {h.id: h for h in hooks})
    store.deliveries.update({d.id: d for d in queued})
    return stored


async def attach_statements(
    source: MemoryStatementSource, tenant_id: UUID, deliveries: list[Delivery], events: dict[UUID, Event], hooks: dict[UUID, Webhook],
) -> None:
    """The xAPI statement each LRS delivery sends: as the SQL store's `attach_statements` builds it."""
    documents: dict[UUID, dict[str, Any]] = {d.event_id: event_document(events[d.event_id]) for d in deliveries if d.payload is not None}
    learners = await source.learners(tenant_id, {doc["data"]["assignee_id"] for doc in documents.values()})
    skills = await source.skill_names(tenant_id, {doc["data"]["skill_id"] for doc in documents.values()})
    for delivery in deliveries:
        if delivery.payload is None:
            continue
        doc, hook = documents[delivery.event_id], hooks[delivery.webhook_id]
        delivery.payload = xapi.statement(
            doc, learners[UUID(doc["data"]["assignee_id"])], skills.get(UUID(doc["data"]["skill_id"])),
            tenant_id=tenant_id, home_page=hook.xapi_home_page or "", use_mbox=hook.xapi_use_mbox,
        )
