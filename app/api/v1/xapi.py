"""/v1/xapi/statements: the lifecycle as xAPI 1.0.3 statements, for an LRS or LMS that pulls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from app.api.deps import Ctx, decode_cursor, encode_cursor
from app.api.problems import problem_responses
from app.api.schemas.common import UtcDatetime
from app.domain import xapi
from app.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, cursor_seq
from app.services import statements

router = APIRouter(prefix="/v1/xapi", tags=["xapi"])


class StatementResult(BaseModel):
    statements: list[dict[str, Any]] = Field(description="xAPI 1.0.3 statements, oldest first; ids are stable (UUIDv5 of the event).")
    more: str = Field(description="The URL of the next page, or an empty string when there is none (xAPI's StatementResult).")


@router.get("/statements", operation_id="list_xapi_statements", summary="Lifecycle events as xAPI statements",
            responses=problem_responses(400, 403, 422))
async def list_xapi_statements(
    ctx: Ctx, request: Request, response: Response,
    since: Annotated[UtcDatetime | None, Query(description="Only statements about events after this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200, description="From `more`.")] = None,
) -> StatementResult:
    position = cursor_seq(None if cursor is None else decode_cursor(cursor))
    page = await statements.statements(ctx, after=position, limit=limit, since=since,
        default_home_page=request.app.state.settings.public_url)
    more = str(request.url.include_query_params(cursor=encode_cursor(page.last_seq))) if page.has_more else ""
    response.headers["X-Experience-API-Version"] = xapi.XAPI_VERSION
    return StatementResult(statements=page.statements, more=more)
