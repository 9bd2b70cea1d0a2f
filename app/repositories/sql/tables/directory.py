"""Tenants, their API keys and identity providers, and idempotency keys."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Index, LargeBinary
from sqlmodel import Field, SQLModel

from app.repositories.sql.tables.columns import json_field, ts_field


class TenantRow(SQLModel, table=True):
    __tablename__ = "tenants"
    id: UUID = Field(primary_key=True)
    slug: str = Field(max_length=63, unique=True)
    name: str = Field(max_length=200)
    created_at: datetime = ts_field()


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"
    __table_args__ = (Index(None, "key_hash", unique=True),)
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    scopes: list[str] = json_field()
    key_hash: str = Field(max_length=64)
    hint: str = Field(max_length=32)
    created_at: datetime = ts_field()
    revoked_at: datetime | None = ts_field(nullable=True)


class IdentityProviderRow(SQLModel, table=True):
    __tablename__ = "identity_providers"
    __table_args__ = (Index(None, "issuer"),)
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    issuer: str = Field(max_length=500)
    audience: str = Field(max_length=500)
    claim: str = Field(max_length=100)
    match: str = Field(max_length=16)
    jwks: dict | None = json_field(nullable=True)
    jwks_url: str | None = Field(default=None, max_length=2000)
    pem_keys: list[str] = json_field()
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()


class IdempotencyKeyRow(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index(None, "expires_at"),)
    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id")
    caller: str = Field(primary_key=True, max_length=120)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    status: int | None = None
    """The response's status; null while the first request is still running."""
    headers: list[list[str]] = json_field()
    body: bytes = Field(default=b"", sa_type=LargeBinary)
    created_at: datetime = ts_field()
    expires_at: datetime = ts_field()
