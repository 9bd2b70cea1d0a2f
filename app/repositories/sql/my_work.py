"""GET /v1/me/assignments for a person's token in one round trip: whether the person is still active, and their work.

On PostgreSQL (no state filter) one asyncpg statement reads the person the token's subject names, only if
active, LEFT JOIN LATERAL their page of assignments: no row means no active person, a row without an
assignment an empty page. Elsewhere (SQLite, a state filter, an email subject) the same answer comes from
two statements on one connection, through the repositories.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from cachetools import LRUCache
from sqlalchemy import bindparam, select, true

from app.domain.assignment import Assignment, State
from app.domain.identity import SubjectMatch
from app.domain.pagination import Page, PageRequest, cursor_deadline, deadline_key
from app.domain.ports import AssignmentFilter, SignedIn
from app.repositories.sql import tables as t
from app.repositories.sql.assignments import pinned_briefs
from app.repositories.sql.database import Database
from app.repositories.sql.pg.driver import RawStatement, RecordRow, fetch_read
from app.repositories.sql.queries import ASSIGNMENT_COLUMNS, after_deadline, facing_deadline


def _statement(after: bool | None) -> Any:
    """The person (only if active) LEFT JOIN LATERAL their page, nearest deadline first: the same order and
    cursor as SqlAssignments.by_deadline, from the same fragments. `after`: None on the first page, else whether
    the last row seen faced a deadline."""
    p, a = t.people.c, t.assignments.c
    deadline = facing_deadline(t.assignments, bindparam("now"))
    conditions = [a.tenant_id == p.tenant_id, a.assignee_id == p.id]
    if after is not None:
        conditions.append(after_deadline(deadline, a.id, bindparam("last_deadline"), bindparam("last_id"), last_had_none=not after))
    sort_deadline = deadline.label("sort_deadline")
    work = (
        select(*ASSIGNMENT_COLUMNS, sort_deadline).where(*conditions)
        .order_by(sort_deadline.asc().nulls_last(), a.id).limit(bindparam("limit")).lateral("w")
    )
    return (
        select(p.id.label("me_id"), p.is_admin.label("me_is_admin"), *work.c)
        .select_from(t.people.outerjoin(work, true()))
        .where(p.tenant_id == bindparam("tenant"), p.external_id == bindparam("subject"), p.active)
    )


_STATEMENTS: LRUCache[tuple[Any, bool | None], RawStatement] = LRUCache(maxsize=16)
"""Compiled once per engine dialect and cursor shape."""


class SqlSignedInWork:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._postgres = database.engine.dialect.name == "postgresql"

    async def my_work(
        self, tenant_id: UUID, match: SubjectMatch, subject: str, page: PageRequest, states: tuple[State, ...], now: datetime,
    ) -> tuple[SignedIn, Page[Assignment]] | None:
        if self._postgres and match is SubjectMatch.EXTERNAL_ID and not states:
            return await self._one_statement(tenant_id, subject, page, now)
        async with self._database.uow(tenant_id, readonly=True) as uow:
            if match is SubjectMatch.EXTERNAL_ID:
                person = await uow.people.get_by_external_id(subject)
            else:
                found = await uow.people.get_by_email(subject)
                person = found[0] if len(found) == 1 else None
            if person is None or not person.active:
                return None
            work = await uow.assignments.by_deadline(page, AssignmentFilter(states=states, assignee_ids=(person.id,)), now)
        return SignedIn(person.id, person.is_admin), work

    async def _one_statement(
        self, tenant_id: UUID, subject: str, page: PageRequest, now: datetime,
    ) -> tuple[SignedIn, Page[Assignment]] | None:
        after = cursor_deadline(page.after)
        shape = None if after is None else after[0] is not None
        params: dict[str, Any] = {"tenant": tenant_id, "subject": subject, "now": now, "limit": page.limit + 1}
        if after is not None:
            params.update(last_deadline=after[0], last_id=after[1])
        conn = await self._database.connect()
        try:
            key = (conn.dialect, shape)
            stmt = _STATEMENTS.get(key)
            if stmt is None:
                stmt = _STATEMENTS[key] = RawStatement(_statement(shape), conn.dialect)
            records = await fetch_read(conn, stmt.sql, *stmt.args(params))
            if not records:
                return None
            rows = [RecordRow(record) for record in records if record["id"] is not None]
            items = await pinned_briefs(conn, rows)
        finally:
            await conn.close()
        deadlines = {row.id: row.sort_deadline for row in rows}
        person = SignedIn(records[0]["me_id"], records[0]["me_is_admin"])
        return person, Page.from_rows(items, page, key=lambda a: deadline_key(deadlines[a.id], a.id))
