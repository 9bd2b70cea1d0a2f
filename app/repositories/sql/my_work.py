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

from app.domain.assignment import Assignment, State
from app.domain.identity import SubjectMatch
from app.domain.pagination import Page, PageRequest, cursor_deadline, deadline_key
from app.domain.ports import AssignmentFilter, SignedIn
from app.repositories.sql.database import Database
from app.repositories.sql.driver import RecordRow, announce, connection_failed, driver_of
from app.repositories.sql.repositories import ASSIGNMENT_COLUMNS, PINNED_BRIEFS

_LIVE = f"('{State.ACCEPTED.value}', '{State.REVISION_REQUESTED.value}')"
_DEADLINE = (  # as SqlAssignments.by_deadline orders: the deadline the assignment now faces; $3 is now
    f"CASE WHEN a.state = '{State.OFFERED.value}' AND a.offer_expires_at > $3 THEN a.offer_expires_at"
    f" WHEN a.state IN {_LIVE} AND a.timeout_at > $3 THEN a.due_at"
    f" WHEN a.state = '{State.SUBMITTED.value}' THEN a.review_due_at END"
)
_AFTER = {  # the cursor's condition, by whether the last row had a deadline
    None: "",
    False: f" AND {_DEADLINE} IS NULL AND a.id > $5",
    True: f" AND ({_DEADLINE} > $5 OR ({_DEADLINE} = $5 AND a.id > $6) OR {_DEADLINE} IS NULL)",
}


def _statement(after: bool | None) -> str:
    columns = ", ".join(f"a.{column.name}" for column in ASSIGNMENT_COLUMNS)
    return (
        f"SELECT p.id AS me_id, p.is_admin AS me_is_admin, w.* FROM people p LEFT JOIN LATERAL ("
        f"SELECT {columns}, {_DEADLINE} AS sort_deadline FROM assignments a"
        f" WHERE a.tenant_id = p.tenant_id AND a.assignee_id = p.id{_AFTER[after]}"
        f" ORDER BY sort_deadline NULLS LAST, a.id LIMIT $4) w ON true"
        f" WHERE p.tenant_id = $1 AND p.external_id = $2 AND p.active"
    )


_STATEMENTS = {after: _statement(after) for after in _AFTER}


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

    async def _one_statement(self, tenant_id: UUID, subject: str, page: PageRequest, now: datetime) -> tuple[SignedIn, Page[Assignment]] | None:
        after = cursor_deadline(page.after)
        parameters: tuple[Any, ...] = (tenant_id, subject, now, page.limit + 1)
        if after is not None:
            parameters += after if after[0] is not None else (after[1],)
        statement = _STATEMENTS[None if after is None else after[0] is not None]
        conn = await self._database.connect()
        try:
            driver = await driver_of(conn)
            announce(conn, statement, parameters)
            try:
                records = await driver.fetch(statement, *parameters)
            except Exception as exc:  # as SqlAssignments.get: a read this simple fails only when the connection does
                await connection_failed(conn, exc)
            if not records:
                return None
            rows = [RecordRow(record) for record in records if record["id"] is not None]
            items = await PINNED_BRIEFS.assignments(conn, rows)
        finally:
            await conn.close()
        deadlines = {row.id: row.sort_deadline for row in rows}
        person = SignedIn(records[0]["me_id"], records[0]["me_is_admin"])
        return person, Page.from_rows(items, page, key=lambda a: deadline_key(deadlines[a.id], a.id))
