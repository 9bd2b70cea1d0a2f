"""Sweep benchmark: the deadline sweeper against a plain UPDATE of the same rows, in one run.

    python -m bench.sweep [--rows 100000] [--workers 1 2] [--batch 1000]

Seeds N offers already past their expiry into a PostgreSQL database of its own (stint_bench_sweep),
times a plain `UPDATE … WHERE offer_expires_at < now()` over them and puts them back; then, for each
worker count, times that many concurrent sweepers expiring them (state, version, next deadline and
one event per row) and puts them back again. Prints each rate and its ratio to the plain UPDATE
(target: at least 1/3) and writes a JSON report to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from app.domain.actors import ActorRef, ActorType
from app.domain.assignment import Assignment, State
from app.domain.briefs import BriefContent, Criterion, Rubric, RubricLevel
from app.domain.deadlines import ReminderPolicy
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql.database import Database, make_engine
from app.repositories.sql.mapping import assignment_values
from app.services.sweeper import tick
from bench.pg import SERVER, fresh_database

DATABASE = "stint_bench_sweep"
RESULTS = Path(__file__).resolve().parent / "results"


async def prepare_database() -> str:
    return await fresh_database(DATABASE)


async def seed(rows: int) -> None:
    """One tenant, two people, a skill and a brief; then `rows` offers that expired a minute ago, by COPY."""
    ids, now = Uuid7Ids(), datetime.now(UTC)
    tenant, manager, person, skill, brief = (ids.new_id() for _ in range(5))
    conn = await asyncpg.connect(f"{SERVER}/{DATABASE}")
    try:
        await conn.execute("INSERT INTO tenants (id, slug, name, created_at) VALUES ($1, 'bench', 'Bench', $2)", tenant, now)
        for pid, manager_id in ((manager, None), (person, manager)):
            await conn.execute(
                "INSERT INTO people (tenant_id, id, external_id, display_name, manager_id, active, version, created_at, updated_at)"
                " VALUES ($1, $2, $3, 'P', $4, true, 1, $5, $5)", tenant, pid, str(pid), manager_id, now,
            )
        await conn.execute(
            "INSERT INTO skills (tenant_id, id, key, name, levels, version, created_at, updated_at)"
            " VALUES ($1, $2, 'sql', 'SQL', '[{\"level\": 1, \"name\": \"B\"}]', 1, $3, $3)", tenant, skill, now,
        )
        content = BriefContent(
            title="Bench", instructions="Do it", skill_id=skill, target_level=1, timebox=timedelta(hours=3),
            rubric=Rubric((Criterion("a", "A", 1.0, (RubricLevel(0, "no"), RubricLevel(1, "yes"))),)),
        )
        model = Assignment(
            id=ids.new_id(), tenant_id=tenant, brief_id=brief, brief_version=1, brief=content, assignee_id=person,
            reviewer_id=manager, offered_by=ActorRef(ActorType.SYSTEM, None), state=State.OFFERED,
            offer_expires_at=now - timedelta(minutes=1), created_at=now - timedelta(days=1), updated_at=now - timedelta(days=1),
            offer_expiring_notified=True,
        )
        first = assignment_values(model, ReminderPolicy())
        brief_json = json.dumps(first["brief"])
        await conn.execute(
            "INSERT INTO briefs (tenant_id, id, skill_id, status, revision, published_revision, content, published, version, created_at, updated_at)"
            " VALUES ($1, $2, $3, 'published', 1, 1, $4::jsonb, $4::jsonb, 1, $5, $5)", tenant, brief, skill, brief_json, now,
        )
        columns = list(first)
        records = []
        for _ in range(rows):
            first["id"] = ids.new_id()
            records.append(tuple(brief_json if name == "brief" else first[name] for name in columns))
        await conn.copy_records_to_table("assignments", records=records, columns=columns)
        await conn.execute("VACUUM ANALYZE assignments")
    finally:
        await conn.close()


async def plain_update(rows: int) -> float:
    """The fastest thing that could do the state change: one UPDATE. Returns rows per second."""
    conn = await asyncpg.connect(f"{SERVER}/{DATABASE}")
    try:
        started = time.perf_counter()
        status = await conn.execute(
            "UPDATE assignments SET state = 'expired', version = version + 1, updated_at = now(), next_deadline_at = NULL"
            " WHERE state = 'offered' AND offer_expires_at < now()"
        )
        elapsed = time.perf_counter() - started
        assert int(status.split()[-1]) == rows, status
    finally:
        await conn.close()
    await restore()
    return rows / elapsed


async def restore() -> None:
    """Put the rows back as seeded: offered, past their expiry, due for the sweeper; no events."""
    conn = await asyncpg.connect(f"{SERVER}/{DATABASE}")
    try:
        await conn.execute(
            "UPDATE assignments SET state = 'offered', version = 1, updated_at = created_at,"
            " next_deadline_at = offer_expires_at WHERE state = 'expired'"
        )
        await conn.execute("DELETE FROM events")
        await conn.execute("VACUUM ANALYZE assignments")
        await conn.execute("VACUUM ANALYZE events")
    finally:
        await conn.close()


async def sweeper(url: str, rows: int, workers: int, batch: int) -> float:
    database = Database(make_engine(url))
    try:
        started = time.perf_counter()
        reports = await asyncio.gather(*(tick(database.sweep_uow, SystemClock(), Uuid7Ids(), database.policy, batch) for _ in range(workers)))
        elapsed = time.perf_counter() - started
    finally:
        await database.dispose()
    moved = sum(report.transitioned for report in reports)
    assert moved == rows, (moved, rows)
    conn = await asyncpg.connect(f"{SERVER}/{DATABASE}")
    try:
        events = await conn.fetchval("SELECT count(*) FROM events WHERE type = 'assignment.expired'")
    finally:
        await conn.close()
    assert events == rows, (events, rows)
    await restore()
    return rows / elapsed


async def main(rows: int, workers: list[int], batch: int) -> dict:
    url = await prepare_database()
    seeded = time.perf_counter()
    await seed(rows)
    seed_seconds = time.perf_counter() - seeded
    baseline = await plain_update(rows)
    runs = []
    for count in workers:
        swept = await sweeper(url, rows, count, batch)
        runs.append({"workers": count, "transitions_per_s": round(swept), "ratio": round(swept / baseline, 3)})
    return {
        "benchmark": "sweep", "at": datetime.now(UTC).isoformat(), "rows": rows, "batch": batch,
        "seed_seconds": round(seed_seconds, 2), "plain_update_rows_per_s": round(baseline), "sweeper": runs,
        "target_ratio": round(1 / 3, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="sweepers running at once, one run each")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    report = asyncio.run(main(args.rows, args.workers, args.batch))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"sweep-{report['at'][:19].replace(':', '')}.json").write_text(json.dumps(report, indent=2))
    print(f"{args.rows:,} due offers, batch {args.batch}")
    print(f"{'':24}{'rate/s':>10}{'ratio':>8}")
    print(f"{'plain UPDATE':24}{report['plain_update_rows_per_s']:>10,}{1:>8.2f}")
    for run in report["sweeper"]:
        print(f"{'sweeper, ' + str(run['workers']) + ' worker(s)':24}{run['transitions_per_s']:>10,}{run['ratio']:>8.2f}")
    print(f"target: ratio >= {report['target_ratio']}")
