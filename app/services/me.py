"""The caller's own view: who they are, their work, their review queue and their team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from app.domain import access
from app.domain.actors import Actor, Scope, person_actor
from app.domain.assignment import State
from app.domain.errors import PermissionDenied
from app.domain.identity import SubjectMatch
from app.domain.pagination import Page, PageRequest
from app.domain.people import Person, TeamMember
from app.domain.ports import AssignmentFilter, Clock, SignedInWork
from app.services.assignments import AssignmentView, views
from app.services.context import Context, require_found


def _me(ctx: Context) -> UUID:
    me = ctx.actor.person_id
    if me is None:
        raise PermissionDenied(
            "/v1/me is for a person: sign in with the identity provider's token, or act for one with Stint-Acting-For.",
            code="forbidden.not_a_person",
        )
    return me


@dataclass(frozen=True)
class Me:
    person: Person
    manager: Person | None
    is_admin: bool


async def whoami(ctx: Context) -> Me:
    me = _me(ctx)
    async with ctx.uow(readonly=True) as uow:
        person = require_found(await uow.people.get(me), "person", me)
        manager = None if person.manager_id is None else await uow.people.get(person.manager_id)
    return Me(person, manager, ctx.actor.is_admin)


async def my_assignments(ctx: Context, page: PageRequest, states: tuple[State, ...] = ()) -> Page[AssignmentView]:
    """My own work, nearest deadline first."""
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    me = _me(ctx)
    async with ctx.uow(readonly=True) as uow:
        found = await uow.assignments.by_deadline(page, AssignmentFilter(states=states, assignee_ids=(me,)), ctx.clock.now())
    return views(ctx, found)


async def my_assignments_signed_in(
    work: SignedInWork, clock: Clock, tenant_id: UUID, match: SubjectMatch, subject: str, page: PageRequest,
    states: tuple[State, ...] = (),
) -> tuple[Actor, Page[AssignmentView]] | None:
    """my_assignments for a verified token's subject, read with the check that the person is active (one
    round trip where storage can): the person as the caller, and their work; None when no active person."""
    found = await work.my_work(tenant_id, match, subject, page, states, clock.now())
    if found is None:
        return None
    person, assignments = found
    actor = person_actor(tenant_id, person.id, person.is_admin)
    actor.require(Scope.ASSIGNMENTS_READ)
    return actor, Page([AssignmentView(a, access.listed_standing(actor, a)) for a in assignments.items], assignments.next_after)


@dataclass(frozen=True)
class Waiting:
    view: AssignmentView
    waited: timedelta


async def my_reviews(ctx: Context, page: PageRequest) -> Page[Waiting]:
    """Submissions waiting for my review, the one due soonest (so waiting longest) first."""
    ctx.actor.require(Scope.ASSIGNMENTS_READ)
    me = _me(ctx)
    now = ctx.clock.now()
    async with ctx.uow(readonly=True) as uow:
        found = await uow.assignments.by_deadline(page, AssignmentFilter(states=(State.SUBMITTED,), reviewer_ids=(me,)), now)
    return Page(
        [Waiting(view, now - view.assignment.submitted_at) for view in views(ctx, found).items if view.assignment.submitted_at],
        found.next_after,
    )


async def my_team(ctx: Context, page: PageRequest) -> Page[TeamMember]:
    ctx.actor.require(Scope.PEOPLE_READ)
    me = _me(ctx)
    async with ctx.uow(readonly=True) as uow:
        return await uow.people.team(me, page, ctx.clock.now())
