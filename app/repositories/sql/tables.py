"""The schema, as SQLModel tables. Alembic migrations are generated from this metadata.

Every table leads with `tenant_id` in its primary key and indexes, and references
other rows by (tenant_id, id), so no row can ever point into another tenant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, LargeBinary, ForeignKeyConstraint, Index, Text, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from app.repositories.sql.types import JSONType, NullableJSON, Seconds, UTCDateTime

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _ts(nullable: bool = False) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, default=None if nullable else ...)


def _json(nullable: bool = False) -> Any:
    return Field(sa_column=Column(JSONType, nullable=nullable))


def _text(nullable: bool = True) -> Any:
    return Field(sa_column=Column(Text, nullable=nullable))


def _tenant_fk(column: str, table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id", column], [f"{table}.tenant_id", f"{table}.id"])


class TenantRow(SQLModel, table=True):
    __tablename__ = "tenants"
    id: UUID = Field(primary_key=True)
    slug: str = Field(max_length=63, unique=True)
    name: str = Field(max_length=200)
    created_at: datetime = _ts()


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"
    __table_args__ = (Index(None, "key_hash", unique=True),)
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    scopes: list[str] = _json()
    key_hash: str = Field(max_length=64)
    hint: str = Field(max_length=32)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)


class PersonRow(SQLModel, table=True):
    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        _tenant_fk("manager_id", "people"),
        Index(None, "tenant_id", "manager_id"),
    )
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    external_id: str = Field(max_length=255)
    display_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    manager_id: UUID | None = None
    team: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    active: bool = True
    version: int
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    is_admin: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class IdentityProviderRow(SQLModel, table=True):
    __tablename__ = "identity_providers"
    __table_args__ = (Index(None, "issuer"),)
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    issuer: str = Field(max_length=500)
    audience: str = Field(max_length=500)
    claim: str = Field(max_length=100)
    match: str = Field(max_length=16)
    jwks: dict | None = _json(nullable=True)
    jwks_url: str | None = Field(default=None, max_length=2000)
    pem_keys: list[str] = _json()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class SkillRow(SQLModel, table=True):
    __tablename__ = "skills"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    key: str = Field(max_length=64)
    name: str = Field(max_length=200)
    description: str | None = _text()
    framework: str | None = Field(default=None, max_length=32)
    framework_ref: str | None = Field(default=None, max_length=500)
    levels: list[dict] = _json()
    version: int
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class BriefRow(SQLModel, table=True):
    __tablename__ = "briefs"
    __table_args__ = (
        _tenant_fk("skill_id", "skills"),
        Index(None, "tenant_id", "status", "id"),
        Index(None, "tenant_id", "skill_id", "id"),
        UniqueConstraint("tenant_id", "key"),
    )
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    skill_id: UUID
    status: str = Field(max_length=16)
    revision: int
    published_revision: int | None = None
    content: dict = _json()
    published: dict | None = _json(nullable=True)
    version: int
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    key: str | None = Field(default=None, max_length=64)


class AssignmentRow(SQLModel, table=True):
    __tablename__ = "assignments"
    __table_args__ = (
        _tenant_fk("brief_id", "briefs"),
        _tenant_fk("assignee_id", "people"),
        _tenant_fk("reviewer_id", "people"),
        UniqueConstraint("tenant_id", "external_ref"),
        Index(None, "tenant_id", "state", "id"),
        Index(None, "tenant_id", "assignee_id", "id"),
        Index(None, "tenant_id", "reviewer_id", "id"),
        Index(None, "tenant_id", "reviewer_id", "state", "id"),  # a reviewer's inbox: ?reviewer_id=…&state=submitted
        Index(None, "tenant_id", "assignee_id", "state", "id"),  # a person's work in a state
        Index(None, "tenant_id", "brief_id", "id"),
        Index(None, "tenant_id", "skill_id", "id"),
        Index(None, "tenant_id", "due_at"),
        # The sweeper's claim index. It is cross-tenant by nature (one queue for every tenant);
        # partial, so finished assignments cost it nothing.
        Index(
            "ix_assignments_next_deadline_at", "next_deadline_at",
            postgresql_where=text("next_deadline_at IS NOT NULL"), sqlite_where=text("next_deadline_at IS NOT NULL"),
        ),
    )
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    brief_id: UUID
    brief_version: int
    brief: dict = _json()
    skill_id: UUID
    assignee_id: UUID
    reviewer_id: UUID
    offered_by_type: str = Field(max_length=16)
    offered_by_id: UUID | None = None
    offered_by_on_behalf_of: UUID | None = None
    state: str = Field(max_length=24)
    offer_expires_at: datetime = _ts()
    context_note: str | None = _text()
    external_ref: str | None = Field(default=None, max_length=255)
    attempt: int
    starts_at: datetime | None = _ts(nullable=True)
    due_at: datetime | None = _ts(nullable=True)
    timeout_at: datetime | None = _ts(nullable=True)
    submitted_at: datetime | None = _ts(nullable=True)
    review_due_at: datetime | None = _ts(nullable=True)
    outcome: str | None = Field(default=None, max_length=16)
    score: float | None = None
    late: bool = False
    version: int
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    offer_expiring_notified: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    due_soon_notified: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    review_overdue_notified: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    next_deadline_at: datetime | None = _ts(nullable=True)


class SubmissionRow(SQLModel, table=True):
    __tablename__ = "submissions"
    __table_args__ = (_tenant_fk("assignment_id", "assignments"), Index(None, "tenant_id", "assignment_id", "id"))
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    assignment_id: UUID
    attempt: int
    body: str | None = _text()
    links: list[dict] = _json()
    attachments: list[dict] = _json()
    time_spent: timedelta | None = Field(default=None, sa_type=Seconds)
    submitted_by_type: str = Field(max_length=16)
    submitted_by_id: UUID | None = None
    submitted_at: datetime = _ts()
    late: bool
    status: str = Field(max_length=16)
    reclaimed_at: datetime | None = _ts(nullable=True)


class ReviewRow(SQLModel, table=True):
    __tablename__ = "reviews"
    __table_args__ = (
        _tenant_fk("assignment_id", "assignments"),
        _tenant_fk("submission_id", "submissions"),
        Index(None, "tenant_id", "assignment_id", "id"),
    )
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    assignment_id: UUID
    submission_id: UUID
    attempt: int
    reviewer_id: UUID
    reviewed_by_type: str = Field(max_length=16)
    reviewed_by_id: UUID | None = None
    outcome: str = Field(max_length=16)
    scores: list[dict] = _json()
    score: float
    feedback: str = _text(nullable=False)
    created_at: datetime = _ts()


class EvidenceRow(SQLModel, table=True):
    __tablename__ = "evidence"
    __table_args__ = (
        _tenant_fk("person_id", "people"),
        _tenant_fk("skill_id", "skills"),
        _tenant_fk("assignment_id", "assignments"),
        _tenant_fk("review_id", "reviews"),
        Index(None, "tenant_id", "person_id", "skill_id"),
    )
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    person_id: UUID
    skill_id: UUID
    level: int
    assignment_id: UUID
    review_id: UUID
    score: float
    created_at: datetime = _ts()


class ExtensionRow(SQLModel, table=True):
    __tablename__ = "extensions"
    __table_args__ = (_tenant_fk("assignment_id", "assignments"), Index(None, "tenant_id", "assignment_id", "id"))
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    assignment_id: UUID
    attempt: int
    previous_due_at: datetime | None = _ts(nullable=True)
    due_at: datetime = _ts()
    reason: str = _text(nullable=False)
    reopened: bool
    extended_by_type: str = Field(max_length=16)
    extended_by_id: UUID | None = None
    created_at: datetime = _ts()


class WebhookRow(SQLModel, table=True):
    __tablename__ = "webhooks"
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    url: str = Field(max_length=2000)
    event_types: list[str] = _json()
    description: str | None = Field(default=None, max_length=500)
    active: bool
    secret: str = Field(max_length=100)
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_expires_at: datetime | None = _ts(nullable=True)
    failing_since: datetime | None = _ts(nullable=True)
    disabled_reason: str | None = Field(default=None, max_length=200)
    version: int
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
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
    next_attempt_at: datetime | None = _ts(nullable=True)
    last_attempt_at: datetime | None = _ts(nullable=True)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    log: list[dict] = _json()
    created_at: datetime = _ts()
    payload: dict | None = _json(nullable=True)


class IdempotencyKeyRow(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index(None, "expires_at"),)
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    caller: str = Field(primary_key=True, max_length=120)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    status: int | None = None
    """The response's status; null while the first request is still running."""
    headers: list[list[str]] = _json()
    body: bytes = Field(default=b"", sa_type=LargeBinary)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()


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
    occurred_at: datetime = _ts()
    actor_type: str = Field(max_length=16)
    actor_id: UUID | None = None
    actor_on_behalf_of: UUID | None = None
    subject_type: str = Field(max_length=32)
    subject_id: UUID
    data: dict = _json()
    details: dict = _json()
    seq: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    """The feed position, gap-free per tenant; null until the sequencer reaches the event (PostgreSQL)."""
    pos: int = Field(sa_type=BigInteger)
    """Order of storing: from the sequence events_pos_seq on PostgreSQL, the seq itself on SQLite."""


class ImportJobRow(SQLModel, table=True):
    """A file being imported: received into import_rows, then applied in chunks by the worker."""

    __tablename__ = "import_jobs"
    # The worker's claim is cross-tenant by nature, like the sweeper's; only unfinished jobs are in it.
    __table_args__ = (
        Index("ix_import_jobs_pending", "created_at",
              postgresql_where=text("state IN ('receiving', 'queued', 'running')"), sqlite_where=text("state IN ('receiving', 'queued', 'running')")),
    )
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    kind: str = Field(max_length=16)
    format: str = Field(max_length=16)
    state: str = Field(max_length=16)
    actor_type: str = Field(max_length=16)
    actor_id: UUID | None = None
    actor_on_behalf_of: UUID | None = None
    scopes: list[str] = _json()
    options: dict = _json()
    rows_read: int = 0
    rows_processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    cursor: int = 0
    """The last line applied: a worker that dies resumes after it."""
    lease_until: datetime | None = _ts(nullable=True)
    error: str | None = Field(default=None, max_length=500)
    version: int
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)


class ImportRowRow(SQLModel, table=True):
    """One row of an import's file, staged until it is applied; rows that failed stay, with their problem."""

    __tablename__ = "import_rows"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "job_id"], ["import_jobs.tenant_id", "import_jobs.id"], ondelete="CASCADE"),
    )
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    job_id: UUID = Field(primary_key=True)
    line: int = Field(primary_key=True)
    data: dict | None = Field(sa_column=Column(NullableJSON, nullable=True))
    problem: dict | None = Field(sa_column=Column(NullableJSON, nullable=True))


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
    occurred_at: datetime = _ts()
    verb_id: str = Field(max_length=500)
    activity_id: str = Field(max_length=2000)
    agent: str = Field(max_length=2200)
    registration: UUID
    body: str = _text(nullable=False)


tenants = TenantRow.__table__
identity_providers = IdentityProviderRow.__table__
api_keys = ApiKeyRow.__table__
people = PersonRow.__table__
skills = SkillRow.__table__
briefs = BriefRow.__table__
assignments = AssignmentRow.__table__
submissions = SubmissionRow.__table__
reviews = ReviewRow.__table__
evidence = EvidenceRow.__table__
extensions = ExtensionRow.__table__
events = EventRow.__table__
event_counters = EventCounterRow.__table__
idempotency_keys = IdempotencyKeyRow.__table__
webhooks = WebhookRow.__table__
webhook_deliveries = WebhookDeliveryRow.__table__
import_jobs = ImportJobRow.__table__
import_rows = ImportRowRow.__table__
xapi_statements = XapiStatementRow.__table__
