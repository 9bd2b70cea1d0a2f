"""The shared Core fragments every query builds on, each rule said once in SQL.

- the effective state (an offer past its expiry is expired, an attempt past due_at + late_grace timed out),
  as `Assignment.effective_state` says it in the domain;
- the deadline an assignment faces now, as `Assignment.facing_deadline` says it;
- the manager chain, up and down, depth-capped so a cycle left in old data can never loop.

Parameters may be values or `bindparam`s: the statements compiled once for the driver (sql/pg/) pass bindparams.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, bindparam, case, insert, literal, literal_column, null, or_, select, update

from app.domain.assignment import State
from app.repositories.sql import tables as t

ASSIGNMENT_COLUMNS = [column for column in t.assignments.c if column.name != "brief"]
"""Assignments are read without their pinned brief, which is large and shared by many of them;
`pinned_briefs` (assignments.py) supplies it."""
ASSIGNMENT_BY_ID = select(*ASSIGNMENT_COLUMNS).where(
    t.assignments.c.tenant_id == bindparam("tenant"), t.assignments.c.id == bindparam("id")
)
"""The hottest read, built once. Every column is a UUID, text, number, boolean or timestamptz, which asyncpg
returns as the column types do (aware UTC datetimes), so the driver's rows need no SQLAlchemy processing."""

@functools.cache
def insert_statement(table: Table) -> Any:
    """INSERT INTO table, built once: the values come as execute() parameters, so SQLAlchemy's compiled cache
    serves every call instead of a statement (and its cache key) being rebuilt from a values dict each time."""
    return insert(table)


@functools.cache
def cas_statement(table: Table, columns: tuple[str, ...]) -> Any:
    """The compare-and-set UPDATE of `columns`, built once per table and column set (parameters k_tenant,
    k_id and k_version select the row and the version it must still have)."""
    c = table.c
    return (
        update(table)
        .where(c.tenant_id == bindparam("k_tenant"), c.id == bindparam("k_id"), c.version == bindparam("k_version"))
        .values({name: bindparam(name) for name in columns})
    )


def _state(value: State) -> Any:
    """A state as a literal in the SQL, not a parameter: the planner sees it in every plan (generic ones too)."""
    return literal_column(f"'{value.value}'")


def _is(column: Any, *states: State) -> Any:
    return or_(*(column == _state(s) for s in states)) if len(states) > 1 else column == _state(states[0])


_LIVE = (State.ACCEPTED, State.REVISION_REQUESTED)


def effective_state_condition(table: Table, state: State, now: datetime | Any) -> Any:
    """SQL for 'effective state is `state`' (Assignment.effective_state): deadlines count even before the sweeper runs."""
    c = table.c
    if state is State.OFFERED:
        return and_(_is(c.state, state), c.offer_expires_at > now)
    if state is State.EXPIRED:
        return or_(_is(c.state, state), and_(_is(c.state, State.OFFERED), c.offer_expires_at <= now))
    if state in _LIVE:
        return and_(_is(c.state, state), c.timeout_at > now)
    if state is State.TIMED_OUT:  # `=` twice rather than IN: a statement compiled once has no IN list to expand
        return or_(_is(c.state, state), and_(_is(c.state, *_LIVE), c.timeout_at <= now))
    return _is(c.state, state)


def facing_deadline(table: Table, now: datetime | Any) -> Any:
    """The deadline the assignment faces now (Assignment.facing_deadline): offer expiry, due_at, review_due_at; NULL when none."""
    c = table.c
    return case(
        (and_(_is(c.state, State.OFFERED), c.offer_expires_at > now), c.offer_expires_at),
        (and_(_is(c.state, *_LIVE), c.timeout_at > now), c.due_at),
        (_is(c.state, State.SUBMITTED), c.review_due_at),
        else_=null(),
    )


def after_deadline(deadline: Any, id_column: Any, last_deadline: datetime | Any, last_id: UUID | Any, *, last_had_none: bool) -> Any:
    """The keyset condition for "nearest deadline first, then id, those facing none last" after the row
    (`last_deadline`, `last_id`); `last_had_none` when that row faced no deadline."""
    if last_had_none:
        return and_(deadline.is_(None), id_column > last_id)
    return or_(deadline > last_deadline, and_(deadline == last_deadline, id_column > last_id), deadline.is_(None))


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
