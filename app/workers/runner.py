"""The worker loop: tick the sweeper on an interval until stopped. Used by `stint worker` and `serve --with-worker`."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from app.domain.errors import StorageUnavailable
from app.domain.ports import Clock, IdGenerator
from app.repositories.sql.database import Database
from app.services.sweeper import tick

log = logging.getLogger("stint.worker")


async def run_sweeper(database: Database, clock: Clock, ids: IdGenerator, *, batch_size: int, interval: float, stop: asyncio.Event) -> None:
    """Tick, then wait `interval` seconds (or until `stop` is set). A failed tick is logged and retried next time."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            report = await tick(database.sweep_uow, clock, ids, database.policy, batch_size)
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
