"""Webhook delivery benchmark: 10,000 queued deliveries to a loopback receiver.

    python -m bench.webhooks [--deliveries 10000] [--batch 200] [--workers 1 2]

Queues the deliveries through the real outbox path (events stored with their fan-out), starts a
receiver under uvicorn in its own process on 127.0.0.1, then times the delivery worker draining the
queue (sign, POST, record each attempt). Beside it, in the same run, the rate of bare httpx POSTs of
the same bodies to the same receiver: the ceiling for this machine. Writes a JSON report to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.domain.actors import ActorRef, ActorType
from app.domain.events import Event
from app.domain.webhooks import Webhook, new_secret
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql import tables as t
from app.repositories.sql.database import Database, make_engine
from app.repositories.sql.mapping import webhook_values
from app.repositories.sql.events import store_events
from app.services.webhooks import deliver_due
from app.workers.sender import CONCURRENCY, HttpSender, delivery_limits
from bench.pg import fresh_database, sqlalchemy_url

DATABASE = "stint_bench_hooks"
URL = sqlalchemy_url(DATABASE)
RESULTS = Path(__file__).resolve().parent / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def prepare() -> None:
    await fresh_database(DATABASE)


async def queue(database: Database, count: int, receiver: str) -> None:
    """A tenant with one webhook on the receiver, and `count` events (distinct subjects) fanned out to it."""
    ids, now = Uuid7Ids(), datetime.now(UTC)
    tenant = ids.new_id()
    hook = Webhook(id=ids.new_id(), tenant_id=tenant, url=receiver, event_types=("*",), description="bench", active=True,
                   secret=new_secret(), version=1, created_at=now, updated_at=now)
    async with database.engine.begin() as conn:
        await conn.execute(t.tenants.insert().values(id=tenant, slug="bench", name="Bench", created_at=now))
        await conn.execute(t.event_counters.insert().values(tenant_id=tenant, last_seq=0, webhooks_version=1))
        await conn.execute(t.webhooks.insert().values(webhook_values(hook)))
        for start in range(0, count, 1000):
            events = [
                Event(id=ids.new_id(), tenant_id=tenant, type="assignment.offered", occurred_at=now,
                      actor=ActorRef(ActorType.SYSTEM, None), subject_type="assignment", subject_id=ids.new_id(),
                      data={"state": "offered", "attempt": 1, "n": start + i}, details={})
                for i in range(min(1000, count - start))
            ]
            await store_events(conn, events)
    async with database.engine.connect() as conn:  # what autovacuum would do after such a burst
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("ANALYZE webhook_deliveries")
        await conn.exec_driver_sql("ANALYZE events")


async def drain(database: Database, workers: int, batch: int) -> tuple[float, int]:
    async def worker() -> int:
        delivered = 0
        async with httpx.AsyncClient(limits=delivery_limits()) as client:
            sender = HttpSender(client, allow_private=True, concurrency=CONCURRENCY)
            rng = random.Random()
            while True:
                report = await deliver_due(database.outbox_uow, sender, SystemClock(), Uuid7Ids(), rng, batch_size=batch)
                delivered += report.succeeded
                if report.claimed == 0:
                    return delivered

    started = time.perf_counter()
    delivered = sum(await asyncio.gather(*(worker() for _ in range(workers))))
    return time.perf_counter() - started, delivered


async def bare_posts(receiver: str, count: int) -> float:
    """The machine's ceiling: the same number of POSTs with httpx, as many at a time, nothing else."""
    body = json.dumps({"type": "assignment.offered", "data": {"state": "offered"}}).encode()
    slots = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(limits=delivery_limits()) as client:
        async def post() -> None:
            async with slots:
                (await client.post(receiver, content=body, headers={"content-type": "application/json"})).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post() for _ in range(count)))
        return count / (time.perf_counter() - started)


async def main(count: int, batch: int, worker_counts: list[int]) -> dict:
    port = free_port()
    receiver = f"http://127.0.0.1:{port}/hook"
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.receiver:app", "--port", str(port), "--log-level", "warning",
         "--no-access-log", "--http", "httptools", "--loop", "uvloop"],
    )
    try:
        for _ in range(50):
            try:
                httpx.post(receiver, timeout=0.5)
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
        ceiling = await bare_posts(receiver, count)
        runs = []
        for workers in worker_counts:
            await prepare()
            database = Database(make_engine(URL, pool_size=20))
            try:
                await queue(database, count, receiver)
                seconds, delivered = await drain(database, workers, batch)
            finally:
                await database.dispose()
            assert delivered == count, (delivered, count)
            runs.append({"workers": workers, "deliveries_per_s": round(count / seconds), "seconds": round(seconds, 2)})
    finally:
        server.terminate()
        server.wait()
    return {"benchmark": "webhooks", "at": datetime.now(UTC).isoformat(), "deliveries": count, "batch": batch,
            "bare_httpx_posts_per_s": round(ceiling), "runs": runs}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    report = asyncio.run(main(args.deliveries, args.batch, args.workers))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"webhooks-{report['at'][:19].replace(':', '')}.json").write_text(json.dumps(report, indent=2))
    print(f"{args.deliveries:,} deliveries to a loopback receiver, batch {args.batch}")
    print(f"{'bare httpx POSTs (ceiling)':32}{report['bare_httpx_posts_per_s']:>10,}/s")
    for run in report["runs"]:
        print(f"{'delivery worker x' + str(run['workers']):32}{run['deliveries_per_s']:>10,}/s   ({run['seconds']} s)")
