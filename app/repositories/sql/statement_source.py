"""What xAPI statements need besides their events: learners and skill names, one query each."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain import xapi
from app.domain.events import Event
from app.domain.webhooks import Delivery, Webhook
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t


async def attach_statements(
    conn: AsyncConnection, tenant_id: UUID, deliveries: list[Delivery], events: dict[UUID, Event], hooks: dict[UUID, Webhook]
) -> None:
    """Build the xAPI statement each LRS delivery sends, looking up learners and skills in one query each."""
    documents = {d.event_id: m.event_document(events[d.event_id]) for d in deliveries if d.payload is not None}
    learners = await load_learners(conn, tenant_id, {doc["data"]["assignee_id"] for doc in documents.values()})
    skills = await load_skill_names(conn, tenant_id, {doc["data"]["skill_id"] for doc in documents.values()})
    for delivery in deliveries:
        if delivery.payload is None:
            continue
        doc, hook = documents[delivery.event_id], hooks[delivery.webhook_id]
        delivery.payload = xapi.statement(
            doc, learners[UUID(doc["data"]["assignee_id"])], skills.get(UUID(doc["data"]["skill_id"])),
            tenant_id=tenant_id, home_page=hook.xapi_home_page or "", use_mbox=hook.xapi_use_mbox,
        )


async def load_learners(conn: AsyncConnection, tenant_id: UUID, ids: set[Any]) -> dict[UUID, xapi.Learner]:
    p = t.people.c
    rows = (await conn.execute(
        select(p.id, p.external_id, p.email, p.display_name).where(p.tenant_id == tenant_id, p.id.in_([UUID(str(i)) for i in ids]))
    )).all()
    return {row.id: xapi.Learner(row.external_id, row.email, row.display_name) for row in rows}


async def load_skill_names(conn: AsyncConnection, tenant_id: UUID, ids: set[Any]) -> dict[UUID, str]:
    k = t.skills.c
    rows = (await conn.execute(select(k.id, k.name).where(k.tenant_id == tenant_id, k.id.in_([UUID(str(i)) for i in ids])))).all()
    return {row.id: row.name for row in rows}


class SqlStatementSource:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def learners(self, tenant_id: UUID, person_ids: set[UUID]) -> dict[UUID, xapi.Learner]:
        return await load_learners(self._conn, tenant_id, person_ids)

    async def skill_names(self, tenant_id: UUID, skill_ids: set[UUID]) -> dict[UUID, str]:
        return await load_skill_names(self._conn, tenant_id, skill_ids)
