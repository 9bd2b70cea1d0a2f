"""The benchmark database: schema by `stint migrate`, rows by COPY, made the way the app makes them.

Every assignment row starts as a domain object moved through the lifecycle by the domain's own
methods (accept, submit, review...), turned into column values by app.repositories.sql.mapping and
bound through the table's column types, so the API reads the rows back exactly as if it had written
them (pinned brief JSON, timeout_at = due_at + late_grace, next_deadline_at...). That path is only
taken once per (brief, state): each row copies its template and changes id, assignee and reviewer,
which is what lets a million rows go in within seconds.

Seeded: people in teams of about a hundred (reviewer = the assignee's manager, as the API defaults),
one skill, published briefs, assignments in a mix of states, and a submission for every submitted
assignment (the review path needs it). One reviewer (World.hot_reviewer) reviews a tenth of the
assignments (HOT_SHARE), so their `submitted` queue is deep enough for a page 200. Event history, reviews and evidence of
finished assignments are not seeded: no benchmarked request reads them.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Callable
from uuid import UUID

import asyncpg
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic_core import to_json
from sqlalchemy import JSON, Table
from sqlalchemy.dialects.postgresql import asyncpg as pg_dialect
from uuid_utils import uuid7

from app.domain.actors import ActorRef, ActorType
from app.domain.assignment import Assignment, State
from app.domain.briefs import Brief, BriefContent, BriefStatus, Criterion, CriterionScore, Rubric, RubricLevel
from app.domain.deadlines import ReminderPolicy
from app.domain.people import Person
from app.domain.skills import Skill, SkillLevel
from app.domain.work import Outcome, Submission, SubmissionContent
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql import mapping, tables
from app.repositories.sql.database import Database
from app.services import tenants

SERVER = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "stint_bench"
DSN = f"{SERVER}/{DATABASE}"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DATABASE}"
ROOT = Path(__file__).absolute().parent.parent

HOT_SHARE = 0.1
BACKGROUND_MIX = {  # state -> weight; "lapsed" is stored `offered` but past its expiry (reads `expired`)
    "offered": 3, "lapsed": 1, "expired": 1, "declined": 1, "withdrawn": 1, "accepted": 3,
    "timed_out": 1, "submitted": 4, "revision_requested": 1, "passed": 3, "failed": 1,
}
POOL_STATES = {"accept": "offered", "submit": "accepted", "review": "submitted"}

SUBMISSION = SubmissionContent(body="Added an index on (week, account_id).", time_spent=timedelta(hours=2))
PASSING = [CriterionScore("correctness", 2), CriterionScore("clarity", 4)]
RUBRIC = Rubric(
    criteria=(
        Criterion("correctness", "Correctness", 3.0, (RubricLevel(0, "Wrong"), RubricLevel(1, "Partly"), RubricLevel(2, "Right"))),
        Criterion("clarity", "Clarity", 1.0, (RubricLevel(0, "Unclear"), RubricLevel(4, "Clear"))),
    ),
    pass_score=60,
)


@dataclass(frozen=True)
class Scale:
    name: str
    people: int
    briefs: int
    assignments: int


SCALES = {"full": Scale("full", 100_000, 1_000, 1_000_000), "small": Scale("small", 10_000, 100, 10_000)}
FIRST_STAGE = 10_000
"""Assignments present when the scale check takes its small-table measurement."""


ISSUER = "https://login.bench.example/"
AUDIENCE = "stint-bench"
MY_ASSIGNMENTS = 60
"""Assignments of every kind handed to World.me, so /v1/me/assignments?limit=50 returns a full page."""


@dataclass
class World:
    """What the scenarios need to know about the seeded tenant."""

    tenant_id: UUID
    key: str
    hot_reviewer: UUID
    me: UUID | None = None
    """A person with MY_ASSIGNMENTS assignments, signed in with `token` (EdDSA, from the tenant's PEM identity provider)."""
    token: str = ""
    sample: list[UUID] = field(default_factory=list)
    """Ids across every state, for the GET scenario."""
    pools: dict[str, list[UUID]] = field(default_factory=dict)
    """Transition -> ids in the state it starts from, reserved for it."""
    counts: dict[str, int] = field(default_factory=dict)


async def reset() -> None:
    """Create the database if missing, drop and recreate its schema, then `stint migrate`."""
    try:
        admin = await asyncpg.connect(f"{SERVER}/postgres")
    except OSError as exc:
        raise SystemExit(f"PostgreSQL is not reachable at {SERVER} ({exc}); the benchmark needs it.") from exc
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(DSN)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    stint = Path(sys.executable).with_name("stint")
    subprocess.run([str(stint), "migrate"], check=True, cwd=ROOT, env=os.environ | {"STINT_DATABASE_URL": URL}, stdout=subprocess.DEVNULL)


@cache
def _binder(table: Table) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Column values as the engine would send them: through the column types, JSON written by pydantic-core."""
    dialect = pg_dialect.dialect()
    steps: dict[str, Callable[[Any], Any]] = {}
    for column in table.c:
        if isinstance(column.type, JSON):  # the engine's json_serializer (app.repositories.sql.database)
            steps[column.name] = lambda value: None if value is None else to_json(value).decode()
        elif (process := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None:
            steps[column.name] = process
    return lambda values: {name: steps[name](value) if name in steps else value for name, value in values.items()}


async def _copy(conn: asyncpg.Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    bind = _binder(table)
    columns = list(rows[0])
    await conn.copy_records_to_table(table.name, records=[tuple(bind(row).values()) for row in rows], columns=columns)


class Seeder:
    """Seeds one tenant in stages; each stage adds assignments to what is there."""

    def __init__(self, scale: Scale, seed: int = 7) -> None:
        self.scale = scale
        self.now = datetime.now(UTC)
        self.ids = Uuid7Ids()
        self.rng = random.Random(seed)
        self.policy = ReminderPolicy()
        self.templates: dict[tuple[int, str], tuple[list[Any], list[Any] | None]] = {}

    async def base(self) -> World:
        """Tenant and admin key through app.services.tenants; people, the skill and briefs by COPY."""
        database = Database.from_url(URL)
        try:
            clock = SystemClock()
            tenant = await tenants.create_tenant(database.directory, clock, self.ids, "bench", "Benchmark")
            key, secret = await tenants.create_key(database.directory, clock, self.ids, "bench", "bench admin", ["admin"])
        finally:
            await database.dispose()
        self.tenant_id, self.actor = tenant.id, ActorRef(ActorType.API_KEY, key.id)
        at = self.now - timedelta(days=30)
        people = [self.ids.new_id() for _ in range(self.scale.people)]
        managers = max(1, self.scale.people // 100)
        self.manager_of = {pid: None if i == 0 else people[0] if i <= managers else people[1 + i % managers] for i, pid in enumerate(people)}
        self.hot_team = [pid for pid, manager in self.manager_of.items() if manager == people[1]]
        self.others = [pid for pid in people[1:] if self.manager_of[pid] != people[1]]
        skill = Skill(
            id=self.ids.new_id(), tenant_id=tenant.id, key="sql.tuning", name="SQL tuning", description=None, framework=None,
            framework_ref=None, levels=(SkillLevel(1, "Basic"), SkillLevel(2, "Working")), version=1, created_at=at, updated_at=at,
        )
        self.briefs = []
        for n in range(self.scale.briefs):
            content = BriefContent(
                title=f"Speed up report {n}", instructions="Find the slow join and fix it; explain the plan before and after.",
                skill_id=skill.id, target_level=2, timebox=timedelta(days=2), rubric=RUBRIC, summary="A slow weekly report.",
            )
            self.briefs.append(Brief(
                id=self.ids.new_id(), tenant_id=tenant.id, content=content, status=BriefStatus.PUBLISHED, revision=1,
                published_revision=1, published=content, version=2, created_at=at, updated_at=at,
            ))
        me = self.others[-1]
        key_pair = ed25519.Ed25519PrivateKey.generate()
        public_pem = key_pair.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        database = Database.from_url(URL)
        try:
            await tenants.set_identity_provider(database.directory, SystemClock(), "bench", issuer=ISSUER, audience=AUDIENCE, pem_keys=(public_pem,))
        finally:
            await database.dispose()
        token = jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": f"hr-{people.index(me)}", "exp": int((self.now + timedelta(days=1)).timestamp())},
            key_pair, algorithm="EdDSA",
        )
        conn = await asyncpg.connect(DSN)
        try:
            await _copy(conn, tables.people, [mapping.person_values(Person(
                id=pid, tenant_id=tenant.id, external_id=f"hr-{i}", display_name=f"Person {i}", email=f"p{i}@example.com",
                manager_id=self.manager_of[pid], team=None, title=None, active=True, version=1, created_at=at, updated_at=at,
            )) for i, pid in enumerate(people)])
            await _copy(conn, tables.skills, [mapping.skill_values(skill)])
            await _copy(conn, tables.briefs, [mapping.brief_values(brief) for brief in self.briefs])
        finally:
            await conn.close()
        return World(tenant.id, secret, people[1], me, token, counts={"people": len(people), "skills": 1, "briefs": len(self.briefs)})

    def _lifecycle(self, brief: Brief, state: str) -> tuple[Assignment, Submission | None]:
        """A fresh offer taken to `state` by the domain's own transitions; and the submission, when one is pending."""
        now, content = self.now, brief.published
        assert content is not None
        created = now - (timedelta(days=10) if state in ("lapsed", "expired", "timed_out") else timedelta(days=1))
        a = Assignment(
            id=UUID(int=1), tenant_id=self.tenant_id, brief_id=brief.id, brief_version=1, brief=content, assignee_id=UUID(int=2),
            reviewer_id=UUID(int=3), offered_by=self.actor, state=State.OFFERED, offer_expires_at=created + content.offer_ttl,
            created_at=created, updated_at=created,
        )
        submission: Submission | None = None
        if state in ("lapsed", "expired"):
            a.offer_expiring_notified = True
            if state == "expired":
                a.expire(a.offer_expires_at)
        elif state == "declined":
            a.decline(created + timedelta(hours=1))
        elif state == "withdrawn":
            a.withdraw(created + timedelta(hours=1), "The team changed.")
        elif state != "offered":
            a.accept(created + timedelta(hours=1))
            if state == "timed_out":
                assert a.timeout_at is not None
                a.time_out(a.timeout_at)
            elif state != "accepted":
                _, submission = a.submit(now - timedelta(hours=2), self.ids.new_id(), SUBMISSION, self.actor)
                if state != "submitted":
                    outcome = {"passed": Outcome.PASS, "failed": Outcome.FAIL, "revision_requested": Outcome.REVISE}[state]
                    a.review(now - timedelta(hours=1), submission=submission, outcome=outcome, scores=PASSING,
                             feedback="Clean.", by=self.actor, new_id=self.ids.new_id)
                    submission = None
        return a, submission

    def _template(self, brief_no: int, state: str) -> tuple[list[Any], list[Any] | None]:
        """The bound assignment row, and its pending submission's row, for a brief and a state."""
        key = (brief_no, state)
        if key not in self.templates:
            assignment, submission = self._lifecycle(self.briefs[brief_no], state)
            row = _binder(tables.assignments)(mapping.assignment_values(assignment, self.policy))
            self.columns = list(row)
            sub = None
            if submission is not None:
                sub_values = _binder(tables.submissions)(mapping.submission_values(submission))
                self.sub_columns, sub = list(sub_values), list(sub_values.values())
            self.templates[key] = (list(row.values()), sub)
        return self.templates[key]

    def _rows(self, states: list[str], hot_share: float) -> tuple[list[tuple], list[tuple], list[UUID]]:
        self._template(0, "submitted")  # fixes both column orders
        at = [self.columns.index(name) for name in ("id", "assignee_id", "reviewer_id")]
        sub_at = [self.sub_columns.index(name) for name in ("id", "assignment_id")]
        people = self.hot_team + self.others
        weights = [hot_share / len(self.hot_team)] * len(self.hot_team) + [(1 - hot_share) / len(self.others)] * len(self.others)
        assignees = self.rng.choices(people, weights, k=len(states))
        briefs = self.rng.choices(range(len(self.briefs)), k=len(states))
        assignments, submissions, made = [], [], []
        for state, brief_no, assignee in zip(states, briefs, assignees):
            template, sub_template = self._template(brief_no, state)
            ident = uuid7()  # uuid_utils' own UUIDv7: several times cheaper than a stdlib UUID; asyncpg takes its .bytes
            row = template.copy()
            row[at[0]], row[at[1]], row[at[2]] = ident, assignee, self.manager_of[assignee]
            assignments.append(tuple(row))
            if sub_template is not None:
                sub = sub_template.copy()
                sub[sub_at[0]], sub[sub_at[1]] = uuid7(), ident
                submissions.append(tuple(sub))
            made.append(ident)
        return assignments, submissions, made

    async def assignments(self, world: World, background: int, pools: int = 0) -> None:
        """Add `background` assignments in the mix, and `pools` fresh ones for each transition and app."""
        states = self.rng.choices(list(BACKGROUND_MIX), list(BACKGROUND_MIX.values()), k=background)
        rows, subs, made = self._rows(states, HOT_SHARE)
        if world.me is not None and "assignments" not in world.counts:  # the first stage
            at = [self.columns.index(name) for name in ("assignee_id", "reviewer_id")]
            for n in range(min(MY_ASSIGNMENTS, len(rows))):  # the first stage's first rows: a mix of states, none in a pool
                row = list(rows[n])
                row[at[0]], row[at[1]] = world.me, self.manager_of[world.me]
                rows[n] = tuple(row)
        world.sample += made[:: max(1, self.scale.assignments // 10_000)]
        for transition, state in POOL_STATES.items():
            for app in ("project", "baseline"):
                pool_rows, pool_subs, world.pools[f"{transition}/{app}"] = self._rows([state] * pools, 0.0)
                rows += pool_rows
                subs += pool_subs
        conn = await asyncpg.connect(DSN)
        try:
            await _bulk_copy(conn, "assignments", rows, self.columns)
            await _bulk_copy(conn, "submissions", subs, self.sub_columns)
            for table in ("assignments", "submissions"):
                world.counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
        finally:
            await conn.close()


async def _bulk_copy(conn: asyncpg.Connection, table: str, rows: list[tuple], columns: list[str]) -> None:
    """COPY with the secondary indexes rebuilt afterwards (several times faster than maintaining them row by row)
    and without the per-row foreign-key triggers (the rows are consistent by construction; needs a superuser)."""
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint)", table,
    )
    for index in indexes:
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    await conn.execute("SET session_replication_role = replica")
    await conn.copy_records_to_table(table, records=rows, columns=columns)
    await conn.execute("RESET session_replication_role")
    for index in indexes:
        await conn.execute(index["indexdef"])
    await conn.execute(f"VACUUM ANALYZE {table}")
