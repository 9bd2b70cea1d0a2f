"""PostgreSQL: storing a tenant's events without holding up other writers (see sequencer.py for their seqs)."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

from pydantic_core import to_json
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.errors import Conflict
from app.domain.events import Event
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t
from app.repositories.sql.pg import locks
from app.repositories.sql.pg.copy import COPY_THRESHOLD
from app.repositories.sql.pg.driver import raw_statement, send, write
from app.repositories.sql.queries import insert_statement

_RESERVE_POSITIONS = (
    "SELECT pg_advisory_xact_lock_shared($1::int, $2::int), "
    "(SELECT array_agg(nextval('events_pos_seq')) FROM generate_series(1, $3::int)) AS positions"
)
_WEBHOOKS_VERSION = "SELECT webhooks_version FROM event_counters WHERE tenant_id = $1"
_RETURNING_WEBHOOKS_VERSION = (
    " RETURNING (SELECT webhooks_version FROM event_counters WHERE event_counters.tenant_id = events.tenant_id)"
)
"""Read by the INSERT of a single event: its statement starts after the share lock is held, as it must."""
_EVENT_COLUMNS = ("tenant_id", "id", "type", "occurred_at", "actor_type", "actor_id", "actor_on_behalf_of",
                  "subject_type", "subject_id", "data", "details", "seq", "pos")


def event_conflict(text: str) -> Conflict:
    return Conflict("The event conflicts with existing data.", code="event.conflict")  # ids are new: only a bug gets here


async def store_tenant_events(conn: AsyncConnection, tenant_id: UUID, events: list[Event]) -> tuple[list[Event], int]:
    """Store one tenant's events with `pos` and no seq (the sequencer numbers them after commit); returns them
    and the webhooks_version to queue their deliveries by.

    Writers share the tenant's WEBHOOK_SET lock, so they never wait on each other; a change of webhooks takes
    it alone, so it waits for the events in flight, and every event stored after it reads the new version."""
    record = await send(
        conn, "fetchrow", _RESERVE_POSITIONS, locks.WEBHOOK_SET, locks.tenant_key(tenant_id), len(events), conflict=event_conflict,
    )
    stored = [dataclasses.replace(e, pos=pos) for e, pos in zip(events, sorted(record["positions"]), strict=True)]
    rows = [m.event_values(event) for event in stored]
    if len(rows) >= COPY_THRESHOLD:
        records = []
        for values in rows:
            values["data"], values["details"] = to_json(values["data"]).decode(), to_json(values["details"]).decode()
            records.append(tuple(values[name] for name in _EVENT_COLUMNS))
        await send(conn, "copy_records_to_table", "events", records=records, columns=_EVENT_COLUMNS, conflict=event_conflict)
        version = await send(conn, "fetchval", _WEBHOOKS_VERSION, tenant_id, conflict=event_conflict)
    else:
        insert_events = raw_statement(insert_statement(t.events), conn.dialect, tuple(rows[0]))
        if len(rows) == 1:
            version = await send(conn, "fetchval", insert_events.sql + _RETURNING_WEBHOOKS_VERSION, *insert_events.args(rows[0]),
                                 conflict=event_conflict)
        else:
            await write(conn, insert_events, rows, event_conflict)
            version = await send(conn, "fetchval", _WEBHOOKS_VERSION, tenant_id, conflict=event_conflict)
    if version is None:  # a tenant from before the counters existed
        await conn.execute(insert(t.event_counters).values(tenant_id=tenant_id, last_seq=0, webhooks_version=0))
        version = 0
    return stored, version


async def insert_deliveries(conn: AsyncConnection, deliveries: list[dict[str, Any]]) -> None:
    stmt = raw_statement(insert_statement(t.webhook_deliveries), conn.dialect, tuple(deliveries[0]))
    await write(conn, stmt, deliveries, event_conflict)


async def lock_webhook_set(conn: AsyncConnection, tenant_id: UUID) -> None:
    """Take the tenant's webhook-set lock alone: wait for the events in flight, hold off new ones until commit."""
    await send(conn, "execute", locks.EXCLUSIVE, locks.WEBHOOK_SET, locks.tenant_key(tenant_id), conflict=event_conflict)
