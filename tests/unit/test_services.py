"""Use cases over the in-memory fakes: what a caller sees and what ends up stored and recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable
from uuid import UUID, uuid4

import pytest

from app.domain.actors import Scope
from app.domain.assignment import State
from app.domain.briefs import BriefStatus
from app.domain.errors import ConcurrentUpdate, Conflict, InvalidInput, InvalidTransition, NotFound, PermissionDenied, PreconditionFailed
from app.domain.pagination import PageRequest
from app.domain.work import Outcome, SubmissionContent, SubmissionStatus
from app.repositories.memory import MemoryDatabase
from app.services import assignments, catalog, people
from app.services.assignments import Offer, ReviewInput
from app.services.context import Context
from app.services.people import PersonFields

WORK = SubmissionContent(body="Added an index on orders(created_at).")


def entity(result: Any) -> Any:
    """The Assignment inside what a use case returns (a per-caller view of it, or the entity itself)."""
    return getattr(result, "assignment", result)


def event_types(db: MemoryDatabase, tenant_id: UUID, subject_id: UUID | None = None) -> list[str]:
    return [e.type for e in db.events(tenant_id) if subject_id is None or e.subject_id == subject_id]


async def offered(ctx: Context, seeded: Any, **extra: Any) -> Any:
    return entity(await assignments.offer(ctx, Offer(brief_id=seeded.brief.id, assignee_id=seeded.report.id, **extra)))


# -- the whole lifecycle --------------------------------------------------------------------


async def test_offer_accept_submit_revise_submit_pass(ctx: Context, db: MemoryDatabase, clock: Any, tenant_id: UUID, seeded: Any, build: Any) -> None:
    start = clock.now()
    a = await offered(ctx, seeded, context_note="The Q4 report is slow.")
    assert a.state is State.OFFERED
    assert a.reviewer_id == seeded.manager.id, "the reviewer defaults to the assignee's manager"
    assert a.offer_expires_at == start + timedelta(days=7)  # the brief's offer TTL
    assert (a.brief_version, a.brief.skill_id, a.version) == (1, seeded.skill.id, 1)

    clock.advance(hours=1)
    a = entity(await assignments.accept(ctx, a.id, expected_version=1))
    assert (a.state, a.starts_at, a.due_at) == (State.ACCEPTED, clock.now(), clock.now() + timedelta(days=2))

    clock.advance(hours=5)
    view, first = await assignments.submit(ctx, a.id, WORK)
    a = entity(view)
    assert (a.state, first.attempt, first.late) == (State.SUBMITTED, 1, False)
    assert a.review_due_at == clock.now() + timedelta(days=2)

    clock.advance(hours=1)
    view, revise = await assignments.review(ctx, a.id, ReviewInput(Outcome.REVISE, build.low_marks, "Check the join."))
    a = entity(view)
    assert (a.state, a.attempt) == (State.REVISION_REQUESTED, 2)
    assert (a.starts_at, a.due_at) == (clock.now(), clock.now() + timedelta(days=2))
    assert (revise.outcome, revise.score, revise.reviewer_id) == (Outcome.REVISE, 50.0, seeded.manager.id)

    clock.advance(hours=2)
    view, second = await assignments.submit(ctx, a.id, WORK)
    a = entity(view)
    assert (a.state, second.attempt) == (State.SUBMITTED, 2)

    clock.advance(hours=1)
    view, passed = await assignments.review(ctx, a.id, ReviewInput(Outcome.PASS, build.full_marks, "Clean fix."))
    a = entity(view)
    assert (a.state, a.outcome, a.score, passed.score) == (State.PASSED, Outcome.PASS, 100.0, 100.0)

    stored = entity(await assignments.get(ctx, a.id))
    assert (stored.state, stored.version, stored.attempt) == (State.PASSED, 6, 2)

    assert event_types(db, tenant_id) == [
        "person.created", "person.created", "skill.created", "brief.created", "brief.published",
        "assignment.offered", "assignment.accepted", "assignment.submitted", "assignment.revision_requested",
        "assignment.submitted", "assignment.passed",
    ]
    history = [e for e in db.events(tenant_id) if e.subject_id == a.id]
    assert all(e.actor == ctx.actor.ref and e.subject_type == "assignment" and e.tenant_id == tenant_id for e in history)
    assert [e.data.state for e in history] == [
        State.OFFERED, State.ACCEPTED, State.SUBMITTED, State.REVISION_REQUESTED, State.SUBMITTED, State.PASSED,
    ], "each event carries the assignment as it was right after its change"
    assert [e.occurred_at for e in history] == sorted(e.occurred_at for e in history)

    profile = await people.skill_profile(ctx, seeded.report.id)
    assert [(s.skill.id, s.level) for s in profile] == [(seeded.skill.id, 2)]
    [evidence] = profile[0].evidence
    assert (evidence.assignment_id, evidence.review_id, evidence.person_id) == (a.id, passed.id, seeded.report.id)
    assert await people.skill_profile(ctx, seeded.manager.id) == []

    submissions = (await assignments.list_submissions(ctx, a.id, PageRequest())).items
    assert [(s.attempt, s.status) for s in submissions] == [(1, SubmissionStatus.ACTIVE), (2, SubmissionStatus.ACTIVE)]
    reviews = (await assignments.list_reviews(ctx, a.id, PageRequest())).items
    assert [(r.attempt, r.outcome) for r in reviews] == [(1, Outcome.REVISE), (2, Outcome.PASS)]


async def test_reclaim_then_resubmit(ctx: Context, db: MemoryDatabase, clock: Any, tenant_id: UUID, seeded: Any) -> None:
    a = await offered(ctx, seeded)
    await assignments.accept(ctx, a.id)
    clock.advance(hours=1)
    _, first = await assignments.submit(ctx, a.id, WORK)
    a = entity(await assignments.reclaim(ctx, a.id))
    assert (a.state, a.submitted_at) == (State.ACCEPTED, None)
    _, second = await assignments.submit(ctx, a.id, WORK)
    statuses = {s.id: s.status for s in (await assignments.list_submissions(ctx, a.id, PageRequest())).items}
    assert statuses == {first.id: SubmissionStatus.RECLAIMED, second.id: SubmissionStatus.ACTIVE}
    assert event_types(db, tenant_id, a.id)[-3:] == ["assignment.submitted", "assignment.submission_reclaimed", "assignment.submitted"]


async def test_extend_reopens_a_timed_out_assignment_and_records_the_extension(ctx: Context, db: MemoryDatabase, clock: Any, tenant_id: UUID, seeded: Any) -> None:
    a = await offered(ctx, seeded)
    a = entity(await assignments.accept(ctx, a.id))
    old_due = a.due_at
    clock.advance(days=3)  # past due_at + 12h grace; no sweeper has run
    with pytest.raises(InvalidTransition) as refused:
        await assignments.submit(ctx, a.id, WORK)
    assert refused.value.extra["state"] == "timed_out"

    new_due = clock.now() + timedelta(days=1)
    a = entity(await assignments.extend(ctx, a.id, new_due, "Was on leave."))
    assert (a.state, a.due_at) == (State.ACCEPTED, new_due)
    [extension] = (await assignments.list_extensions(ctx, a.id, PageRequest())).items
    assert (extension.previous_due_at, extension.due_at, extension.reopened, extension.reason) == (old_due, new_due, True, "Was on leave.")
    assert event_types(db, tenant_id, a.id) == ["assignment.offered", "assignment.accepted", "assignment.extended"]


# -- preconditions, scopes, and nothing half-written ------------------------------------------


async def test_if_match_mismatch_is_refused_and_changes_nothing(ctx: Context, db: MemoryDatabase, tenant_id: UUID, seeded: Any) -> None:
    a = await offered(ctx, seeded)
    recorded = event_types(db, tenant_id)

    with pytest.raises(PreconditionFailed) as refused:
        await assignments.accept(ctx, a.id, expected_version=a.version + 1)
    assert refused.value.extra["current_version"] == a.version

    stored = entity(await assignments.get(ctx, a.id))
    assert (stored.state, stored.version) == (State.OFFERED, 1)
    assert event_types(db, tenant_id) == recorded
    assert entity(await assignments.accept(ctx, a.id, expected_version=1)).state is State.ACCEPTED


async def test_if_match_guards_people_too(ctx: Context, seeded: Any) -> None:
    with pytest.raises(PreconditionFailed):
        await people.update_person(ctx, seeded.report.id, {"title": "Analyst"}, expected_version=7)
    assert (await people.get_person(ctx, seeded.report.id)).title is None


@pytest.mark.parametrize(
    ("scopes", "missing"),
    [({Scope.ASSIGNMENTS_READ}, "assignments:write"), ({Scope.REVIEWS_WRITE}, "assignments:write"), ({Scope.PEOPLE_WRITE, Scope.CATALOG_WRITE}, "assignments:write")],
    ids=["read-only", "reviews-only", "other-writes"],
)
async def test_accept_without_the_scope_is_forbidden_and_writes_nothing(
    make_ctx: Callable[..., Context], ctx: Context, db: MemoryDatabase, tenant_id: UUID, seeded: Any, scopes: set[Scope], missing: str,
) -> None:
    a = await offered(ctx, seeded)
    recorded = event_types(db, tenant_id)
    with pytest.raises(PermissionDenied) as refused:
        await assignments.accept(make_ctx(tenant_id, scopes), a.id)
    assert refused.value.code == "forbidden.missing_scope"
    assert refused.value.extra["required_scope"] == missing
    assert event_types(db, tenant_id) == recorded
    assert entity(await assignments.get(ctx, a.id)).state is State.OFFERED


async def test_review_needs_reviews_write_even_with_assignments_write(make_ctx: Callable[..., Context], ctx: Context, db: MemoryDatabase, tenant_id: UUID, seeded: Any, build: Any) -> None:
    a = await offered(ctx, seeded)
    await assignments.accept(ctx, a.id)
    await assignments.submit(ctx, a.id, WORK)
    recorded = event_types(db, tenant_id)
    with pytest.raises(PermissionDenied) as refused:
        await assignments.review(make_ctx(tenant_id, {Scope.ASSIGNMENTS_WRITE}), a.id, ReviewInput(Outcome.PASS, build.full_marks, "ok"))
    assert (refused.value.code, refused.value.extra["required_scope"]) == ("forbidden.missing_scope", "reviews:write")
    assert event_types(db, tenant_id) == recorded
    assert (await assignments.list_reviews(ctx, a.id, PageRequest())).items == []


async def test_creating_a_person_without_people_write_is_forbidden(make_ctx: Callable[..., Context], ctx: Context, db: MemoryDatabase, tenant_id: UUID) -> None:
    with pytest.raises(PermissionDenied) as refused:
        await people.create_person(make_ctx(tenant_id, {Scope.PEOPLE_READ}), "hr-9", PersonFields(display_name="Nope"))
    assert refused.value.code == "forbidden.missing_scope"
    assert event_types(db, tenant_id) == []
    assert (await people.list_people(ctx, PageRequest())).items == []


async def test_a_refused_transition_leaves_no_event_and_no_change(ctx: Context, db: MemoryDatabase, tenant_id: UUID, seeded: Any) -> None:
    a = await offered(ctx, seeded)
    await assignments.accept(ctx, a.id)
    recorded = event_types(db, tenant_id)

    with pytest.raises(InvalidTransition) as refused:
        await assignments.decline(ctx, a.id, "Changed my mind.")
    assert refused.value.extra["state"] == "accepted"
    assert sorted(refused.value.extra["allowed_actions"]) == ["extend", "submit", "withdraw"]

    stored = entity(await assignments.get(ctx, a.id))
    assert (stored.state, stored.version) == (State.ACCEPTED, 2)
    assert event_types(db, tenant_id) == recorded


async def test_a_refused_pass_leaves_no_review_evidence_or_event(ctx: Context, db: MemoryDatabase, tenant_id: UUID, seeded: Any, build: Any) -> None:
    a = await offered(ctx, seeded)
    await assignments.accept(ctx, a.id)
    await assignments.submit(ctx, a.id, WORK)
    recorded = event_types(db, tenant_id)

    with pytest.raises(InvalidInput) as refused:
        await assignments.review(ctx, a.id, ReviewInput(Outcome.PASS, build.low_marks, "Good enough?"))
    assert refused.value.code == "review.below_pass_score"

    assert entity(await assignments.get(ctx, a.id)).state is State.SUBMITTED
    assert (await assignments.list_reviews(ctx, a.id, PageRequest())).items == []
    assert await people.skill_profile(ctx, seeded.report.id) == []
    assert event_types(db, tenant_id) == recorded


async def test_two_units_of_work_racing_on_one_assignment_cannot_both_commit(ctx: Context, db: MemoryDatabase, clock: Any, tenant_id: UUID, seeded: Any) -> None:
    """Every transition is a compare-and-set on the version (DESIGN §2; AssignmentRepository.update):
    of two requests that both read version 1, one commits and the other is refused, so neither
    change nor its event is silently lost. The fake claims the SQL adapters' contract."""
    a = await offered(ctx, seeded)
    first, second = db.uow(tenant_id), db.uow(tenant_id)
    async with first, second:
        mine = await first.assignments.get(a.id)
        theirs = await second.assignments.get(a.id)
        mine.accept(clock.now())
        theirs.decline(clock.now(), "No time.")
        await first.assignments.update(mine, 1)
        await first.commit()
        with pytest.raises(ConcurrentUpdate):  # fails today: the second commit overwrites the first
            await second.assignments.update(theirs, 1)
            await second.commit()
    assert entity(await assignments.get(ctx, a.id)).state is State.ACCEPTED


# -- offers ---------------------------------------------------------------------------------------


async def test_offer_needs_a_reviewer_when_the_assignee_has_no_manager(ctx: Context, db: MemoryDatabase, tenant_id: UUID, seeded: Any) -> None:
    loner = await people.create_person(ctx, "hr-3", PersonFields(display_name="Lee Loner"))
    recorded = event_types(db, tenant_id)

    with pytest.raises(InvalidInput) as refused:
        await assignments.offer(ctx, Offer(brief_id=seeded.brief.id, assignee_id=loner.id))
    assert refused.value.code == "assignment.reviewer_required"
    assert [p.loc for p in refused.value.problems] == [("reviewer_id",)]
    assert event_types(db, tenant_id) == recorded

    a = entity(await assignments.offer(ctx, Offer(brief_id=seeded.brief.id, assignee_id=loner.id, reviewer_id=seeded.manager.id)))
    assert a.reviewer_id == seeded.manager.id


async def test_an_explicit_reviewer_overrides_the_manager(ctx: Context, seeded: Any) -> None:
    peer = await people.create_person(ctx, "hr-4", PersonFields(display_name="Pat Peer"))
    a = await offered(ctx, seeded, reviewer_id=peer.id)
    assert a.reviewer_id == peer.id


async def test_offering_an_unpublished_brief_is_refused(ctx: Context, db: MemoryDatabase, tenant_id: UUID, seeded: Any, build: Any) -> None:
    draft = await catalog.create_brief(ctx, build.content(skill_id=seeded.skill.id, title="Draft brief"))
    assert draft.status is BriefStatus.DRAFT
    with pytest.raises(Conflict) as refused:
        await assignments.offer(ctx, Offer(brief_id=draft.id, assignee_id=seeded.report.id))
    assert refused.value.code == "brief.not_published"
    assert "assignment.offered" not in event_types(db, tenant_id)


async def test_offering_an_archived_brief_is_refused(ctx: Context, seeded: Any) -> None:
    await catalog.archive_brief(ctx, seeded.brief.id)
    with pytest.raises(Conflict) as refused:
        await offered(ctx, seeded)
    assert refused.value.code == "brief.archived"


async def test_an_assignment_keeps_the_brief_version_it_was_offered_with(ctx: Context, seeded: Any) -> None:
    a = await offered(ctx, seeded)
    await catalog.update_brief(ctx, seeded.brief.id, {"title": "Renamed", "timebox": timedelta(hours=4)})
    await catalog.publish_brief(ctx, seeded.brief.id)
    b = await offered(ctx, seeded)

    first = entity(await assignments.get(ctx, a.id))
    assert (first.brief_version, first.brief.title, first.brief.timebox) == (1, "Speed up the Q4 report", timedelta(days=2))
    assert (b.brief_version, b.brief.title, b.brief.timebox) == (2, "Renamed", timedelta(hours=4))


# -- people ----------------------------------------------------------------------------------------


async def test_manager_cycles_are_refused(ctx: Context, db: MemoryDatabase, tenant_id: UUID, seeded: Any) -> None:
    top, middle = seeded.manager, seeded.report  # middle reports to top
    bottom = await people.create_person(ctx, "hr-5", PersonFields(display_name="Bo Bottom", manager_id=middle.id))
    recorded = event_types(db, tenant_id)

    for person, manager in [(top, bottom), (top, middle), (top, top), (middle, bottom)]:
        with pytest.raises(InvalidInput) as refused:
            await people.update_person(ctx, person.id, {"manager_id": manager.id})
        assert refused.value.code == "person.manager_cycle"
        assert [p.loc for p in refused.value.problems] == [("manager_id",)]

    with pytest.raises(InvalidInput) as refused:
        await people.upsert_person(ctx, top.external_id, PersonFields(display_name=top.display_name, manager_id=bottom.id))
    assert refused.value.code == "person.manager_cycle"

    assert (await people.get_person(ctx, top.id)).manager_id is None
    assert event_types(db, tenant_id) == recorded

    moved = await people.update_person(ctx, bottom.id, {"manager_id": top.id})  # not a cycle: skip a level
    assert (moved.manager_id, moved.version) == (top.id, 2)


async def test_an_external_id_belongs_to_one_person(ctx: Context, db: MemoryDatabase, tenant_id: UUID, seeded: Any) -> None:
    recorded = event_types(db, tenant_id)
    with pytest.raises(Conflict) as on_create:
        await people.create_person(ctx, seeded.report.external_id, PersonFields(display_name="Someone else"))
    assert on_create.value.code == "person.external_id_taken"
    assert on_create.value.extra["existing_id"] == str(seeded.report.id)

    with pytest.raises(Conflict) as on_update:
        await people.update_person(ctx, seeded.report.id, {"external_id": seeded.manager.external_id})
    assert on_update.value.code == "person.external_id_taken"

    assert event_types(db, tenant_id) == recorded
    assert (await people.get_person(ctx, seeded.report.id)).external_id == "hr-2"


async def test_upsert_creates_then_replaces(ctx: Context, db: MemoryDatabase, tenant_id: UUID) -> None:
    fields = PersonFields(display_name="Ada", email="ada@example.com", team="Data")
    created, was_created = await people.upsert_person(ctx, "hr-77", fields)
    assert was_created is True and created.version == 1

    same, was_created = await people.upsert_person(ctx, "hr-77", fields)
    assert was_created is False
    assert (same.id, same.version) == (created.id, 1), "re-running an import with the same data changes nothing"
    assert event_types(db, tenant_id) == ["person.created"]

    changed, was_created = await people.upsert_person(ctx, "hr-77", PersonFields(display_name="Ada L.", team="Data"))
    assert was_created is False
    assert (changed.id, changed.version, changed.display_name, changed.email) == (created.id, 2, "Ada L.", None), "upsert replaces every field"
    assert event_types(db, tenant_id) == ["person.created", "person.updated"]


# -- tenants ----------------------------------------------------------------------------------------


async def test_another_tenant_sees_none_of_this_tenant(make_ctx: Callable[..., Context], ctx: Context, db: MemoryDatabase, tenant_id: UUID, seeded: Any) -> None:
    a = await offered(ctx, seeded)
    other_tenant = uuid4()
    other = make_ctx(other_tenant)

    with pytest.raises(NotFound):
        await people.get_person(other, seeded.report.id)
    with pytest.raises(NotFound):
        await assignments.get(other, a.id)
    with pytest.raises(NotFound):
        await assignments.accept(other, a.id)
    assert (await people.list_people(other, PageRequest())).items == []

    # The same HRIS id may exist in both tenants: external ids are unique per tenant only.
    twin = await people.create_person(other, seeded.report.external_id, PersonFields(display_name="Other Raj"))
    assert twin.id != seeded.report.id
    assert entity(await assignments.get(ctx, a.id)).state is State.OFFERED
    assert event_types(db, other_tenant) == ["person.created"]
