"""The tenant's event feed, for integrations that poll."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.domain.actors import Scope
from app.domain.events import Event
from app.services.context import Context


@dataclass(frozen=True)
class FeedPage:
    events: list[Event]
    last_seq: int
    """Resume after this seq next time (the `after` given, when nothing new came)."""
    has_more: bool


async def feed(ctx: Context, after: int, limit: int, types: tuple[str, ...] = (), subject_id: UUID | None = None) -> FeedPage:
    ctx.actor.require(Scope.EVENTS_READ)
    async with ctx.uow(readonly=True) as uow:
        events = await uow.events.feed(after, limit + 1, types, subject_id)
    page = events[:limit]
    return FeedPage(page, page[-1].seq if page else after, len(events) > limit)  # type: ignore[arg-type]
