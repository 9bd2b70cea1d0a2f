"""PostgreSQL: a swept batch written back in one statement, whatever its size (the sweep benchmark's budget)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.repositories.sql.pg.driver import announce, changed_rows, driver_of

_SAVE = """UPDATE assignments AS a SET state = v.state, version = v.version, updated_at = v.updated_at,
       offer_expiring_notified = v.oen, due_soon_notified = v.dsn, review_overdue_notified = v.ron,
       next_deadline_at = v.nda
   FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::int[], $6::timestamptz[],
               $7::bool[], $8::bool[], $9::bool[], $10::timestamptz[])
        AS v(tenant_id, id, expected, state, version, updated_at, oen, dsn, ron, nda)
   WHERE a.tenant_id = v.tenant_id AND a.id = v.id AND a.version = v.expected"""
_COLUMNS = ("k_tenant", "k_id", "k_version", "state", "version", "updated_at", "offer_expiring_notified",
            "due_soon_notified", "review_overdue_notified", "next_deadline_at")


async def save_swept(conn: AsyncConnection, rows: list[dict[str, Any]]) -> int:
    """Compare-and-set every row (the sweeper's `_SAVED` columns, keyed k_tenant, k_id, k_version) joined to
    unnest()ed arrays; returns how many were written."""
    arrays = [[row[key] for row in rows] for key in _COLUMNS]
    announce(conn, _SAVE, tuple(arrays))
    return changed_rows(await (await driver_of(conn)).execute(_SAVE, *arrays))
