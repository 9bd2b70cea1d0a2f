"""A worker killed with SIGKILL at any moment loses no claimed work and does none twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from app.domain.actors import ActorRef, ActorType
from app.domain.assignment import Assignment, State
from app.domain.briefs import Brief, BriefContent, BriefStatus, Criterion, Rubric, RubricLevel
from app.domain.deadlines import ReminderPolicy
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql import migrations
from app.repositories.sql import tables as t
from app.repositories.sql.database import Database, make_engine
from app.repositories.sql.mapping import assignment_values, brief_values
from app.services.sweeper import tick

ROOT = Path(__file__).resolve().parents[1]


async def _seed(url: str, count: int) -> None:
    engine = make_engine(url)
    await migrations.upgrade(engine)
    ids, now = Uuid7Ids(), datetime.now(UTC)
    tenant, person, manager, skill, brief_id = (ids.new_id() for _ in range(5))
    content = BriefContent(title="T", instructions="I", skill_id=skill, target_level=1, timebox=timedelta(hours=1),
                           rubric=Rubric((Criterion("a", "A", 1.0, (RubricLevel(0, "no"), RubricLevel(1, "yes"))),)))
    async with engine.begin() as conn:
        await conn.execute(insert(t.tenants).values(id=tenant, slug="k", name="K", created_at=now))
        await conn.execute(insert(t.event_counters).values(tenant_id=tenant, last_seq=0, webhooks_version=0))
        for pid, boss in ((manager, None), (person, manager)):
            await conn.execute(insert(t.people).values(tenant_id=tenant, id=pid, external_id=str(pid), display_name="P",
                                                       manager_id=boss, active=True, version=1, created_at=now, updated_at=now))
        await conn.execute(insert(t.skills).values(tenant_id=tenant, id=skill, key="s", name="S", levels=[{"level": 1, "name": "B"}],
                                                   version=1, created_at=now, updated_at=now))
        brief = Brief(id=brief_id, tenant_id=tenant, content=content, status=BriefStatus.PUBLISHED, revision=1,
                      published_revision=1, published=content, version=1, created_at=now, updated_at=now)
        await conn.execute(insert(t.briefs).values(brief_values(brief)))
        rows = []
        for _ in range(count):
            offer = Assignment(id=ids.new_id(), tenant_id=tenant, brief_id=brief_id, brief_version=1, brief=content,
                               assignee_id=person, reviewer_id=manager, offered_by=ActorRef(ActorType.SYSTEM, None),
                               state=State.OFFERED, offer_expires_at=now - timedelta(minutes=1), created_at=now - timedelta(days=1),
                               updated_at=now - timedelta(days=1), offer_expiring_notified=True)
            rows.append(assignment_values(offer, ReminderPolicy()))
        await conn.execute(insert(t.assignments), rows)
    await engine.dispose()


async def _counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        expired = (await conn.execute(select(func.count()).where(t.events.c.type == "assignment.expired"))).scalar()
        subjects = (await conn.execute(select(func.count(t.events.c.subject_id.distinct())).where(t.events.c.type == "assignment.expired"))).scalar()
        offered = (await conn.execute(select(func.count()).where(t.assignments.c.state == "offered"))).scalar()
    await engine.dispose()
    return expired, subjects, offered


def test_sigkill_mid_sweep_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kill.db'}"
    count = 6000
    asyncio.run(_seed(url, count))
    env = os.environ | {"STINT_DATABASE_URL": url, "STINT_SWEEP_BATCH_SIZE": "200", "STINT_SWEEP_INTERVAL_SECONDS": "0.05"}
    worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = datetime.now() + timedelta(seconds=30)
        while asyncio.run(_counts(url))[0] == 0 and datetime.now() < deadline:  # kill it once it is under way
            pass
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    during = asyncio.run(_counts(url))
    assert 0 < during[0] <= count

    async def finish() -> None:
        database = Database(make_engine(url))
        await tick(database.sweep_uow, SystemClock(), Uuid7Ids(), database.policy, 500)
        await database.dispose()

    asyncio.run(finish())
    assert asyncio.run(_counts(url)) == (count, count, 0)
