"""/v1/assignments: the lifecycle over HTTP. Routes parse, call a service, and shape the answer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.api.deps import Ctx, IfMatch, Paging, json_response, page_body, page_cursor, set_etag
from app.api.problems import problem_responses
from app.api.schemas.assignments import (
    AcceptIn,
    AssignmentList,
    AssignmentOut,
    DeclineIn,
    EventList,
    EventOut,
    ExtendIn,
    ExtensionList,
    ExtensionOut,
    OfferIn,
    ReviewIn,
    ReviewList,
    ReviewOut,
    SubmissionList,
    SubmissionOut,
    SubmitIn,
    WithdrawIn,
    assignment_json,
    list_json,
)
from app.api.schemas.common import ExternalId, UtcDatetime
from app.domain.assignment import State
from app.domain.ports import AssignmentFilter
from app.services import assignments as service
from app.services.assignments import AssignmentView
from app.services.context import Context

router = APIRouter(prefix="/v1/assignments", tags=["assignments"])

AssignmentId = Annotated[UUID, Path(description="The assignment's id.")]
ACTION_ERRORS = problem_responses(400, 403, 404, 409, 412, 415, 422)


def _out(ctx: Context, view: AssignmentView, response: Response, status_code: int = 200) -> Response:
    """The AssignmentOut representation with its ETag, serialised straight from the view."""
    set_etag(response, view.assignment.version)
    return json_response(assignment_json(view, ctx.clock.now(), ctx.actor), response, status_code)


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="offer_assignment", summary="Offer a brief to a person",
             response_model=AssignmentOut, responses=problem_responses(400, 403, 409, 415, 422))
async def offer_assignment(ctx: Ctx, body: OfferIn, response: Response) -> Response:
    view = await service.offer(ctx, body.offer())
    response.headers["Location"] = f"/v1/assignments/{view.assignment.id}"
    return _out(ctx, view, response, status.HTTP_201_CREATED)


@router.get("", operation_id="list_assignments", summary="List assignments",
            description="Filters combine with AND; a repeated filter means any of its values. "
                        "`state` filters by effective state (an offer past its expiry is `expired`).",
            response_model=AssignmentList, responses=problem_responses(400, 403, 422))
async def list_assignments(
    ctx: Ctx, paging: Paging, request: Request, response: Response,
    state: Annotated[list[State] | None, Query()] = None,
    assignee_id: Annotated[list[UUID] | None, Query()] = None,
    reviewer_id: Annotated[list[UUID] | None, Query()] = None,
    brief_id: Annotated[list[UUID] | None, Query()] = None,
    skill_id: Annotated[list[UUID] | None, Query()] = None,
    external_ref: Annotated[list[ExternalId] | None, Query()] = None,
    due_before: Annotated[UtcDatetime | None, Query(description="Only assignments due before this time.")] = None,
) -> Response:
    filters = AssignmentFilter(
        states=tuple(state or ()), assignee_ids=tuple(assignee_id or ()), reviewer_ids=tuple(reviewer_id or ()),
        brief_ids=tuple(brief_id or ()), skill_ids=tuple(skill_id or ()), external_refs=tuple(external_ref or ()),
        due_before=due_before,
    )
    page = await service.list_(ctx, paging, filters)
    now = ctx.clock.now()
    items = [assignment_json(a, now, ctx.actor) for a in page.items]
    return json_response(list_json(items, page_cursor(request, response, page)), response)


@router.get("/{assignment_id}", operation_id="get_assignment", summary="Get an assignment", response_model=AssignmentOut,
            responses=problem_responses(403, 404, 422))
async def get_assignment(ctx: Ctx, assignment_id: AssignmentId, response: Response) -> Response:
    return _out(ctx, await service.get(ctx, assignment_id), response)


@router.post("/{assignment_id}/accept", operation_id="accept_assignment", summary="Accept an offer; the timebox starts",
             response_model=AssignmentOut, responses=ACTION_ERRORS)
async def accept_assignment(ctx: Ctx, assignment_id: AssignmentId, if_match: IfMatch, response: Response,
    body: AcceptIn | None = None) -> Response:
    starts_at = None if body is None else body.starts_at
    return _out(ctx, await service.accept(ctx, assignment_id, starts_at, if_match), response)


@router.post("/{assignment_id}/decline", operation_id="decline_assignment", summary="Decline an offer", response_model=AssignmentOut,
             responses=ACTION_ERRORS)
async def decline_assignment(ctx: Ctx, assignment_id: AssignmentId, if_match: IfMatch, response: Response,
    body: DeclineIn | None = None) -> Response:
    reason = None if body is None else body.reason
    return _out(ctx, await service.decline(ctx, assignment_id, reason, if_match), response)


@router.post("/{assignment_id}/withdraw", operation_id="withdraw_assignment", summary="Withdraw an offer or running assignment",
             response_model=AssignmentOut, responses=ACTION_ERRORS)
async def withdraw_assignment(ctx: Ctx, assignment_id: AssignmentId, body: WithdrawIn, if_match: IfMatch, response: Response) -> Response:
    return _out(ctx, await service.withdraw(ctx, assignment_id, body.reason, if_match), response)


@router.post("/{assignment_id}/extend", operation_id="extend_assignment", summary="Move due_at; reopens a timed-out assignment",
             response_model=AssignmentOut, responses=ACTION_ERRORS)
async def extend_assignment(ctx: Ctx, assignment_id: AssignmentId, body: ExtendIn, if_match: IfMatch, response: Response) -> Response:
    return _out(ctx, await service.extend(ctx, assignment_id, body.due_at, body.reason, if_match), response)


@router.post("/{assignment_id}/reclaim", operation_id="reclaim_submission",
             summary="Take the pending submission back to change it (before due_at)", response_model=AssignmentOut,
             responses=ACTION_ERRORS)
async def reclaim_submission(ctx: Ctx, assignment_id: AssignmentId, if_match: IfMatch, response: Response) -> Response:
    return _out(ctx, await service.reclaim(ctx, assignment_id, if_match), response)


@router.post("/{assignment_id}/submissions", status_code=status.HTTP_201_CREATED, operation_id="submit_assignment",
             summary="Hand in the work for the current attempt", responses=ACTION_ERRORS)
async def submit_assignment(ctx: Ctx, assignment_id: AssignmentId, body: SubmitIn, if_match: IfMatch, response: Response) -> SubmissionOut:
    view, submission = await service.submit(ctx, assignment_id, body.content(), if_match)
    set_etag(response, view.assignment.version)
    return SubmissionOut.of(submission)


@router.get("/{assignment_id}/submissions", operation_id="list_submissions", summary="List an assignment's submissions",
            responses=problem_responses(400, 403, 404, 422))
async def list_submissions(ctx: Ctx, assignment_id: AssignmentId, paging: Paging, request: Request, response: Response) -> SubmissionList:
    page = await service.list_submissions(ctx, assignment_id, paging)
    return SubmissionList(**page_body(request, response, page, [SubmissionOut.of(s) for s in page.items]))


@router.post("/{assignment_id}/reviews", status_code=status.HTTP_201_CREATED, operation_id="review_submission",
             summary="Review the pending submission: pass, revise or fail", responses=ACTION_ERRORS)
async def review_submission(ctx: Ctx, assignment_id: AssignmentId, body: ReviewIn, if_match: IfMatch, response: Response) -> ReviewOut:
    view, review = await service.review(ctx, assignment_id, body.review(), if_match)
    set_etag(response, view.assignment.version)
    return ReviewOut.of(review)


@router.get("/{assignment_id}/reviews", operation_id="list_reviews", summary="List an assignment's reviews",
            responses=problem_responses(400, 403, 404, 422))
async def list_reviews(ctx: Ctx, assignment_id: AssignmentId, paging: Paging, request: Request, response: Response) -> ReviewList:
    page = await service.list_reviews(ctx, assignment_id, paging)
    return ReviewList(**page_body(request, response, page, [ReviewOut.of(r) for r in page.items]))


@router.get("/{assignment_id}/extensions", operation_id="list_extensions",
            summary="Every move of the assignment's due_at: who, when, old and new, and why",
            responses=problem_responses(400, 403, 404, 422))
async def list_extensions(ctx: Ctx, assignment_id: AssignmentId, paging: Paging, request: Request, response: Response) -> ExtensionList:
    page = await service.list_extensions(ctx, assignment_id, paging)
    return ExtensionList(**page_body(request, response, page, [ExtensionOut.of(x) for x in page.items]))


@router.get("/{assignment_id}/events", operation_id="list_assignment_events", summary="The assignment's history, oldest first",
            responses=problem_responses(400, 403, 404, 422))
async def list_assignment_events(ctx: Ctx, assignment_id: AssignmentId, paging: Paging, request: Request, response: Response) -> EventList:
    page = await service.list_events(ctx, assignment_id, paging)
    return EventList(**page_body(request, response, page, [EventOut.of(e) for e in page.items]))
