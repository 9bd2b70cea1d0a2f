"""The assignment lifecycle: one transition table and the entity that obeys it.

Every method takes `now` from the caller (the Clock port) and either changes the
assignment and returns the event it owes, or raises. Reads use `effective_state`,
so an offer past its expiry is never treated as `offered`, sweeper or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from app.domain.actors import Actor, ActorRef, Scope
from app.domain.briefs import BriefContent, CriterionScore, DeliverableKind
from app.domain.errors import Conflict, InvalidTransition, invalid
from app.domain.work import Evidence, Outcome, Review, Submission, SubmissionContent, SubmissionStatus

MAX_EXTENSION = timedelta(days=365)


class State(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    SUBMITTED = "submitted"
    REVISION_REQUESTED = "revision_requested"
    PASSED = "passed"
    FAILED = "failed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    TIMED_OUT = "timed_out"


class Action(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"
    SUBMIT = "submit"
    RECLAIM = "reclaim"
    TIME_OUT = "time_out"
    EXTEND = "extend"
    REVIEW = "review"


# action -> the states it may start from (DESIGN §2)
TRANSITIONS: dict[Action, frozenset[State]] = {
    Action.ACCEPT: frozenset({State.OFFERED}),
    Action.DECLINE: frozenset({State.OFFERED}),
    Action.WITHDRAW: frozenset({State.OFFERED, State.ACCEPTED, State.REVISION_REQUESTED}),
    Action.EXPIRE: frozenset({State.OFFERED}),
    Action.SUBMIT: frozenset({State.ACCEPTED, State.REVISION_REQUESTED}),
    Action.RECLAIM: frozenset({State.SUBMITTED}),
    Action.TIME_OUT: frozenset({State.ACCEPTED, State.REVISION_REQUESTED}),
    Action.EXTEND: frozenset({State.ACCEPTED, State.REVISION_REQUESTED, State.TIMED_OUT}),
    Action.REVIEW: frozenset({State.SUBMITTED}),
}

OPEN_STATES = (State.OFFERED, State.ACCEPTED, State.SUBMITTED, State.REVISION_REQUESTED)
TERMINAL_STATES = frozenset({State.PASSED, State.FAILED, State.DECLINED, State.WITHDRAWN, State.EXPIRED})
SYSTEM_ACTIONS = frozenset({Action.EXPIRE, Action.TIME_OUT})
CALLER_ACTIONS = tuple(action for action in Action if action not in SYSTEM_ACTIONS)

ACTION_SCOPE: dict[Action, Scope] = {action: Scope.ASSIGNMENTS_WRITE for action in Action}
ACTION_SCOPE[Action.REVIEW] = Scope.REVIEWS_WRITE

_CALLER_ACTIONS_FROM: dict[State, tuple[Action, ...]] = {
    state: tuple(action for action in CALLER_ACTIONS if state in TRANSITIONS[action]) for state in State
}
"""effective state -> the caller actions the transition table allows from it, in CALLER_ACTIONS order."""


@dataclass(frozen=True)
class DomainEvent:
    """What a transition owes the event log; the service stamps id, actor and data."""

    type: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewResult:
    event: DomainEvent
    review: Review
    evidence: Evidence | None


@dataclass
class Assignment:
    id: UUID
    tenant_id: UUID
    brief_id: UUID
    brief_version: int
    brief: BriefContent
    assignee_id: UUID
    reviewer_id: UUID
    offered_by: ActorRef
    state: State
    offer_expires_at: datetime
    created_at: datetime
    updated_at: datetime
    context_note: str | None = None
    external_ref: str | None = None
    attempt: int = 1
    starts_at: datetime | None = None
    due_at: datetime | None = None
    submitted_at: datetime | None = None
    review_due_at: datetime | None = None
    outcome: Outcome | None = None
    score: float | None = None
    late: bool = False
    version: int = 1
    # Reminders already sent (see app.domain.deadlines); re-armed when the deadline they watch moves.
    offer_expiring_notified: bool = False
    due_soon_notified: bool = False
    review_overdue_notified: bool = False

    # -- derived -----------------------------------------------------------
    @property
    def skill_id(self) -> UUID:
        return self.brief.skill_id

    @property
    def max_attempts(self) -> int:
        return self.brief.max_attempts

    @property
    def timeout_at(self) -> datetime | None:
        """When an unsubmitted attempt times out: `due_at + late_grace`."""
        return None if self.due_at is None else self.due_at + self.brief.late_grace

    def effective_state(self, now: datetime) -> State:
        if self.state is State.OFFERED and now >= self.offer_expires_at:
            return State.EXPIRED
        if self.state in (State.ACCEPTED, State.REVISION_REQUESTED) and self.timeout_at is not None and now >= self.timeout_at:
            return State.TIMED_OUT
        return self.state

    def facing_deadline(self, now: datetime) -> datetime | None:
        """The deadline the assignment faces now, by its effective state: the offer's expiry, `due_at` while
        an attempt runs, `review_due_at` while a submission waits; None once nothing is pending.
        Lists order "nearest deadline first" by it; `app/repositories/sql/queries.py` says the same in SQL."""
        state = self.effective_state(now)
        if state is State.OFFERED:
            return self.offer_expires_at
        if state in (State.ACCEPTED, State.REVISION_REQUESTED):
            return self.due_at
        return self.review_due_at if state is State.SUBMITTED else None

    def permits(self, action: Action, now: datetime) -> bool:
        """Whether the lifecycle allows `action` now, whoever asks."""
        state = self.effective_state(now)
        if state not in TRANSITIONS[action]:
            return False
        if action is Action.RECLAIM:
            return self.due_at is not None and now < self.due_at
        return True

    def allowed_actions(self, now: datetime, actor: Actor) -> list[str]:
        """The caller actions `permits` allows now and the actor's scopes cover, in CALLER_ACTIONS order
        (the effective state is worked out once, not once per action: this runs for every row of a list)."""
        return [
            action.value for action in _CALLER_ACTIONS_FROM[self.effective_state(now)]
            if (action is not Action.RECLAIM or (self.due_at is not None and now < self.due_at)) and actor.has(ACTION_SCOPE[action])
        ]

    # -- transitions -------------------------------------------------------
    def check(self, action: Action, now: datetime) -> State:
        """Raise the precise refusal if `action` is not possible now; return the effective state."""
        state = self.effective_state(now)
        if state not in TRANSITIONS[action]:
            allowed = [str(a) for a in CALLER_ACTIONS if self.permits(a, now)]
            raise InvalidTransition(str(action), str(state), allowed)
        if not self.permits(action, now):  # the state fits, a guard does not (only reclaim has one)
            raise Conflict(
                "A submission can only be reclaimed before the assignment is due.",
                code="assignment.reclaim_window_closed",
            )
        return state

    def _move(self, to: State, now: datetime) -> None:
        self.state = to
        self.updated_at = now
        self.version += 1

    def _start_attempt(self, starts_at: datetime) -> None:
        self.starts_at = starts_at
        self.due_at = starts_at + self.brief.timebox
        self.submitted_at = None
        self.review_due_at = None
        self.late = False
        self.due_soon_notified = False
        self.review_overdue_notified = False

    def accept(self, now: datetime, starts_at: datetime | None = None) -> DomainEvent:
        self.check(Action.ACCEPT, now)
        start = now if starts_at is None else starts_at
        if start < now:
            raise invalid(("starts_at",), "starts_at cannot be in the past.", code="assignment.invalid_starts_at")
        if start >= self.offer_expires_at:
            raise invalid(("starts_at",), "starts_at must fall before the offer expires.", code="assignment.invalid_starts_at")
        self._start_attempt(start)
        self._move(State.ACCEPTED, now)
        return DomainEvent("assignment.accepted")

    def decline(self, now: datetime, reason: str | None = None) -> DomainEvent:
        self.check(Action.DECLINE, now)
        self._move(State.DECLINED, now)
        return DomainEvent("assignment.declined", {"reason": reason})

    def withdraw(self, now: datetime, reason: str) -> DomainEvent:
        self.check(Action.WITHDRAW, now)
        self._move(State.WITHDRAWN, now)
        return DomainEvent("assignment.withdrawn", {"reason": reason})

    def expire(self, now: datetime) -> DomainEvent:
        """System action: the offer lapsed unanswered."""
        if self.effective_state(now) is not State.EXPIRED or self.state is not State.OFFERED:
            raise InvalidTransition(str(Action.EXPIRE), str(self.effective_state(now)), [])
        self._move(State.EXPIRED, now)
        return DomainEvent("assignment.expired")

    def time_out(self, now: datetime) -> DomainEvent:
        """System action: `due_at + late_grace` passed with nothing submitted."""
        if self.effective_state(now) is not State.TIMED_OUT or self.state is State.TIMED_OUT:
            raise InvalidTransition(str(Action.TIME_OUT), str(self.effective_state(now)), [])
        self._move(State.TIMED_OUT, now)
        return DomainEvent("assignment.timed_out")

    def submit(self, now: datetime, submission_id: UUID, content: SubmissionContent, by: ActorRef) -> tuple[DomainEvent, Submission]:
        self.check(Action.SUBMIT, now)
        _check_deliverable(self.brief.deliverable.kind, content)
        assert self.due_at is not None  # every accepted attempt has one
        late = now > self.due_at
        submission = Submission(
            id=submission_id,
            tenant_id=self.tenant_id,
            assignment_id=self.id,
            attempt=self.attempt,
            content=content,
            submitted_by=by,
            submitted_at=now,
            late=late,
        )
        self.submitted_at = now
        self.review_due_at = now + self.brief.review_within
        self.review_overdue_notified = False
        self.late = late
        self._move(State.SUBMITTED, now)
        details = {"submission_id": str(submission_id), "late": late, "time_spent": content.time_spent}
        return DomainEvent("assignment.submitted", details), submission

    def reclaim(self, now: datetime, submission: Submission) -> DomainEvent:
        """The assignee takes the pending submission back to change it, before `due_at`."""
        self.check(Action.RECLAIM, now)
        submission.status = SubmissionStatus.RECLAIMED
        submission.reclaimed_at = now
        self.submitted_at = None
        self.review_due_at = None
        self.late = False
        self._move(State.ACCEPTED if self.attempt == 1 else State.REVISION_REQUESTED, now)
        return DomainEvent("assignment.submission_reclaimed", {"submission_id": str(submission.id)})

    def extend(self, now: datetime, due_at: datetime, reason: str) -> DomainEvent:
        state = self.check(Action.EXTEND, now)
        if due_at <= now:
            raise invalid(("due_at",), "The new due_at must be in the future.", code="assignment.invalid_due_at")
        if self.due_at is not None and due_at <= self.due_at:
            raise invalid(("due_at",), "An extension must move due_at later than it is now.", code="assignment.invalid_due_at")
        if due_at > now + MAX_EXTENSION:
            raise invalid(("due_at",), "The new due_at may be at most 365 days from now.", code="assignment.invalid_due_at")
        previous = self.due_at
        self.due_at = due_at
        self.due_soon_notified = False
        if state is State.TIMED_OUT:
            reopened = State.ACCEPTED if self.attempt == 1 else State.REVISION_REQUESTED
        else:
            reopened = self.state
        self._move(reopened, now)
        return DomainEvent(
            "assignment.extended",
            {"previous_due_at": previous, "due_at": due_at, "reason": reason, "reopened": state is State.TIMED_OUT},
        )

    def review(
        self,
        now: datetime,
        *,
        submission: Submission,
        outcome: Outcome,
        scores: list[CriterionScore],
        feedback: str,
        by: ActorRef,
        new_id: Callable[[], UUID],
    ) -> ReviewResult:
        self.check(Action.REVIEW, now)
        if outcome is Outcome.REVISE and self.attempt >= self.max_attempts:
            raise Conflict(
                f"No attempts remain ({self.attempt} of {self.max_attempts} used); the outcome must be pass or fail.",
                code="review.no_attempts_left",
            )
        score = self.brief.rubric.score(scores)
        pass_score = self.brief.rubric.pass_score
        if outcome is Outcome.PASS and pass_score is not None and score < pass_score:
            raise invalid(
                ("outcome",),
                f"A pass needs a weighted score of at least {pass_score}; these scores give {score}.",
                "below_pass_score",
                code="review.below_pass_score",
            )
        review = Review(
            id=new_id(),
            tenant_id=self.tenant_id,
            assignment_id=self.id,
            submission_id=submission.id,
            attempt=self.attempt,
            reviewer_id=self.reviewer_id,
            reviewed_by=by,
            outcome=outcome,
            scores=tuple(scores),
            score=score,
            feedback=feedback,
            created_at=now,
        )
        self.outcome = outcome
        self.score = score
        evidence = None
        if outcome is Outcome.PASS:
            evidence = Evidence(
                id=new_id(),
                tenant_id=self.tenant_id,
                person_id=self.assignee_id,
                skill_id=self.skill_id,
                level=self.brief.target_level,
                assignment_id=self.id,
                review_id=review.id,
                score=score,
                created_at=now,
            )
            self._move(State.PASSED, now)
            event = DomainEvent("assignment.passed", {"review_id": str(review.id), "evidence_id": str(evidence.id)})
        elif outcome is Outcome.FAIL:
            self._move(State.FAILED, now)
            event = DomainEvent("assignment.failed", {"review_id": str(review.id)})
        else:
            self.attempt += 1
            self._start_attempt(now)
            self._move(State.REVISION_REQUESTED, now)
            event = DomainEvent("assignment.revision_requested", {"review_id": str(review.id)})
        return ReviewResult(event, review, evidence)


def _check_deliverable(kind: DeliverableKind, content: SubmissionContent) -> None:
    if kind is DeliverableKind.TEXT and not (content.body and content.body.strip()):
        raise invalid(
            ("body",), "This brief asks for a text deliverable: body is required.", "missing", code="submission.missing_deliverable",
        )
    if kind is DeliverableKind.LINK and not content.links:
        raise invalid(("links",), "This brief asks for a link: add at least one.", "missing", code="submission.missing_deliverable")
    if kind is DeliverableKind.FILE and not content.attachments:
        raise invalid(
            ("attachments",), "This brief asks for a file: add at least one attachment.", "missing", code="submission.missing_deliverable",
        )
    if kind is DeliverableKind.ANY and not (content.body and content.body.strip()) and not content.links and not content.attachments:
        raise invalid((), "A submission needs a body, a link or an attachment.", "missing", code="submission.empty")
