"""The transition table of DESIGN.md §2, cell by cell, on the pure domain.

The expected table below is written out by hand from DESIGN.md §2; it never reads
app.domain.assignment.TRANSITIONS, so a wrong entry there makes a cell fail here.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from app.domain.actors import Actor, ActorRef, ActorType, Scope
from app.domain.assignment import Assignment, State
from app.domain.errors import InvalidTransition
from app.domain.work import Outcome, SubmissionContent

R = None  # refused: a 409 naming the current state and the actions allowed now

# One column per caller action; `review` is split by outcome because each outcome has its own target.
COLUMNS = ("accept", "decline", "withdraw", "submit", "reclaim", "extend", "review:pass", "review:revise", "review:fail")

# DESIGN.md §2, "from" -> "to" per action. The stored state is also the effective state here
# (no deadline has passed unless the state says so). `submitted` is the first attempt, reclaimed
# before due_at; `timed_out` is the first attempt, so extend reopens it to `accepted`.
EXPECTED: dict[str, tuple[str | None, ...]] = {
    #                      accept      decline     withdraw     submit       reclaim     extend                review:pass review:revise         review:fail
    "offered":            ("accepted", "declined", "withdrawn", R,           R,          R,                    R,          R,                    R),
    "accepted":           (R,          R,          "withdrawn", "submitted", R,          "accepted",           R,          R,                    R),
    "submitted":          (R,          R,          R,           R,           "accepted", R,                    "passed",   "revision_requested", "failed"),
    "revision_requested": (R,          R,          "withdrawn", "submitted", R,          "revision_requested", R,          R,                    R),
    "timed_out":          (R,          R,          R,           R,           R,          "accepted",           R,          R,                    R),
    "passed":             (R,          R,          R,           R,           R,          R,                    R,          R,                    R),
    "failed":             (R,          R,          R,           R,           R,          R,                    R,          R,                    R),
    "declined":           (R,          R,          R,           R,           R,          R,                    R,          R,                    R),
    "withdrawn":          (R,          R,          R,           R,           R,          R,                    R,          R,                    R),
    "expired":            (R,          R,          R,           R,           R,          R,                    R,          R,                    R),
}

# The event each successful action owes (DESIGN §1: "assignment.<what happened>"). DESIGN does not
# name the reclaim event; `assignment.submission_reclaimed` is the published name consumers rely on.
EVENT = {
    "accept": "assignment.accepted",
    "decline": "assignment.declined",
    "withdraw": "assignment.withdrawn",
    "submit": "assignment.submitted",
    "reclaim": "assignment.submission_reclaimed",
    "extend": "assignment.extended",
    "review:pass": "assignment.passed",
    "review:revise": "assignment.revision_requested",
    "review:fail": "assignment.failed",
}

# System actions, at a moment after every deadline of the built assignment has passed.
EXPECTED_SYSTEM_AFTER_DEADLINES = {
    ("expire", "offered"): ("expired", "assignment.expired"),
    ("time_out", "accepted"): ("timed_out", "assignment.timed_out"),
    ("time_out", "revision_requested"): ("timed_out", "assignment.timed_out"),
}

CELLS = [(state, column) for state in EXPECTED for column in COLUMNS]


def test_the_expected_table_covers_every_state_and_caller_action() -> None:
    assert set(EXPECTED) == {str(s) for s in State}
    assert {column.split(":")[0] for column in COLUMNS} == {"accept", "decline", "withdraw", "submit", "reclaim", "extend", "review"}


def allowed_now(state: str) -> list[str]:
    """The caller actions the table allows from `state`, each named once."""
    row = dict(zip(COLUMNS, EXPECTED[state]))
    return sorted({column.split(":")[0] for column, to in row.items() if to is not None})


def perform(build: Any, a: Assignment, column: str, now: datetime) -> Any:
    if column == "accept":
        return a.accept(now)
    if column == "decline":
        return a.decline(now, "Too busy this sprint.")
    if column == "withdraw":
        return a.withdraw(now, "Priorities changed.")
    if column == "submit":
        event, submission = a.submit(now, uuid4(), SubmissionContent(body="Added an index."), ActorRef(ActorType.PERSON, a.assignee_id))
        assert submission.assignment_id == a.id and submission.attempt == a.attempt
        return event
    if column == "reclaim":
        return a.reclaim(now, build.submission(a))
    if column == "extend":
        return a.extend(now, now + timedelta(days=3), "Waiting on access.")
    outcome = Outcome(column.split(":")[1])
    scores = build.full_marks if outcome is Outcome.PASS else build.low_marks
    result = a.review(
        now, submission=build.submission(a), outcome=outcome, scores=scores, feedback="See comments.",
        by=ActorRef(ActorType.PERSON, a.reviewer_id), new_id=uuid4,
    )
    return result.event


@pytest.mark.parametrize(("state", "column"), CELLS, ids=[f"{s}-{c}" for s, c in CELLS])
def test_caller_action(build: Any, state: str, column: str) -> None:
    now = build.now
    a = build.assignment(state, now)
    before = copy.deepcopy(a)
    expected = dict(zip(COLUMNS, EXPECTED[state]))[column]

    if expected is None:
        with pytest.raises(InvalidTransition) as refused:
            perform(build, a, column, now)
        assert refused.value.code == "assignment.invalid_transition"
        assert refused.value.extra["state"] == state
        assert sorted(refused.value.extra["allowed_actions"]) == allowed_now(state)
        assert len(refused.value.extra["allowed_actions"]) == len(allowed_now(state))
        assert a == before, "a refused action must leave the assignment untouched"
        return

    event = perform(build, a, column, now)
    assert a.state == State(expected)
    assert a.effective_state(now) == State(expected)
    assert event.type == EVENT[column]
    assert a.version == before.version + 1
    assert a.updated_at == now


@pytest.mark.parametrize("state", list(EXPECTED))
def test_refusals_and_allowed_actions_agree(build: Any, state: str) -> None:
    """What a 409 lists as allowed is exactly what an admin sees in allowed_actions."""
    a = build.assignment(state)
    admin = Actor(tenant_id=a.tenant_id, type=ActorType.API_KEY, id=uuid4(), scopes=frozenset({Scope.ADMIN}))
    assert sorted(a.allowed_actions(build.now, admin)) == allowed_now(state)


SYSTEM_CELLS = [(action, state) for action in ("expire", "time_out") for state in EXPECTED]


@pytest.mark.parametrize(("action", "state"), SYSTEM_CELLS, ids=[f"{s}-{a}-after-deadlines" for a, s in SYSTEM_CELLS])
def test_system_action_once_deadlines_pass(build: Any, action: str, state: str) -> None:
    a = build.assignment(state)
    later = build.now + timedelta(days=400)  # past every offer expiry, due_at and grace the builder sets
    before = copy.deepcopy(a)
    expected = EXPECTED_SYSTEM_AFTER_DEADLINES.get((action, state))

    if expected is None:
        with pytest.raises(InvalidTransition):
            getattr(a, action)(later)
        assert a == before
        return

    event = getattr(a, action)(later)
    assert (a.state, event.type) == (State(expected[0]), expected[1])
    assert a.version == before.version + 1
    assert a.updated_at == later


@pytest.mark.parametrize(("action", "state"), SYSTEM_CELLS, ids=[f"{s}-{a}-before-deadlines" for a, s in SYSTEM_CELLS])
def test_system_action_refused_while_deadlines_are_ahead(build: Any, action: str, state: str) -> None:
    """The system never expires a live offer or times out work that is still within due_at + grace."""
    a = build.assignment(state)
    before = copy.deepcopy(a)
    with pytest.raises(InvalidTransition):
        getattr(a, action)(build.now)
    assert a == before


@pytest.mark.parametrize("action", ["expire", "time_out"])
def test_system_actions_are_not_offered_to_callers(build: Any, action: str) -> None:
    admin = Actor(tenant_id=uuid4(), type=ActorType.API_KEY, id=uuid4(), scopes=frozenset({Scope.ADMIN}))
    for state in EXPECTED:
        assert action not in build.assignment(state).allowed_actions(build.now + timedelta(days=400), admin)
