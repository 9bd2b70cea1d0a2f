"""xAPI statements of the tenant's lifecycle events, for an LRS that pulls (GET /v1/xapi/statements)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic_core import to_jsonable_python

from app.domain import xapi
from app.domain.actors import Scope
from app.domain.events import Event
from app.domain.pagination import PageRequest
from app.domain.webhooks import WebhookKind
from app.services.context import Context


@dataclass(frozen=True)
class StatementPage:
    statements: list[dict[str, Any]]
    last_seq: int
    has_more: bool


def document(event: Event) -> dict[str, Any]:
    return to_jsonable_python({
        "id": event.id, "type": event.type, "occurred_at": event.occurred_at, "data": event.data, "details": event.details,
    })


async def statements(ctx: Context, *, after: int, limit: int, since: datetime | None, default_home_page: str) -> StatementPage:
    """Statements as the tenant's LRS receives them (its homePage and actor format), or with Stint's own homePage."""
    ctx.actor.require(Scope.EVENTS_READ)
    async with ctx.uow(readonly=True) as uow:
        lrs = (await uow.webhooks.list(PageRequest(limit=1), kind=WebhookKind.XAPI)).items
        home_page = lrs[0].xapi_home_page if lrs and lrs[0].xapi_home_page else default_home_page
        use_mbox = bool(lrs and lrs[0].xapi_use_mbox)
        events = await uow.events.feed(after, limit + 1, xapi.STATEMENT_TYPES, since=since)
        page = events[:limit]
        docs = [document(event) for event in page]
        learners = await uow.statement_source.learners(ctx.actor.tenant_id, {UUID(d["data"]["assignee_id"]) for d in docs})
        skills = await uow.statement_source.skill_names(ctx.actor.tenant_id, {UUID(d["data"]["skill_id"]) for d in docs})
    built = [
        xapi.statement(d, learners[UUID(d["data"]["assignee_id"])], skills.get(UUID(d["data"]["skill_id"])),
                       tenant_id=ctx.actor.tenant_id, home_page=home_page, use_mbox=use_mbox)
        for d in docs
    ]
    return StatementPage(built, page[-1].seq if page else after, len(events) > limit)  # type: ignore[arg-type]
