"""Import jobs: receive a file's rows, queue the job, and apply it chunk by chunk.

The API streams the file in (`start`, `receive`, `queue`); a worker applies it (`apply_next_chunk`,
one transaction per chunk holding the rows' changes and the job's progress, fenced by the job's
version so two workers never apply the same chunk). Reading rows into items is the adapter's job
(`decode`), as is rendering a refused item's problem (`render`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from app.domain.batch import Item, ItemResult, ItemStatus
from app.domain.errors import DomainError, NotFound
from app.domain.imports import KIND_SCOPE, ImportFormat, ImportJob, ImportKind, ImportRow, ImportState
from app.domain.pagination import Page, PageRequest
from app.domain.ports import UnitOfWork
from app.services.assignments_batch import apply_offers
from app.services.catalog_batch import apply_briefs, apply_skills
from app.services.context import Context
from app.services.people_batch import apply_people

APPLY: dict[ImportKind, Callable[[Context, UnitOfWork, list[Item[Any]]], Awaitable[list[ItemResult]]]] = {
    ImportKind.PEOPLE: apply_people,
    ImportKind.SKILLS: apply_skills,
    ImportKind.BRIEFS: apply_briefs,
    ImportKind.ASSIGNMENTS: apply_offers,
}

Decode = Callable[[ImportKind, list[ImportRow], str], tuple[list[Item[Any]], dict[int, dict[str, Any]]]]
"""Rows -> (items to apply, indexed by line; problems of rows that are not valid items, by line)."""
Render = Callable[[DomainError, str], dict[str, Any]]


def check_allowed(ctx: Context, kind: ImportKind) -> None:
    """Before a byte of the file is read: may this caller import this kind?"""
    ctx.actor.require(KIND_SCOPE[kind])


async def start(ctx: Context, kind: ImportKind, fmt: ImportFormat) -> ImportJob:
    check_allowed(ctx, kind)
    now = ctx.clock.now()
    job = ImportJob(
        id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, kind=kind, format=fmt, state=ImportState.RECEIVING,
        actor=ctx.actor.ref, scopes=ctx.actor.scopes, version=1, created_at=now, updated_at=now,
    )
    async with ctx.uow() as uow:
        await uow.imports.add(job)
        await uow.commit()
    return job


async def receive(ctx: Context, job_id: UUID, rows: list[ImportRow]) -> None:
    async with ctx.uow() as uow:
        await uow.imports.add_rows(job_id, rows)
        await uow.commit()


async def queue(ctx: Context, job: ImportJob, rows_read: int) -> ImportJob:
    """The whole file is in: hand the job to the workers."""
    async with ctx.uow() as uow:
        expected = job.version
        job.queue(rows_read, ctx.clock.now())
        await uow.imports.update(job, expected)
        await uow.commit()
    return job


async def abandon(ctx: Context, job: ImportJob, reason: str) -> None:
    """The file could not be received (unreadable, or the upload broke off): nothing of it is applied."""
    async with ctx.uow() as uow:
        expected = job.version
        job.fail(reason, ctx.clock.now())
        await uow.imports.drop_rows(job.id)
        await uow.imports.update(job, expected)
        await uow.commit()


def _created_by_caller(ctx: Context) -> UUID | None:
    """People (not admins) see the jobs they started; integration keys with the kind's scope see all."""
    actor = ctx.actor
    return None if actor.is_admin or actor.person_id is None else actor.person_id


async def get(ctx: Context, job_id: UUID) -> ImportJob:
    async with ctx.uow(readonly=True) as uow:
        job = await uow.imports.get(job_id)
    if job is None or not ctx.actor.has(KIND_SCOPE[job.kind]):
        raise NotFound("import", job_id)
    mine = _created_by_caller(ctx)
    if mine is not None and mine not in (job.actor.id, job.actor.on_behalf_of):
        raise NotFound("import", job_id)
    return job


async def list_(ctx: Context, page: PageRequest) -> Page[ImportJob]:
    """The jobs of the kinds the caller may import (and, for people, the ones they started)."""
    kinds = tuple(kind for kind, scope in KIND_SCOPE.items() if ctx.actor.has(scope))
    if not kinds:
        return Page([], None)
    async with ctx.uow(readonly=True) as uow:
        return await uow.imports.list(page, kinds=kinds, created_by=_created_by_caller(ctx))


async def errors(ctx: Context, job_id: UUID, page: PageRequest) -> Page[ImportRow]:
    await get(ctx, job_id)
    async with ctx.uow(readonly=True) as uow:
        return await uow.imports.errors(job_id, page)


MANAGER_NOT_IN_YET = "person.unknown_manager"


async def apply_next_chunk(
    ctx_for: Callable[[ImportJob], Context], uow: UnitOfWork, job_id: UUID, version: int,
    decode: Decode, render: Render, *, chunk: int, lease: timedelta,
) -> ImportJob | None:
    """Apply the next `chunk` rows of a job this worker holds at `version`, in the caller's unit of work
    (which commits), and renew the lease. Returns the job as it is now, or None when another worker has it.

    A file of people need not list managers before their reports: once every row was applied, the rows
    refused because their manager was not in yet are tried once more, chunk by chunk."""
    job = await uow.imports.get(job_id)
    if job is None or job.version != version or job.state is not ImportState.RUNNING:
        return None
    ctx = ctx_for(job)
    now = ctx.clock.now()
    rows = [] if job.retry_after_line is not None else await uow.imports.rows_after(job.id, job.cursor, chunk)
    if rows:
        statuses = await _apply_rows(ctx, uow, job, rows, decode, render)
        job.advance(rows[-1].line, statuses, now)
        job.lease_until = now + lease
    elif job.kind is ImportKind.PEOPLE and (retry := await uow.imports.rows_after(job.id, job.retry_after_line or 0, chunk, refused=True)):
        again = [ImportRow(row.line,
            row.data) for row in retry if row.data is not None and (row.problem or {}).get("code") == MANAGER_NOT_IN_YET]
        statuses = await _apply_rows(ctx, uow, job, again, decode, render) if again else []
        job.retried(retry[-1].line, statuses, now)
        job.lease_until = now + lease
    else:
        job.complete(now)  # which drops the lease
    await uow.imports.update(job, version)
    return job


async def _apply_rows(ctx: Context, uow: UnitOfWork, job: ImportJob, rows: list[ImportRow], decode: Decode,
    render: Render) -> list[ItemStatus]:
    """Apply the rows not refused already; drop those applied, keep the refused with their problem. What became of each row."""
    instance = f"/v1/imports/{job.id}"
    items, problems = decode(job.kind, [row for row in rows if row.problem is None], instance)
    results = {r.index: r for r in await APPLY[job.kind](ctx, uow, items)} if items else {}
    refused, applied, statuses = [], [], []
    for row in rows:
        if row.problem is not None:  # refused when the file was read
            statuses.append(ItemStatus.ERROR)
            continue
        result = results.get(row.line)
        problem = problems.get(row.line)
        if problem is None and result is not None and result.status is ItemStatus.ERROR:
            problem = render(result.error, instance)  # type: ignore[arg-type]
        if problem is not None:
            refused.append(ImportRow(row.line, None, problem))
            statuses.append(ItemStatus.ERROR)
        else:
            applied.append(row.line)
            statuses.append(result.status if result else ItemStatus.UNCHANGED)
    await uow.imports.settle(job.id, applied, refused)
    return statuses
