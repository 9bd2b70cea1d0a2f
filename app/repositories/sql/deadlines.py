"""The sweeper's cross-tenant view of the deadlines that are due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.assignment import Assignment
from app.domain.deadlines import ReminderPolicy, next_deadline
from app.domain.errors import ConcurrentUpdate
from app.domain.events import Event
from app.repositories.sql import tables as t
from app.repositories.sql.assignments import pinned_briefs
from app.repositories.sql.events import store_events
from app.repositories.sql.pg.deadlines import save_swept
from app.repositories.sql.queries import ASSIGNMENT_COLUMNS


class SqlDeadlineQueue:
    """The sweeper's cross-tenant view. Claims lock rows with FOR UPDATE SKIP LOCKED on PostgreSQL,
    so concurrent sweepers share the work; SQLite's single writer makes the same code correct there.

    On PostgreSQL a batch is written in a fixed number of statements, whatever its size: one UPDATE
    joined to unnest()ed arrays and one COPY of the events (the sweep benchmark's budget needs both)."""

    _SAVED = ("state", "version", "updated_at", "offer_expiring_notified", "due_soon_notified",
              "review_overdue_notified", "next_deadline_at")

    def __init__(self, conn: AsyncConnection, policy: ReminderPolicy, new_id: Callable[[], UUID]) -> None:
        self._conn, self._policy, self._new_id = conn, policy, new_id
        self._postgres = conn.dialect.name == "postgresql"

    async def claim_due(self, now: datetime, limit: int) -> list[Assignment]:
        c = t.assignments.c
        stmt = (
            select(*ASSIGNMENT_COLUMNS)
            .where(c.next_deadline_at.is_not(None), c.next_deadline_at <= now)
            .order_by(c.next_deadline_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await pinned_briefs(self._conn, (await self._conn.execute(stmt)).all())

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
            updated = await save_swept(self._conn, rows)
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
            await store_events(self._conn, events, self._new_id)

    async def oldest_due(self, now: datetime) -> datetime | None:
        c = t.assignments.c
        stmt = select(func.min(c.next_deadline_at)).where(c.next_deadline_at.is_not(None), c.next_deadline_at <= now)
        return (await self._conn.execute(stmt)).scalar()
