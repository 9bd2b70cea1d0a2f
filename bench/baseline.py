"""The baseline: the fastest plain thing that answers the benchmark's requests, on the same tables.

A bare FastAPI app over one asyncpg pool, with hand-written SQL and no validation, auth, events or
problem+json. It answers the same URLs with the same JSON shapes (effective state, allowed actions,
the pinned brief), serialised by pydantic-core. Like the project, it caches pinned briefs by
(brief_id, brief_version): a published version never changes. Each transition is one UPDATE that
derives its deadlines from the pinned brief in SQL, plus the rows the transition creates
(submission; review and evidence) in the same transaction. Reviews are not scored against the rubric.

Run by the harness under uvicorn; configured by BENCH_DSN, BENCH_TENANT and BENCH_ME (the person
/v1/me/assignments answers for: the baseline checks no token).
"""

from __future__ import annotations

import json
import os
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, AsyncIterator
from uuid import UUID

import asyncpg
from fastapi import FastAPI, Request, Response
from pydantic_core import to_json
from uuid_utils.compat import uuid7

TENANT = UUID(os.environ["BENCH_TENANT"])
COLUMNS = (
    "id, version, created_at, updated_at, state, brief_id, brief_version, skill_id, assignee_id, reviewer_id, offered_by_type,"
    " offered_by_id, context_note, external_ref, attempt, offer_expires_at, starts_at, due_at, timeout_at, submitted_at,"
    " review_due_at, outcome, score, late"
)
LIVE = ("accepted", "revision_requested")
ALLOWED = {  # effective state -> what an admin caller may do (the reclaim window is not checked)
    "offered": ["accept", "decline", "withdraw"], "accepted": ["withdraw", "submit", "extend"],
    "revision_requested": ["withdraw", "submit", "extend"], "submitted": ["reclaim", "review"], "timed_out": ["extend"],
}
PINNED_FIELDS = ("title", "summary", "instructions", "context", "target_level", "timebox", "deliverable", "rubric", "review_within", "late_grace")
OUTCOME_STATES = {"pass": "passed", "fail": "failed", "revise": "revision_requested"}

pool: asyncpg.Pool = None  # type: ignore[assignment]  # opened by lifespan
briefs: dict[tuple[UUID, int], dict[str, Any]] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["BENCH_DSN"], min_size=10, max_size=20)  # the project's pool: 10 + 10 overflow
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(to_json(body), status, headers, media_type="application/json")


async def _pinned(conn: asyncpg.Connection, row: asyncpg.Record) -> dict[str, Any]:
    key = (row["brief_id"], row["brief_version"])
    if key not in briefs:
        content = json.loads(await conn.fetchval("SELECT brief FROM assignments WHERE tenant_id = $1 AND id = $2", TENANT, row["id"]))
        briefs[key] = {"max_attempts": content["max_attempts"], "brief": {name: content[name] for name in PINNED_FIELDS}}
    return briefs[key]


async def _assignment(conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    state = row["state"]
    if state == "offered" and now >= row["offer_expires_at"]:
        state = "expired"
    elif state in LIVE and row["timeout_at"] is not None and now >= row["timeout_at"]:
        state = "timed_out"
    pinned = await _pinned(conn, row)
    return {
        "id": row["id"], "version": row["version"], "created_at": row["created_at"], "updated_at": row["updated_at"],
        "state": state, "allowed_actions": ALLOWED.get(state, []), "brief_id": row["brief_id"], "brief_version": row["brief_version"],
        "brief": pinned["brief"], "skill_id": row["skill_id"], "assignee_id": row["assignee_id"], "reviewer_id": row["reviewer_id"],
        "offered_by": {"type": row["offered_by_type"], "id": row["offered_by_id"]}, "context_note": row["context_note"],
        "external_ref": row["external_ref"], "attempt": row["attempt"], "max_attempts": pinned["max_attempts"],
        "offer_expires_at": row["offer_expires_at"], "starts_at": row["starts_at"], "due_at": row["due_at"],
        "submitted_at": row["submitted_at"], "review_due_at": row["review_due_at"], "outcome": row["outcome"],
        "score": row["score"], "late": row["late"],
    }


def _conflict(assignment_id: str) -> Response:
    return _json({"detail": f"assignment {assignment_id} is not in a state for this"}, 409)


@app.get("/healthz")
async def healthz() -> Response:
    return _json({"status": "ok"})


@app.get("/v1/assignments/{assignment_id}")
async def get_assignment(request: Request) -> Response:
    assignment_id = request.path_params["assignment_id"]
    async with pool.acquire() as conn:
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM assignments WHERE tenant_id = $1 AND id = $2", TENANT, assignment_id)
        if row is None:
            return _json({"detail": "not found"}, 404)
        return _json(await _assignment(conn, row, datetime.now(UTC)), headers={"ETag": f'"{row["version"]}"'})


@app.get("/v1/assignments")
async def list_assignments(request: Request) -> Response:
    query = request.query_params
    limit = int(query.get("limit", 50))
    where = "tenant_id = $1 AND state = $2 AND reviewer_id = $3"
    args: list[Any] = [TENANT, query["state"], query["reviewer_id"], limit + 1]
    if "cursor" in query:
        where += " AND id > $5"
        args.append(query["cursor"])
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {COLUMNS} FROM assignments WHERE {where} ORDER BY id LIMIT $4", *args)
        items = [await _assignment(conn, row, now) for row in rows[:limit]]
    return _json({"items": items, "next_cursor": str(rows[limit - 1]["id"]) if len(rows) > limit else None})


ME = UUID(os.environ["BENCH_ME"]) if os.environ.get("BENCH_ME") else None
MINE = {  # effective state -> what the assignee may do (the reclaim window is not checked)
    "offered": ["accept", "decline"], "accepted": ["submit"], "revision_requested": ["submit"], "submitted": ["reclaim"],
}


@app.get("/v1/me/assignments")
async def my_assignments(request: Request) -> Response:
    """The signed-in person's work, nearest deadline first; the person is fixed (no token is checked)."""
    limit = int(request.query_params.get("limit", 50))
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT {COLUMNS}, CASE WHEN state = 'offered' AND offer_expires_at > $3 THEN offer_expires_at
                    WHEN state IN ('accepted', 'revision_requested') AND timeout_at > $3 THEN due_at
                    WHEN state = 'submitted' THEN review_due_at END AS sort_deadline
                FROM assignments WHERE tenant_id = $1 AND assignee_id = $2
                ORDER BY sort_deadline NULLS LAST, id LIMIT $4""",
            TENANT, ME, now, limit + 1,
        )
        items = []
        for row in rows[:limit]:
            item = await _assignment(conn, row, now)
            item["allowed_actions"] = MINE.get(item["state"], [])
            items.append(item)
    following = f"{rows[limit - 1]['sort_deadline']}/{rows[limit - 1]['id']}" if len(rows) > limit else None
    return _json({"items": items, "next_cursor": following})


@app.post("/v1/assignments/{assignment_id}/accept")
async def accept(request: Request) -> Response:
    assignment_id = request.path_params["assignment_id"]
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"""UPDATE assignments SET state = 'accepted', starts_at = $3, due_at = $3 + (brief->>'timebox')::interval,
                    timeout_at = $3 + (brief->>'timebox')::interval + (brief->>'late_grace')::interval,
                    next_deadline_at = $3 + (brief->>'timebox')::interval * 0.8, submitted_at = NULL, review_due_at = NULL,
                    late = false, due_soon_notified = false, review_overdue_notified = false, version = version + 1, updated_at = $3
                WHERE tenant_id = $1 AND id = $2 AND state = 'offered' AND offer_expires_at > $3
                RETURNING {COLUMNS}""",
            TENANT, assignment_id, now,
        )
        if row is None:
            return _conflict(assignment_id)
        return _json(await _assignment(conn, row, now), headers={"ETag": f'"{row["version"]}"'})


@app.post("/v1/assignments/{assignment_id}/submissions")
async def submit(request: Request) -> Response:
    assignment_id = request.path_params["assignment_id"]
    body = json.loads(await request.body())
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """UPDATE assignments SET state = 'submitted', submitted_at = $3, late = $3 > due_at,
                    review_due_at = $3 + (brief->>'review_within')::interval, next_deadline_at = $3 + (brief->>'review_within')::interval,
                    review_overdue_notified = false, version = version + 1, updated_at = $3
                WHERE tenant_id = $1 AND id = $2 AND state IN ('accepted', 'revision_requested') AND timeout_at > $3
                RETURNING attempt, late, version""",
            TENANT, assignment_id, now,
        )
        if row is None:
            return _conflict(assignment_id)
        submission = {
            "id": uuid7(), "assignment_id": assignment_id, "attempt": row["attempt"], "status": "active", "body": body.get("body"),
            "links": body.get("links", []), "attachments": body.get("attachments", []), "time_spent": body.get("time_spent"),
            "submitted_by": {"type": "api_key", "id": None}, "submitted_at": now, "late": row["late"], "reclaimed_at": None,
        }
        await conn.execute(
            """INSERT INTO submissions (tenant_id, id, assignment_id, attempt, body, links, attachments, time_spent,
                   submitted_by_type, submitted_at, late, status)
               VALUES ($1, $2, $3, $4, $5, $6, $7, extract(epoch FROM $8::text::interval)::bigint, 'api_key', $9, $10, 'active')""",
            TENANT, submission["id"], assignment_id, row["attempt"], submission["body"], to_json(submission["links"]).decode(),
            to_json(submission["attachments"]).decode(), submission["time_spent"], now, row["late"],
        )
    return _json(submission, 201, {"ETag": f'"{row["version"]}"'})


@app.post("/v1/assignments/{assignment_id}/reviews")
async def review(request: Request) -> Response:
    assignment_id = request.path_params["assignment_id"]
    body = json.loads(await request.body())
    outcome, scores = body["outcome"], body.get("scores", [])
    score = float(sum(item["score"] for item in scores))
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """UPDATE assignments SET state = $3, outcome = $4, score = $5, next_deadline_at = NULL, version = version + 1, updated_at = $6
                WHERE tenant_id = $1 AND id = $2 AND state = 'submitted'
                RETURNING attempt, reviewer_id, assignee_id, skill_id, (brief->>'target_level')::int AS level, version,
                    (SELECT id FROM submissions s WHERE s.tenant_id = $1 AND s.assignment_id = $2 AND s.status = 'active'
                     ORDER BY s.id DESC LIMIT 1) AS submission_id""",
            TENANT, assignment_id, OUTCOME_STATES[outcome], outcome, score, now,
        )
        if row is None:
            return _conflict(assignment_id)
        review = {
            "id": uuid7(), "assignment_id": assignment_id, "submission_id": row["submission_id"], "attempt": row["attempt"],
            "reviewer_id": row["reviewer_id"], "reviewed_by": {"type": "api_key", "id": None}, "outcome": outcome,
            "scores": scores, "score": score, "feedback": body.get("feedback", ""), "created_at": now,
        }
        await conn.execute(
            """INSERT INTO reviews (tenant_id, id, assignment_id, submission_id, attempt, reviewer_id, reviewed_by_type, outcome,
                   scores, score, feedback, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, 'api_key', $7, $8, $9, $10, $11)""",
            TENANT, review["id"], assignment_id, row["submission_id"], row["attempt"], row["reviewer_id"], outcome,
            to_json(scores).decode(), score, review["feedback"], now,
        )
        if outcome == "pass":
            await conn.execute(
                """INSERT INTO evidence (tenant_id, id, person_id, skill_id, level, assignment_id, review_id, score, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                TENANT, uuid7(), row["assignee_id"], row["skill_id"], row["level"], assignment_id, review["id"], score, now,
            )
    return _json(review, 201, {"ETag": f'"{row["version"]}"'})
