"""Import jobs and the rows of their files."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Column, ForeignKeyConstraint, Index, text
from sqlmodel import Field, SQLModel

from app.repositories.sql.tables.columns import json_field, ts_field
from app.repositories.sql.types import NullableJSON

_UNFINISHED = text("state IN ('receiving', 'queued', 'running')")


class ImportJobRow(SQLModel, table=True):
    """A file being imported: received into import_rows, then applied in chunks by the worker."""

    __tablename__ = "import_jobs"
    # The worker's claim is cross-tenant by nature, like the sweeper's; only unfinished jobs are in it.
    __table_args__ = (
        Index("ix_import_jobs_pending", "created_at", postgresql_where=_UNFINISHED, sqlite_where=_UNFINISHED),
    )
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    kind: str = Field(max_length=16)
    format: str = Field(max_length=16)
    state: str = Field(max_length=16)
    actor_type: str = Field(max_length=16)
    actor_id: UUID | None = None
    actor_on_behalf_of: UUID | None = None
    scopes: list[str] = json_field()
    options: dict = json_field()
    rows_read: int = 0
    rows_processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    cursor: int = 0
    """The last line applied: a worker that dies resumes after it."""
    lease_until: datetime | None = ts_field(nullable=True)
    error: str | None = Field(default=None, max_length=500)
    version: int
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    finished_at: datetime | None = ts_field(nullable=True)


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
