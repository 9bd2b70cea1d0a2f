"""/v1/xapi/statements: the lifecycle as xAPI 1.0.3 statements, for an LRS or LMS that pulls.

It answers as an LRS's statement resource does for the queries that make sense here: `X-Experience-API-Version`
on every answer, xAPI's filters, a relative `more`, and a 400 for any parameter it does not know."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import urlencode, urlparse
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from app.api.deps import Ctx, decode_cursor, encode_cursor
from app.api.errors import BadQuery
from app.api.problems import problem_responses
from app.api.schemas.common import UtcDatetime
from app.domain import xapi
from app.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, cursor_seq
from app.services import statements

PARAMETERS = frozenset({
    "since", "until", "limit", "ascending", "verb", "activity", "agent", "registration", "cursor", "format", "attachments",
})


class XapiRoute(APIRoute):
    """Every answer of these routes, a problem too, says which xAPI version it speaks."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:
                answer = _handler_for(request, exc)
                if answer is None:
                    raise
                response = await answer(request, exc)
            response.headers["X-Experience-API-Version"] = xapi.XAPI_VERSION
            return response

        return route


def _handler_for(request: Request, exc: Exception) -> Any:
    handlers = request.app.exception_handlers
    return next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)


router = APIRouter(prefix="/v1/xapi", tags=["xapi"], route_class=XapiRoute)


class StatementResult(BaseModel):
    statements: list[dict[str, Any]] = Field(
        description="xAPI 1.0.3 statements, each exactly as it was made when its event happened (and as the LRS was "
                    "sent it); ids are stable (UUIDv5 of the event)."
    )
    more: str = Field(description="The relative IRL of the next page (resolve it against this server's root), or an empty "
                                  "string when there is none (xAPI's StatementResult).")


def _iri(name: str, value: str | None) -> str | None:
    if value is not None and not urlparse(value).scheme:
        raise BadQuery(f"`{name}` must be an IRI.", parameter=name)
    return value


def _agent(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        agent = json.loads(value)
    except ValueError:
        agent = None
    key = xapi.agent_key(agent) if isinstance(agent, dict) else None
    if key is None:
        raise BadQuery("`agent` must be an xAPI Agent as JSON, with an mbox or an account.", parameter="agent")
    return key


@router.get("/statements", operation_id="list_xapi_statements", summary="Lifecycle events as xAPI statements",
            response_model=StatementResult, responses=problem_responses(400, 403, 422))
async def list_xapi_statements(
    ctx: Ctx, request: Request,
    since: Annotated[UtcDatetime | None, Query(description="Only statements about events after this time.")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Only statements about events at or before this time.")] = None,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT, description=f"Statements per page; 0 means the most ({MAX_LIMIT}).")] = DEFAULT_LIMIT,
    ascending: Annotated[bool, Query(description="Oldest first (the default here, as a feed); false for newest first.")] = True,
    verb: Annotated[str | None, Query(max_length=500, description="Only statements with this verb IRI.")] = None,
    activity: Annotated[str | None, Query(max_length=2000, description="Only statements about this activity IRI (a brief).")] = None,
    agent: Annotated[str | None, Query(max_length=2500,
        description="Only statements whose actor is this Agent (JSON, by mbox or account).")] = None,
    registration: Annotated[UUID | None, Query(description="Only statements of this registration (one assignment).")] = None,
    format: Annotated[str, Query(pattern="^exact$", description="Only `exact`: statements as stored.")] = "exact",
    attachments: Annotated[bool, Query(description="Only false: statements carry no attachments.")] = False,
    cursor: Annotated[str | None, Query(max_length=200, description="From `more`.")] = None,
) -> Response:
    unknown = sorted(set(request.query_params) - PARAMETERS)
    if unknown:
        raise BadQuery(f"Unknown query parameter(s): {', '.join(unknown)}.", parameters=unknown)
    if attachments:
        raise BadQuery("Statements carry no attachments; `attachments` may only be false.", parameter="attachments")
    position = None if cursor is None else cursor_seq(decode_cursor(cursor))
    query = xapi.StatementQuery(
        limit=limit or MAX_LIMIT, after=position, ascending=ascending, since=since, until=until, verb=_iri("verb", verb),
        activity=_iri("activity", activity), agent=_agent(agent), registration=registration,
    )
    page = await statements.statements(ctx, query)
    more = ""
    if page.has_more:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"] + [("cursor", encode_cursor(page.last_seq))]
        more = f"{request.url.path}?{urlencode(params)}"
    body = '{"statements":[' + ",".join(page.statements) + '],"more":' + json.dumps(more) + "}"
    return Response(body, media_type="application/json")
