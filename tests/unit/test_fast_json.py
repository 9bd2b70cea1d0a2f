"""The hot representations are written straight from domain objects (app.api.schemas.assignments.assignment_json);
they must be byte for byte what the response models they stand for would write."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from app.api.schemas.assignments import (
    AssignmentList, AssignmentOut, ReviewQueue, ReviewQueueItem, assignment_json, list_json,
)
from app.domain import access
from app.domain.actors import Actor, ActorRef, ActorType, Scope, person_actor
from app.domain.assignment import State
from app.domain.work import Outcome
from app.services.assignments import AssignmentView


def _actors(a: Any) -> list[Actor]:
    return [
        Actor(tenant_id=a.tenant_id, type=ActorType.API_KEY, id=uuid4(), scopes=frozenset({Scope.ADMIN})),
        Actor(tenant_id=a.tenant_id, type=ActorType.API_KEY, id=uuid4(), scopes=frozenset({Scope.ASSIGNMENTS_READ})),
        person_actor(a.tenant_id, a.assignee_id, False),
        person_actor(a.tenant_id, a.reviewer_id, False),
        person_actor(a.tenant_id, uuid4(), True),
    ]


def _variants(make_assignment: Any, state: State) -> list[Any]:
    a = make_assignment(state)
    return [
        a,
        dataclasses.replace(
            a, context_note='Why "this" — now\n\ttabbed \u2603', external_ref="crm/42", score=80, late=True,
            outcome=Outcome.REVISE, offered_by=ActorRef(ActorType.API_KEY, uuid4(), uuid4()),
        ),
        dataclasses.replace(a, score=66.66666666666667, attempt=2, version=7, external_ref=None, context_note=None),
    ]


@pytest.mark.parametrize("state", list(State))
def test_an_assignment_is_written_as_its_model_writes_it(build: Any, state: State) -> None:
    now = build.now
    for a in _variants(build.assignment, state):
        for actor in _actors(a):
            for at in (now, now + timedelta(days=30)):  # the second reads offers as expired, work as timed out
                view = AssignmentView(a, access.standing(actor, a, ()))
                assert assignment_json(view, at, actor) == AssignmentOut.of(view, at, actor).model_dump_json().encode()


def test_lists_and_the_review_queue_are_written_as_their_models_write_them(build: Any) -> None:
    now = build.now
    assignments = [v for state in State for v in _variants(build.assignment, state)]
    actor = _actors(assignments[0])[0]
    views = [AssignmentView(a, access.standing(actor, a, ())) for a in assignments]
    for cursor in (None, "eyJhIjoxfQ"):
        fast = list_json([assignment_json(v, now, actor) for v in views], cursor)
        model = AssignmentList(items=[AssignmentOut.of(v, now, actor) for v in views], next_cursor=cursor)
        assert fast == model.model_dump_json().encode()
    assert list_json([], None) == AssignmentList(items=[], next_cursor=None).model_dump_json().encode()
    waited = timedelta(hours=5, minutes=3, seconds=2)
    fast = list_json([assignment_json(v, now, actor, {"waited": waited}) for v in views], None)
    model = ReviewQueue(items=[ReviewQueueItem(**AssignmentOut.fields_of(v, now, actor), waited=waited) for v in views], next_cursor=None)
    assert fast == model.model_dump_json().encode()
