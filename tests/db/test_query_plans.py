"""On PostgreSQL the main reads are served by an index made for them (issue 7: list latency must not grow
with the table). Each test captures the SQL the request really sends and asks EXPLAIN how it would run.

A tenant of a few rows fits in one page, where every plan costs the same; so each test first clones another
team's assignment a few thousand times (one INSERT … SELECT), ANALYZEs, and switches sequential scans off for
the EXPLAIN. What it then proves is that an index serves the filter *and* the order (no Sort node), which is
what keeps page 1 and page 200 of a million rows as cheap as here.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Iterator
from uuid import UUID

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.assignment import State
from app.domain.pagination import PageRequest
from app.domain.ports import AssignmentFilter
from app.repositories.sql import tables as t
from tests.support import Api


@contextlib.contextmanager
def captured(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


def _assignment_select(seen: list[tuple[str, Any]]) -> tuple[str, Any]:
    reads = [(sql, params) for sql, params in seen if sql.lstrip().upper().startswith("SELECT") and "FROM assignments" in sql]
    assert len(reads) == 1, seen
    return reads[0]


async def _plan(engine: AsyncEngine, sql: str, parameters: Any) -> dict[str, Any]:
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        await driver.execute("ANALYZE assignments")  # statistics as autovacuum would keep them
        async with driver.transaction():
            await driver.execute("SET LOCAL enable_seqscan = off")
            rows = await driver.fetch(f"EXPLAIN (FORMAT JSON) {sql}", *parameters)
    plan = rows[0][0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _indexes(plan: dict[str, Any]) -> set[str]:
    return {node["Index Name"] for node in _nodes(plan) if "Index Name" in node}


def _sorts(plan: dict[str, Any]) -> list[str]:
    return [node["Node Type"] for node in _nodes(plan) if "Sort" in node["Node Type"]]


FILLER = 5000


@pytest.fixture
async def postgres(api: Api) -> Api:
    """The test's tenant on PostgreSQL, with FILLER assignments of another team in it."""
    if api.engine.dialect.name != "postgresql":
        pytest.skip("query plans are checked on PostgreSQL")
    others = [await api.accepted(), await api.submitted()]  # so that no state alone is selective
    columns = [c.name for c in t.assignments.c]
    chosen = ", ".join("gen_random_uuid()" if name == "id" else name for name in columns)
    async with api.engine.begin() as conn:
        for other in others:
            await conn.execute(
                text(f"INSERT INTO assignments ({', '.join(columns)}) SELECT {chosen} FROM assignments,"
                     f" generate_series(1, {FILLER // len(others)}) WHERE id = :id").bindparams(id=UUID(other["id"]))
            )
    return api


async def test_a_reviewers_inbox_reads_its_own_index_in_order_on_every_page(postgres: Api) -> None:
    api = postgres
    _, report = await api.team()  # the reviewer is the report's manager
    submitted = [await api.submitted(assignee_id=report["id"]) for _ in range(3)]
    reviewer = submitted[0]["reviewer_id"]
    query = {"state": "submitted", "reviewer_id": reviewer, "limit": 1}
    with captured(api.engine) as first:
        page = await api.get("/v1/assignments", params=query)
    assert page.status_code == 200, page.text
    plan = await _plan(api.engine, *_assignment_select(first))
    assert _indexes(plan) == {"ix_assignments_tenant_id_reviewer_id_state_id"}, plan
    assert not _sorts(plan), plan

    with captured(api.engine) as deeper:  # a later page, via the cursor
        assert (await api.get("/v1/assignments", params=query | {"cursor": page.json()["next_cursor"]})).status_code == 200
    plan = await _plan(api.engine, *_assignment_select(deeper))
    assert _indexes(plan) == {"ix_assignments_tenant_id_reviewer_id_state_id"}, plan
    assert not _sorts(plan), plan


async def test_an_assignees_work_in_a_state_reads_an_assignee_index_in_order(postgres: Api) -> None:
    """(tenant, assignee, state, id) or (tenant, assignee, id): a person has few rows, so either reads only theirs."""
    api = postgres
    assignment = await api.accepted()
    with captured(api.engine) as seen:
        response = await api.get("/v1/assignments", params={"state": "accepted", "assignee_id": assignment["assignee_id"]})
    assert response.status_code == 200 and len(response.json()["items"]) == 1, response.text
    plan = await _plan(api.engine, *_assignment_select(seen))
    assert len(_indexes(plan)) == 1 and next(iter(_indexes(plan))).startswith("ix_assignments_tenant_id_assignee_id"), plan
    assert not _sorts(plan), plan


async def test_reading_one_assignment_uses_the_primary_key(postgres: Api) -> None:
    api = postgres
    assignment = await api.offered()
    with captured(api.engine) as seen:
        assert (await api.get(f"/v1/assignments/{assignment['id']}")).status_code == 200
    plan = await _plan(api.engine, *_assignment_select(seen))
    assert _indexes(plan) == {"pk_assignments"}, plan


async def test_my_assignments_read_only_my_rows_through_an_index(postgres: Api, database: Any) -> None:
    """/v1/me/assignments sorts by the deadline each row faces now (no index can hold that order), so it
    reads the person's rows, and only theirs, by an index on (tenant, assignee, ...), then sorts them."""
    api = postgres
    assignment = await api.accepted()
    tenant = await database.directory.tenant_by_slug(api.tenant_slug)
    with captured(api.engine) as seen:
        async with database.uow(tenant.id, readonly=True) as uow:
            from datetime import UTC, datetime

            filters = AssignmentFilter(states=(), assignee_ids=(UUID(assignment["assignee_id"]),))
            page = await uow.assignments.by_deadline(PageRequest(limit=50), filters, datetime.now(UTC))
    assert len(page.items) == 1
    plan = await _plan(api.engine, *_assignment_select(seen))
    assert _indexes(plan) and all(name.startswith("ix_assignments_tenant_id_assignee_id") for name in _indexes(plan)), plan
    assert State.ACCEPTED.value == page.items[0].state.value
