"""Use cases of the assignment lifecycle: load, ask the domain, compare-and-set, record, commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from app.domain import access
from app.domain.access import Standing
from app.domain.actors import Actor, Scope
from app.domain.assignment import ACTION_SCOPE, Action, Assignment, DomainEvent, State
from app.domain.briefs import MAX_OFFER_TTL, Brief, BriefContent, CriterionScore
from app.domain.errors import Conflict, DomainError, PermissionDenied, invalid
from app.domain.events import Event
from app.domain.pagination import Page, PageRequest
from app.domain.people import Person
from app.domain.ports import AssignmentFilter, UnitOfWork
from app.domain.work import Extension, Outcome, Review, Submission, SubmissionContent
from app.services import people
from app.services.context import Context, check_if_match, record, require_found


@dataclass(frozen=True)
class Offer:
    brief_id: UUID
    assignee_id: UUID
    reviewer_id: UUID | None = None
    context_note: str | None = None
    offer_expires_at: datetime | None = None
    external_ref: str | None = None


@dataclass(frozen=True)
class AssignmentView:
    """An assignment as one caller sees it: with how they stand toward it, which decides allowed_actions."""

    assignment: Assignment
    standing: Standing | None

    def allowed_actions(self, now: datetime, actor: Actor) -> list[str]:
        return access.allowed_actions(self.assignment, now, actor, self.standing)


async def offer(ctx: Context, request: Offer) -> AssignmentView:
    ctx.actor.require(Scope.ASSIGNMENTS_WRITE)
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        brief = await uow.briefs.get(request.brief_id)
        content = offerable_content(ctx, brief, request.brief_id)
        assignee = require_assignee(await uow.people.get(request.assignee_id), request.assignee_id)
        managers = await uow.people.managers_above(assignee.id) if ctx.actor.person_id is not None else []
        if not access.can_offer_to(ctx.actor, managers):
            raise refused_offer(await people.is_visible(ctx, uow, assignee.id), request.assignee_id)
        reviewer_id = request.reviewer_id or assignee.manager_id
        reviewer = None if reviewer_id is None or reviewer_id == assignee.id else await uow.people.get(reviewer_id)
        check_reviewer(assignee, request.reviewer_id, reviewer_id, reviewer)
        if request.external_ref is not None:
            await _ensure_external_ref_free(uow, request.external_ref)
        assert brief is not None and reviewer is not None  # offerable_content and check_reviewer refused both absences
        assignment = new_offer(ctx, now, request, brief, content, assignee, reviewer.id)
        await uow.assignments.add(assignment)
        await record(ctx, uow, "assignment.offered", assignment)
        await uow.commit()
    return AssignmentView(assignment, access.standing(ctx.actor, assignment, managers))


# The checks of an offer, on what has been loaded for it: shared by one offer and a batch of them.
def offerable_content(ctx: Context, brief: Brief | None, brief_ref: object) -> BriefContent:
    if brief is None or not access.can_see_brief(ctx.actor, brief):
        raise invalid(("brief_id",), f"No brief with id {brief_ref}.", "unknown_brief", code="assignment.unknown_brief")
    return brief.offerable()


def _named_by(field: str) -> str:
    """How an error names what the caller sent: `id …`, or `assignee_external_id …`."""
    return "id" if field.endswith("_id") and not field.endswith("external_id") else field


def require_assignee(assignee: Person | None, assignee_ref: object, field: str = "assignee_id") -> Person:
    if assignee is None or not assignee.active:
        raise invalid(
            (field,), f"No active person with {_named_by(field)} {assignee_ref}.", "unknown_person", code="assignment.unknown_assignee",
        )
    return assignee


def refused_offer(visible: bool, assignee_ref: object, field: str = "assignee_id") -> DomainError:
    """A person offering to someone not below them: invisible people stay unknown, visible ones are a 403."""
    if not visible:
        return invalid(
            (field,), f"No active person with {_named_by(field)} {assignee_ref}.", "unknown_person", code="assignment.unknown_assignee",
        )
    return PermissionDenied("A person can offer work only to people below them in the manager chain.", code="forbidden.not_manager")


def check_reviewer(
    assignee: Person, reviewer_ref: object | None, reviewer_id: UUID | None, reviewer: Person | None, field: str = "reviewer_id",
) -> None:
    """`reviewer_ref`: the reviewer as the request named them (None: the assignee's manager); `reviewer_id`
    the person that resolved to (None if nobody); `reviewer` that person, loaded."""
    if reviewer_ref is None and reviewer_id is None:
        raise invalid((field,), "The assignee has no manager; name a reviewer.", "missing", code="assignment.reviewer_required")
    if reviewer_id is not None and reviewer_id == assignee.id:
        raise invalid((field,), "The assignee cannot review their own work.", "value_error", code="assignment.self_review")
    if reviewer is None or not reviewer.active:
        if reviewer_ref is None:
            raise invalid((field,), "The assignee's manager is inactive; name a reviewer.", "missing", code="assignment.reviewer_required")
        raise invalid(
            (field,), f"No active person with {_named_by(field)} {reviewer_ref}.", "unknown_person", code="assignment.unknown_reviewer",
        )


def new_offer(
    ctx: Context, now: datetime, request: Offer, brief: Brief, content: BriefContent, assignee: Person, reviewer_id: UUID,
) -> Assignment:
    expires_at = request.offer_expires_at or now + content.offer_ttl
    if not now < expires_at <= now + MAX_OFFER_TTL:
        raise invalid(
            ("offer_expires_at",), "offer_expires_at must be in the future and at most 90 days away.",
            "value_error", code="assignment.invalid_offer_expiry",
        )
    return Assignment(
        id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, brief_id=brief.id,
        brief_version=brief.published_revision or 0, brief=content, assignee_id=assignee.id,
        reviewer_id=reviewer_id, offered_by=ctx.actor.ref, state=State.OFFERED, offer_expires_at=expires_at,
        created_at=now, updated_at=now, context_note=request.context_note, external_ref=request.external_ref,
    )


async def _ensure_external_ref_free(uow: UnitOfWork, external_ref: str) -> None:
    existing = await uow.assignments.get_by_external_ref(external_ref)
    if existing is not None:
        raise Conflict(
            f"An assignment with external_ref '{external_ref}' already exists ({existing.id}).",
            code="assignment.external_ref_taken",
            existing_id=str(existing.id),
        )


async def _load(ctx: Context, uow: UnitOfWork, assignment_id: UUID) -> AssignmentView:
    """The assignment if the caller may see it (NotFound otherwise), with the caller's standing."""
    assignment = require_found(await uow.assignments.get(assignment_id), "assignment", assignment_id)
    managers = await uow.people.managers_above(assignment.assignee_id) if access.needs_chain(ctx.actor, assignment) else ()
    standing = access.standing(ctx.actor, assignment, managers)
    access.require_visible(standing, assignment)
    return AssignmentView(assignment, standing)


async def get(ctx: Context, assignment_id: UUID) -> AssignmentView:
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    async with ctx.uow(readonly=True) as uow:
        return await _load(ctx, uow, assignment_id)


def views(ctx: Context, page: Page[Assignment]) -> Page[AssignmentView]:
    """Rows of a list already filtered to what the caller may see."""
    return Page([AssignmentView(a, access.listed_standing(ctx.actor, a)) for a in page.items], page.next_after)


async def list_(ctx: Context, page: PageRequest, filters: AssignmentFilter) -> Page[AssignmentView]:
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    visible_to = None if ctx.actor.is_admin else ctx.actor.person_id
    async with ctx.uow(readonly=True) as uow:
        return views(ctx, await uow.assignments.list(page, filters, ctx.clock.now(), visible_to=visible_to))


async def _transition(
    ctx: Context,
    assignment_id: UUID,
    action: Action,
    expected_version: int | None,
    step: Callable[[UnitOfWork, Assignment], Awaitable[DomainEvent]],
) -> AssignmentView:
    ctx.actor.require(ACTION_SCOPE[action])
    async with ctx.uow() as uow:
        view = await _load(ctx, uow, assignment_id)
        access.require_may(action, view.standing)
        assignment = view.assignment
        check_if_match(assignment.version, expected_version)
        before = assignment.version
        event = await step(uow, assignment)
        await uow.assignments.update(assignment, before)
        await record(ctx, uow, event.type, assignment, event.details)
        await uow.commit()
    return view


async def accept(
    ctx: Context, assignment_id: UUID, starts_at: datetime | None = None, expected_version: int | None = None,
) -> AssignmentView:
    async def step(uow: UnitOfWork, assignment: Assignment) -> DomainEvent:
        return assignment.accept(ctx.clock.now(), starts_at)

    return await _transition(ctx, assignment_id, Action.ACCEPT, expected_version, step)


async def decline(ctx: Context, assignment_id: UUID, reason: str | None = None, expected_version: int | None = None) -> AssignmentView:
    async def step(uow: UnitOfWork, assignment: Assignment) -> DomainEvent:
        return assignment.decline(ctx.clock.now(), reason)

    return await _transition(ctx, assignment_id, Action.DECLINE, expected_version, step)


async def withdraw(ctx: Context, assignment_id: UUID, reason: str, expected_version: int | None = None) -> AssignmentView:
    async def step(uow: UnitOfWork, assignment: Assignment) -> DomainEvent:
        return assignment.withdraw(ctx.clock.now(), reason)

    return await _transition(ctx, assignment_id, Action.WITHDRAW, expected_version, step)


async def extend(ctx: Context, assignment_id: UUID, due_at: datetime, reason: str, expected_version: int | None = None) -> AssignmentView:
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


async def submit(
    ctx: Context, assignment_id: UUID, content: SubmissionContent, expected_version: int | None = None,
) -> tuple[AssignmentView, Submission]:
    created: list[Submission] = []

    async def step(uow: UnitOfWork, assignment: Assignment) -> DomainEvent:
        event, submission = assignment.submit(ctx.clock.now(), ctx.ids.new_id(), content, ctx.actor.ref)
        await uow.submissions.add(submission)
        created.append(submission)
        return event

    assignment = await _transition(ctx, assignment_id, Action.SUBMIT, expected_version, step)
    return assignment, created[0]


async def reclaim(ctx: Context, assignment_id: UUID, expected_version: int | None = None) -> AssignmentView:
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


async def review(
    ctx: Context, assignment_id: UUID, request: ReviewInput, expected_version: int | None = None,
) -> tuple[AssignmentView, Review]:
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
    async with ctx.uow(readonly=True) as uow:
        await _load(ctx, uow, assignment_id)
        return await uow.submissions.list(assignment_id, page)


async def list_reviews(ctx: Context, assignment_id: UUID, page: PageRequest) -> Page[Review]:
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    async with ctx.uow(readonly=True) as uow:
        await _load(ctx, uow, assignment_id)
        return await uow.reviews.list(assignment_id, page)


async def list_extensions(ctx: Context, assignment_id: UUID, page: PageRequest) -> Page[Extension]:
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    async with ctx.uow(readonly=True) as uow:
        await _load(ctx, uow, assignment_id)
        return await uow.extensions.list(assignment_id, page)


async def list_events(ctx: Context, assignment_id: UUID, page: PageRequest) -> Page[Event]:
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    async with ctx.uow(readonly=True) as uow:
        await _load(ctx, uow, assignment_id)
        return await uow.events.list_for_subject(assignment_id, page)
