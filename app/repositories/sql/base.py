"""The plumbing every tenant-scoped repository shares: scoped reads, inserts, compare-and-set updates, batch
reads by unique key, keyset pages. A repository module adds only its own queries.

Core statements (not ORM identity-map loads) keep reads to one statement and make every relationship explicit:
nothing can lazy-load behind a request's back. On PostgreSQL the hot writes go to the driver directly (pg/)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

import asyncpg
from sqlalchemy import Table, and_, bindparam, func, insert, select, true, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.errors import ConcurrentUpdate, Conflict
from app.domain.pagination import Page, PageRequest, cursor_id
from app.repositories.sql.pg.copy import COPY_THRESHOLD, copy_rows
from app.repositories.sql.pg.driver import changed_rows, raw_statement, write
from app.repositories.sql.queries import cas_statement, insert_statement

T = TypeVar("T")


@functools.cache
def _matching(dialect: str, column: Any, columns: tuple[Any, ...], lock: bool) -> Any:
    tenant = column.table.c.tenant_id == bindparam("tenant")
    if dialect != "postgresql":
        return select(*columns).where(tenant, column.in_(bindparam("keys", expanding=True)))
    keys = func.unnest(bindparam("keys", type_=postgresql.ARRAY(column.type))).table_valued("v").render_derived(name="keys")
    one = select(*columns).where(tenant, column == keys.c.v).limit(1)
    found = (one.with_for_update() if lock else one).lateral("found")
    return select(*(found.c[c.name] for c in columns)).select_from(keys).join(found, true())


def select_matching(dialect: str, column: Any, columns: list[Any], *, lock: bool = False) -> Any:
    """SELECT `columns` of one tenant's rows (parameter `tenant`) whose `column`, a unique key, is one of
    the values in parameter `keys`. Built once per shape: wide tables cost SQLAlchemy more to assemble
    the statement than PostgreSQL to run it.

    On PostgreSQL the keys are one array parameter, and each is looked up on its own through
    `unnest(:keys) CROSS JOIN LATERAL (… LIMIT 1)`: an index lookup per key whatever the planner thinks
    of the table. (An IN list or `= ANY(:keys)` compared every row of the tenant with every key while a
    fresh table had no statistics, and a plain join on unnest chose a scan of the whole tenant once a
    bulk load had outgrown them: half a second or more for 1,000 keys.)"""
    return _matching(dialect, column, tuple(columns), lock)


class TenantTable(Generic[T]):
    """Shared plumbing: every statement is scoped to the tenant."""

    table: ClassVar[Table]
    kind: ClassVar[str]
    to_values: Callable[[Any], dict[str, Any]]
    from_row: Callable[[Any], Any]
    unique_fields: ClassVar[dict[str, str]] = {}
    """Column -> error code, for the (tenant_id, column) unique constraints of the table."""

    def __init__(self, conn: AsyncConnection, tenant_id: UUID) -> None:
        self._conn = conn
        self._tenant_id = tenant_id
        self._postgres = conn.dialect.name == "postgresql"

    def _scoped(self, *conditions: Any) -> Any:
        return and_(self.table.c.tenant_id == self._tenant_id, *conditions)

    def _values(self, item: T) -> dict[str, Any]:
        return type(self).to_values(item)

    async def _insert(self, item: T) -> None:
        values = self._values(item)
        assert values["tenant_id"] == self._tenant_id, "writing into another tenant"
        if self._postgres:
            await write(self._conn, raw_statement(insert_statement(self.table), self._conn.dialect, tuple(values)),
                values, self._conflict_named)
            return
        try:
            await self._conn.execute(insert_statement(self.table), values)
        except IntegrityError as exc:
            raise self._conflict(exc) from exc

    def _conflict(self, exc: IntegrityError) -> Conflict:
        return self._conflict_named(str(exc.orig))

    def _conflict_named(self, text: str) -> Conflict:
        """Name the unique field a write collided with; PostgreSQL names the constraint, SQLite the columns."""
        for column, code in self.unique_fields.items():
            if f"uq_{self.table.name}_tenant_id_{column}" in text or f"{self.table.name}.{column}" in text:
                return Conflict(f"A {self.kind} with this {column} already exists.", code=code)
        return Conflict(f"The {self.kind} conflicts with existing data.", code=f"{self.kind}.conflict")

    def _select(self) -> Any:
        return select(self.table)

    def _columns(self) -> list[Any]:
        """The columns `_select` reads, worked out once per repository class."""
        cls = type(self)
        selected: list[Any] | None = cls.__dict__.get("_selected")
        if selected is None:
            selected = list(self._select().selected_columns)
            cls._selected = selected  # type: ignore[attr-defined]
        return selected

    async def _where_in(self, column: Any, values: list[Any], *, lock: bool = False) -> list[T]:
        """Rows whose `column` is one of `values`, in one statement; `lock` holds them (PostgreSQL) until commit."""
        if not values:
            return []
        stmt = select_matching(self._conn.dialect.name, column, self._columns(), lock=lock)
        keys = sorted(set(values)) if lock else list(dict.fromkeys(values))  # locks taken in one order: no deadlocks
        params = {"tenant": self._tenant_id, "keys": keys}
        return await self._from_rows((await self._conn.execute(stmt, params)).all())

    async def _insert_many(self, items: list[T]) -> None:
        """One executemany (or on PostgreSQL, from COPY_THRESHOLD rows, one COPY), rows in the order given."""
        if not items:
            return
        values = [self._values(item) for item in items]
        assert all(v["tenant_id"] == self._tenant_id for v in values), "writing into another tenant"
        try:
            if self._postgres and len(values) >= COPY_THRESHOLD:
                await copy_rows(self._conn, self.table, values)
            else:
                await self._conn.execute(insert(self.table), values)
        except IntegrityError as exc:
            raise self._conflict(exc) from exc
        except asyncpg.IntegrityConstraintViolationError as exc:  # COPY goes to the driver directly
            raise self._conflict_named(str(exc)) from exc

    async def _update_many(self, items: list[T]) -> None:
        """Write rows back by id in one executemany. The caller read them with `lock=True` in this unit of
        work (SQLite's single writer holds them anyway), so no other writer can have changed them since."""
        if not items:
            return
        values = [self._values(item) for item in items]
        columns = [name for name in values[0] if name not in ("tenant_id", "id")]
        stmt = (
            update(self.table)
            .where(self.table.c.tenant_id == bindparam("w_tenant_id"), self.table.c.id == bindparam("w_id"))
            .values({name: bindparam(f"w_{name}") for name in columns})
        )
        try:
            await self._conn.execute(stmt, [{f"w_{name}": value for name, value in v.items()} for v in values])
        except IntegrityError as exc:
            raise self._conflict(exc) from exc

    async def _get(self, *conditions: Any) -> T | None:
        row = (await self._conn.execute(self._select().where(self._scoped(*conditions)))).first()
        return None if row is None else (await self._from_rows([row]))[0]

    async def _from_rows(self, rows: Sequence[Any]) -> list[T]:
        return [type(self).from_row(row) for row in rows]

    async def _cas(self, item: T, item_id: UUID, expected_version: int) -> None:
        await self._cas_values(self._values(item), item_id, expected_version)

    async def _cas_values(self, values: dict[str, Any], item_id: UUID, expected_version: int) -> None:
        """UPDATE … SET every column in `values` WHERE tenant, id and version match; a row that moved on is ConcurrentUpdate."""
        values.pop("tenant_id", None)
        values.pop("id", None)
        values.update(k_tenant=self._tenant_id, k_id=item_id, k_version=expected_version)
        stmt = cas_statement(self.table, tuple(name for name in values if not name.startswith("k_")))
        if self._postgres:
            changed = changed_rows(await write(self._conn, raw_statement(stmt, self._conn.dialect), values, self._conflict_named))
        else:
            try:
                changed = (await self._conn.execute(stmt, values)).rowcount
            except IntegrityError as exc:
                raise self._conflict(exc) from exc
        if changed != 1:
            raise ConcurrentUpdate(self.kind)

    async def _page(self, page: PageRequest, *conditions: Any) -> Page[T]:
        column = self.table.c.id
        where = [self._scoped(*conditions)]
        after = cursor_id(page.after)
        if after is not None:
            where.append(column > after)
        stmt = self._select().where(*where).order_by(column).limit(page.limit + 1)
        rows = (await self._conn.execute(stmt)).all()
        return Page.from_rows(await self._from_rows(rows), page)
