"""Frozen xAPI statements: built once, in the transaction that stores their events, and kept as built.

GET /v1/xapi/statements serves the stored text and the LRS delivery sends the same text, so pull and push
never disagree and a later rename, LRS setting or brief edit changes no statement already issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

from pydantic_core import to_json
from sqlalchemy import String, and_, cast, insert, literal_column, null, select, union_all
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain import xapi
from app.domain.events import Event
from app.domain.webhooks import Delivery, Webhook, WebhookKind
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t
from app.repositories.sql.pg.driver import CONNECTION_FAILURES, connection_failed, driver_of
from app.repositories.sql.pg.sequencer import number_waiting

DEFAULT_HOME_PAGE = "http://127.0.0.1:8000"
"""The actor account's homePage while the tenant has no LRS naming one (the server's public URL when configured)."""
_HOME_PAGES: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()


def use_home_page(engine: AsyncEngine, home_page: str) -> None:
    """The homePage statements of this engine's tenants get while no LRS names one (Database sets it)."""
    _HOME_PAGES[engine.sync_engine] = home_page


def _default_home_page(conn: AsyncConnection) -> str:
    return _HOME_PAGES.get(conn.sync_engine.engine, DEFAULT_HOME_PAGE)


@dataclass(frozen=True)
class Frozen:
    """One statement as stored: its row, and the exact JSON text served and pushed."""

    row: dict[str, Any]
    text: str


async def freeze(conn: AsyncConnection, tenant_id: UUID, events: list[Event], hooks: list[Webhook]) -> dict[UUID, Frozen]:
    """The statements of a batch's xAPI events, by event id, as the tenant's LRS settings say now
    (its homePage and actor format); one query looks up the learners and skills they name."""
    wanted = [event for event in events if event.type in xapi.STATEMENT_TYPES]
    if not wanted:
        return {}
    lrs = next((hook for hook in hooks if hook.kind is WebhookKind.XAPI), None)
    home_page = lrs.xapi_home_page if lrs is not None and lrs.xapi_home_page else _default_home_page(conn)
    use_mbox = bool(lrs is not None and lrs.xapi_use_mbox)
    documents = {event.id: m.event_document(event) for event in wanted}
    learners, skills = await _lookups(conn, tenant_id, {doc["data"]["assignee_id"] for doc in documents.values()},
                                      {doc["data"]["skill_id"] for doc in documents.values()})
    frozen = {}
    for event in wanted:
        doc = documents[event.id]
        built = xapi.statement(
            doc, learners[UUID(doc["data"]["assignee_id"])], skills.get(UUID(doc["data"]["skill_id"])),
            tenant_id=tenant_id, home_page=home_page, use_mbox=use_mbox,
        )
        text = to_json(built).decode()
        frozen[event.id] = Frozen(row_of(tenant_id, event.id, event.occurred_at, built, text), text)
    return frozen


def row_of(tenant_id: UUID, event_id: UUID, occurred_at: datetime, built: dict[str, Any], text: str) -> dict[str, Any]:
    """The stored row of a built statement: the filters' columns beside its text."""
    return {
        "tenant_id": tenant_id, "event_id": event_id, "statement_id": UUID(built["id"]), "occurred_at": occurred_at,
        "verb_id": built["verb"]["id"], "activity_id": built["object"]["id"], "agent": xapi.agent_key(built["actor"]) or "",
        "registration": UUID(built["context"]["registration"]), "body": text,
    }


def attach(deliveries: list[Delivery], frozen: dict[UUID, Frozen]) -> None:
    """An LRS delivery carries its frozen statement: its id (for `statementId`) and the exact text to PUT."""
    for delivery in deliveries:
        if delivery.payload is not None and delivery.event_id in frozen:
            statement = frozen[delivery.event_id]
            delivery.payload = {"id": str(statement.row["statement_id"]), "text": statement.text}


async def store(conn: AsyncConnection, frozen: list[Frozen]) -> None:
    if frozen:
        await conn.execute(insert(t.xapi_statements), [f.row for f in frozen])


async def _lookups(conn: AsyncConnection, tenant_id: UUID, people: set[Any], skills: set[Any]) -> tuple[dict[UUID, xapi.Learner],
    dict[UUID, str]]:
    """The learners and skill names the statements name, in one query (a transition pays one round trip for it)."""
    p, k = t.people.c, t.skills.c
    text_null = cast(null(), String)
    stmt = union_all(
        select(literal_column("'p'").label("kind"), p.id, p.external_id.label("a"), p.email.label("b"), p.display_name.label("c"))
        .where(p.tenant_id == tenant_id, p.id.in_([UUID(str(i)) for i in people])),
        select(literal_column("'s'"), k.id, k.name, text_null, text_null)
        .where(k.tenant_id == tenant_id, k.id.in_([UUID(str(i)) for i in skills])),
    )
    learners, names = {}, {}
    for row in (await conn.execute(stmt)).all():
        if row.kind == "p":
            learners[row.id] = xapi.Learner(row.a, row.b, row.c)
        else:
            names[row.id] = row.a
    return learners, names


class SqlStatementStore:
    """The tenant's stored statements in feed order (the seq of the event each was made from)."""

    def __init__(self, conn: AsyncConnection, tenant_id: UUID) -> None:
        self._conn, self._tenant_id = conn, tenant_id

    async def page(self, query: xapi.StatementQuery) -> list[tuple[int, str]]:
        """(seq, statement text) pairs of one page, plus one more when there is a next page."""
        if self._conn.dialect.name == "postgresql":  # committed events still without a seq get one first, as the feed does
            driver = await driver_of(self._conn)
            try:
                await number_waiting(driver, self._tenant_id)
            except CONNECTION_FAILURES as exc:
                await connection_failed(self._conn, exc)
        s, e = t.xapi_statements.c, t.events.c
        conditions = [s.tenant_id == self._tenant_id, e.seq.is_not(None)]
        if query.after is not None:
            conditions.append(e.seq > query.after if query.ascending else e.seq < query.after)
        if query.since is not None:
            conditions.append(s.occurred_at > query.since)
        if query.until is not None:
            conditions.append(s.occurred_at <= query.until)
        for column, value in ((s.verb_id, query.verb), (s.activity_id, query.activity), (s.agent, query.agent),
                              (s.registration, query.registration)):
            if value is not None:
                conditions.append(column == value)
        stmt = (
            select(e.seq, s.body)
            .select_from(t.xapi_statements.join(t.events, and_(e.tenant_id == s.tenant_id, e.id == s.event_id)))
            .where(*conditions)
            .order_by(e.seq.asc() if query.ascending else e.seq.desc())
            .limit(query.limit + 1)
        )
        return [(row.seq, row.body) for row in (await self._conn.execute(stmt)).all()]
