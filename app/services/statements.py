"""xAPI statements of the tenant's lifecycle events, for an LRS or LMS that pulls (GET /v1/xapi/statements).

Each statement is served as it was stored when its event was: the same text the LRS was sent."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain import xapi
from app.domain.actors import Scope
from app.services.context import Context


@dataclass(frozen=True)
class StatementPage:
    statements: list[str]
    """Each statement's stored JSON text."""
    last_seq: int | None
    has_more: bool


async def statements(ctx: Context, query: xapi.StatementQuery) -> StatementPage:
    ctx.actor.require(Scope.EVENTS_READ)
    async with ctx.uow(readonly=True) as uow:
        rows = await uow.statements.page(query)
    page = rows[:query.limit]
    return StatementPage([text for _, text in page], page[-1][0] if page else query.after, len(rows) > query.limit)
