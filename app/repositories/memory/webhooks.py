"""In-memory webhooks, their delivery log, the xAPI statement source, and the outbox rule applied on commit.

Events are numbered and queued to the webhooks that want them as they are published, with the domain's
rule (`outbox_deliveries`) and the statement an LRS gets (`xapi.statement`), as the SQL store does."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from uuid import UUID

from app.domain.events import Event
from app.domain.pagination import Page, PageRequest, cursor_id
from app.domain.webhooks import Delivery, Webhook, WebhookKind, outbox_deliveries
from app.repositories.memory.base import Repo, Store, page_of
from app.repositories.memory.statements import attach, freeze


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


async def store_events(store: Store, tenant_id: UUID, events: list[Event], new_id: Callable[[], UUID]) -> list[Event]:
    """Number one tenant's events as they are published, store them, and queue their deliveries (the outbox)."""
    next_seq = max((e.seq or 0 for e in store.events.values()), default=0) + 1
    stored = [dataclasses.replace(event, seq=next_seq + offset, pos=next_seq + offset) for offset, event in enumerate(events)]
    store.events.update({event.id: copy.deepcopy(event) for event in stored})
    hooks = sorted(store.webhooks.values(), key=lambda hook: hook.id)
    queued = outbox_deliveries(stored, hooks, new_id)
    frozen = freeze(store, tenant_id, stored, hooks)
    attach(queued, frozen)
    store.statements.extend(frozen.values())
    store.deliveries.update({d.id: d for d in queued})
    return stored
