"""Fixtures for the unit tier: builders for pure domain objects, a movable clock, and
services wired to the in-memory fakes (app.repositories.memory).

Helpers are handed to tests as fixtures (this folder is not a package, so tests do not
import from here).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Awaitable, Callable
from uuid import UUID, uuid4

import pytest

from app.domain.actors import Actor, ActorRef, ActorType, Scope
from app.domain.assignment import Assignment, State
from app.domain.briefs import BriefContent, Criterion, CriterionScore, Rubric, RubricLevel
from app.domain.skills import SkillLevel
from app.domain.work import Outcome, Submission, SubmissionContent
from app.repositories.clock import Uuid7Ids
from app.repositories.memory import MemoryDatabase
from app.services import catalog, people, webhooks
from app.services.context import Context
from tests import support
from tests.fakes import FakeSender

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

TIMEBOX = timedelta(days=2)
LATE_GRACE = timedelta(hours=12)
OFFER_TTL = timedelta(days=7)
REVIEW_WITHIN = timedelta(days=2)
TARGET_LEVEL = 2

# correctness: weight 3, levels 0/1/2 (max 2); clarity: weight 2, levels 0/2/4 (max 4); total weight 5.
# A pass needs 60: correctness 2 + clarity 0 gives (3*2/2 + 2*0/4) / 5 * 100 = 60 exactly.
RUBRIC = Rubric(
    criteria=(
        Criterion("correctness", "Correctness", 3, (RubricLevel(0, "Wrong"), RubricLevel(1, "Partly"), RubricLevel(2, "Right"))),
        Criterion("clarity", "Clarity", 2, (RubricLevel(0, "Unclear"), RubricLevel(2, "Fair"), RubricLevel(4, "Clear"))),
    ),
    pass_score=60,
)
FULL_MARKS = [CriterionScore("correctness", 2), CriterionScore("clarity", 4)]  # 100
LOW_MARKS = [CriterionScore("correctness", 1), CriterionScore("clarity", 2)]  # (1.5 + 1) / 5 * 100 = 50


def make_content(**overrides: Any) -> BriefContent:
    values: dict[str, Any] = dict(
        title="Speed up the Q4 report",
        instructions="Find the slow query and fix it.",
        skill_id=UUID("00000000-0000-7000-8000-00000000beef"),
        target_level=TARGET_LEVEL,
        timebox=TIMEBOX,
        rubric=RUBRIC,
        review_within=REVIEW_WITHIN,
        offer_ttl=OFFER_TTL,
        max_attempts=2,
        late_grace=LATE_GRACE,
    )
    values.update(overrides)
    return BriefContent(**values)


def make_assignment(state: State | str, now: datetime = NOW, *, attempt: int | None = None, content: BriefContent | None = None) -> Assignment:
    """A valid assignment *stored* in `state` whose effective state at `now` is also `state`.

    Deadlines are placed relative to `now` as the lifecycle would have left them:
    open work (accepted, submitted, revision_requested) is due in the future; an expired
    offer lapsed a day ago; a timed-out attempt passed due_at + late_grace a while ago.
    """
    state = State(state)
    content = content or make_content()
    created = now - timedelta(days=2)
    a = Assignment(
        id=uuid4(), tenant_id=uuid4(), brief_id=uuid4(), brief_version=1, brief=content,
        assignee_id=uuid4(), reviewer_id=uuid4(), offered_by=ActorRef(ActorType.API_KEY, uuid4()),
        state=state, offer_expires_at=created + content.offer_ttl, created_at=created, updated_at=created,
    )
    if state in (State.OFFERED, State.DECLINED):
        a.version = 1 if state is State.OFFERED else 2
    elif state is State.EXPIRED:
        a.created_at = a.updated_at = now - content.offer_ttl - timedelta(days=1)
        a.offer_expires_at = a.created_at + content.offer_ttl  # a day ago
        a.version = 2
    elif state in (State.ACCEPTED, State.WITHDRAWN):
        a.starts_at = now - timedelta(days=1)
        a.due_at = a.starts_at + content.timebox  # a day from now
        a.version = 2 if state is State.ACCEPTED else 3
    elif state is State.SUBMITTED:
        a.starts_at = now - timedelta(days=1)
        a.due_at = a.starts_at + content.timebox  # submitted early: still before due_at
        a.submitted_at = now - timedelta(hours=1)
        a.review_due_at = a.submitted_at + content.review_within
        a.version = 3
    elif state is State.REVISION_REQUESTED:
        a.attempt = 2
        a.starts_at = now - timedelta(hours=1)  # the revise review started a fresh timebox
        a.due_at = a.starts_at + content.timebox
        a.outcome, a.score = Outcome.REVISE, 50.0
        a.version = 4
    elif state in (State.PASSED, State.FAILED):
        a.starts_at = now - timedelta(days=3)
        a.due_at = a.starts_at + content.timebox
        a.submitted_at = now - timedelta(days=2)
        a.review_due_at = a.submitted_at + content.review_within
        a.outcome, a.score = (Outcome.PASS, 100.0) if state is State.PASSED else (Outcome.FAIL, 0.0)
        a.version = 4
    elif state is State.TIMED_OUT:
        a.starts_at = now - timedelta(days=4)
        a.due_at = a.starts_at + content.timebox  # two days ago; timeout_at = due_at + 12h
        a.version = 3
    if attempt is not None:
        a.attempt = attempt
    assert a.effective_state(now) is state, f"builder bug: {state} is effectively {a.effective_state(now)}"
    return a


def make_submission(assignment: Assignment, at: datetime | None = None) -> Submission:
    return Submission(
        id=uuid4(), tenant_id=assignment.tenant_id, assignment_id=assignment.id, attempt=assignment.attempt,
        content=SubmissionContent(body="Added an index."), submitted_by=ActorRef(ActorType.PERSON, assignment.assignee_id),
        submitted_at=at or assignment.submitted_at or NOW, late=False,
    )


@dataclass
class Builders:
    now: datetime
    content: Callable[..., BriefContent]
    assignment: Callable[..., Assignment]
    submission: Callable[..., Submission]
    rubric: Rubric
    full_marks: list[CriterionScore]
    low_marks: list[CriterionScore]


@pytest.fixture
def build() -> Builders:
    return Builders(NOW, make_content, make_assignment, make_submission, RUBRIC, list(FULL_MARKS), list(LOW_MARKS))


# -- services on the in-memory fakes ---------------------------------------------------


class FakeClock(support.FakeClock):
    """The shared test clock, starting at this module's NOW."""

    def __init__(self, now: datetime = NOW) -> None:
        super().__init__(now)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db() -> MemoryDatabase:
    return MemoryDatabase()


@pytest.fixture
def make_ctx(db: MemoryDatabase, clock: FakeClock) -> Callable[..., Context]:
    def make(tenant_id: UUID, scopes: set[Scope] | frozenset[Scope] = frozenset({Scope.ADMIN})) -> Context:
        actor = Actor(tenant_id=tenant_id, type=ActorType.API_KEY, id=uuid4(), scopes=frozenset(scopes))
        return Context(actor=actor, clock=clock, ids=Uuid7Ids(), uow_factory=db.uow)

    return make


@pytest.fixture
def tenant_id() -> UUID:
    return uuid4()


@pytest.fixture
def ctx(make_ctx: Callable[..., Context], tenant_id: UUID) -> Context:
    return make_ctx(tenant_id)


@dataclass
class Seeded:
    manager: Any
    report: Any
    skill: Any
    brief: Any


@pytest.fixture
async def seeded(ctx: Context) -> Seeded:
    """A manager, their report, a skill with levels 1–3 and a published brief on it."""
    manager = await people.create_person(ctx, "hr-1", people.PersonFields(display_name="Mona Manager"))
    report = await people.create_person(ctx, "hr-2", people.PersonFields(display_name="Raj Report", manager_id=manager.id))
    skill = await catalog.create_skill(ctx, catalog.SkillFields(
        key="sql-tuning", name="SQL tuning",
        levels=[SkillLevel(1, "Basic"), SkillLevel(2, "Working"), SkillLevel(3, "Expert")],
    ))
    brief = await catalog.create_brief(ctx, make_content(skill_id=skill.id))
    brief = await catalog.publish_brief(ctx, brief.id)
    return Seeded(manager, report, skill, brief)


# -- webhook delivery on the fakes -------------------------------------------------------


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def deliver(db: MemoryDatabase, clock: FakeClock, sender: FakeSender) -> Callable[..., Awaitable[webhooks.DeliveryReport]]:
    """One round of the delivery worker (app.workers.runner does it in a loop), on the fakes."""
    rng = random.Random(13)

    async def run(batch_size: int = 50) -> webhooks.DeliveryReport:
        return await webhooks.deliver_due(db.outbox_uow, sender, clock, Uuid7Ids(), rng, batch_size=batch_size)

    return run
