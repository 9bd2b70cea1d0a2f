"""Import jobs and the rows of their files, inside one tenant (the worker's queue is in maintenance.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, insert, or_, select, update

from app.domain.imports import ImportJob, ImportKind, ImportRow
from app.domain.pagination import InvalidCursor, Page, PageRequest
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t
from app.repositories.sql.base import TenantTable


class SqlImports(TenantTable[ImportJob]):
    """Import jobs and the rows of their files."""

    table, kind = t.import_jobs, "import"
    to_values, from_row = staticmethod(m.import_job_values), staticmethod(m.import_job_from)

    async def add(self, job: ImportJob) -> None:
        await self._insert(job)

    async def get(self, job_id: UUID) -> ImportJob | None:
        return await self._get(self.table.c.id == job_id)

    async def update(self, job: ImportJob, expected_version: int) -> None:
        await self._cas(job, job.id, expected_version)

    async def add_rows(self, job_id: UUID, rows: list[ImportRow]) -> None:
        if rows:
            await self._conn.execute(insert(t.import_rows), [
                {"tenant_id": self._tenant_id, "job_id": job_id, "line": r.line, "data": r.data, "problem": r.problem} for r in rows
            ])

    async def rows_after(self, job_id: UUID, line: int, limit: int, *, refused: bool = False) -> list[ImportRow]:
        r = t.import_rows.c
        stmt = (
            select(r.line, r.data, r.problem)
            .where(r.tenant_id == self._tenant_id, r.job_id == job_id, r.line > line, *([r.problem.is_not(None)] if refused else []))
            .order_by(r.line).limit(limit)
        )
        return [ImportRow(row.line, row.data, row.problem) for row in (await self._conn.execute(stmt)).all()]

    async def settle(self, job_id: UUID, applied: list[int], refused: list[ImportRow]) -> None:
        """Rows applied are dropped (the job counts them); refused ones keep their problem for the error
        report, and their data for a second try (people whose manager comes later in the file)."""
        r = t.import_rows.c
        if applied:
            await self._conn.execute(t.import_rows.delete().where(r.tenant_id == self._tenant_id, r.job_id == job_id, r.line.in_(applied)))
        if refused:
            stmt = (
                update(t.import_rows)
                .where(r.tenant_id == bindparam("w_tenant"), r.job_id == bindparam("w_job"), r.line == bindparam("w_line"))
                .values(problem=bindparam("w_problem"))
            )
            await self._conn.execute(stmt, [
                {"w_tenant": self._tenant_id, "w_job": job_id, "w_line": row.line, "w_problem": row.problem} for row in refused
            ])

    async def errors(self, job_id: UUID, page: PageRequest) -> Page[ImportRow]:
        """The refused rows, by line; the cursor is the last line seen."""
        r = t.import_rows.c
        after = page.after if isinstance(page.after, int) else None
        if page.after is not None and after is None:
            raise InvalidCursor()
        stmt = (
            select(r.line, r.problem)
            .where(r.tenant_id == self._tenant_id, r.job_id == job_id, r.problem.is_not(None), *([] if after is None else [r.line > after]))
            .order_by(r.line).limit(page.limit + 1)
        )
        rows = [ImportRow(row.line, None, row.problem) for row in (await self._conn.execute(stmt)).all()]
        return Page.from_rows(rows, page, key=lambda row: row.line)

    async def drop_rows(self, job_id: UUID) -> None:
        r = t.import_rows.c
        await self._conn.execute(t.import_rows.delete().where(r.tenant_id == self._tenant_id, r.job_id == job_id))

    async def list(self, page: PageRequest, kinds: tuple[ImportKind, ...], created_by: UUID | None = None) -> Page[ImportJob]:
        c = self.table.c
        conditions: list[Any] = [c.kind.in_([k.value for k in kinds])]
        if created_by is not None:
            conditions.append(or_(c.actor_id == created_by, c.actor_on_behalf_of == created_by))
        return await self._page(page, *conditions)
