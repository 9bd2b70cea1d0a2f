"""Use cases of the assignment lifecycle: load, ask the domain, compare-and-set, record, commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Awaitable, Callable
from uuid import UUID

from app.domain.actors import Scope
from app.domain.assignment import ACTION_SCOPE, Action, Assignment, DomainEvent, State
from app.domain.briefs import MAX_OFFER_TTL, CriterionScore
from app.domain.errors import Conflict, invalid
from app.domain.events import Event
from app.domain.pagination import Page, PageRequest
from app.domain.ports import AssignmentFilter, UnitOfWork
from app.domain.work import Extension, Outcome, Review, Submission, SubmissionContent
from app.services.context import Context, check_if_match, record, require_found


@dataclass(frozen=True)
class Offer:
    brief_id: UUID
    assignee_id: UUID
    reviewer_id: UUID | None = None
    context_note: str | None = None
    offer_expires_at: datetime | None = None
    external_ref: str | None = None


async def offer(ctx: Context, request: Offer) -> Assignment:
    ctx.actor.require(Scope.ASSIGNMENTS_WRITE)
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        brief = await uow.briefs.get(request.brief_id)
        if brief is None:
            raise invalid(("body", "brief_id"), f"No brief with id {request.brief_id}.", "unknown_brief", code="assignment.unknown_brief")
        content = brief.offerable()
        assignee = await uow.people.get(request.assignee_id)
        if assignee is None or not assignee.active:
            raise invalid(("body", "assignee_id"), f"No active person with id {request.assignee_id}.", "unknown_person", code="assignment.unknown_assignee")
        reviewer_id = request.reviewer_id or assignee.manager_id
        if reviewer_id is None:
            raise invalid(("body", "reviewer_id"), "The assignee has no manager; name a reviewer.", "missing", code="assignment.reviewer_required")
        if reviewer_id == assignee.id:
            raise invalid(("body", "reviewer_id"), "The assignee cannot review their own work.", "value_error", code="assignment.self_review")
        if request.reviewer_id is not None:
            reviewer = await uow.people.get(reviewer_id)
            if reviewer is None or not reviewer.active:
                raise invalid(("body", "reviewer_id"), f"No active person with id {reviewer_id}.", "unknown_person", code="assignment.unknown_reviewer")
        expires_at = request.offer_expires_at or now + content.offer_ttl
        if not now < expires_at <= now + MAX_OFFER_TTL:
            raise invalid(
                ("body", "offer_expires_at"), "offer_expires_at must be in the future and at most 90 days away.",
                "value_error", code="assignment.invalid_offer_expiry",
            )
        if request.external_ref is not None:
            await _ensure_external_ref_free(uow, request.external_ref)
        assignment = Assignment(
            id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, brief_id=brief.id,
            brief_version=brief.published_revision or 0, brief=content, assignee_id=assignee.id,
            reviewer_id=reviewer_id, offered_by=ctx.actor.ref, state=State.OFFERED, offer_expires_at=expires_at,
            created_at=now, updated_at=now, context_note=request.context_note, external_ref=request.external_ref,
        )
        await uow.assignments.add(assignment)
        await record(ctx, uow, "assignment.offered", assignment)
        await uow.commit()
    return assignment


async def _ensure_external_ref_free(uow: UnitOfWork, external_ref: str) -> None:
    existing = await uow.assignments.get_by_external_ref(external_ref)
    if existing is not None:
        raise Conflict(
            f"An assignment with external_ref '{external_ref}' already exists ({existing.id}).",
            code="assignment.external_ref_taken",
            existing_id=str(existing.id),
        )


async def get(ctx: Context, assignment_id: UUID) -> Assignment:
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    async with ctx.uow() as uow:
        return require_found(await uow.assignments.get(assignment_id), "assignment", assignment_id)


async def list_(ctx: Context, page: PageRequest, filters: AssignmentFilter) -> Page[Assignment]:
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    async with ctx.uow() as uow:
        return await uow.assignments.list(page, filters, ctx.clock.now())


async def _transition(
    ctx: Context,
    assignment_id: UUID,
    action: Action,
    expected_version: int | None,
    step: Callable[[UnitOfWork, Assignment], Awaitable[DomainEvent]],
) -> Assignment:
    ctx.actor.require(ACTION_SCOPE[action])
    async with ctx.uow() as uow:
        assignment = require_found(await uow.assignments.get(assignment_id), "assignment", assignment_id)
        check_if_match(assignment.version, expected_version)
        before = assignment.version
        event = await step(uow, assignment)
        await uow.assignments.update(assignment, before)
        await record(ctx, uow, event.type, assignment, event.details)
        await uow.commit()
    return assignment


async def accept(ctx: Context, assignment_id: UUID, starts_at: datetime | None = None, expected_version: int | None = None) -> Assignment:
    async def step(uow: UnitOfWork, assignment: Assignment) -> DomainEvent:
        return assignment.accept(ctx.clock.now(), starts_at)

    return await _transition(ctx, assignment_id, Action.ACCEPT, expected_version, step)


async def decline(ctx: Context, assignment_id: UUID, reason: str | None = None, expected_version: int | None = None) -> Assignment:
    async def step(uow: UnitOfWork, assignment: Assignment) -> DomainEvent:
        return assignment.decline(ctx.clock.now(), reason)

    return await _transition(ctx, assignment_id, Action.DECLINE, expected_version, step)


async def withdraw(ctx: Context, assignment_id: UUID, reason: str, expected_version: int | None = None) -> Assignment:
    async def step(uow: UnitOfWork, assignment: Assignment) -> DomainEvent:
        return assignment.withdraw(ctx.clock.now(), reason)

    return await _transition(ctx, assignment_id, Action.WITHDRAW, expected_version, step)


async def extend(ctx: Context, assignment_id: UUID, due_at: datetime, reason: str, expected_version: int | None = None) -> Assignment:
    async def step(uow: UnitOfWork, assignment: Assignment) -> DomainEvent:
        now = ctx.clock.now()
        previous = assignment.due_at
        event = assignment.extend(now, due_at, reason)
        await uow.extensions.add(Extension(
            id=ctx.ids.new_id(), tenant_id=assignment.tenant_id, assignment_id=assignment.id, attempt=assignment.attempt,
            previous_due_at=previous, due_at=due_at, reason=reason, reopened=event.details["reopened"],
            extended_by=ctx.actor.ref, created_at=now,
        ))
        return event

    return await _transition(ctx, assignment_id, Action.EXTEND, expected_version, step)


async def submit(ctx: Context, assignment_id: UUID, content: SubmissionContent, expected_version: int | None = None) -> tuple[Assignment, Submission]:
    created: list[Submission] = []

    async def step(uow: UnitOfWork, assignment: Assignment) -> DomainEvent:
        event, submission = assignment.submit(ctx.clock.now(), ctx.ids.new_id(), content, ctx.actor.ref)
        await uow.submissions.add(submission)
        created.append(submission)
        return event

    assignment = await _transition(ctx, assignment_id, Action.SUBMIT, expected_version, step)
    return assignment, created[0]


async def reclaim(ctx: Context, assignment_id: UUID, expected_version: int | None = None) -> Assignment:
    async def step(uow: UnitOfWork, assignment: Assignment) -> DomainEvent:
        now = ctx.clock.now()
        assignment.check(Action.RECLAIM, now)
        submission = await uow.submissions.current(assignment.id)
        assert submission is not None, "a submitted assignment always has its submission"
        event = assignment.reclaim(now, submission)
        await uow.submissions.update(submission)
        return event

    return await _transition(ctx, assignment_id, Action.RECLAIM, expected_version, step)


@dataclass(frozen=True)
class ReviewInput:
    outcome: Outcome
    scores: list[CriterionScore]
    feedback: str


async def review(ctx: Context, assignment_id: UUID, request: ReviewInput, expected_version: int | None = None) -> tuple[Assignment, Review]:
    created: list[Review] = []

    async def step(uow: UnitOfWork, assignment: Assignment) -> DomainEvent:
        now = ctx.clock.now()
        assignment.check(Action.REVIEW, now)
        submission = await uow.submissions.current(assignment.id)
        assert submission is not None, "a submitted assignment always has its submission"
        result = assignment.review(
            now, submission=submission, outcome=request.outcome, scores=request.scores,
            feedback=request.feedback, by=ctx.actor.ref, new_id=ctx.ids.new_id,
        )
        await uow.reviews.add(result.review)
        if result.evidence is not None:
            await uow.evidence.add(result.evidence)
        created.append(result.review)
        return result.event

    assignment = await _transition(ctx, assignment_id, Action.REVIEW, expected_version, step)
    return assignment, created[0]


async def list_submissions(ctx: Context, assignment_id: UUID, page: PageRequest) -> Page[Submission]:
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    async with ctx.uow() as uow:
        require_found(await uow.assignments.get(assignment_id), "assignment", assignment_id)
        return await uow.submissions.list(assignment_id, page)


async def list_reviews(ctx: Context, assignment_id: UUID, page: PageRequest) -> Page[Review]:
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    async with ctx.uow() as uow:
        require_found(await uow.assignments.get(assignment_id), "assignment", assignment_id)
        return await uow.reviews.list(assignment_id, page)


async def list_extensions(ctx: Context, assignment_id: UUID, page: PageRequest) -> Page[Extension]:
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    async with ctx.uow() as uow:
        require_found(await uow.assignments.get(assignment_id), "assignment", assignment_id)
        return await uow.extensions.list(assignment_id, page)


async def list_events(ctx: Context, assignment_id: UUID, page: PageRequest) -> Page[Event]:
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    async with ctx.uow() as uow:
        require_found(await uow.assignments.get(assignment_id), "assignment", assignment_id)
        return await uow.events.list_for_subject(assignment_id, page)
