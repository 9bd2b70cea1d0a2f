"""/v1/me: the caller's own view, for front-end apps signed in as a person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import (
    NO_ACTIVE_PERSON,
    Caller,
    Ctx,
    Paging,
    PersonToken,
    Runtime,
    json_response,
    page_body,
    page_cursor,
    person_context,
)
from app.api.errors import Unauthenticated
from app.api.problems import problem_responses
from app.api.schemas.assignments import AssignmentList, ReviewQueue, assignment_json, list_json
from app.api.schemas.people import MeOut, PersonOut, TeamList, TeamMemberOut
from app.domain.assignment import State
from app.services import me

router = APIRouter(prefix="/v1/me", tags=["me"])


@router.get("", operation_id="get_me", summary="Who I am: the person, their manager, whether admin",
            responses=problem_responses(403))
async def get_me(ctx: Ctx) -> MeOut:
    found = await me.whoami(ctx)
    return MeOut(
        person=PersonOut.of(found.person), manager=None if found.manager is None else PersonOut.of(found.manager),
        is_admin=found.is_admin,
    )


@router.get("/assignments", operation_id="list_my_assignments", summary="My own work, nearest deadline first",
            response_model=AssignmentList, responses=problem_responses(400, 403, 422))
async def list_my_assignments(
    caller: Caller, paging: Paging, request: Request, response: Response,
    state: Annotated[list[State] | None, Query(description="Any of these effective states.")] = None,
) -> Response:
    states = tuple(state or ())
    if isinstance(caller, PersonToken):  # the person is read with their work, in one round trip
        runtime: Runtime = request.app.state.runtime
        idp = caller.verified.idp
        found = await me.my_assignments_signed_in(runtime.signed_in, runtime.clock, idp.tenant_id, idp.match,
            caller.verified.subject, paging, states)
        if found is None:
            raise Unauthenticated(NO_ACTIVE_PERSON, invalid_token=True)
        actor, page = found
        ctx = await person_context(runtime, response, actor)
    else:
        ctx = caller
        page = await me.my_assignments(ctx, paging, states)
    now = ctx.clock.now()
    items = [assignment_json(v, now, ctx.actor) for v in page.items]
    return json_response(list_json(items, page_cursor(request, response, page)), response)


@router.get("/reviews", operation_id="list_my_reviews",
            summary="My review queue: submissions waiting for me, oldest review_due_at first",
            response_model=ReviewQueue, responses=problem_responses(400, 403, 422))
async def list_my_reviews(ctx: Ctx, paging: Paging, request: Request, response: Response) -> Response:
    page = await me.my_reviews(ctx, paging)
    now = ctx.clock.now()
    items = [assignment_json(w.view, now, ctx.actor, {"waited": w.waited}) for w in page.items]
    return json_response(list_json(items, page_cursor(request, response, page)), response)


@router.get("/team", operation_id="list_my_team",
            summary="My direct and indirect reports, with their open assignments", responses=problem_responses(400, 403, 422))
async def list_my_team(ctx: Ctx, paging: Paging, request: Request, response: Response) -> TeamList:
    page = await me.my_team(ctx, paging)
    items = [TeamMemberOut(person=PersonOut.of(m.person), depth=m.depth, open_assignments=m.open_assignments) for m in page.items]
    return TeamList(**page_body(request, response, page, items))
