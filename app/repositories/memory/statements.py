"""In-memory frozen xAPI statements and the LRS's deliveries as a whole, as the SQL store keeps them.

A statement is built once, when its event is published, with the tenant's LRS settings of that moment, and
kept as the exact text served and pushed (app/repositories/sql/statements.py does the same in SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic_core import to_json

from app.domain import xapi
from app.domain.events import Event
from app.domain.lrs import LrsHealth
from app.domain.webhooks import Delivery, DeliveryStatus, Webhook, WebhookKind
from app.repositories.memory.base import Store
from app.repositories.sql.mapping import event_document
from app.repositories.sql.statements import DEFAULT_HOME_PAGE, row_of


@dataclass(frozen=True)
class FrozenStatement:
    seq: int
    row: dict[str, Any]
    text: str


def freeze(store: Store, tenant_id: UUID, events: list[Event], hooks: list[Webhook]) -> dict[UUID, FrozenStatement]:
    """The statements of published events (with their seqs), by event id."""
    wanted = [event for event in events if event.type in xapi.STATEMENT_TYPES]
    lrs = next((hook for hook in hooks if hook.kind is WebhookKind.XAPI), None)
    home_page = lrs.xapi_home_page if lrs is not None and lrs.xapi_home_page else DEFAULT_HOME_PAGE
    frozen = {}
    for event in wanted:
        doc = event_document(event)
        person = store.people[UUID(doc["data"]["assignee_id"])]
        skill = store.skills.get(UUID(doc["data"]["skill_id"]))
        built = xapi.statement(
            doc, xapi.Learner(person.external_id, person.email, person.display_name), None if skill is None else skill.name,
            tenant_id=tenant_id, home_page=home_page, use_mbox=bool(lrs is not None and lrs.xapi_use_mbox),
        )
        text = to_json(built).decode()
        frozen[event.id] = FrozenStatement(event.seq or 0, row_of(tenant_id, event.id, event.occurred_at, built, text), text)
    return frozen


def attach(deliveries: list[Delivery], frozen: dict[UUID, FrozenStatement]) -> None:
    for delivery in deliveries:
        if delivery.payload is not None and delivery.event_id in frozen:
            statement = frozen[delivery.event_id]
            delivery.payload = {"id": str(statement.row["statement_id"]), "text": statement.text}


class MemoryStatementStore:
    def __init__(self, statements: list[FrozenStatement]) -> None:
        self._statements = statements

    async def page(self, query: xapi.StatementQuery) -> list[tuple[int, str]]:
        def keep(s: FrozenStatement) -> bool:
            row = s.row
            return (
                (query.after is None or (s.seq > query.after if query.ascending else s.seq < query.after))
                and (query.since is None or row["occurred_at"] > query.since)
                and (query.until is None or row["occurred_at"] <= query.until)
                and all(value is None or row[column] == value for column, value in (
                    ("verb_id", query.verb), ("activity_id", query.activity), ("agent", query.agent),
                    ("registration", query.registration)))
            )
        chosen = sorted((s for s in self._statements if keep(s)), key=lambda s: s.seq, reverse=not query.ascending)
        return [(s.seq, s.text) for s in chosen[: query.limit + 1]]


class MemoryLrsDeliveries:
    """Over the unit of work's deliveries (and webhooks, for failing_since), so its writes publish with it."""

    def __init__(self, deliveries: Any, webhooks: Any) -> None:
        self._deliveries, self._webhooks = deliveries, webhooks

    def _pending(self, webhook_id: UUID) -> list[Delivery]:
        return [d for d in self._deliveries.rows.values() if d.webhook_id == webhook_id and d.status is DeliveryStatus.PENDING]

    async def retry_pending_now(self, webhook_id: UUID, now: datetime) -> int:
        pending = self._pending(webhook_id)
        for delivery in pending:
            delivery.next_attempt_at = now
            self._deliveries._put(delivery)
        return len(pending)

    async def pending(self, webhook_id: UUID) -> int:
        return len(self._pending(webhook_id))

    async def discard_pending(self, webhook_id: UUID) -> int:
        pending = self._pending(webhook_id)
        for delivery in pending:
            self._deliveries._remove(delivery.id)
        return len(pending)

    async def health(self, webhook_id: UUID) -> LrsHealth:
        mine = [d for d in self._deliveries.rows.values() if d.webhook_id == webhook_id]
        successes = [d.last_attempt_at for d in mine if d.status is DeliveryStatus.SUCCEEDED and d.last_attempt_at is not None]
        failures = sorted((d for d in mine if d.status is not DeliveryStatus.SUCCEEDED and d.attempts > 0 and d.last_attempt_at),
                          key=lambda d: d.last_attempt_at, reverse=True)
        pending = [d for d in mine if d.status is DeliveryStatus.PENDING]
        hook = self._webhooks.rows.get(webhook_id)
        last = failures[0] if failures else None
        return LrsHealth(
            last_success_at=max(successes, default=None), last_failure_at=None if last is None else last.last_attempt_at,
            last_failure_status_code=None if last is None else last.last_status_code,
            last_failure_error=None if last is None else last.last_error,
            backlog=len(pending), oldest_pending_at=min((d.created_at for d in pending), default=None),
            failing_since=None if hook is None else hook.failing_since,
        )
