"""Assignments: the hottest repository. Rows are read without their pinned brief, which `pinned_briefs` fills in
from the per-process cache of frozen brief versions (one query per read for the versions it lacks)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.assignment import Assignment
from app.domain.deadlines import ReminderPolicy
from app.domain.pagination import Page, PageRequest, cursor_deadline, cursor_id, deadline_key
from app.domain.ports import AssignmentFilter
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t
from app.repositories.sql.base import TenantTable
from app.repositories.sql.pg import assignments as pg
from app.repositories.sql.queries import (
    ASSIGNMENT_BY_ID,
    ASSIGNMENT_COLUMNS,
    after_deadline,
    effective_state_condition,
    facing_deadline,
    reports_cte,
)


async def pinned_briefs(conn: AsyncConnection, rows: Sequence[Any]) -> list[Assignment]:
    """Assignments from rows read without their `brief` column: each brief version comes from the cache, the
    ones it lacks in one query, from one assignment row per missing version."""
    missing: dict[m.PinnedKey, tuple[UUID, UUID]] = {}
    found: dict[m.PinnedKey, Any] = {}
    for row in rows:
        key = (row.tenant_id, row.brief_id, row.brief_version)
        if key in found or key in missing:
            continue
        content = m.pinned_content(key)
        if content is None:
            missing[key] = (row.tenant_id, row.id)
        else:
            found[key] = content
    if missing:
        c = t.assignments.c
        stmt = select(c.tenant_id, c.brief_id, c.brief_version, c.brief).where(tuple_(c.tenant_id, c.id).in_(list(missing.values())))
        for hit in (await conn.execute(stmt)).all():
            key = (hit.tenant_id, hit.brief_id, hit.brief_version)
            found[key] = m.pin(key, hit.brief)
    return [m.assignment_from(row, found[(row.tenant_id, row.brief_id, row.brief_version)]) for row in rows]


class SqlAssignments(TenantTable[Assignment]):
    table, kind = t.assignments, "assignment"
    unique_fields = {"external_ref": "assignment.external_ref_taken"}

    def __init__(self, conn: AsyncConnection, tenant_id: UUID, policy: ReminderPolicy) -> None:
        super().__init__(conn, tenant_id)
        self._policy = policy

    def _values(self, item: Assignment) -> dict[str, Any]:
        return m.assignment_values(item, self._policy)

    def _select(self) -> Any:
        return select(*ASSIGNMENT_COLUMNS)

    async def _from_rows(self, rows: Sequence[Any]) -> list[Assignment]:
        return await pinned_briefs(self._conn, rows)

    async def add(self, assignment: Assignment) -> None:
        await self._insert(assignment)

    async def get(self, assignment_id: UUID) -> Assignment | None:
        """The hottest read: one statement built once; on PostgreSQL sent to the driver directly."""
        if self._postgres:
            row: Any = await pg.get_row(self._conn, self._tenant_id, assignment_id)
        else:
            row = (await self._conn.execute(ASSIGNMENT_BY_ID, {"tenant": self._tenant_id, "id": assignment_id})).first()
        return None if row is None else (await self._from_rows([row]))[0]

    async def get_by_external_ref(self, external_ref: str) -> Assignment | None:
        return await self._get(self.table.c.external_ref == external_ref)

    async def by_external_refs(self, external_refs: list[str]) -> dict[str, Assignment]:
        return {a.external_ref: a for a in await self._where_in(self.table.c.external_ref, external_refs) if a.external_ref}

    async def add_many(self, assignments: list[Assignment]) -> None:
        await self._insert_many(assignments)

    async def update(self, assignment: Assignment, expected_version: int) -> None:
        """The pinned brief is never rewritten: it is frozen from the offer on (and the largest column by far)."""
        values = self._values(assignment)
        del values["brief"]
        await self._cas_values(values, assignment.id, expected_version)

    async def by_deadline(self, page: PageRequest, filters: AssignmentFilter, now: datetime) -> Page[Assignment]:
        """Ordered by the deadline the assignment now faces (offer expiry, due_at, review_due_at), then id;
        assignments facing none (finished, expired, timed out) come last."""
        c = self.table.c
        deadline = facing_deadline(self.table, now)
        conditions = self._filters(filters, now)
        after = cursor_deadline(page.after)
        if after is not None:
            conditions.append(after_deadline(deadline, c.id, after[0], after[1], last_had_none=after[0] is None))
        stmt = (
            self._select().add_columns(deadline.label("sort_deadline")).where(self._scoped(*conditions))
            .order_by(deadline.asc().nulls_last(), c.id).limit(page.limit + 1)
        )
        rows = (await self._conn.execute(stmt)).all()
        deadlines = {row.id: row.sort_deadline for row in rows}
        items = await self._from_rows(rows)
        return Page.from_rows(items, page, key=lambda a: deadline_key(deadlines[a.id], a.id))

    def _filters(self, filters: AssignmentFilter, now: datetime) -> list[Any]:
        c = self.table.c
        conditions: list[Any] = []
        if filters.states:
            conditions.append(or_(*(effective_state_condition(self.table, s, now) for s in filters.states)))
        for name, column in pg.LIST_FILTERS.items():
            values = getattr(filters, name)
            if values:
                conditions.append(c[column].in_(values))
        if filters.due_before is not None:
            conditions.append(c.due_at < filters.due_before)
        return conditions

    async def list(self, page: PageRequest, filters: AssignmentFilter, now: datetime, visible_to: UUID | None = None) -> Page[Assignment]:
        if self._postgres and visible_to is None:
            rows = await pg.list_rows(self._conn, self._tenant_id, filters,
                cursor_id(page.after), page.limit + 1, now, self._conflict_named)
            return Page.from_rows(await self._from_rows(rows), page)
        c = self.table.c
        conditions = self._filters(filters, now)
        if visible_to is not None:
            below = reports_cte(self._tenant_id, visible_to)
            conditions.append(or_(c.assignee_id == visible_to, c.reviewer_id == visible_to, c.assignee_id.in_(select(below.c.id))))
        return await self._page(page, *conditions)
