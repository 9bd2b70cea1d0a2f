"""What every table module shares: the naming convention for constraints, and column helpers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKeyConstraint, Table, Text
from sqlmodel import Field, SQLModel

from app.repositories.sql.types import JSONType, UTCDateTime

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def ts_field(nullable: bool = False) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, default=None if nullable else ...)


def json_field(nullable: bool = False) -> Any:
    return Field(sa_column=Column(JSONType, nullable=nullable))


def text_field(nullable: bool = True) -> Any:
    return Field(sa_column=Column(Text, nullable=nullable))


def tenant_fk(column: str, table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id", column], [f"{table}.tenant_id", f"{table}.id"])


def table_of(row: type[SQLModel]) -> Table:
    """The Core table of a SQLModel table class (SQLModel does not declare `__table__` to type checkers)."""
    table: Table = row.__table__  # type: ignore[attr-defined]
    return table
