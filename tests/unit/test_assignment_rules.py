"""Deadlines, effective state, and the rules inside each transition (DESIGN.md §2), on the pure domain."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from app.domain.actors import Actor, ActorRef, ActorType, Scope
from app.domain.assignment import Assignment, State
from app.domain.briefs import CriterionScore
from app.domain.errors import Conflict, InvalidInput, InvalidTransition
from app.domain.work import Outcome, SubmissionContent, SubmissionStatus

MICRO = timedelta(microseconds=1)
ALL_STATES = [str(s) for s in State]


def submit(a: Assignment, now: Any):
    return a.submit(now, uuid4(), SubmissionContent(body="Added an index."), ActorRef(ActorType.PERSON, a.assignee_id))


def review(build: Any, a: Assignment, now: Any, outcome: Outcome, scores: Any = None):
    scores = scores if scores is not None else (build.full_marks if outcome is Outcome.PASS else build.low_marks)
    return a.review(
        now, submission=build.submission(a), outcome=outcome, scores=scores, feedback="Thanks.",
        by=ActorRef(ActorType.PERSON, a.reviewer_id), new_id=uuid4,
    )


def actor(*scopes: Scope) -> Actor:
    return Actor(tenant_id=uuid4(), type=ActorType.API_KEY, id=uuid4(), scopes=frozenset(scopes))


def problem_locs(error: InvalidInput) -> list[tuple]:
    return [p.loc for p in error.problems]


# -- offers lapse by themselves ---------------------------------------------------------


@pytest.mark.parametrize("past_expiry", [timedelta(0), timedelta(seconds=1), timedelta(days=30)], ids=["at", "1s-after", "30d-after"])
def test_an_offer_at_or_after_its_expiry_is_expired_and_cannot_be_accepted(build: Any, past_expiry: timedelta) -> None:
    a = build.assignment("offered")
    now = a.offer_expires_at + past_expiry
    before = copy.deepcopy(a)

    assert a.effective_state(now) is State.EXPIRED
    assert a.allowed_actions(now, actor(Scope.ADMIN)) == []
    with pytest.raises(InvalidTransition) as refused:
        a.accept(now)
    assert refused.value.extra["state"] == "expired"
    assert refused.value.extra["allowed_actions"] == []
    assert "expired" in refused.value.detail
    assert a == before


def test_an_offer_can_be_accepted_up_to_the_instant_before_it_expires(build: Any) -> None:
    a = build.assignment("offered")
    now = a.offer_expires_at - MICRO
    assert a.effective_state(now) is State.OFFERED
    assert a.accept(now).type == "assignment.accepted"
    assert a.state is State.ACCEPTED


# -- attempts time out by themselves ------------------------------------------------------


@pytest.mark.parametrize("state", ["accepted", "revision_requested"])
@pytest.mark.parametrize("past_timeout", [timedelta(0), timedelta(hours=1)], ids=["at", "after"])
def test_open_work_at_or_after_due_plus_grace_is_timed_out_and_refuses_submissions(build: Any, state: str, past_timeout: timedelta) -> None:
    a = build.assignment(state)
    now = a.due_at + a.brief.late_grace + past_timeout
    before = copy.deepcopy(a)

    assert a.effective_state(now) is State.TIMED_OUT
    with pytest.raises(InvalidTransition) as refused:
        submit(a, now)
    assert refused.value.extra["state"] == "timed_out"
    assert refused.value.extra["allowed_actions"] == ["extend"]
    assert a == before


@pytest.mark.parametrize("state", ["accepted", "revision_requested"])
def test_a_submission_after_due_but_within_grace_is_taken_and_marked_late(build: Any, state: str) -> None:
    a = build.assignment(state)
    assert a.brief.late_grace == timedelta(hours=12)
    now = a.due_at + timedelta(hours=12) - MICRO

    event, submission = submit(a, now)

    assert a.state is State.SUBMITTED
    assert a.late is True and submission.late is True and event.details["late"] is True
    assert submission.attempt == a.attempt
    assert a.submitted_at == now
    assert a.review_due_at == now + a.brief.review_within


@pytest.mark.parametrize("before_due", [timedelta(hours=1), timedelta(0)], ids=["1h-early", "exactly-at-due"])
def test_a_submission_up_to_due_at_is_on_time(build: Any, before_due: timedelta) -> None:
    a = build.assignment("accepted")
    now = a.due_at - before_due
    event, submission = submit(a, now)
    assert a.state is State.SUBMITTED
    assert a.late is False and submission.late is False and event.details["late"] is False


def test_without_grace_the_attempt_times_out_at_due_at(build: Any) -> None:
    a = build.assignment("accepted", content=build.content(late_grace=timedelta(0)))
    assert a.effective_state(a.due_at - MICRO) is State.ACCEPTED
    assert a.effective_state(a.due_at) is State.TIMED_OUT


# -- reclaim -------------------------------------------------------------------------------


def test_reclaim_before_due_returns_the_work_to_the_assignee(build: Any) -> None:
    a = build.assignment("submitted")
    submission = build.submission(a)
    now = a.due_at - MICRO

    event = a.reclaim(now, submission)

    assert a.state is State.ACCEPTED
    assert a.submitted_at is None and a.review_due_at is None and a.late is False
    assert submission.status is SubmissionStatus.RECLAIMED and submission.reclaimed_at == now
    assert event.details["submission_id"] == str(submission.id)


@pytest.mark.parametrize("after_due", [timedelta(0), timedelta(hours=1)], ids=["at-due", "after-due"])
def test_reclaim_at_or_after_due_is_refused_with_window_closed(build: Any, after_due: timedelta) -> None:
    a = build.assignment("submitted")
    now = a.due_at + after_due
    before = copy.deepcopy(a)

    with pytest.raises(Conflict) as refused:
        a.reclaim(now, build.submission(a))
    assert refused.value.code == "assignment.reclaim_window_closed"
    assert a == before
    assert a.allowed_actions(now, actor(Scope.ADMIN)) == ["review"], "reclaim disappears once due_at passes"


def test_a_late_submission_cannot_be_reclaimed(build: Any) -> None:
    a = build.assignment("accepted")
    submit(a, a.due_at + timedelta(hours=1))
    with pytest.raises(Conflict) as refused:
        a.reclaim(a.due_at + timedelta(hours=1), build.submission(a))
    assert refused.value.code == "assignment.reclaim_window_closed"
    assert a.state is State.SUBMITTED


def test_reclaiming_a_revision_returns_to_revision_requested_keeping_the_attempt(build: Any) -> None:
    """Reclaim takes a submission back to the open state its attempt came from.

    DESIGN §2 names only `accepted` as reclaim's target, which is the first attempt's open
    state; for a later attempt the open state is `revision_requested` (as `extend` does when
    it reopens), and the attempt number must not change.
    """
    a = build.assignment("submitted", attempt=2)
    a.reclaim(build.now, build.submission(a))
    assert (a.state, a.attempt) == (State.REVISION_REQUESTED, 2)


# -- accept and starts_at -------------------------------------------------------------------


def test_accept_now_starts_the_timebox_now(build: Any) -> None:
    a = build.assignment("offered")
    a.accept(build.now)
    assert (a.starts_at, a.due_at) == (build.now, build.now + a.brief.timebox)


def test_accept_with_a_future_starts_at_sets_due_from_it(build: Any) -> None:
    a = build.assignment("offered")
    starts_at = build.now + timedelta(days=3)
    a.accept(build.now, starts_at)
    assert a.state is State.ACCEPTED
    assert a.starts_at == starts_at
    assert a.due_at == starts_at + timedelta(days=2)


@pytest.mark.parametrize(
    "starts_at_of",
    [lambda a, now: now - MICRO, lambda a, now: now - timedelta(days=1), lambda a, now: a.offer_expires_at, lambda a, now: a.offer_expires_at + timedelta(days=1)],
    ids=["just-past", "yesterday", "at-offer-expiry", "after-offer-expiry"],
)
def test_accept_refuses_starts_at_outside_the_offer_window(build: Any, starts_at_of: Any) -> None:
    a = build.assignment("offered")
    before = copy.deepcopy(a)
    with pytest.raises(InvalidInput) as refused:
        a.accept(build.now, starts_at_of(a, build.now))
    assert refused.value.code == "assignment.invalid_starts_at"
    assert problem_locs(refused.value) == [("starts_at",)]
    assert a == before


# -- extend -----------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [timedelta(0), -timedelta(hours=1)], ids=["now", "past"])
def test_extend_needs_a_due_at_in_the_future(build: Any, offset: timedelta) -> None:
    a = build.assignment("accepted")
    before = copy.deepcopy(a)
    with pytest.raises(InvalidInput) as refused:
        a.extend(build.now, build.now + offset, "More time.")
    assert refused.value.code == "assignment.invalid_due_at"
    assert problem_locs(refused.value) == [("due_at",)]
    assert a == before


def test_extend_open_work_moves_due_at_and_keeps_the_state(build: Any) -> None:
    a = build.assignment("accepted")
    old_due = a.due_at
    new_due = build.now + timedelta(days=5)
    event = a.extend(build.now, new_due, "Waiting on access.")
    assert (a.state, a.due_at, a.attempt) == (State.ACCEPTED, new_due, 1)
    assert event.details["previous_due_at"] == old_due
    assert event.details["due_at"] == new_due
    assert event.details["reason"] == "Waiting on access."
    assert event.details["reopened"] is False


@pytest.mark.parametrize(("attempt", "reopened_as"), [(1, State.ACCEPTED), (2, State.REVISION_REQUESTED)])
def test_extending_a_timed_out_assignment_reopens_it(build: Any, attempt: int, reopened_as: State) -> None:
    a = build.assignment("timed_out", attempt=attempt)
    new_due = build.now + timedelta(days=1)

    event = a.extend(build.now, new_due, "Was on leave.")

    assert (a.state, a.attempt, a.due_at) == (reopened_as, attempt, new_due)
    assert a.effective_state(build.now) is reopened_as
    assert event.details["reopened"] is True
    _, submission = submit(a, build.now + timedelta(hours=1))
    assert a.state is State.SUBMITTED and submission.attempt == attempt and submission.late is False


def test_extending_work_that_timed_out_before_the_sweeper_ran_reopens_it(build: Any) -> None:
    a = build.assignment("accepted")
    now = a.due_at + a.brief.late_grace + timedelta(hours=1)  # stored accepted, effectively timed_out
    event = a.extend(now, now + timedelta(days=1), "Was on leave.")
    assert a.state is State.ACCEPTED and a.effective_state(now) is State.ACCEPTED
    assert event.details["reopened"] is True


# -- review -----------------------------------------------------------------------------------


def test_revise_on_the_last_attempt_is_refused(build: Any) -> None:
    a = build.assignment("submitted", attempt=2)
    assert a.max_attempts == 2
    before = copy.deepcopy(a)
    with pytest.raises(Conflict) as refused:
        review(build, a, build.now, Outcome.REVISE)
    assert refused.value.code == "review.no_attempts_left"
    assert a == before
    review(build, a, build.now, Outcome.FAIL)  # pass or fail still decide it
    assert a.state is State.FAILED


def test_a_single_attempt_brief_never_allows_revise(build: Any) -> None:
    a = build.assignment("submitted", content=build.content(max_attempts=1))
    with pytest.raises(Conflict) as refused:
        review(build, a, build.now, Outcome.REVISE)
    assert refused.value.code == "review.no_attempts_left"


def test_revise_opens_the_next_attempt_with_a_fresh_timebox(build: Any) -> None:
    a = build.assignment("submitted")
    now = build.now + timedelta(hours=3)

    result = review(build, a, now, Outcome.REVISE)

    assert a.state is State.REVISION_REQUESTED
    assert a.attempt == 2
    assert (a.starts_at, a.due_at) == (now, now + timedelta(days=2))
    assert a.submitted_at is None and a.review_due_at is None and a.late is False
    assert result.evidence is None
    assert result.review.attempt == 1, "the review belongs to the attempt it judged"
    assert result.review.score == 50.0  # LOW_MARKS: (3*1/2 + 2*2/4) / 5 * 100


def test_pass_creates_evidence_of_the_brief_skill_at_its_target_level(build: Any) -> None:
    a = build.assignment("submitted")
    result = review(build, a, build.now, Outcome.PASS)

    assert a.state is State.PASSED and a.outcome is Outcome.PASS and a.score == 100.0
    evidence = result.evidence
    assert evidence is not None
    assert evidence.skill_id == a.brief.skill_id
    assert evidence.level == a.brief.target_level == 2
    assert evidence.person_id == a.assignee_id
    assert evidence.assignment_id == a.id and evidence.tenant_id == a.tenant_id
    assert evidence.review_id == result.review.id
    assert evidence.score == 100.0
    assert result.event.details["evidence_id"] == str(evidence.id)


def test_pass_at_exactly_the_pass_score_is_accepted(build: Any) -> None:
    a = build.assignment("submitted")
    result = review(build, a, build.now, Outcome.PASS, [CriterionScore("correctness", 2), CriterionScore("clarity", 0)])
    assert result.review.score == 60.0  # (3*2/2 + 2*0/4) / 5 * 100
    assert a.state is State.PASSED


def test_pass_below_the_pass_score_is_refused(build: Any) -> None:
    a = build.assignment("submitted")
    before = copy.deepcopy(a)
    with pytest.raises(InvalidInput) as refused:
        review(build, a, build.now, Outcome.PASS, build.low_marks)  # 50 < 60
    assert refused.value.code == "review.below_pass_score"
    assert a == before


def test_fail_creates_no_evidence(build: Any) -> None:
    a = build.assignment("submitted")
    result = review(build, a, build.now, Outcome.FAIL)
    assert a.state is State.FAILED and result.evidence is None


# -- version ------------------------------------------------------------------------------------


def test_every_transition_bumps_the_version_by_exactly_one(build: Any) -> None:
    a = build.assignment("offered")
    t = build.now
    versions = [a.version]

    def step(do: Any) -> None:
        do()
        versions.append(a.version)

    step(lambda: a.accept(t))
    step(lambda: submit(a, t + timedelta(hours=1)))
    step(lambda: a.reclaim(t + timedelta(hours=2), build.submission(a)))
    step(lambda: submit(a, t + timedelta(hours=3)))
    step(lambda: review(build, a, t + timedelta(hours=4), Outcome.REVISE))
    step(lambda: a.extend(t + timedelta(hours=5), t + timedelta(days=4), "Holiday."))
    step(lambda: submit(a, t + timedelta(days=1)))
    step(lambda: review(build, a, t + timedelta(days=1, hours=1), Outcome.PASS))

    assert a.state is State.PASSED
    assert versions == list(range(versions[0], versions[0] + 9))


def test_a_refused_action_does_not_bump_the_version(build: Any) -> None:
    a = build.assignment("offered")
    with pytest.raises(InvalidTransition):
        submit(a, build.now)
    assert a.version == 1


# -- allowed_actions follows the caller's scopes -------------------------------------------------


@pytest.mark.parametrize("state", ALL_STATES)
def test_a_read_only_caller_is_allowed_nothing(build: Any, state: str) -> None:
    assert build.assignment(state).allowed_actions(build.now, actor(Scope.ASSIGNMENTS_READ)) == []


@pytest.mark.parametrize("state", ALL_STATES)
def test_a_caller_without_reviews_write_never_sees_review(build: Any, state: str) -> None:
    a = build.assignment(state)
    writer = actor(Scope.ASSIGNMENTS_WRITE)
    admin = actor(Scope.ADMIN)
    assert "review" not in a.allowed_actions(build.now, writer)
    assert a.allowed_actions(build.now, writer) == [x for x in a.allowed_actions(build.now, admin) if x != "review"]


def test_scopes_split_submitted_actions_between_assignee_and_reviewer_keys(build: Any) -> None:
    a = build.assignment("submitted")
    assert a.allowed_actions(build.now, actor(Scope.ASSIGNMENTS_WRITE)) == ["reclaim"]
    assert a.allowed_actions(build.now, actor(Scope.REVIEWS_WRITE)) == ["review"]
    assert sorted(a.allowed_actions(build.now, actor(Scope.ASSIGNMENTS_WRITE, Scope.REVIEWS_WRITE))) == ["reclaim", "review"]


def test_allowed_actions_follow_the_effective_state(build: Any) -> None:
    a = build.assignment("accepted")
    admin = actor(Scope.ADMIN)
    assert sorted(a.allowed_actions(build.now, admin)) == ["extend", "submit", "withdraw"]
    assert a.allowed_actions(a.timeout_at, admin) == ["extend"]
