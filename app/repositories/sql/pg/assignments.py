"""The assignment reads that integrations hit hardest, sent to asyncpg directly: one by id, and the list.

Building and executing these through SQLAlchemy was most of their CPU (about five times the driver's own for a
primary-key read, a quarter of the request for the list); the SQL is the same, compiled once per shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from cachetools import LRUCache
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.assignment import State
from app.domain.ports import AssignmentFilter
from app.repositories.sql import tables as t
from app.repositories.sql.pg.driver import RawStatement, RecordRow, fetch_read, raw_statement, send
from app.repositories.sql.queries import ASSIGNMENT_BY_ID, ASSIGNMENT_COLUMNS, effective_state_condition

_c = t.assignments.c


async def get_row(conn: AsyncConnection, tenant_id: UUID, assignment_id: UUID) -> RecordRow | None:
    """In a unit of work that writes, this is its first statement, so it runs before SQLAlchemy's lazy BEGIN:
    at READ COMMITTED that reads what the same SELECT inside the transaction would, and the writes that
    follow are still one transaction, guarded by the compare-and-set on version."""
    stmt = raw_statement(ASSIGNMENT_BY_ID, conn.dialect)
    record = await fetch_read(conn, stmt.sql, *stmt.args({"tenant": tenant_id, "id": assignment_id}), one=True)
    return None if record is None else RecordRow(record)


LIST_FILTERS = {
    "assignee_ids": "assignee_id", "reviewer_ids": "reviewer_id", "brief_ids": "brief_id", "skill_ids": "skill_id",
    "external_refs": "external_ref",
}
"""AssignmentFilter's lists -> the column each matches."""
_LIST_SHAPES: LRUCache[tuple[Any, ...], RawStatement] = LRUCache(maxsize=512)
"""2^10 state sets at most, and few in use: a bound, not a policy."""


def _list_statement(states: tuple[State, ...], due_before: bool, after: bool, lists: tuple[int, ...]) -> Any:
    """The assignment list for one shape of filter: states as written into the SQL (the planner sees them), a
    list of one value as `=` (so the index also gives the order), of more as `= ANY(array)`."""
    now: Any = bindparam("now")
    conditions = [_c.tenant_id == bindparam("tenant")]
    if states:
        conditions.append(or_(*(effective_state_condition(t.assignments, s, now) for s in states)))
    for (name, column), kind in zip(LIST_FILTERS.items(), lists, strict=True):
        if kind == 1:
            conditions.append(_c[column] == bindparam(name))
        elif kind == 2:
            conditions.append(_c[column] == func.any(bindparam(name, type_=postgresql.ARRAY(_c[column].type))))
    if due_before:
        conditions.append(_c.due_at < bindparam("due_before"))
    if after:
        conditions.append(_c.id > bindparam("after"))
    return select(*ASSIGNMENT_COLUMNS).where(*conditions).order_by(_c.id).limit(bindparam("limit"))


async def list_rows(
    conn: AsyncConnection, tenant_id: UUID, filters: AssignmentFilter, after: UUID | None, limit: int, now: datetime, conflict: Any,
) -> list[RecordRow]:
    """The integrations' list: the same SQL as the generic keyset page would send, one statement per shape."""
    lists = {name: getattr(filters, name) for name in LIST_FILTERS}
    shape = (
        tuple(sorted(set(filters.states))), filters.due_before is not None, after is not None,
        tuple(0 if not values else 1 if len(values) == 1 else 2 for values in lists.values()),
    )
    stmt = _LIST_SHAPES.get(shape)
    if stmt is None:
        stmt = _LIST_SHAPES[shape] = RawStatement(_list_statement(*shape), conn.dialect)
    params: dict[str, Any] = {"tenant": tenant_id, "now": now, "due_before": filters.due_before, "after": after, "limit": limit}
    for name, values in lists.items():
        params[name] = values[0] if len(values) == 1 else list(values)
    records = await send(conn, "fetch", stmt.sql, *stmt.args(params), conflict=conflict)
    return [RecordRow(r) for r in records]
