"""Assignments and the work on them: submissions, reviews, evidence, extensions."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import Index, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from app.repositories.sql.tables.columns import json_field, tenant_fk, text_field, ts_field
from app.repositories.sql.types import Seconds


class AssignmentRow(SQLModel, table=True):
    __tablename__ = "assignments"
    __table_args__ = (
        tenant_fk("brief_id", "briefs"),
        tenant_fk("assignee_id", "people"),
        tenant_fk("reviewer_id", "people"),
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
    brief: dict = json_field()
    skill_id: UUID
    assignee_id: UUID
    reviewer_id: UUID
    offered_by_type: str = Field(max_length=16)
    offered_by_id: UUID | None = None
    offered_by_on_behalf_of: UUID | None = None
    state: str = Field(max_length=24)
    offer_expires_at: datetime = ts_field()
    context_note: str | None = text_field()
    external_ref: str | None = Field(default=None, max_length=255)
    attempt: int
    starts_at: datetime | None = ts_field(nullable=True)
    due_at: datetime | None = ts_field(nullable=True)
    timeout_at: datetime | None = ts_field(nullable=True)
    submitted_at: datetime | None = ts_field(nullable=True)
    review_due_at: datetime | None = ts_field(nullable=True)
    outcome: str | None = Field(default=None, max_length=16)
    score: float | None = None
    late: bool = False
    version: int
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    offer_expiring_notified: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    due_soon_notified: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    review_overdue_notified: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    next_deadline_at: datetime | None = ts_field(nullable=True)


class SubmissionRow(SQLModel, table=True):
    __tablename__ = "submissions"
    __table_args__ = (tenant_fk("assignment_id", "assignments"), Index(None, "tenant_id", "assignment_id", "id"))
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    assignment_id: UUID
    attempt: int
    body: str | None = text_field()
    links: list[dict] = json_field()
    attachments: list[dict] = json_field()
    time_spent: timedelta | None = Field(default=None, sa_type=Seconds)
    submitted_by_type: str = Field(max_length=16)
    submitted_by_id: UUID | None = None
    submitted_at: datetime = ts_field()
    late: bool
    status: str = Field(max_length=16)
    reclaimed_at: datetime | None = ts_field(nullable=True)


class ReviewRow(SQLModel, table=True):
    __tablename__ = "reviews"
    __table_args__ = (
        tenant_fk("assignment_id", "assignments"),
        tenant_fk("submission_id", "submissions"),
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
    scores: list[dict] = json_field()
    score: float
    feedback: str = text_field(nullable=False)
    created_at: datetime = ts_field()


class EvidenceRow(SQLModel, table=True):
    __tablename__ = "evidence"
    __table_args__ = (
        tenant_fk("person_id", "people"),
        tenant_fk("skill_id", "skills"),
        tenant_fk("assignment_id", "assignments"),
        tenant_fk("review_id", "reviews"),
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
    created_at: datetime = ts_field()


class ExtensionRow(SQLModel, table=True):
    __tablename__ = "extensions"
    __table_args__ = (tenant_fk("assignment_id", "assignments"), Index(None, "tenant_id", "assignment_id", "id"))
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    assignment_id: UUID
    attempt: int
    previous_due_at: datetime | None = ts_field(nullable=True)
    due_at: datetime = ts_field()
    reason: str = text_field(nullable=False)
    reopened: bool
    extended_by_type: str = Field(max_length=16)
    extended_by_id: UUID | None = None
    created_at: datetime = ts_field()
