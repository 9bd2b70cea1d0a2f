"""The import worker: claim a queued import job and apply it, chunk by chunk, each in one transaction."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.domain.actors import ActorType
from app.domain.errors import Conflict, StorageUnavailable
from app.domain.imports import CHUNK_ROWS, ImportJob, ImportState
from app.domain.ports import Clock, IdGenerator, ImportQueue, TenantDirectory, UnitOfWorkFactory
from app.services import imports
from app.services.context import Context
from app.services.imports import Decode, Render

log = logging.getLogger("stint.worker")

LEASE = timedelta(minutes=2)
"""How long a worker holds a job without committing a chunk before another may take it over."""
UPLOAD_GIVEN_UP_AFTER = timedelta(hours=1)
"""A job still receiving its file this long after it began has lost its upload (its server died)."""


@dataclass(frozen=True)
class ImportWorker:
    """What the import worker works with, handed in by the composition root (app.main.import_worker)."""

    queue: ImportQueue
    uow: UnitOfWorkFactory
    directory: TenantDirectory
    """Whether the key that sent a file is still active."""
    decode: Decode
    """Rows as batch items, validated as the batch endpoints validate theirs."""
    render: Render
    """A refused row's domain error as problem details."""


@dataclass(frozen=True)
class ImportReport:
    job: ImportJob | None
    chunks: int


async def process_one(
    worker: ImportWorker, clock: Clock, ids: IdGenerator, *, chunk: int = CHUNK_ROWS, max_chunks: int | None = None,
    stop: asyncio.Event | None = None,
) -> ImportReport:
    """Claim the oldest pending job and apply it to the end: or `max_chunks` chunks of it, or until `stop`
    is set, when the job is handed back at once for any worker to go on with."""
    await worker.queue.fail_broken_uploads(clock.now() - UPLOAD_GIVEN_UP_AFTER, clock.now())
    claimed = await worker.queue.claim_import(clock.now(), LEASE)
    if claimed is None:
        return ImportReport(None, 0)
    tenant_id, job_id, version = claimed
    refusal = await _may_still_import(worker, tenant_id, job_id)
    if refusal is not None:
        await _fail(worker.uow, tenant_id, job_id, clock, refusal)
        return ImportReport(None, 0)

    def ctx_for(job: ImportJob) -> Context:
        return Context(actor=job.acting_as(), clock=clock, ids=ids, uow_factory=worker.uow)

    job, chunks = None, 0
    while (max_chunks is None or chunks < max_chunks) and not (stop is not None and stop.is_set()):
        try:
            async with worker.uow(tenant_id) as uow:
                job = await imports.apply_next_chunk(
                    ctx_for, uow, job_id, version, worker.decode, worker.render, chunk=chunk, lease=LEASE,
                )
                if job is None:
                    break  # another worker took it over
                await uow.commit()
        except Conflict:
            # Another worker took the job over between our read and our write, or a concurrent writer got
            # there first (the same new key, a deadlock): the chunk rolled back whole. Hand the job back
            # (a no-op if another worker holds it), and the next claim tries the chunk again.
            await _hand_back(worker.uow, tenant_id, job_id, version, clock)
            break
        except StorageUnavailable:
            raise
        except Exception as exc:  # a chunk that can never apply must not stop the queue: fail the job, keep the trace
            log.exception("import %s failed", job_id)
            await _fail(worker.uow, tenant_id, job_id, clock, f"An unexpected error stopped the import: {type(exc).__name__}.")
            break
        chunks += 1
        version = job.version
        if job.state is ImportState.COMPLETED:
            break
    if job is not None and job.state is ImportState.RUNNING and job.version == version:
        await _hand_back(worker.uow, tenant_id, job_id, version, clock)
    return ImportReport(job, chunks)


async def _may_still_import(worker: ImportWorker, tenant_id: Any, job_id: Any) -> str | None:
    """Rows are applied as the caller who sent the file: one whose key was revoked, or who left since, no longer may."""
    async with worker.uow(tenant_id, readonly=True) as uow:
        job = await uow.imports.get(job_id)
        person_id = None if job is None else job.actor.id if job.actor.type is ActorType.PERSON else job.actor.on_behalf_of
        person = None if person_id is None else await uow.people.get(person_id)
    if job is None:
        return None
    if person_id is not None and (person is None or not person.active):
        return "The person who sent the file is no longer active."
    key_id = job.actor.id if job.actor.type is ActorType.API_KEY else None
    if key_id is not None and not await worker.directory.key_is_active(tenant_id, key_id):
        return "The API key that sent the file has been revoked."
    return None


async def _hand_back(new_uow: UnitOfWorkFactory, tenant_id: Any, job_id: Any, version: int, clock: Clock) -> None:
    """End this worker's lease now, so the next claim (by any worker) resumes the job after its last chunk."""
    async with new_uow(tenant_id) as uow:
        job = await uow.imports.get(job_id)
        if job is not None and job.version == version and job.state is ImportState.RUNNING:
            job.lease_until = clock.now()
            job.version += 1
            await uow.imports.update(job, version)
            await uow.commit()


async def _fail(new_uow: UnitOfWorkFactory, tenant_id: Any, job_id: Any, clock: Clock, reason: str) -> None:
    async with new_uow(tenant_id) as uow:
        job = await uow.imports.get(job_id)
        if job is not None and job.state is ImportState.RUNNING:
            expected = job.version
            job.fail(reason, clock.now())
            await uow.imports.update(job, expected)
            await uow.commit()


async def drain(worker: ImportWorker, clock: Clock, ids: IdGenerator) -> int:
    """Apply every pending job; returns how many were worked on."""
    worked = 0
    while (await process_one(worker, clock, ids)).job is not None:
        worked += 1
    return worked


def log_report(report: ImportReport) -> None:
    if report.job is not None:
        job = report.job
        log.info(json.dumps({
            "msg": "import", "import_id": str(job.id), "state": job.state.value, "chunks": report.chunks,
            "rows_processed": job.rows_processed, "rows_read": job.rows_read,
        }))
