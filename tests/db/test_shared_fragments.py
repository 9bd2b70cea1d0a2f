"""The rules said once in the domain and once in SQL (app/repositories/sql/queries.py) agree, on both engines.

Assignments in every kind of state are read at three moments: now, after the offers' expiry, and after every
due date; for each, SQL's effective state and facing deadline must be what the domain computes."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from sqlalchemy import select

from app.domain.assignment import State
from app.repositories.sql import tables as t
from app.repositories.sql.database import Database
from app.repositories.sql.queries import effective_state_condition, facing_deadline
from tests.support import PASSING_SCORES, Api


async def test_effective_state_and_facing_deadline_in_sql_are_the_domains(api: Api, database: Database) -> None:
    offered = await api.offered()
    accepted = await api.accepted()
    submitted = await api.submitted()
    declined = await api.offered()
    await api.act(declined["id"], "decline")
    passed = await api.submitted()
    await api.act(passed["id"], "reviews", {"outcome": "pass", "scores": PASSING_SCORES, "feedback": "Clean."}, expect=201)
    ids = [UUID(a["id"]) for a in (offered, accepted, submitted, declined, passed)]
    tenant = await database.directory.tenant_by_slug(api.tenant_slug)
    assert tenant is not None
    async with database.uow(tenant.id, readonly=True) as uow:
        assignments = {i: await uow.assignments.get(i) for i in ids}
    a = t.assignments.c
    start = api.clock.now()
    moments = (start, start + timedelta(days=8), start + timedelta(days=400))  # offers (7 days) lapse, then every due_at
    for now in moments:
        states = {i: assignment.effective_state(now) for i, assignment in assignments.items() if assignment is not None}
        deadlines = {i: assignment.facing_deadline(now) for i, assignment in assignments.items() if assignment is not None}
        async with database.engine.connect() as conn:
            rows = (await conn.execute(
                select(a.id, facing_deadline(t.assignments, now).label("deadline"))
                .where(a.tenant_id == tenant.id, a.id.in_(ids))
            )).all()
            assert {row.id: row.deadline for row in rows} == deadlines, now
            for state in State:
                matching = (await conn.execute(
                    select(a.id).where(a.tenant_id == tenant.id, a.id.in_(ids), effective_state_condition(t.assignments, state, now))
                )).scalars().all()
                assert set(matching) == {i for i, s in states.items() if s is state}, (now, state)
    seen = {s for now in moments for s in (assignments[i].effective_state(now) for i in ids if assignments[i] is not None)}
    assert {State.OFFERED, State.EXPIRED, State.ACCEPTED, State.TIMED_OUT, State.SUBMITTED, State.DECLINED, State.PASSED} <= seen
