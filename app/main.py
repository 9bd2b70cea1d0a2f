"""The ASGI app factory."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app import logs, openapi
from app.api import errors
from app.api.deps import KeyCache, Runtime
from app.api.guard import BodyLimits, RequestGuard
from app.api.idempotency import Idempotency
from app.api.observability import Metrics, RequestContext, refresh_gauges
from app.api.problems import problem_responses
from app.api.ratelimit import Buckets, MemoryBuckets, RedisBuckets
from app.api.schemas.batch import decode_rows
from app.api.tokens import JwksCache, TokenVerifier
from app.api.v1 import assignments, batches, catalog, events, imports, me, people, tenant, webhooks, xapi
from app.domain.errors import StorageUnavailable
from app.domain.ports import Clock, IdGenerator, TenantDirectory
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql.database import Database
from app.repositories.sql.migrations import head_revision
from app.repositories.sql.my_work import SqlSignedInWork
from app.settings import Settings, get_settings
from app.workers.imports import ImportWorker
from app.workers.runner import WorkerPorts, run_all
from app.workers.sender import HttpSender

DESCRIPTION = """\
Stint runs micro-assignments: short, skill-based tasks offered to a person, done inside a timebox,
and reviewed against a rubric. Every error is `application/problem+json` with a stable `code`;
lists use cursor pagination; single resources carry an `ETag` that `If-Match` makes conditional.
"""

TAGS = [
    {"name": "people", "description": "People in the tenant, usually pushed in by an HRIS."},
    {"name": "skills", "description": "The tenant's skill catalogue."},
    {"name": "briefs", "description": "Reusable, versioned definitions of micro-assignments."},
    {"name": "assignments", "description": "The lifecycle: offer → accept → timebox → submit → review."},
    {"name": "events", "description": "The event feed: every change once, gap-free; one subject's changes in the order they happened."},
    {"name": "webhooks", "description": "Endpoints that receive events (Standard Webhooks), with their delivery log."},
    {"name": "xapi", "description": "The lifecycle as xAPI 1.0.3 statements, for learning record stores."},
    {"name": "me", "description": "The signed-in person's own view: their work, review queue and team."},
    {"name": "imports", "description": "CSV and NDJSON files of people, skills, briefs or offers, applied by the worker."},
    {"name": "tenant", "description": "The tenant's settings."},
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    http: httpx.AsyncClient | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    logs.configure(settings.log_level)
    owns_database = database is None
    database = database or Database.from_url(settings.database_url, settings.reminder_policy(),
        statement_home_page=settings.public_url, **settings.engine_options())
    clock = clock or SystemClock()
    http = http or httpx.AsyncClient(timeout=settings.http_timeout_seconds)
    jwks = JwksCache(http, ttl=settings.jwks_cache_seconds, min_refresh=settings.jwks_min_refresh_seconds)
    limits = _buckets(settings)
    # The composition root: the adapter behind each port, one line each.
    directory: TenantDirectory = database.directory
    runtime = Runtime(
        uow=database.uow,
        directory=directory,
        idempotency=database.idempotency,
        stats=database.maintenance,
        health=database.health,
        clock=clock,
        ids=ids or Uuid7Ids(),
        tokens=TokenVerifier(directory, clock, jwks, settings.identity_provider_cache_seconds),
        keys=KeyCache(settings.api_key_cache_seconds),
        limits=limits,
        signed_in=SqlSignedInWork(database),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What start-up built (routes, schemas, SQLAlchemy metadata: ~180,000 objects) lives as long as the
        # process. Frozen, it is no longer walked by the collector's full passes, each of which paused every
        # request in flight for ~130 ms on the benchmark machine (a pause now measured in microseconds).
        gc.collect()
        gc.freeze()
        stop = asyncio.Event()
        worker = None
        if settings.with_worker:
            sender = HttpSender(http, timeout=settings.delivery_timeout_seconds, allow_private=settings.webhooks_allow_private)
            worker = asyncio.create_task(run_all(worker_ports(database), sender, runtime.clock, runtime.ids, settings, stop))
        yield
        stop.set()
        if worker is not None:
            await worker
        await http.aclose()
        if isinstance(limits, RedisBuckets):
            await limits.close()
        if owns_database:
            await database.dispose()

    app = FastAPI(title="Stint", version="1.0.0", description=DESCRIPTION, openapi_tags=TAGS, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.settings = settings
    metrics = Metrics()
    errors.install(app)
    for router in (assignments.router, me.router, batches.router, people.router, catalog.skills, catalog.briefs, events.router,
        webhooks.router, xapi.router, tenant.router, imports.router):
        app.include_router(router)

    @app.get("/healthz", tags=["operations"], operation_id="healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    head = head_revision()

    @app.get("/readyz", tags=["operations"], operation_id="readyz", summary="The database is reachable and migrated",
             responses=problem_responses(503))
    async def readyz() -> dict[str, str]:
        try:
            current = await runtime.health.schema_revision()
        except Exception as exc:  # any failure to reach the database means not ready
            raise StorageUnavailable() from exc
        if current != head:
            raise StorageUnavailable(f"The schema is at {current}, not {head}: run `stint migrate`.")
        return {"status": "ready", "schema": head or ""}

    @app.get("/metrics", tags=["operations"], operation_id="metrics", summary="Prometheus metrics",
             response_class=PlainTextResponse, responses={200: {"content": {"text/plain": {}}}})
    async def metrics_endpoint() -> PlainTextResponse:
        await refresh_gauges(metrics, runtime.health, runtime.stats, runtime.clock.now())
        return PlainTextResponse(generate_latest(metrics.registry).decode(), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(Idempotency)
    app.add_middleware(RequestGuard, limits=BodyLimits(settings.max_body_bytes, settings.max_batch_body_bytes, settings.max_import_bytes))
    app.add_middleware(RequestContext, metrics=metrics)  # added last: it runs first, so every answer has its id
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    return app


def import_worker(database: Database) -> ImportWorker:
    """The import worker's ports and helpers: rows decoded by the batch schemas, refusals rendered as the API's problems."""
    return ImportWorker(
        queue=database.maintenance,
        uow=database.uow,
        directory=database.directory,
        decode=decode_rows,
        render=errors.domain_problem,
    )


def worker_ports(database: Database) -> WorkerPorts:
    """What the worker loops work with (`stint worker` and `serve --with-worker`), one port a line."""
    return WorkerPorts(
        sweep_uow=database.sweep_uow,
        outbox_uow=database.outbox_uow,
        policy=database.policy,
        idempotency=database.idempotency,
        numbering=database.maintenance,
        imports=import_worker(database),
    )


def _buckets(settings: Settings) -> Buckets | None:
    if settings.rate_limit_per_second <= 0:
        return None
    if settings.redis_url:
        return RedisBuckets(settings.redis_url, settings.rate_limit_per_second, settings.rate_limit_burst)
    return MemoryBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)

