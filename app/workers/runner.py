"""The worker loops: the sweeper, webhook delivery and imports, each on an interval until stopped.
Used by `stint worker` and `serve --with-worker`, whose composition roots hand in the ports (WorkerPorts)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass

from app.domain.deadlines import ReminderPolicy
from app.domain.errors import StorageUnavailable
from app.domain.ports import (
    Clock,
    FeedNumbering,
    IdempotencyStore,
    IdGenerator,
    OutboxUnitOfWorkFactory,
    SweepUnitOfWorkFactory,
    WebhookSender,
)
from app.services.sweeper import tick
from app.services.webhooks import deliver_due
from app.settings import Settings
from app.workers.imports import ImportWorker, log_report, process_one

log = logging.getLogger("stint.worker")


@dataclass(frozen=True)
class WorkerPorts:
    """What the worker loops work with, built by the composition root (app.main.worker_ports)."""

    sweep_uow: SweepUnitOfWorkFactory
    outbox_uow: OutboxUnitOfWorkFactory
    policy: ReminderPolicy
    idempotency: IdempotencyStore
    """The sweeper purges expired Idempotency-Keys."""
    numbering: FeedNumbering
    """The sweeper numbers events still waiting for a feed seq."""
    imports: ImportWorker


async def run_sweeper(ports: WorkerPorts, clock: Clock, ids: IdGenerator, *, batch_size: int, interval: float, stop: asyncio.Event) -> None:
    """Tick, then wait `interval` seconds (or until `stop` is set). A failed tick is logged and retried next time.

    `stop` is only looked at between ticks: a tick under way finishes its batches (each its own transaction).
    """
    while not stop.is_set():
        started = time.perf_counter()
        try:
            report = await tick(ports.sweep_uow, clock, ids, ports.policy, batch_size)
            await ports.idempotency.purge_idempotency_keys(clock.now())
            await ports.numbering.number_waiting_events()
        except StorageUnavailable:
            log.warning(json.dumps({"msg": "sweep skipped: database unavailable"}))
        except Exception:  # a worker must outlive one bad tick; the error is logged with its trace
            log.exception("sweep tick failed")
        else:
            if report.claimed or report.lag_seconds:
                log.info(json.dumps({
                    "msg": "sweep tick", "claimed": report.claimed, "transitioned": report.transitioned,
                    "reminders": report.reminders, "lag_seconds": round(report.lag_seconds, 3),
                    "duration_ms": round(1000 * (time.perf_counter() - started), 1),
                }))
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass


async def run_deliveries(
    ports: WorkerPorts, sender: WebhookSender, clock: Clock, ids: IdGenerator, *, batch_size: int, interval: float, stop: asyncio.Event,
) -> None:
    """Deliver due webhooks until `stop`: back to back while there is work, then every `interval` seconds."""
    rng = random.Random()
    while not stop.is_set():
        try:
            report = await deliver_due(ports.outbox_uow, sender, clock, ids, rng, batch_size=batch_size)
        except StorageUnavailable:
            log.warning(json.dumps({"msg": "delivery skipped: database unavailable"}))
            report = None
        except Exception:
            log.exception("delivery batch failed")
            report = None
        if report is not None and report.claimed:
            log.info(json.dumps({"msg": "webhook deliveries", "claimed": report.claimed,
                "succeeded": report.succeeded, "failed": report.failed}))
            continue
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass


async def run_imports(worker: ImportWorker, clock: Clock, ids: IdGenerator, *, interval: float, stop: asyncio.Event) -> None:
    """Apply queued import jobs until `stop`: back to back while there are some, then every `interval` seconds."""
    while not stop.is_set():
        report = None
        try:
            report = await process_one(worker, clock, ids, stop=stop)
        except StorageUnavailable:
            log.warning(json.dumps({"msg": "imports skipped: database unavailable"}))
        except Exception:
            log.exception("import batch failed")
        if report is not None and report.job is not None:
            log_report(report)
            continue
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass


async def run_all(
    ports: WorkerPorts, sender: WebhookSender, clock: Clock, ids: IdGenerator, settings: Settings, stop: asyncio.Event,
) -> None:
    """Everything a worker does: the deadline sweeper, webhook delivery and imports, side by side."""
    await asyncio.gather(
        run_imports(ports.imports, clock, ids, interval=settings.delivery_interval_seconds, stop=stop),
        run_sweeper(ports, clock, ids, batch_size=settings.sweep_batch_size, interval=settings.sweep_interval_seconds, stop=stop),
        run_deliveries(ports, sender, clock, ids, batch_size=settings.delivery_batch_size,
            interval=settings.delivery_interval_seconds, stop=stop),
    )
