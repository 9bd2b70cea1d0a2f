"""PostgreSQL's COPY for bulk inserts, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import sqltypes

from app.repositories.sql.pg.driver import driver_of
from app.repositories.sql.types import Seconds, UTCDateTime

COPY_THRESHOLD = 200
"""From this many rows on, PostgreSQL gets COPY instead of a multi-row INSERT."""


async def copy_rows(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows with COPY: values go through each column's own bind conversion (JSON as text, the UTC
    datetime type), as an INSERT would send them."""
    names = list(rows[0])
    converters = [(i, c) for i, name in enumerate(names) if (c := _copy_converter(table.c[name].type, conn.dialect)) is not None]
    records = []
    for row in rows:  # only the columns that need it are converted: most go to the driver as they are
        values = list(row.values())
        for i, convert in converters:
            values[i] = convert(values[i])
        records.append(values)
    driver = await driver_of(conn)
    await driver.copy_records_to_table(table.name, records=records, columns=names)


def _copy_converter(column_type: Any, dialect: Any) -> Callable[[Any], Any] | None:
    if isinstance(column_type, UTCDateTime):  # the domain's datetimes are UTC already: convert only the others
        bind = column_type.process_bind_param
        return lambda value: value if value is None or value.tzinfo is UTC else bind(value, dialect)
    if isinstance(column_type, Seconds):  # our own decorators; the driver takes the rest as they are
        seconds = column_type.process_bind_param
        return lambda value: None if value is None else seconds(value, dialect)
    effective = column_type.dialect_impl(dialect)  # the JSONB variant on PostgreSQL
    if isinstance(effective, sqltypes.JSON):
        null = None if effective.none_as_null else "null"
        return lambda value: null if value is None else to_json(value).decode()
    return None
