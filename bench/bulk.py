"""Bulk benchmark: people and offers through the batch API, beside a plain asyncpg executemany, in one run.

    python -m bench.bulk [--people 100000] [--offers 100000] [--batch 1000] [--engine postgresql|sqlite]

In a database of its own (PostgreSQL: stint_bench_bulk; SQLite: a file under bench/results/), two
tenants. Into the first, a bare driver `executemany` (asyncpg; for SQLite, the sqlite3 module, with
the values already in the column's stored form) writes the rows (people with their managers, then
offers with their pinned brief) in chunks of `--batch`: the fastest way to put the same rows into
the same tables. Into the second,
Stint (under uvicorn, one worker, in a process of its own) takes the same records through
`POST /v1/people/batch` and `POST /v1/assignments/batch`, `--batch` items a call, with everything it
does besides: validation, managers resolved by external_id, one event per row, and the answer per
item. Prints both rates and their ratio (target: the API at least 35% of the raw rate), and the
server's resident memory after each phase (VmRSS) and at its peak (VmHWM): it should stay flat
however many rows go through. Writes a JSON report to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from app.domain.actors import ActorRef, ActorType
from app.domain.assignment import Assignment, State
from app.domain.deadlines import ReminderPolicy
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql.database import Database, make_engine
from app.repositories.sql.mapping import assignment_values
from app.repositories.sql.migrations import upgrade
from app.services import tenants
from bench.pg import SERVER, fresh_database
from bench.servers import Server

DATABASE = "stint_bench_bulk"
RESULTS = Path(__file__).resolve().parent / "results"
TARGET = 0.35
LEVELS = [{"level": 1, "name": "Basic"}, {"level": 2, "name": "Working"}]
RUBRIC = {"criteria": [{"key": "fix", "title": "Fix works", "levels": [{"score": 0, "label": "No"}, {"score": 2, "label": "Yes"}]}]}
PEOPLE_COLUMNS = ("tenant_id", "id", "external_id", "display_name", "email", "manager_id", "team", "title", "active",
                  "version", "created_at", "updated_at", "is_admin")


def person_records(count: int) -> list[dict[str, Any]]:
    """Person i reports to person i // 10 (so every manager comes earlier in the file, in an earlier or the same batch)."""
    return [
        {"external_id": f"wd-{i:07d}", "display_name": f"Person {i}", "email": f"person{i}@example.com",
         "team": f"Team {i // 100}", "title": "Engineer", **({"manager_external_id": f"wd-{i // 10:07d}"} if i else {})}
        for i in range(count)
    ]


def rss_mb(server: Server, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {field}")


async def setup(url: str) -> tuple[str, UUID]:
    """The API's tenant with an admin key; the raw path's tenant (same tables) created alongside."""
    database = Database(make_engine(url))
    try:
        clock, ids = SystemClock(), Uuid7Ids()
        await tenants.create_tenant(database.directory, clock, ids, "api", "API")
        _, secret = await tenants.create_key(database.directory, clock, ids, "api", "bench", ["admin"])
        raw = await tenants.create_tenant(database.directory, clock, ids, "raw", "Raw")
    finally:
        await database.dispose()
    return secret, raw.id


# -- the raw path ----------------------------------------------------------------
class PostgresRaw:
    """asyncpg's executemany: it encodes the values itself, inside the timing."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    def stored(self, table: str, columns: list[str], rows: list[tuple]) -> list[tuple]:
        json_columns = {"brief", "levels", "content", "published"}
        return [tuple(json.dumps(v) if c in json_columns and v is not None else v for c, v in zip(columns, row)) for row in rows]

    async def executemany(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        placeholders = ", ".join(f"${i + 1}::jsonb" if c in ("brief", "levels", "content", "published") else f"${i + 1}" for i, c in enumerate(columns))
        await self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)

    async def close(self) -> None:
        await self.conn.close()


class SqliteRaw:
    """sqlite3's executemany, with the values already in the form SQLAlchemy stores them on SQLite
    (UUIDs as hex, datetimes as text, JSON as text): that conversion is done before the timing."""

    def __init__(self, path: str) -> None:
        import sqlite3

        from sqlalchemy.dialects import sqlite

        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.dialect = sqlite.dialect()

    def stored(self, table: str, columns: list[str], rows: list[tuple]) -> list[tuple]:
        from app.repositories.sql import tables as t

        processors = [getattr(t, table).c[c].type.bind_processor(self.dialect) for c in columns]
        return [tuple(v if p is None or v is None else p(v) for p, v in zip(processors, row)) for row in rows]

    async def executemany(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})", rows)
        self.db.execute("COMMIT")

    async def close(self) -> None:
        self.db.close()


async def raw_people(raw: Any, tenant: UUID, records: list[dict[str, Any]], batch: int) -> tuple[float, dict[str, UUID]]:
    ids, now = Uuid7Ids(), datetime.now(UTC)
    by_external = {r["external_id"]: ids.new_id() for r in records}
    rows = raw.stored("people", list(PEOPLE_COLUMNS), [
        (tenant, by_external[r["external_id"]], r["external_id"], r["display_name"], r["email"],
         by_external.get(r.get("manager_external_id", "")), r["team"], r["title"], True, 1, now, now, False)
        for r in records
    ])
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        await raw.executemany("people", list(PEOPLE_COLUMNS), rows[start:start + batch])
    return len(rows) / (time.perf_counter() - started), by_external


async def raw_offers(raw: Any, tenant: UUID, count: int, people: dict[str, UUID], records: list[dict[str, Any]], batch: int) -> float:
    """The same offers as the API makes: every column of an assignment row, its pinned brief included."""
    from app.api.schemas.catalog import BriefCreate
    from app.repositories.sql.mapping import brief_values, skill_values
    from app.domain.briefs import Brief, BriefStatus
    from app.domain.skills import Skill, SkillLevel

    ids, now = Uuid7Ids(), datetime.now(UTC)
    skill = Skill(ids.new_id(), tenant, "sql", "SQL", None, None, None, tuple(SkillLevel(**level) for level in LEVELS), 1, now, now)
    content = BriefCreate.model_validate({"title": "T", "instructions": "I", "skill_id": str(skill.id), "target_level": 2,
                                          "timebox": "PT3H", "rubric": RUBRIC}).content()
    brief = Brief(ids.new_id(), tenant, content, BriefStatus.PUBLISHED, 1, 1, content, 1, now, now)
    for table, values in (("skills", skill_values(skill)), ("briefs", brief_values(brief))):
        columns = list(values)
        await raw.executemany(table, columns, raw.stored(table, columns, [tuple(values.values())]))
    managers = {r["external_id"]: people.get(r.get("manager_external_id", "")) for r in records}
    assignees = [(people[r["external_id"]], managers[r["external_id"]]) for r in records if managers[r["external_id"]]]
    template = assignment_values(Assignment(
        id=ids.new_id(), tenant_id=tenant, brief_id=brief.id, brief_version=1, brief=content, assignee_id=assignees[0][0],
        reviewer_id=assignees[0][1], offered_by=ActorRef(ActorType.API_KEY, ids.new_id()), state=State.OFFERED,
        offer_expires_at=now + timedelta(days=7), created_at=now, updated_at=now, external_ref="x",
    ), ReminderPolicy())
    columns = list(template)
    rows = []
    for i in range(count):
        assignee, reviewer = assignees[i % len(assignees)]
        values = template | {"id": ids.new_id(), "assignee_id": assignee, "reviewer_id": reviewer, "external_ref": f"offer-{i}"}
        rows.append(tuple(values[c] for c in columns))
    rows = raw.stored("assignments", columns, rows)
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        await raw.executemany("assignments", columns, rows[start:start + batch])
    return count / (time.perf_counter() - started)


# -- the API path ----------------------------------------------------------------
async def api_batches(client: httpx.AsyncClient, path: str, items: list[dict[str, Any]], batch: int) -> float:
    bodies = [json.dumps({"items": items[start:start + batch]}).encode() for start in range(0, len(items), batch)]
    started = time.perf_counter()
    for body in bodies:
        response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
        response.raise_for_status()
        counts = response.json()["counts"]
        assert counts["error"] == 0, response.json()["results"][:3]
    return len(items) / (time.perf_counter() - started)


async def main(people: int, offers: int, batch: int, engine: str = "postgresql") -> dict[str, Any]:
    if engine == "sqlite":
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "bulk-bench.db"
        for leftover in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
            leftover.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
        migrated = make_engine(url)
        await upgrade(migrated)
        await migrated.dispose()
    else:
        url = await fresh_database(DATABASE)
    secret, raw_tenant = await setup(url)
    records = person_records(people)
    raw: Any = SqliteRaw(str(path)) if engine == "sqlite" else PostgresRaw(await asyncpg.connect(f"{SERVER}/{DATABASE}"))
    try:
        raw_people_rate, people_ids = await raw_people(raw, raw_tenant, records, batch)
        raw_offers_rate = await raw_offers(raw, raw_tenant, offers, people_ids, records, batch)
    finally:
        await raw.close()
    if engine == "postgresql":
        conn = await asyncpg.connect(f"{SERVER}/{DATABASE}")
        await conn.execute("ANALYZE")
        await conn.close()

    server = Server("project", "app.main:create_app", {"STINT_DATABASE_URL": url, "STINT_RATE_LIMIT_PER_SECOND": "0", "STINT_LOG_LEVEL": "warning"}, factory=True)
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=300) as client:
            warm = [{"external_id": f"warm-{i}", "display_name": "Warm"} for i in range(batch)]
            await api_batches(client, "/v1/people/batch", warm, batch)
            rss_start = rss_mb(server)
            api_people_rate = await api_batches(client, "/v1/people/batch", records, batch)
            rss_after_people = rss_mb(server)
            skill = (await client.post("/v1/skills", json={"key": "sql", "name": "SQL", "levels": LEVELS})).json()
            brief = (await client.post("/v1/briefs", json={"title": "T", "instructions": "I", "skill_id": skill["id"], "target_level": 2,
                                                            "timebox": "PT3H", "rubric": RUBRIC})).json()
            (await client.post(f"/v1/briefs/{brief['id']}/publish")).raise_for_status()
            offer_items = [{"brief_id": brief["id"], "assignee_external_id": f"wd-{1 + i % (people - 1):07d}", "external_ref": f"offer-{i}"}
                           for i in range(offers)]
            api_offers_rate = await api_batches(client, "/v1/assignments/batch", offer_items, batch)
            rss_end, rss_peak = rss_mb(server), rss_mb(server, "VmHWM")
    finally:
        server.stop()
    return {
        "benchmark": "bulk", "engine": engine, "at": datetime.now(UTC).isoformat(), "people": people, "offers": offers, "batch": batch,
        "phases": [
            {"phase": "people", "raw_rows_per_s": round(raw_people_rate), "api_rows_per_s": round(api_people_rate),
             "ratio": round(api_people_rate / raw_people_rate, 3)},
            {"phase": "offers", "raw_rows_per_s": round(raw_offers_rate), "api_rows_per_s": round(api_offers_rate),
             "ratio": round(api_offers_rate / raw_offers_rate, 3)},
        ],
        "server_rss_mb": {"after_warm_up": rss_start, "after_people": rss_after_people, "after_offers": rss_end, "peak": rss_peak},
        "target_ratio": TARGET,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()
    report = asyncio.run(main(args.people, args.offers, args.batch, args.engine))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"bulk-{args.engine}-{report['at'][:19].replace(':', '')}.json").write_text(json.dumps(report, indent=2))
    print(f"{args.engine}: {args.people:,} people, then {args.offers:,} offers, {args.batch} per call")
    print(f"{'phase':10}{'raw rows/s':>12}{'API rows/s':>12}{'ratio':>8}{'target':>8}")
    for phase in report["phases"]:
        print(f"{phase['phase']:10}{phase['raw_rows_per_s']:>12,}{phase['api_rows_per_s']:>12,}{phase['ratio']:>8.2f}{TARGET:>8.2f}")
    rss = report["server_rss_mb"]
    print(f"server RSS (MB): {rss['after_warm_up']} after warm-up, {rss['after_people']} after people, "
          f"{rss['after_offers']} after offers; peak {rss['peak']}")
