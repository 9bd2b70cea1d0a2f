"""The ASGI app factory."""

from __future__ import annotations

import asyncio
import gc
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import httpx
from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic.json_schema import models_json_schema

from app import logs
from app.api import errors
from app.api.deps import API_KEY, PERSON_TOKEN, KeyCache, Runtime, get_caller, get_context
from app.api.guard import BodyLimits, RequestGuard
from app.api.idempotency import Idempotency
from app.api.ratelimit import Buckets, MemoryBuckets, RedisBuckets
from app.api.observability import Metrics, RequestContext, refresh_gauges
from app.api.problems import problem_responses
from app.api.schemas.batch import BATCH_ITEM_MODELS
from app.domain.errors import StorageUnavailable
from app.repositories.sql.migrations import current_revision, head_revision
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from app.api.problems import PROBLEM_MEDIA_TYPE
from app.api.tokens import JwksCache, TokenVerifier
from app.api.v1 import assignments, batches, catalog, events, imports, me, people, tenant, webhooks, xapi
from app.domain.ports import Clock, IdGenerator
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql.database import Database
from app.repositories.sql.my_work import SqlSignedInWork
from app.settings import Settings, get_settings
from app.workers.runner import run_all
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
    database = database or Database.from_url(settings.database_url, settings.reminder_policy(), statement_home_page=settings.public_url, **settings.engine_options())
    clock = clock or SystemClock()
    http = http or httpx.AsyncClient(timeout=settings.http_timeout_seconds)
    jwks = JwksCache(http, ttl=settings.jwks_cache_seconds, min_refresh=settings.jwks_min_refresh_seconds)
    limits = _buckets(settings)
    runtime = Runtime(
        database, clock, ids or Uuid7Ids(), TokenVerifier(database, clock, jwks, settings.identity_provider_cache_seconds), KeyCache(settings.api_key_cache_seconds), limits,
        SqlSignedInWork(database),
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
            worker = asyncio.create_task(run_all(runtime.database, sender, runtime.clock, runtime.ids, settings, stop))
        yield
        stop.set()
        if worker is not None:
            await worker
        await http.aclose()
        if isinstance(limits, RedisBuckets):
            await limits.close()
        if owns_database:
            await runtime.database.dispose()

    app = FastAPI(title="Stint", version="1.0.0", description=DESCRIPTION, openapi_tags=TAGS, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.settings = settings
    metrics = Metrics()
    errors.install(app)
    for router in (assignments.router, me.router, batches.router, people.router, catalog.skills, catalog.briefs, events.router, webhooks.router, xapi.router, tenant.router, imports.router):
        app.include_router(router)

    @app.get("/healthz", tags=["operations"], operation_id="healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    head = head_revision()

    @app.get("/readyz", tags=["operations"], operation_id="readyz", summary="The database is reachable and migrated",
             responses=problem_responses(503))
    async def readyz() -> dict[str, str]:
        try:
            current = await current_revision(runtime.database.engine)
        except Exception as exc:  # any failure to reach the database means not ready
            raise StorageUnavailable() from exc
        if current != head:
            raise StorageUnavailable(f"The schema is at {current}, not {head}: run `stint migrate`.")
        return {"status": "ready", "schema": head or ""}

    @app.get("/metrics", tags=["operations"], operation_id="metrics", summary="Prometheus metrics",
             response_class=PlainTextResponse, responses={200: {"content": {"text/plain": {}}}})
    async def metrics_endpoint() -> PlainTextResponse:
        await refresh_gauges(metrics, runtime.database, runtime.clock.now())
        return PlainTextResponse(generate_latest(metrics.registry).decode(), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(Idempotency)
    app.add_middleware(RequestGuard, limits=BodyLimits(settings.max_body_bytes, settings.max_batch_body_bytes, settings.max_import_bytes))
    app.add_middleware(RequestContext, metrics=metrics)  # added last: it runs first, so every answer has its id
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _depends_on(dependant: Any, calls: tuple[Any, ...]) -> bool:
    return any(sub.call in calls or _depends_on(sub, calls) for sub in dependant.dependencies)


def _document_security(app: FastAPI, schema: dict[str, Any]) -> None:
    """Every operation that authenticates (depends on get_context or get_caller, which read the bearer
    credential themselves, see app.api.deps.bearer) takes an API key or a person's token."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and _depends_on(route.dependant, (get_context, get_caller)):
            for method in route.methods:
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    operation["security"] = [{scheme.scheme_name: []} for scheme in SECURITY]
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    for scheme in SECURITY:
        schemes[scheme.scheme_name] = jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)


def _buckets(settings: Settings) -> Buckets | None:
    if settings.rate_limit_per_second <= 0:
        return None
    if settings.redis_url:
        return RedisBuckets(settings.redis_url, settings.rate_limit_per_second, settings.rate_limit_burst)
    return MemoryBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)


SECURITY = (API_KEY, PERSON_TOKEN)
"""Either credential, as `Authorization: Bearer …`: what every authenticated operation documents."""

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Make a retry safe: the same key and body within 24 h replays the first answer "
                   "(`Idempotent-Replayed: true`); the same key with another body is a 422; while the first runs, a 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with every 4xx/5xx documented as problem+json instead of its default validation shape."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags)
    _document_security(app, schema)
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path in schema["paths"].values():
        for method, operation in path.items():
            responses = operation.setdefault("responses", {})
            if method in ("post", "put", "patch"):  # the request guard answers these for any body
                responses.setdefault("413", {"description": "Request body too large."})
                responses.setdefault("415", {"description": "Request body is not of the media type this operation takes."})
            if method == "post":
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
                responses.setdefault("400", {"description": "Malformed request (e.g. an Idempotency-Key that is not 1–255 printable characters)."})
                responses.setdefault("409", {"description": "A request with this Idempotency-Key is still running."})
                responses.setdefault("422", {"description": "Well-formed but invalid input."})
            if "security" in operation:
                responses.setdefault("429", {"description": "Too many requests from this caller; see Retry-After."})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = {PROBLEM_MEDIA_TYPE: problem}
                    if code == "422":
                        response["description"] = "Well-formed but invalid input."
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _, batch_items = models_json_schema([(model, "validation") for model in BATCH_ITEM_MODELS], ref_template="#/components/schemas/{model}")
    for name, item_schema in batch_items.get("$defs", {}).items():
        components.setdefault(name, item_schema)  # the items of batch bodies, validated one by one
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema
