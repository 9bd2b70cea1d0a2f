"""Events, their feed counters, webhooks and the outbox of deliveries."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKeyConstraint, Index, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from app.repositories.sql.tables.columns import json_field, text_field, ts_field


class EventCounterRow(SQLModel, table=True):
    """Per tenant: the version of its webhook set (for the per-process cache, bumped by every change of it),
    and on SQLite the last event seq handed out. On PostgreSQL event writers only read it, under the tenant's
    shared WEBHOOK_SET lock (app.repositories.sql.locks), so they never wait on each other."""

    __tablename__ = "event_counters"
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    last_seq: int = Field(default=0, sa_type=BigInteger)
    webhooks_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        Index(None, "tenant_id", "subject_id", "id"), Index(None, "tenant_id", "seq", unique=True),
        # Stored but not yet in the feed (PostgreSQL hands out seqs after commit): what the sequencer reads.
        Index("ix_events_unsequenced", "tenant_id", "pos", postgresql_where=text("seq IS NULL"), sqlite_where=text("seq IS NULL")),
    )
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    type: str = Field(max_length=64)
    occurred_at: datetime = ts_field()
    actor_type: str = Field(max_length=16)
    actor_id: UUID | None = None
    actor_on_behalf_of: UUID | None = None
    subject_type: str = Field(max_length=32)
    subject_id: UUID
    data: dict = json_field()
    details: dict = json_field()
    seq: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    """The feed position, gap-free per tenant; null until the sequencer reaches the event (PostgreSQL)."""
    pos: int = Field(sa_type=BigInteger)
    """Order of storing: from the sequence events_pos_seq on PostgreSQL, the seq itself on SQLite."""


class WebhookRow(SQLModel, table=True):
    __tablename__ = "webhooks"
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    url: str = Field(max_length=2000)
    event_types: list[str] = json_field()
    description: str | None = Field(default=None, max_length=500)
    active: bool
    secret: str = Field(max_length=100)
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_expires_at: datetime | None = ts_field(nullable=True)
    failing_since: datetime | None = ts_field(nullable=True)
    disabled_reason: str | None = Field(default=None, max_length=200)
    version: int
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    kind: str = Field(default="standard", max_length=16, sa_column_kwargs={"server_default": "standard"})
    basic_auth: str | None = Field(default=None, max_length=600)
    xapi_home_page: str | None = Field(default=None, max_length=2000)
    xapi_use_mbox: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class WebhookDeliveryRow(SQLModel, table=True):
    """The outbox: written with the event, in its transaction; the worker delivers and records each attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "webhook_id"], ["webhooks.tenant_id", "webhooks.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "webhook_id", "id"),
        # What the worker claims, and what keeps one subject's deliveries in order per webhook.
        Index("ix_webhook_deliveries_due", "next_attempt_at",
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
        Index("ix_webhook_deliveries_order", "tenant_id", "webhook_id", "subject_id", "event_pos",
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    )
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    webhook_id: UUID
    event_id: UUID
    event_pos: int = Field(sa_type=BigInteger)
    event_type: str = Field(max_length=64)
    subject_id: UUID
    status: str = Field(max_length=16)
    attempts: int
    next_attempt_at: datetime | None = ts_field(nullable=True)
    last_attempt_at: datetime | None = ts_field(nullable=True)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    log: list[dict] = json_field()
    created_at: datetime = ts_field()
    payload: dict | None = json_field(nullable=True)


class XapiStatementRow(SQLModel, table=True):
    """An xAPI statement as it was built when its event was stored: `body` is the exact JSON served and pushed.
    The other columns are what GET /v1/xapi/statements filters on."""

    __tablename__ = "xapi_statements"
    __table_args__ = (
        UniqueConstraint("tenant_id", "statement_id"),
        Index(None, "tenant_id", "registration"),
    )
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    event_id: UUID = Field(primary_key=True)
    statement_id: UUID
    occurred_at: datetime = ts_field()
    verb_id: str = Field(max_length=500)
    activity_id: str = Field(max_length=2000)
    agent: str = Field(max_length=2200)
    registration: UUID
    body: str = text_field(nullable=False)
