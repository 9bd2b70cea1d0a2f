"""Async repositories on SQLAlchemy Core statements over one connection and one tenant.

Core (not ORM identity-map loads) keeps reads to one statement and makes every
relationship explicit: nothing can lazy-load behind a request's back.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import UTC, datetime, timedelta
from typing import Any, Awaitable, Callable, Generic, TypeVar
from uuid import UUID

from pydantic_core import to_json
from uuid_utils.compat import uuid7
from sqlalchemy import BigInteger, Table, and_, bindparam, case, func, insert, literal, null, or_, select, true, tuple_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import sqltypes
from app.repositories.sql.types import Seconds, UTCDateTime
import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.assignment import OPEN_STATES, Assignment, State
from app.domain.briefs import Brief, BriefContent, BriefStatus
from app.domain.deadlines import ReminderPolicy, next_deadline
from app.domain.errors import ConcurrentUpdate, Conflict
from app.domain.events import Event
from app.domain.imports import ImportJob, ImportKind, ImportRow
from app.domain.pagination import InvalidCursor, Page, PageRequest, cursor_deadline, cursor_id, deadline_key
from app.domain.people import Person, TeamMember
from app.domain.ports import AssignmentFilter
from app.domain.skills import Skill
from app.domain.work import Evidence, Extension, Review, Submission, SubmissionStatus
from app.domain.webhooks import Claimed, Delivery, DeliveryStatus, Health, Webhook, WebhookKind
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t
from app.repositories.sql import locks, statements
from app.repositories.sql.driver import (
    CONNECTION_FAILURES, RawStatement, RecordRow, announce, connection_failed, driver_of, in_transaction, raw_statement,
)
from app.repositories.sql.sequencer import number_waiting

T = TypeVar("T")
R = TypeVar("R")


@functools.cache
def _insert_statement(table: Table) -> Any:
    """INSERT INTO table, built once: the values come as execute() parameters, so SQLAlchemy's compiled cache
    serves every call instead of a statement (and its cache key) being rebuilt from a values dict each time."""
    return insert(table)


@functools.cache
def _cas_statement(table: Table, columns: tuple[str, ...]) -> Any:
    """The compare-and-set UPDATE of `columns`, built once per table and column set (parameters k_tenant,
    k_id and k_version select the row and the version it must still have)."""
    c = table.c
    return (
        update(table)
        .where(c.tenant_id == bindparam("k_tenant"), c.id == bindparam("k_id"), c.version == bindparam("k_version"))
        .values({name: bindparam(name) for name in columns})
    )


class _TenantTable(Generic[T]):
    """Shared plumbing: every statement is scoped to the tenant."""

    table: Table
    kind: str
    to_values: Callable[[Any], dict[str, Any]]
    from_row: Callable[[Any], Any]
    unique_fields: dict[str, str] = {}
    """Column -> error code, for the (tenant_id, column) unique constraints of the table."""

    def __init__(self, conn: AsyncConnection, tenant_id: UUID) -> None:
        self._conn = conn
        self._tenant_id = tenant_id

    def _scoped(self, *conditions: Any) -> Any:
        return and_(self.table.c.tenant_id == self._tenant_id, *conditions)

    def _values(self, item: T) -> dict[str, Any]:
        return type(self).to_values(item)

    async def _insert(self, item: T) -> None:
        values = self._values(item)
        assert values["tenant_id"] == self._tenant_id, "writing into another tenant"
        if self._conn.dialect.name == "postgresql":
            await _write(self._conn, raw_statement(_insert_statement(self.table), self._conn.dialect, tuple(values)), values, self._conflict_named)
            return
        try:
            await self._conn.execute(_insert_statement(self.table), values)
        except IntegrityError as exc:
            raise self._conflict(exc) from exc

    def _conflict(self, exc: IntegrityError) -> Conflict:
        return self._conflict_named(str(exc.orig))

    def _conflict_named(self, text: str) -> Conflict:
        """Name the unique field a write collided with; PostgreSQL names the constraint, SQLite the columns."""
        for column, code in self.unique_fields.items():
            if f"uq_{self.table.name}_tenant_id_{column}" in text or f"{self.table.name}.{column}" in text:
                return Conflict(f"A {self.kind} with this {column} already exists.", code=code)
        return Conflict(f"The {self.kind} conflicts with existing data.", code=f"{self.kind}.conflict")

    def _select(self) -> Any:
        return select(self.table)

    def _columns(self) -> list[Any]:
        """The columns `_select` reads, worked out once per repository class."""
        cls = type(self)
        if "_selected" not in cls.__dict__:
            cls._selected = list(self._select().selected_columns)
        return cls._selected  # type: ignore[attr-defined]

    async def _where_in(self, column: Any, values: list[Any], *, lock: bool = False) -> list[T]:
        """Rows whose `column` is one of `values`, in one statement; `lock` holds them (PostgreSQL) until commit."""
        if not values:
            return []
        stmt = select_matching(self._conn.dialect.name, column, self._columns(), lock=lock)
        keys = sorted(set(values)) if lock else list(dict.fromkeys(values))  # locks taken in one order: no deadlocks
        params = {"tenant": self._tenant_id, "keys": keys}
        return await self._from_rows((await self._conn.execute(stmt, params)).all())

    async def _insert_many(self, items: list[T]) -> None:
        """One executemany (or on PostgreSQL, from _COPY_THRESHOLD rows, one COPY), rows in the order given."""
        if not items:
            return
        values = [self._values(item) for item in items]
        assert all(v["tenant_id"] == self._tenant_id for v in values), "writing into another tenant"
        try:
            if self._conn.dialect.name == "postgresql" and len(values) >= _COPY_THRESHOLD:
                await copy_rows(self._conn, self.table, values)
            else:
                await self._conn.execute(insert(self.table), values)
        except IntegrityError as exc:
            raise self._conflict(exc) from exc
        except asyncpg.IntegrityConstraintViolationError as exc:  # COPY goes to the driver directly
            raise self._conflict_named(str(exc)) from exc

    async def _update_many(self, items: list[T]) -> None:
        """Write rows back by id in one executemany. The caller read them with `lock=True` in this unit of
        work (SQLite's single writer holds them anyway), so no other writer can have changed them since."""
        if not items:
            return
        values = [self._values(item) for item in items]
        columns = [name for name in values[0] if name not in ("tenant_id", "id")]
        stmt = (
            update(self.table)
            .where(self.table.c.tenant_id == bindparam("w_tenant_id"), self.table.c.id == bindparam("w_id"))
            .values({name: bindparam(f"w_{name}") for name in columns})
        )
        try:
            await self._conn.execute(stmt, [{f"w_{name}": value for name, value in v.items()} for v in values])
        except IntegrityError as exc:
            raise self._conflict(exc) from exc

    async def _get(self, *conditions: Any) -> T | None:
        row = (await self._conn.execute(self._select().where(self._scoped(*conditions)))).first()
        return None if row is None else (await self._from_rows([row]))[0]

    async def _from_rows(self, rows: list[Any]) -> list[T]:
        return [type(self).from_row(row) for row in rows]

    async def _cas(self, item: T, item_id: UUID, expected_version: int) -> None:
        await self._cas_values(self._values(item), item_id, expected_version)

    async def _cas_values(self, values: dict[str, Any], item_id: UUID, expected_version: int) -> None:
        """UPDATE … SET every column in `values` WHERE tenant, id and version match; a row that moved on is ConcurrentUpdate."""
        values.pop("tenant_id", None)
        values.pop("id", None)
        values.update(k_tenant=self._tenant_id, k_id=item_id, k_version=expected_version)
        stmt = _cas_statement(self.table, tuple(name for name in values if not name.startswith("k_")))
        if self._conn.dialect.name == "postgresql":
            status = await _write(self._conn, raw_statement(stmt, self._conn.dialect), values, self._conflict_named)
            changed = int(status.rsplit(" ", 1)[-1])
        else:
            try:
                changed = (await self._conn.execute(stmt, values)).rowcount
            except IntegrityError as exc:
                raise self._conflict(exc) from exc
        if changed != 1:
            raise ConcurrentUpdate(self.kind)

    async def _page(self, page: PageRequest, *conditions: Any) -> Page[T]:
        column = self.table.c.id
        where = [self._scoped(*conditions)]
        after = cursor_id(page.after)
        if after is not None:
            where.append(column > after)
        stmt = self._select().where(*where).order_by(column).limit(page.limit + 1)
        rows = (await self._conn.execute(stmt)).all()
        return Page.from_rows(await self._from_rows(rows), page)


_MATCHING: dict[tuple[Any, ...], Any] = {}


def select_matching(dialect: str, column: Any, columns: list[Any], *, lock: bool = False) -> Any:
    """SELECT `columns` of one tenant's rows (parameter `tenant`) whose `column`, a unique key, is one of
    the values in parameter `keys`. Built once per shape: wide tables cost SQLAlchemy more to assemble
    the statement than PostgreSQL to run it.

    On PostgreSQL the keys are one array parameter, and each is looked up on its own through
    `unnest(:keys) CROSS JOIN LATERAL (… LIMIT 1)`: an index lookup per key whatever the planner thinks
    of the table. (An IN list or `= ANY(:keys)` compared every row of the tenant with every key while a
    fresh table had no statistics, and a plain join on unnest chose a scan of the whole tenant once a
    bulk load had outgrown them: half a second or more for 1,000 keys.)"""
    shape = (dialect, column, tuple(columns), lock)
    stmt = _MATCHING.get(shape)
    if stmt is not None:
        return stmt
    tenant = column.table.c.tenant_id == bindparam("tenant")
    if dialect != "postgresql":
        stmt = select(*columns).where(tenant, column.in_(bindparam("keys", expanding=True)))
    else:
        keys = func.unnest(bindparam("keys", type_=postgresql.ARRAY(column.type))).table_valued("v").render_derived(name="keys")
        found = select(*columns).where(tenant, column == keys.c.v).limit(1)
        if lock:
            found = found.with_for_update()
        found = found.lateral("found")
        stmt = select(*(found.c[c.name] for c in columns)).select_from(keys).join(found, true())
    _MATCHING[shape] = stmt
    return stmt


async def copy_rows(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows with PostgreSQL's COPY, in the caller's transaction: values go through each column's
    own bind conversion (JSON as text, the UTC datetime type), as an INSERT would send them."""
    names = list(rows[0])
    converters = [(i, c) for i, name in enumerate(names) if (c := _copy_converter(table.c[name].type, conn.dialect)) is not None]
    records = []
    for row in rows:  # only the columns that need it are converted: most go to the driver as they are
        values = list(row.values())
        for i, convert in converters:
            values[i] = convert(values[i])
        records.append(values)
    driver = (await conn.get_raw_connection()).driver_connection
    await driver.copy_records_to_table(table.name, records=records, columns=names)


def _copy_converter(column_type: Any, dialect: Any) -> Callable[[Any], Any] | None:
    if isinstance(column_type, UTCDateTime):  # the domain's datetimes are UTC already: convert only the others
        bind = column_type.process_bind_param
        return lambda value: value if value is None or value.tzinfo is UTC else bind(value, dialect)
    if isinstance(column_type, Seconds):  # our own decorators; the driver takes the rest as they are
        seconds = column_type.process_bind_param
        return lambda value: None if value is None else seconds(value, dialect)
    effective = column_type.dialect_impl(dialect)  # the JSONB variant on PostgreSQL
    if isinstance(effective, sqltypes.JSON):
        null = None if effective.none_as_null else "null"
        return lambda value: null if value is None else to_json(value).decode()
    return None


MAX_CHAIN_DEPTH = 1000
"""Manager chains are walked at most this deep, so a cycle left in old data can never loop."""


def managers_cte(tenant_id: UUID, person_id: UUID) -> Any:
    """Everyone above the person in the manager chain, nearest first (column `depth`)."""
    p = t.people.c
    chain = (
        select(p.manager_id.label("id"), literal(1).label("depth"))
        .where(p.tenant_id == tenant_id, p.id == person_id, p.manager_id.is_not(None))
        .cte("managers", recursive=True)
    )
    step = (
        select(p.manager_id, chain.c.depth + 1)
        .join(chain, and_(p.tenant_id == tenant_id, p.id == chain.c.id))
        .where(p.manager_id.is_not(None), chain.c.depth < MAX_CHAIN_DEPTH)
    )
    return chain.union_all(step)


def reports_cte(tenant_id: UUID, manager_id: UUID) -> Any:
    """Everyone below the manager, direct reports at depth 1."""
    p = t.people.c
    below = (
        select(p.id.label("id"), literal(1).label("depth"))
        .where(p.tenant_id == tenant_id, p.manager_id == manager_id)
        .cte("reports", recursive=True)
    )
    step = (
        select(p.id, below.c.depth + 1)
        .join(below, and_(p.tenant_id == tenant_id, p.manager_id == below.c.id))
        .where(below.c.depth < MAX_CHAIN_DEPTH)
    )
    return below.union_all(step)


class SqlPeople(_TenantTable[Person]):
    table, kind = t.people, "person"
    to_values, from_row = staticmethod(m.person_values), staticmethod(m.person_from)
    unique_fields = {"external_id": "person.external_id_taken"}

    async def add(self, person: Person) -> None:
        await self._insert(person)

    async def get(self, person_id: UUID) -> Person | None:
        return await self._get(self.table.c.id == person_id)

    async def get_by_external_id(self, external_id: str) -> Person | None:
        return await self._get(self.table.c.external_id == external_id)

    async def get_many(self, person_ids: list[UUID]) -> dict[UUID, Person]:
        return {p.id: p for p in await self._where_in(self.table.c.id, person_ids)}

    async def by_external_ids(self, external_ids: list[str], *, lock: bool = False) -> dict[str, Person]:
        return {p.external_id: p for p in await self._where_in(self.table.c.external_id, external_ids, lock=lock)}

    async def add_many(self, people: list[Person]) -> None:
        await self._insert_many(people)

    async def update_many(self, people: list[Person]) -> None:
        await self._update_many(people)

    async def manager_edges(self, person_ids: list[UUID]) -> dict[UUID, UUID | None]:
        """(person -> manager) for these people and everyone above them: one primary-key lookup per level
        of the org chart. (A recursive CTE from many people at once gets a hash join over the whole
        table from PostgreSQL's planner: its cost grows with the tenant, this one with the chart's depth.)"""
        p = t.people.c
        edges: dict[UUID, UUID | None] = {}
        frontier = sorted(set(person_ids))
        for _ in range(MAX_CHAIN_DEPTH):
            if not frontier:
                break
            stmt = select_matching(self._conn.dialect.name, p.id, [p.id, p.manager_id])
            rows = (await self._conn.execute(stmt, {"tenant": self._tenant_id, "keys": frontier})).all()
            edges.update({row.id: row.manager_id for row in rows})
            frontier = sorted({row.manager_id for row in rows if row.manager_id is not None and row.manager_id not in edges})
        return edges

    async def update(self, person: Person, expected_version: int) -> None:
        await self._cas(person, person.id, expected_version)

    async def get_by_email(self, email: str) -> list[Person]:
        stmt = self._select().where(self._scoped(func.lower(self.table.c.email) == email.lower())).limit(2)
        return await self._from_rows((await self._conn.execute(stmt)).all())

    async def list(
        self, page: PageRequest, *, manager_id: UUID | None = None, active: bool | None = None, visible_to: UUID | None = None
    ) -> Page[Person]:
        c = self.table.c
        conditions = []
        if manager_id is not None:
            conditions.append(c.manager_id == manager_id)
        if active is not None:
            conditions.append(c.active == active)
        if visible_to is not None:
            above = managers_cte(self._tenant_id, visible_to)
            below = reports_cte(self._tenant_id, visible_to)
            conditions.append(or_(c.id == visible_to, c.id.in_(select(above.c.id)), c.id.in_(select(below.c.id))))
        return await self._page(page, *conditions)

    async def team(self, manager_id: UUID, page: PageRequest, now: datetime) -> Page[TeamMember]:
        """Everyone below the manager, with their depth and count of open assignments, in one query."""
        p, a = self.table.c, t.assignments
        below = reports_cte(self._tenant_id, manager_id)
        open_states = or_(*(_effective_state_condition(a, state, now) for state in OPEN_STATES))
        open_count = (
            select(func.count()).select_from(a)
            .where(a.c.tenant_id == self._tenant_id, a.c.assignee_id == p.id, open_states)
            .scalar_subquery()
        )
        after = cursor_id(page.after)
        stmt = (
            select(self.table, func.min(below.c.depth).label("depth"), open_count.label("open_assignments"))
            .join(below, and_(p.tenant_id == self._tenant_id, p.id == below.c.id))
            .where(*([] if after is None else [p.id > after]))
            .group_by(*self.table.c)
            .order_by(p.id)
            .limit(page.limit + 1)
        )
        rows = (await self._conn.execute(stmt)).all()
        members = [TeamMember(m.person_from_values(row._mapping), row.depth, row.open_assignments) for row in rows]
        return Page.from_rows(members, page, key=lambda member: str(member.person.id))

    async def lock_hierarchy(self) -> None:
        """Serialise changes of reporting lines within the tenant (its row, FOR UPDATE) until commit, so two
        concurrent changes cannot each pass the cycle check and together close a loop. SQLite's single
        writer already serialises them."""
        await self._conn.execute(select(t.tenants.c.id).where(t.tenants.c.id == self._tenant_id).with_for_update())

    async def managers_above(self, person_id: UUID) -> list[UUID]:
        """One recursive query up the chain; depth-capped so a cycle in old data cannot loop."""
        chain = managers_cte(self._tenant_id, person_id)
        rows = (await self._conn.execute(select(chain.c.id).order_by(chain.c.depth))).all()
        seen: list[UUID] = []
        for (manager,) in rows:
            if manager in seen:
                break
            seen.append(manager)
        return seen


class SqlSkills(_TenantTable[Skill]):
    table, kind = t.skills, "skill"
    to_values, from_row = staticmethod(m.skill_values), staticmethod(m.skill_from)
    unique_fields = {"key": "skill.key_taken"}

    async def add(self, skill: Skill) -> None:
        await self._insert(skill)

    async def get(self, skill_id: UUID) -> Skill | None:
        return await self._get(self.table.c.id == skill_id)

    async def get_many(self, skill_ids: list[UUID]) -> dict[UUID, Skill]:
        if not skill_ids:
            return {}
        rows = (await self._conn.execute(select(self.table).where(self._scoped(self.table.c.id.in_(skill_ids))))).all()
        return {row.id: m.skill_from(row) for row in rows}

    async def by_keys(self, keys: list[str], *, lock: bool = False) -> dict[str, Skill]:
        return {k.key: k for k in await self._where_in(self.table.c.key, keys, lock=lock)}

    async def add_many(self, skills: list[Skill]) -> None:
        await self._insert_many(skills)

    async def update_many(self, skills: list[Skill]) -> None:
        await self._update_many(skills)

    async def update(self, skill: Skill, expected_version: int) -> None:
        await self._cas(skill, skill.id, expected_version)

    async def list(self, page: PageRequest) -> Page[Skill]:
        return await self._page(page)


class SqlBriefs(_TenantTable[Brief]):
    table, kind = t.briefs, "brief"
    to_values, from_row = staticmethod(m.brief_values), staticmethod(m.brief_from)
    unique_fields = {"key": "brief.key_taken"}

    async def get_many(self, brief_ids: list[UUID]) -> dict[UUID, Brief]:
        return {b.id: b for b in await self._where_in(self.table.c.id, brief_ids)}

    async def by_keys(self, keys: list[str], *, lock: bool = False) -> dict[str, Brief]:
        return {b.key: b for b in await self._where_in(self.table.c.key, keys, lock=lock) if b.key is not None}

    async def add_many(self, briefs: list[Brief]) -> None:
        await self._insert_many(briefs)

    async def update_many(self, briefs: list[Brief]) -> None:
        await self._update_many(briefs)

    async def add(self, brief: Brief) -> None:
        await self._insert(brief)

    async def get(self, brief_id: UUID) -> Brief | None:
        return await self._get(self.table.c.id == brief_id)

    async def update(self, brief: Brief, expected_version: int) -> None:
        await self._cas(brief, brief.id, expected_version)

    async def list(self, page: PageRequest, *, statuses: tuple[BriefStatus, ...] = (), skill_ids: tuple[UUID, ...] = ()) -> Page[Brief]:
        conditions = []
        if statuses:
            conditions.append(self.table.c.status.in_([s.value for s in statuses]))
        if skill_ids:
            conditions.append(self.table.c.skill_id.in_(skill_ids))
        return await self._page(page, *conditions)


# Assignments are read without their pinned brief, which is large and shared by many of them;
# PinnedBriefs supplies it (see there).
ASSIGNMENT_COLUMNS = [column for column in t.assignments.c if column.name != "brief"]


class PinnedBriefs:
    """A per-process cache of pinned brief versions, keyed (tenant_id, brief_id, brief_version).

    Safe because a published brief version is frozen: every assignment pinning it holds the same
    content. Misses are fetched in one query per read, from one assignment row per missing key."""

    SIZE = 4096

    def __init__(self) -> None:
        self._cache: dict[tuple[UUID, UUID, int], BriefContent] = {}

    def put(self, assignment: Assignment) -> None:
        if len(self._cache) >= self.SIZE:
            self._cache.clear()
        self._cache[(assignment.tenant_id, assignment.brief_id, assignment.brief_version)] = assignment.brief

    async def assignments(self, conn: AsyncConnection, rows: list[Any]) -> list[Assignment]:
        missing: dict[tuple[UUID, UUID, int], tuple[UUID, UUID]] = {}
        for row in rows:
            key = (row.tenant_id, row.brief_id, row.brief_version)
            if key not in self._cache and key not in missing:
                missing[key] = (row.tenant_id, row.id)
        if missing:
            c = t.assignments.c
            stmt = select(c.tenant_id, c.brief_id, c.brief_version, c.brief).where(tuple_(c.tenant_id, c.id).in_(list(missing.values())))
            if len(self._cache) + len(missing) > self.SIZE:
                self._cache.clear()
            for hit in (await conn.execute(stmt)).all():
                self._cache[(hit.tenant_id, hit.brief_id, hit.brief_version)] = m.content_from_json(hit.brief)
        return [m.assignment_from(row, self._cache[(row.tenant_id, row.brief_id, row.brief_version)]) for row in rows]


PINNED_BRIEFS = PinnedBriefs()


_GET_ASSIGNMENT = select(*ASSIGNMENT_COLUMNS).where(
    t.assignments.c.tenant_id == bindparam("tenant"), t.assignments.c.id == bindparam("id")
)
_GET_ASSIGNMENT_SQL = (
    f"SELECT {', '.join(column.name for column in ASSIGNMENT_COLUMNS)} FROM assignments WHERE tenant_id = $1 AND id = $2"
)
"""The same read as asyncpg SQL: every column is a UUID, text, number, boolean or timestamptz, which asyncpg
returns as the column types above do (aware UTC datetimes), so no SQLAlchemy result processing is needed."""


async def _send(conn: AsyncConnection, method: str, sql: str, *args: Any, conflict: Callable[[str], Conflict], **options: Any) -> Any:
    """Send a statement to asyncpg directly, in the unit of work's transaction, with the errors SQLAlchemy's
    path gives: a unique key taken is `conflict`, a deadlock or serialisation failure ConcurrentUpdate (as the
    unit of work reports them), a failed connection StorageUnavailable. `method` is asyncpg's (for COPY,
    `sql` is the table's name)."""
    try:
        driver = await in_transaction(conn)
    except Exception as exc:  # BEGIN failed: only the connection can make it fail
        await connection_failed(conn, exc)
    announce(conn, f"COPY {sql}" if method.startswith("copy") else sql, args)
    try:
        return await getattr(driver, method)(sql, *args, **options)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise conflict(str(exc)) from exc
    except asyncpg.exceptions.TransactionRollbackError as exc:  # 40001, 40P01: sound, only unlucky
        raise ConcurrentUpdate("data") from exc
    except CONNECTION_FAILURES as exc:
        await connection_failed(conn, exc)


async def _write(
    conn: AsyncConnection, stmt: RawStatement, params: dict[str, Any] | list[dict[str, Any]], conflict: Callable[[str], Conflict],
) -> str:
    """`stmt` with `params`, or with each of a list of them (executemany); returns the command status."""
    if isinstance(params, list) and len(params) > 1:
        await _send(conn, "executemany", stmt.sql, [stmt.args(p) for p in params], conflict=conflict)
        return ""
    one = params[0] if isinstance(params, list) else params
    return await _send(conn, "execute", stmt.sql, *stmt.args(one), conflict=conflict)


async def _with_driver(conn: AsyncConnection, work: Callable[[Any], Awaitable[R]]) -> R:
    """Run `work` on the asyncpg connection under `conn`; a failure of the connection is StorageUnavailable.
    (An error PostgreSQL reports about a statement is a bug here, and goes up as it is.)"""
    driver = await driver_of(conn)
    try:
        return await work(driver)
    except CONNECTION_FAILURES as exc:
        await connection_failed(conn, exc)


def _effective_state_condition(table: Table, state: State, now: datetime) -> Any:
    """SQL for 'effective state is `state`': deadlines count even before the sweeper runs."""
    c = table.c
    live = (State.ACCEPTED.value, State.REVISION_REQUESTED.value)
    if state is State.OFFERED:
        return and_(c.state == state.value, c.offer_expires_at > now)
    if state is State.EXPIRED:
        return or_(c.state == state.value, and_(c.state == State.OFFERED.value, c.offer_expires_at <= now))
    if state in (State.ACCEPTED, State.REVISION_REQUESTED):
        return and_(c.state == state.value, c.timeout_at > now)
    if state is State.TIMED_OUT:  # `=` twice rather than IN: a statement compiled once has no IN list to expand
        return or_(c.state == state.value, and_(or_(c.state == live[0], c.state == live[1]), c.timeout_at <= now))
    return c.state == state.value


class SqlAssignments(_TenantTable[Assignment]):
    table, kind = t.assignments, "assignment"
    unique_fields = {"external_ref": "assignment.external_ref_taken"}

    def __init__(self, conn: AsyncConnection, tenant_id: UUID, policy: ReminderPolicy) -> None:
        super().__init__(conn, tenant_id)
        self._policy = policy
        self._postgres = conn.dialect.name == "postgresql"

    def _values(self, item: Assignment) -> dict[str, Any]:
        return m.assignment_values(item, self._policy)

    def _select(self) -> Any:
        return select(*ASSIGNMENT_COLUMNS)

    async def _from_rows(self, rows: list[Any]) -> list[Assignment]:
        return await PINNED_BRIEFS.assignments(self._conn, rows)

    async def add(self, assignment: Assignment) -> None:
        await self._insert(assignment)
        PINNED_BRIEFS.put(assignment)

    async def get(self, assignment_id: UUID) -> Assignment | None:
        """The hottest read: one statement built once, not per call. On PostgreSQL it goes to asyncpg directly:
        SQLAlchemy's execute path cost about five times the driver's own (~100 µs of CPU against ~20 µs).

        In a unit of work that writes, this is its first statement, so it runs before SQLAlchemy's lazy BEGIN:
        at READ COMMITTED that reads what the same SELECT inside the transaction would, and the writes that
        follow are still one transaction, guarded by the compare-and-set on version."""
        if self._postgres:
            driver = (await self._conn.get_raw_connection()).driver_connection
            parameters = (self._tenant_id, assignment_id)
            announce(self._conn, _GET_ASSIGNMENT_SQL, parameters)
            try:
                record = await driver.fetchrow(_GET_ASSIGNMENT_SQL, *parameters)
            except Exception as exc:  # a primary-key read fails only when the connection does
                await connection_failed(self._conn, exc)
            row: Any = None if record is None else RecordRow(record)
        else:
            row = (await self._conn.execute(_GET_ASSIGNMENT, {"tenant": self._tenant_id, "id": assignment_id})).first()
        return None if row is None else (await self._from_rows([row]))[0]

    async def get_by_external_ref(self, external_ref: str) -> Assignment | None:
        return await self._get(self.table.c.external_ref == external_ref)

    async def by_external_refs(self, external_refs: list[str]) -> dict[str, Assignment]:
        return {a.external_ref: a for a in await self._where_in(self.table.c.external_ref, external_refs) if a.external_ref}

    async def add_many(self, assignments: list[Assignment]) -> None:
        await self._insert_many(assignments)
        for assignment in assignments:
            PINNED_BRIEFS.put(assignment)

    async def update(self, assignment: Assignment, expected_version: int) -> None:
        """The pinned brief is never rewritten: it is frozen from the offer on (and the largest column by far)."""
        values = self._values(assignment)
        del values["brief"]
        await self._cas_values(values, assignment.id, expected_version)

    async def list(self, page: PageRequest, filters: AssignmentFilter, now: datetime, visible_to: UUID | None = None) -> Page[Assignment]:
        if self._postgres and visible_to is None:
            return await self._list_fast(page, filters, now)
        c = self.table.c
        conditions = self._filters(filters, now)
        if visible_to is not None:
            below = reports_cte(self._tenant_id, visible_to)
            conditions.append(or_(c.assignee_id == visible_to, c.reviewer_id == visible_to, c.assignee_id.in_(select(below.c.id))))
        return await self._page(page, *conditions)

    async def by_deadline(self, page: PageRequest, filters: AssignmentFilter, now: datetime) -> Page[Assignment]:
        """Ordered by the deadline the assignment now faces (offer expiry, due_at, review_due_at), then id;
        assignments facing none (finished, expired, timed out) come last."""
        c = self.table.c
        live = (State.ACCEPTED.value, State.REVISION_REQUESTED.value)
        deadline = case(
            (and_(c.state == State.OFFERED.value, c.offer_expires_at > now), c.offer_expires_at),
            (and_(c.state.in_(live), c.timeout_at > now), c.due_at),
            (c.state == State.SUBMITTED.value, c.review_due_at),
            else_=null(),
        )
        conditions = self._filters(filters, now)
        after = cursor_deadline(page.after)
        if after is not None:
            last_deadline, last_id = after
            if last_deadline is None:
                conditions.append(and_(deadline.is_(None), c.id > last_id))
            else:
                conditions.append(or_(deadline > last_deadline, and_(deadline == last_deadline, c.id > last_id), deadline.is_(None)))
        stmt = (
            self._select().add_columns(deadline.label("sort_deadline")).where(self._scoped(*conditions))
            .order_by(deadline.asc().nulls_last(), c.id).limit(page.limit + 1)
        )
        rows = (await self._conn.execute(stmt)).all()
        deadlines = {row.id: row.sort_deadline for row in rows}
        items = await self._from_rows(rows)
        return Page.from_rows(items, page, key=lambda a: deadline_key(deadlines[a.id], a.id))

    async def _list_fast(self, page: PageRequest, filters: AssignmentFilter, now: datetime) -> Page[Assignment]:
        """The integrations' list on PostgreSQL: the same SQL as `_page` would send, built and compiled once per
        shape of filter and sent to asyncpg directly (building and executing it through SQLAlchemy was a
        quarter of the request's CPU)."""
        after = cursor_id(page.after)
        lists = {name: getattr(filters, name) for name in _LIST_FILTERS}
        shape = (
            tuple(sorted(set(filters.states))), filters.due_before is not None, after is not None,
            tuple(0 if not values else 1 if len(values) == 1 else 2 for values in lists.values()),
        )
        stmt = _LIST_SHAPES.get(shape)
        if stmt is None:
            if len(_LIST_SHAPES) >= 512:  # 2^10 state sets at most, and few in use: a bound, not a policy
                _LIST_SHAPES.clear()
            stmt = _LIST_SHAPES[shape] = RawStatement(_list_statement(*shape), self._conn.dialect)
        params: dict[str, Any] = {
            "tenant": self._tenant_id, "now": now, "due_before": filters.due_before, "after": after, "limit": page.limit + 1,
        }
        for name, values in lists.items():
            params[name] = values[0] if len(values) == 1 else list(values)
        records = await _send(self._conn, "fetch", stmt.sql, *stmt.args(params), conflict=self._conflict_named)
        return Page.from_rows(await self._from_rows([RecordRow(r) for r in records]), page)

    def _filters(self, filters: AssignmentFilter, now: datetime) -> list[Any]:
        c = self.table.c
        conditions: list[Any] = []
        if filters.states:
            conditions.append(or_(*(_effective_state_condition(self.table, s, now) for s in filters.states)))
        for column, values in (
            (c.assignee_id, filters.assignee_ids), (c.reviewer_id, filters.reviewer_ids),
            (c.brief_id, filters.brief_ids), (c.skill_id, filters.skill_ids), (c.external_ref, filters.external_refs),
        ):
            if values:
                conditions.append(column.in_(values))
        if filters.due_before is not None:
            conditions.append(c.due_at < filters.due_before)
        return conditions


_LIST_FILTERS = {
    "assignee_ids": "assignee_id", "reviewer_ids": "reviewer_id", "brief_ids": "brief_id", "skill_ids": "skill_id",
    "external_refs": "external_ref",
}
"""AssignmentFilter's lists -> the column each matches."""
_LIST_SHAPES: dict[tuple[Any, ...], RawStatement] = {}


def _list_statement(states: tuple[State, ...], due_before: bool, after: bool, lists: tuple[int, ...]) -> Any:
    """The assignment list for one shape of filter: states as written into the SQL (the planner sees them), a
    list of one value as `=` (so the index also gives the order), of more as `= ANY(array)`."""
    c = t.assignments.c
    now = bindparam("now")
    conditions = [c.tenant_id == bindparam("tenant")]
    if states:
        conditions.append(or_(*(_effective_state_condition(t.assignments, s, now) for s in states)))
    for (name, column), kind in zip(_LIST_FILTERS.items(), lists):
        if kind == 1:
            conditions.append(c[column] == bindparam(name))
        elif kind == 2:
            conditions.append(c[column] == func.any(bindparam(name, type_=postgresql.ARRAY(c[column].type))))
    if due_before:
        conditions.append(c.due_at < bindparam("due_before"))
    if after:
        conditions.append(c.id > bindparam("after"))
    return select(*ASSIGNMENT_COLUMNS).where(*conditions).order_by(c.id).limit(bindparam("limit"))


class SqlSubmissions(_TenantTable[Submission]):
    table, kind = t.submissions, "submission"
    to_values, from_row = staticmethod(m.submission_values), staticmethod(m.submission_from)

    async def add(self, submission: Submission) -> None:
        await self._insert(submission)

    async def update(self, submission: Submission) -> None:
        await self._conn.execute(
            update(self.table).where(self._scoped(self.table.c.id == submission.id)).values(m.submission_values(submission))
        )

    async def current(self, assignment_id: UUID) -> Submission | None:
        c = self.table.c
        stmt = (
            select(self.table)
            .where(self._scoped(c.assignment_id == assignment_id, c.status == SubmissionStatus.ACTIVE.value))
            .order_by(c.id.desc())
            .limit(1)
        )
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else m.submission_from(row)

    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Submission]:
        return await self._page(page, self.table.c.assignment_id == assignment_id)


class SqlReviews(_TenantTable[Review]):
    table, kind = t.reviews, "review"
    to_values, from_row = staticmethod(m.review_values), staticmethod(m.review_from)

    async def add(self, review: Review) -> None:
        await self._insert(review)

    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Review]:
        return await self._page(page, self.table.c.assignment_id == assignment_id)


class SqlExtensions(_TenantTable[Extension]):
    table, kind = t.extensions, "extension"
    to_values, from_row = staticmethod(m.extension_values), staticmethod(m.extension_from)

    async def add(self, extension: Extension) -> None:
        await self._insert(extension)

    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Extension]:
        return await self._page(page, self.table.c.assignment_id == assignment_id)


class SqlEvidence(_TenantTable[Evidence]):
    table, kind = t.evidence, "evidence"
    to_values, from_row = staticmethod(m.evidence_values), staticmethod(m.evidence_from)

    async def add(self, evidence: Evidence) -> None:
        await self._insert(evidence)

    async def for_person(self, person_id: UUID) -> list[Evidence]:
        stmt = select(self.table).where(self._scoped(self.table.c.person_id == person_id)).order_by(self.table.c.id)
        return [m.evidence_from(row) for row in (await self._conn.execute(stmt)).all()]


_ALLOCATE_SEQS = (
    update(t.event_counters).where(t.event_counters.c.tenant_id == bindparam("tenant"))
    .values(last_seq=t.event_counters.c.last_seq + bindparam("count", type_=BigInteger))
    .returning(t.event_counters.c.last_seq, t.event_counters.c.webhooks_version)
)


_RESERVE_POSITIONS = (
    "SELECT pg_advisory_xact_lock_shared($1::int, $2::int), "
    "(SELECT array_agg(nextval('events_pos_seq')) FROM generate_series(1, $3::int)) AS positions"
)
_WEBHOOKS_VERSION = "SELECT webhooks_version FROM event_counters WHERE tenant_id = $1"
_RETURNING_WEBHOOKS_VERSION = (
    " RETURNING (SELECT webhooks_version FROM event_counters WHERE event_counters.tenant_id = events.tenant_id)"
)
"""Read by the INSERT of a single event: its statement starts after the share lock is held, as it must."""


async def allocate_seqs(conn: AsyncConnection, tenant_id: UUID, count: int) -> tuple[list[int], int]:
    """SQLite: number `count` new events of the tenant; returns (their seqs, webhooks_version).

    SQLite has one writer at a time: the counter row stays locked until the transaction ends, so a later
    transaction gets later seqs, and a rollback returns them. (PostgreSQL: see _store_tenant_events.)"""
    params = {"tenant": tenant_id, "count": count}
    row = (await conn.execute(_ALLOCATE_SEQS, params)).first()
    if row is None:  # a tenant from before the counters existed
        await conn.execute(insert(t.event_counters).values(tenant_id=tenant_id, last_seq=0, webhooks_version=0))
        row = (await conn.execute(_ALLOCATE_SEQS, params)).first()
    return list(range(row.last_seq - count + 1, row.last_seq + 1)), row.webhooks_version


async def _store_tenant_events(conn: AsyncConnection, tenant_id: UUID, events: list[Event]) -> tuple[list[Event], int]:
    """PostgreSQL: store one tenant's events with `pos` and no seq (the sequencer numbers them after commit);
    returns them and the webhooks_version to queue their deliveries by.

    Writers share the tenant's WEBHOOK_SET lock, so they never wait on each other; a change of webhooks takes
    it alone, so it waits for the events in flight, and every event stored after it reads the new version."""
    record = await _send(
        conn, "fetchrow", _RESERVE_POSITIONS, locks.WEBHOOK_SET, locks.tenant_key(tenant_id), len(events), conflict=_event_conflict,
    )
    stored = [dataclasses.replace(e, pos=pos) for e, pos in zip(events, sorted(record["positions"]))]
    rows = [m.event_values(event) for event in stored]
    if len(rows) >= _COPY_THRESHOLD:
        records = []
        for values in rows:
            values["data"], values["details"] = to_json(values["data"]).decode(), to_json(values["details"]).decode()
            records.append(tuple(values[name] for name in _EVENT_COLUMNS))
        await _send(conn, "copy_records_to_table", "events", records=records, columns=_EVENT_COLUMNS, conflict=_event_conflict)
        version = await _send(conn, "fetchval", _WEBHOOKS_VERSION, tenant_id, conflict=_event_conflict)
    else:
        insert_events = raw_statement(_insert_statement(t.events), conn.dialect, tuple(rows[0]))
        if len(rows) == 1:
            version = await _send(conn, "fetchval", insert_events.sql + _RETURNING_WEBHOOKS_VERSION, *insert_events.args(rows[0]),
                                  conflict=_event_conflict)
        else:
            await _write(conn, insert_events, rows, _event_conflict)
            version = await _send(conn, "fetchval", _WEBHOOKS_VERSION, tenant_id, conflict=_event_conflict)
    if version is None:  # a tenant from before the counters existed
        await conn.execute(insert(t.event_counters).values(tenant_id=tenant_id, last_seq=0, webhooks_version=0))
        version = 0
    return stored, version


def _event_conflict(text: str) -> Conflict:
    return Conflict("The event conflicts with existing data.", code="event.conflict")  # ids are new: only a bug gets here


_EVENT_COLUMNS = ("tenant_id", "id", "type", "occurred_at", "actor_type", "actor_id", "actor_on_behalf_of",
                  "subject_type", "subject_id", "data", "details", "seq", "pos")
_COPY_THRESHOLD = 200
"""From this many rows on, PostgreSQL gets COPY instead of a multi-row INSERT."""


async def store_events(conn: AsyncConnection, events: list[Event]) -> list[Event]:
    """Number events, store them, and queue their webhook deliveries (the outbox), all in the caller's
    transaction. Tenants are locked in one order, so concurrent writers never deadlock."""
    by_tenant: dict[UUID, list[Event]] = {}
    for event in events:
        by_tenant.setdefault(event.tenant_id, []).append(event)
    postgres = conn.dialect.name == "postgresql"
    stored: list[Event] = []
    deliveries: list[dict[str, Any]] = []
    frozen: list[statements.Frozen] = []
    for tenant_id in sorted(by_tenant):
        if postgres:
            batch, webhooks_version = await _store_tenant_events(conn, tenant_id, by_tenant[tenant_id])
        else:
            seqs, webhooks_version = await allocate_seqs(conn, tenant_id, len(by_tenant[tenant_id]))
            batch = [dataclasses.replace(e, seq=seq, pos=seq) for e, seq in zip(by_tenant[tenant_id], seqs)]
        stored += batch
        hooks = await ACTIVE_WEBHOOKS.of(conn, tenant_id, webhooks_version)
        queued = outbox_deliveries(batch, hooks)
        tenant_statements = await statements.freeze(conn, tenant_id, batch, hooks)
        statements.attach(queued, tenant_statements)
        frozen += tenant_statements.values()
        deliveries += [m.delivery_values(d) for d in queued]
    if not postgres:
        await conn.execute(_insert_statement(t.events), [m.event_values(event) for event in stored])
        if deliveries:
            await conn.execute(_insert_statement(t.webhook_deliveries), deliveries)
    elif deliveries:
        insert_deliveries = raw_statement(_insert_statement(t.webhook_deliveries), conn.dialect, tuple(deliveries[0]))
        await _write(conn, insert_deliveries, deliveries, _event_conflict)
    await statements.store(conn, frozen)
    return stored


def outbox_deliveries(events: list[Event], hooks: list[Webhook]) -> list[Delivery]:
    """One delivery per event and webhook that wants it; an LRS's carries a placeholder for its statement."""
    return [
        Delivery(
            id=uuid7(), tenant_id=event.tenant_id, webhook_id=hook.id, event_id=event.id, event_pos=event.pos or 0,
            event_type=event.type, subject_id=event.subject_id, status=DeliveryStatus.PENDING, attempts=0,
            next_attempt_at=event.occurred_at, created_at=event.occurred_at,
            payload={} if hook.kind is WebhookKind.XAPI else None,
        )
        for event in events for hook in hooks if hook.wants(event.type, event.subject_id)
    ]


class ActiveWebhooks:
    """Per tenant, the webhooks that receive events, cached per process and keyed by the tenant's
    webhooks_version (bumped in the same transaction as any webhook change, read with the event seqs),
    so the cache is never stale and costs no query while nothing changed."""

    def __init__(self) -> None:
        self._cache: dict[UUID, tuple[int, list[Webhook]]] = {}

    async def of(self, conn: AsyncConnection, tenant_id: UUID, version: int) -> list[Webhook]:
        cached = self._cache.get(tenant_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        rows = (await conn.execute(select(t.webhooks).where(t.webhooks.c.tenant_id == tenant_id))).all()
        hooks = [m.webhook_from(row) for row in rows]
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[tenant_id] = (version, hooks)
        return hooks


ACTIVE_WEBHOOKS = ActiveWebhooks()


async def lock_webhook_set(conn: AsyncConnection, tenant_id: UUID) -> None:
    """Before changing a tenant's webhooks, before any other lock: wait for the events in flight, and hold
    off new ones until commit (PostgreSQL; SQLite's single writer does that by itself)."""
    if conn.dialect.name == "postgresql":
        await _send(conn, "execute", locks.EXCLUSIVE, locks.WEBHOOK_SET, locks.tenant_key(tenant_id), conflict=_event_conflict)


async def bump_webhooks_version(conn: AsyncConnection, tenant_id: UUID) -> None:
    """The caller holds lock_webhook_set, taken before any other lock (SqlWebhooks, SqlOutbox.save)."""
    c = t.event_counters.c
    await conn.execute(update(t.event_counters).where(c.tenant_id == tenant_id).values(webhooks_version=c.webhooks_version + 1))


class SqlEvents(_TenantTable[Event]):
    """Events are held until the unit of work commits, then stored in one statement with their feed seqs."""

    table, kind = t.events, "event"
    to_values, from_row = staticmethod(m.event_values), staticmethod(m.event_from)

    def __init__(self, conn: AsyncConnection, tenant_id: UUID) -> None:
        super().__init__(conn, tenant_id)
        self._pending: list[Event] = []

    async def add(self, event: Event) -> None:
        self._pending.append(event)

    async def flush(self) -> list[Event]:
        """Store the pending events (just before commit); returns them with their seqs."""
        if not self._pending:
            return []
        pending, self._pending = self._pending, []
        return await store_events(self._conn, pending)

    async def list_for_subject(self, subject_id: UUID, page: PageRequest) -> Page[Event]:
        return await self._page(page, self.table.c.subject_id == subject_id)

    async def feed(
        self, after: int, limit: int, types: tuple[str, ...] = (), subject_id: UUID | None = None, since: datetime | None = None,
    ) -> list[Event]:
        """Events after seq `after`, in seq order; `types` may hold `prefix.*` patterns. On PostgreSQL the
        events committed since the last poll are numbered first, so the feed holds every acknowledged change."""
        if self._conn.dialect.name == "postgresql":
            await _with_driver(self._conn, lambda driver: number_waiting(driver, self._tenant_id))
        c = self.table.c
        conditions = [c.seq > after] + ([] if since is None else [c.occurred_at > since])
        if types:
            exact = [p for p in types if not p.endswith(".*")]
            prefixes = [p[:-1] for p in types if p.endswith(".*")]
            conditions.append(or_(c.type.in_(exact), *(c.type.startswith(prefix, autoescape=True) for prefix in prefixes)))
        if subject_id is not None:
            conditions.append(c.subject_id == subject_id)
        stmt = select(self.table).where(self._scoped(*conditions)).order_by(c.seq).limit(limit)
        return [m.event_from(row) for row in (await self._conn.execute(stmt)).all()]


class SqlDeadlineQueue:
    """The sweeper's cross-tenant view. Claims lock rows with FOR UPDATE SKIP LOCKED on PostgreSQL,
    so concurrent sweepers share the work; SQLite's single writer makes the same code correct there.

    On PostgreSQL a batch is written in a fixed number of statements, whatever its size: one UPDATE
    joined to unnest()ed arrays and one COPY of the events (the sweep benchmark's budget needs both)."""

    _SAVED = ("state", "version", "updated_at", "offer_expiring_notified", "due_soon_notified",
              "review_overdue_notified", "next_deadline_at")

    def __init__(self, conn: AsyncConnection, policy: ReminderPolicy) -> None:
        self._conn, self._policy = conn, policy
        self._postgres = conn.dialect.name == "postgresql"

    async def _driver(self) -> Any:
        """The asyncpg connection under SQLAlchemy's, inside the same transaction."""
        return (await self._conn.get_raw_connection()).driver_connection

    async def claim_due(self, now: datetime, limit: int) -> list[Assignment]:
        c = t.assignments.c
        stmt = (
            select(*ASSIGNMENT_COLUMNS)
            .where(c.next_deadline_at.is_not(None), c.next_deadline_at <= now)
            .order_by(c.next_deadline_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await PINNED_BRIEFS.assignments(self._conn, (await self._conn.execute(stmt)).all())

    def _saved_row(self, assignment: Assignment, expected: int) -> dict[str, Any]:
        row = {name: getattr(assignment, name) for name in self._SAVED if name != "next_deadline_at"}
        row.update(
            state=assignment.state.value, next_deadline_at=next_deadline(assignment, self._policy),
            k_tenant=assignment.tenant_id, k_id=assignment.id, k_version=expected,
        )
        return row

    async def save(self, swept: list[tuple[Assignment, int]]) -> None:
        if not swept:
            return
        rows = [self._saved_row(assignment, expected) for assignment, expected in swept]
        if self._postgres:
            status = await (await self._driver()).execute(
                """UPDATE assignments AS a SET state = v.state, version = v.version, updated_at = v.updated_at,
                       offer_expiring_notified = v.oen, due_soon_notified = v.dsn, review_overdue_notified = v.ron,
                       next_deadline_at = v.nda
                   FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::int[], $6::timestamptz[],
                               $7::bool[], $8::bool[], $9::bool[], $10::timestamptz[])
                        AS v(tenant_id, id, expected, state, version, updated_at, oen, dsn, ron, nda)
                   WHERE a.tenant_id = v.tenant_id AND a.id = v.id AND a.version = v.expected""",
                *([row[key] for row in rows] for key in (
                    "k_tenant", "k_id", "k_version", "state", "version", "updated_at", "offer_expiring_notified",
                    "due_soon_notified", "review_overdue_notified", "next_deadline_at")),
            )
            updated = int(status.rsplit(" ", 1)[-1])
        else:
            c = t.assignments.c
            stmt = (
                update(t.assignments)
                .where(c.tenant_id == bindparam("k_tenant"), c.id == bindparam("k_id"), c.version == bindparam("k_version"))
                .values({name: bindparam(name) for name in self._SAVED})
            )
            updated = (await self._conn.execute(stmt, rows)).rowcount
        if updated != len(rows):  # the rows are locked, so only a bug elsewhere gets here
            raise ConcurrentUpdate("assignment")

    async def add_events(self, events: list[Event]) -> None:
        if events:
            await store_events(self._conn, events)

    async def oldest_due(self, now: datetime) -> datetime | None:
        c = t.assignments.c
        stmt = select(func.min(c.next_deadline_at)).where(c.next_deadline_at.is_not(None), c.next_deadline_at <= now)
        return (await self._conn.execute(stmt)).scalar()


class SqlWebhooks(_TenantTable[Webhook]):
    """Any change takes the tenant's webhook-set lock first and bumps its webhooks_version, so every event
    stored after the change commits is queued to the new set."""

    table, kind = t.webhooks, "webhook"
    to_values, from_row = staticmethod(m.webhook_values), staticmethod(m.webhook_from)

    async def add(self, webhook: Webhook) -> None:
        await lock_webhook_set(self._conn, self._tenant_id)
        await self._insert(webhook)
        await bump_webhooks_version(self._conn, self._tenant_id)

    async def get(self, webhook_id: UUID) -> Webhook | None:
        return await self._get(self.table.c.id == webhook_id)

    async def update(self, webhook: Webhook, expected_version: int) -> None:
        await lock_webhook_set(self._conn, self._tenant_id)
        await self._cas(webhook, webhook.id, expected_version)
        await bump_webhooks_version(self._conn, self._tenant_id)

    async def delete(self, webhook_id: UUID) -> None:
        # The webhook set's lock first, as everyone takes it before deliveries and webhooks: event writers
        # before their deliveries' foreign keys lock the webhook, the delivery worker before its updates.
        await lock_webhook_set(self._conn, self._tenant_id)
        await self._conn.execute(t.webhook_deliveries.delete().where(
            t.webhook_deliveries.c.tenant_id == self._tenant_id, t.webhook_deliveries.c.webhook_id == webhook_id))
        await self._conn.execute(self.table.delete().where(self._scoped(self.table.c.id == webhook_id)))
        await bump_webhooks_version(self._conn, self._tenant_id)

    async def list(self, page: PageRequest, kind: WebhookKind = WebhookKind.STANDARD) -> Page[Webhook]:
        return await self._page(page, self.table.c.kind == kind.value)


class SqlDeliveries(_TenantTable[Delivery]):
    table, kind = t.webhook_deliveries, "delivery"
    to_values, from_row = staticmethod(m.delivery_values), staticmethod(m.delivery_from)

    async def get(self, webhook_id: UUID, delivery_id: UUID) -> Delivery | None:
        return await self._get(self.table.c.webhook_id == webhook_id, self.table.c.id == delivery_id)

    async def update(self, delivery: Delivery) -> None:
        await self._conn.execute(
            update(self.table).where(self._scoped(self.table.c.id == delivery.id)).values(m.delivery_values(delivery))
        )

    async def list(self, webhook_id: UUID, page: PageRequest) -> Page[Delivery]:
        """Newest first: what an integrator debugging a receiver wants to see."""
        c = self.table.c
        after = cursor_id(page.after)
        conditions = [c.webhook_id == webhook_id] + ([] if after is None else [c.id < after])
        stmt = select(self.table).where(self._scoped(*conditions)).order_by(c.id.desc()).limit(page.limit + 1)
        return Page.from_rows([m.delivery_from(row) for row in (await self._conn.execute(stmt)).all()], page)


class SqlOutbox:
    """The delivery worker's cross-tenant view of the outbox."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(self, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
        """Due deliveries of active webhooks, never one while an earlier event of the same subject is still
        pending for that webhook; each is leased (its next attempt pushed `lease` ahead) so a worker that
        dies mid-delivery only delays it."""
        d, w, e = t.webhook_deliveries.c, t.webhooks.c, t.events.c
        earlier = t.webhook_deliveries.alias("earlier")
        blocked = select(literal(1)).where(
            earlier.c.tenant_id == d.tenant_id, earlier.c.webhook_id == d.webhook_id, earlier.c.subject_id == d.subject_id,
            earlier.c.status == DeliveryStatus.PENDING.value, earlier.c.event_pos < d.event_pos,
        ).exists()
        stmt = (
            select(t.webhook_deliveries, *[c.label(f"w_{c.name}") for c in t.webhooks.c], *[c.label(f"e_{c.name}") for c in t.events.c])
            .join(t.webhooks, and_(w.tenant_id == d.tenant_id, w.id == d.webhook_id))
            .join(t.events, and_(e.tenant_id == d.tenant_id, e.id == d.event_id))
            .where(d.status == DeliveryStatus.PENDING.value, d.next_attempt_at <= now, w.active.is_(True), ~blocked)
            .order_by(d.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=t.webhook_deliveries)
        )
        rows = (await self._conn.execute(stmt)).all()
        claimed = []
        for row in rows:
            values = row._mapping
            delivery = m.delivery_from(row)
            webhook = m.webhook_from(_prefixed(values, "w_"))
            event = m.event_from(_prefixed(values, "e_"))
            claimed.append(Claimed(delivery, webhook, event, now + lease))
        if claimed:
            await self._conn.execute(
                update(t.webhook_deliveries)
                .where(tuple_(d.tenant_id, d.id).in_([(c.delivery.tenant_id, c.delivery.id) for c in claimed]))
                .values(next_attempt_at=now + lease)
            )
        return claimed

    async def save(self, results: list[tuple[Delivery, datetime]], health: list[Health]) -> set[UUID]:
        """Record attempts and webhook health; returns the webhooks this actually disabled.

        A delivery is written only while its lease is still the one this worker took (another worker may
        have re-claimed it, or someone retried it by hand); a webhook only at the version it was claimed
        at (an admin's change meanwhile wins). Webhooks are locked in (tenant, id) order, as events are.
        """
        d, w = t.webhook_deliveries.c, t.webhooks.c
        for tenant_id in sorted({change.tenant_id for change in health if change.disable_reason is not None}):
            await lock_webhook_set(self._conn, tenant_id)  # before the deliveries, in the order a webhook's delete takes them
        for delivery, leased_until in results:
            await self._conn.execute(
                update(t.webhook_deliveries)
                .where(d.tenant_id == delivery.tenant_id, d.id == delivery.id, d.next_attempt_at == leased_until)
                .values(m.delivery_values(delivery))
            )
        disabled: set[UUID] = set()
        for change in sorted(health, key=lambda h: (h.tenant_id, h.webhook_id)):
            values: dict[str, Any] = {"failing_since": change.failing_since}
            if change.disable_reason is not None:
                values.update(active=False, disabled_reason=change.disable_reason, version=w.version + 1)
            written = await self._conn.execute(
                update(t.webhooks)
                .where(w.tenant_id == change.tenant_id, w.id == change.webhook_id, w.version == change.claimed_version)
                .values(values)
            )
            if written.rowcount == 1 and change.disable_reason is not None:
                await bump_webhooks_version(self._conn, change.tenant_id)
                disabled.add(change.webhook_id)
        return disabled

    async def add_events(self, events: list[Event]) -> None:
        if events:
            await store_events(self._conn, events)


class _Prefixed(dict):
    """A row's columns under a prefix, as a mapping that row converters accept."""

    @property
    def _mapping(self) -> "_Prefixed":
        return self


def _prefixed(values: Any, prefix: str) -> Any:
    return _Prefixed({key[len(prefix):]: value for key, value in values.items() if key.startswith(prefix)})


class SqlImports(_TenantTable[ImportJob]):
    """Import jobs and the rows of their files."""

    table, kind = t.import_jobs, "import"
    to_values, from_row = staticmethod(m.import_job_values), staticmethod(m.import_job_from)

    async def add(self, job: ImportJob) -> None:
        await self._insert(job)

    async def get(self, job_id: UUID) -> ImportJob | None:
        return await self._get(self.table.c.id == job_id)

    async def update(self, job: ImportJob, expected_version: int) -> None:
        await self._cas(job, job.id, expected_version)

    async def list(self, page: PageRequest, kinds: tuple[ImportKind, ...], created_by: UUID | None = None) -> Page[ImportJob]:
        c = self.table.c
        conditions = [c.kind.in_([k.value for k in kinds])]
        if created_by is not None:
            conditions.append(or_(c.actor_id == created_by, c.actor_on_behalf_of == created_by))
        return await self._page(page, *conditions)

    async def add_rows(self, job_id: UUID, rows: list[ImportRow]) -> None:
        if rows:
            await self._conn.execute(insert(t.import_rows), [
                {"tenant_id": self._tenant_id, "job_id": job_id, "line": r.line, "data": r.data, "problem": r.problem} for r in rows
            ])

    async def rows_after(self, job_id: UUID, line: int, limit: int, *, refused: bool = False) -> list[ImportRow]:
        r = t.import_rows.c
        stmt = (
            select(r.line, r.data, r.problem)
            .where(r.tenant_id == self._tenant_id, r.job_id == job_id, r.line > line, *([r.problem.is_not(None)] if refused else []))
            .order_by(r.line).limit(limit)
        )
        return [ImportRow(row.line, row.data, row.problem) for row in (await self._conn.execute(stmt)).all()]

    async def settle(self, job_id: UUID, applied: list[int], refused: list[ImportRow]) -> None:
        """Rows applied are dropped (the job counts them); refused ones keep their problem for the error
        report, and their data for a second try (people whose manager comes later in the file)."""
        r = t.import_rows.c
        if applied:
            await self._conn.execute(t.import_rows.delete().where(r.tenant_id == self._tenant_id, r.job_id == job_id, r.line.in_(applied)))
        if refused:
            stmt = (
                update(t.import_rows)
                .where(r.tenant_id == bindparam("w_tenant"), r.job_id == bindparam("w_job"), r.line == bindparam("w_line"))
                .values(problem=bindparam("w_problem"))
            )
            await self._conn.execute(stmt, [
                {"w_tenant": self._tenant_id, "w_job": job_id, "w_line": row.line, "w_problem": row.problem} for row in refused
            ])

    async def errors(self, job_id: UUID, page: PageRequest) -> Page[ImportRow]:
        """The refused rows, by line; the cursor is the last line seen."""
        r = t.import_rows.c
        after = page.after if isinstance(page.after, int) else None
        if page.after is not None and after is None:
            raise InvalidCursor()
        stmt = (
            select(r.line, r.problem)
            .where(r.tenant_id == self._tenant_id, r.job_id == job_id, r.problem.is_not(None), *([] if after is None else [r.line > after]))
            .order_by(r.line).limit(page.limit + 1)
        )
        rows = [ImportRow(row.line, None, row.problem) for row in (await self._conn.execute(stmt)).all()]
        return Page.from_rows(rows, page, key=lambda row: row.line)

    async def drop_rows(self, job_id: UUID) -> None:
        r = t.import_rows.c
        await self._conn.execute(t.import_rows.delete().where(r.tenant_id == self._tenant_id, r.job_id == job_id))
