"""People, skills and briefs."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Index, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from app.repositories.sql.tables.columns import json_field, tenant_fk, text_field, ts_field


class PersonRow(SQLModel, table=True):
    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        tenant_fk("manager_id", "people"),
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
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    is_admin: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class SkillRow(SQLModel, table=True):
    __tablename__ = "skills"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    key: str = Field(max_length=64)
    name: str = Field(max_length=200)
    description: str | None = text_field()
    framework: str | None = Field(default=None, max_length=32)
    framework_ref: str | None = Field(default=None, max_length=500)
    levels: list[dict] = json_field()
    version: int
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()


class BriefRow(SQLModel, table=True):
    __tablename__ = "briefs"
    __table_args__ = (
        tenant_fk("skill_id", "skills"),
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
    content: dict = json_field()
    published: dict | None = json_field(nullable=True)
    version: int
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    key: str | None = Field(default=None, max_length=64)
