"""/v1/events: the tenant's feed: every event once, gap-free, one subject's in the order they happened."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from app.api.deps import Ctx, decode_cursor, encode_cursor
from app.api.problems import problem_responses
from app.api.schemas.assignments import EventFeed, EventOut
from app.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, InvalidCursor, cursor_seq
from app.services import events

router = APIRouter(prefix="/v1/events", tags=["events"])

EventType = Annotated[str, Query(max_length=64, pattern=r"^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$")]


@router.get("", operation_id="list_events", summary="Every event of the tenant, once each, gap-free",
            description="Store `next_cursor` and pass it back as `after`: you will see every event exactly once, even "
                        "while writers commit concurrently. A poll returns every change committed before it began; "
                        "changes that commit later come after it. Events that committed between two polls are listed "
                        "in the order they were stored, so one subject's events are always in the order they happened.",
            responses=problem_responses(400, 403, 422))
async def list_events(
    ctx: Ctx, response: Response,
    after: Annotated[str, Query(max_length=200, description="`next_cursor` from the previous call.")] = None,  # type: ignore[assignment]
    cursor: Annotated[str, Query(max_length=200, description="The same as `after`, as other lists call it.")] = None,  # type: ignore[assignment]
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    type_: Annotated[list[EventType] | None, Query(alias="type", description="Any of these types; `assignment.*` for a family.")] = None,
    subject_id: Annotated[UUID | None, Query()] = None,
) -> EventFeed:
    if after is not None and cursor is not None and after != cursor:
        raise InvalidCursor()
    given = after if after is not None else cursor
    position = cursor_seq(None if given is None else decode_cursor(given))
    page = await events.feed(ctx, position, limit, tuple(type_ or ()), subject_id)
    return EventFeed(items=[EventOut.of(e) for e in page.events], next_cursor=encode_cursor(page.last_seq), has_more=page.has_more)
