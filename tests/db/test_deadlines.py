"""Deadlines enforce themselves: a fake clock moves across each one and the sweeper acts exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

import pytest
from sqlalchemy import and_, func, insert, select

from app.domain.deadlines import ReminderPolicy

from app.repositories.clock import Uuid7Ids
from app.repositories.sql import tables as t
from app.repositories.sql.database import Database
from app.services.sweeper import sweep_batch, tick
from tests.support import Api, iso, problem


async def sweep(api: Api, database: Database, batch_size: int = 100) -> None:
    await tick(database.sweep_uow, api.clock, Uuid7Ids(), database.policy, batch_size)


def kinds(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


async def test_an_offer_warns_then_expires_exactly_once(api: Api, database: Database) -> None:
    assert database.policy == ReminderPolicy()  # offer.expiring 24 h before, due_soon at 20% / 15 min
    assignment = await api.offered(offer_expires_at=iso(api.clock.now() + timedelta(days=3)))
    await sweep(api, database)
    assert kinds(await api.events(assignment["id"])) == ["assignment.offered"]

    api.clock.advance(days=2, minutes=1)
    await sweep(api, database)
    await sweep(api, database)
    events = await api.events(assignment["id"])
    assert kinds(events) == ["assignment.offered", "offer.expiring"]
    assert events[-1]["actor"] == {"type": "system", "id": None, "on_behalf_of": None}
    assert (await api.assignment(assignment["id"]))["version"] == assignment["version"], "reminders do not bump the version"

    api.clock.advance(days=1)
    await sweep(api, database)
    await sweep(api, database)
    events = await api.events(assignment["id"])
    assert kinds(events) == ["assignment.offered", "offer.expiring", "assignment.expired"]
    assert events[-1]["occurred_at"] == iso(api.clock.now())
    stored = await api.assignment(assignment["id"])
    assert (stored["state"], stored["version"]) == ("expired", assignment["version"] + 1)


async def test_due_soon_then_time_out_after_the_grace(api: Api, database: Database) -> None:
    assignment = await api.accepted(brief={"timebox": "PT3H", "late_grace": "PT1H"})
    # due_soon at 20% of 3 h = 36 min before due_at
    api.clock.advance(hours=2, minutes=20)
    await sweep(api, database)
    assert kinds(await api.events(assignment["id"]))[-1] == "assignment.accepted"
    api.clock.advance(minutes=5)
    await sweep(api, database)
    await sweep(api, database)
    events = await api.events(assignment["id"])
    assert kinds(events)[-1] == "assignment.due_soon" and kinds(events).count("assignment.due_soon") == 1
    assert events[-1]["details"]["attempt"] == 1
    api.clock.advance(minutes=35 + 59)  # inside the grace: late but open
    await sweep(api, database)
    assert (await api.assignment(assignment["id"]))["state"] == "accepted"
    api.clock.advance(minutes=1)
    await sweep(api, database)
    assert kinds(await api.events(assignment["id"]))[-1] == "assignment.timed_out"
    problem(await api.post(f"/v1/assignments/{assignment['id']}/submissions", {"body": "x"}), 409, "assignment.invalid_transition")


async def test_short_timebox_reminds_at_least_15_minutes_before(api: Api, database: Database) -> None:
    assignment = await api.accepted(brief={"timebox": "PT30M"})
    api.clock.advance(minutes=14)  # 20% of 30 min is 6 min; the floor of 15 min applies
    await sweep(api, database)
    assert "assignment.due_soon" not in kinds(await api.events(assignment["id"]))
    api.clock.advance(minutes=1)
    await sweep(api, database)
    assert kinds(await api.events(assignment["id"]))[-1] == "assignment.due_soon"


async def test_review_overdue_fires_once_and_changes_no_state(api: Api, database: Database) -> None:
    assignment = await api.submitted()
    api.clock.advance(days=2)
    await sweep(api, database)
    await sweep(api, database)
    assert kinds(await api.events(assignment["id"]))[-1] == "review.overdue"
    assert kinds(await api.events(assignment["id"])).count("review.overdue") == 1
    assert (await api.assignment(assignment["id"]))["state"] == "submitted"


async def test_extensions_re_arm_reminders_and_reopen_a_timed_out_assignment(api: Api, database: Database) -> None:
    assignment = await api.accepted(brief={"timebox": "PT3H"})
    first_due = api.clock.now() + timedelta(hours=3)
    api.clock.advance(hours=2, minutes=30)
    await sweep(api, database)
    new_due = api.clock.now() + timedelta(hours=2)
    await api.act(assignment["id"], "extend", {"due_at": iso(new_due), "reason": "Waiting on data access"})
    api.clock.advance(hours=1, minutes=44)  # due_soon re-armed: 20% of the 4.5 h window is 54 min
    await sweep(api, database)
    assert kinds(await api.events(assignment["id"])).count("assignment.due_soon") == 2
    api.clock.advance(hours=1)
    await sweep(api, database)
    assert (await api.assignment(assignment["id"]))["state"] == "timed_out"

    reopened_due = api.clock.now() + timedelta(days=1)
    reopened = await api.act(assignment["id"], "extend", {"due_at": iso(reopened_due), "reason": "Second chance"})
    assert reopened["state"] == "accepted"
    extensions = (await api.get(f"/v1/assignments/{assignment['id']}/extensions")).json()["items"]
    assert [(x["previous_due_at"], x["due_at"], x["reason"], x["reopened"]) for x in extensions] == [
        (iso(first_due), iso(new_due), "Waiting on data access", False),
        (iso(new_due), iso(reopened_due), "Second chance", True),
    ]
    assert all(x["extended_by"]["type"] == "api_key" for x in extensions)
    await api.act(assignment["id"], "submissions", {"body": "done"}, expect=201)


async def test_a_new_attempt_gets_its_own_due_soon(api: Api, database: Database) -> None:
    from tests.support import PASSING_SCORES

    assignment = await api.accepted(brief={"timebox": "PT1H"})
    api.clock.advance(minutes=46)
    await sweep(api, database)
    await api.act(assignment["id"], "submissions", {"body": "v1"}, expect=201)
    await api.act(assignment["id"], "reviews", {"outcome": "revise", "scores": PASSING_SCORES, "feedback": "more"}, expect=201)
    api.clock.advance(minutes=46)
    await sweep(api, database)
    due_soon = [e for e in await api.events(assignment["id"]) if e["type"] == "assignment.due_soon"]
    assert [e["details"]["attempt"] for e in due_soon] == [1, 2]


class _Crash(Exception):
    pass


class CrashingIds:
    """An id generator that fails once the batch is claimed: the worker dies mid-batch."""

    def new_id(self) -> UUID:
        raise _Crash()


async def test_a_worker_dying_mid_batch_loses_nothing(api: Api, database: Database) -> None:
    assignment = await api.offered(offer_expires_at=iso(api.clock.now() + timedelta(hours=1)))
    api.clock.advance(hours=2)
    with pytest.raises(_Crash):
        await sweep_batch(database.sweep_uow(), api.clock, CrashingIds(), database.policy, 1000)
    assert kinds(await api.events(assignment["id"])) == ["assignment.offered"]
    async with database.engine.connect() as conn:
        state = (await conn.execute(select(t.assignments.c.state).where(t.assignments.c.id == UUID(assignment["id"])))).scalar()
    assert state == "offered", "the dead batch rolled back"
    await sweep(api, database)
    assert kinds(await api.events(assignment["id"])) == ["assignment.offered", "assignment.expired"]


async def test_reads_show_the_effective_state_before_the_sweeper_runs(api: Api, database: Database) -> None:
    assignment = await api.accepted()
    api.clock.advance(hours=4)
    listed = (await api.get("/v1/assignments", params={"state": "timed_out", "assignee_id": assignment["assignee_id"]})).json()["items"]
    assert [a["id"] for a in listed] == [assignment["id"]]
    await sweep(api, database)
    listed = (await api.get("/v1/assignments", params={"state": "timed_out", "assignee_id": assignment["assignee_id"]})).json()["items"]
    assert [(a["id"], a["version"]) for a in listed] == [(assignment["id"], assignment["version"] + 1)]


async def test_four_workers_sweep_10000_due_assignments_exactly_once(api: Api, database: Database) -> None:
    from app.repositories.sql.mapping import assignment_values

    template = await api.offered(offer_expires_at=iso(api.clock.now() + timedelta(hours=1)))
    async with database.engine.connect() as conn:
        tenant_id = (await conn.execute(select(t.assignments.c.tenant_id).where(t.assignments.c.id == UUID(template["id"])))).scalar()
    async with database.uow(tenant_id) as uow:
        model = await uow.assignments.get(UUID(template["id"]))
    assert model is not None
    ids = Uuid7Ids()
    rows = []
    for _ in range(10_000):
        model.id = ids.new_id()
        rows.append(assignment_values(model, database.policy))
    async with database.engine.begin() as conn:
        await conn.execute(insert(t.assignments), rows)

    api.clock.advance(hours=2)
    reports = await asyncio.gather(*(tick(database.sweep_uow, api.clock, Uuid7Ids(), database.policy, 250) for _ in range(4)))
    async with database.engine.connect() as conn:
        expired = and_(t.events.c.tenant_id == tenant_id, t.events.c.type == "assignment.expired")
        events = (await conn.execute(select(func.count()).where(expired))).scalar()
        subjects = (await conn.execute(select(func.count(t.events.c.subject_id.distinct())).where(expired))).scalar()
        states = dict((await conn.execute(
            select(t.assignments.c.state, func.count()).where(t.assignments.c.tenant_id == tenant_id).group_by(t.assignments.c.state)
        )).all())
    assert (events, subjects, states) == (10_001, 10_001, {"expired": 10_001})
    if database.engine.dialect.name == "postgresql":
        assert all(report.claimed > 0 for report in reports), "SKIP LOCKED lets every worker take a share"
