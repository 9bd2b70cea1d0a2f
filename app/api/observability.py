"""Operations: a request id on every response and log line, Prometheus metrics, and JSON access logs."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.domain.ports import OperationsStatsSource, StorageHealth
from app.logs import REQUEST_ID

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("stint.access")


class Metrics:
    """One registry per app, so tests and several apps in a process never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("stint_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "stint_http_request_duration_seconds", "HTTP request latency", ["method", "route"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.pool_in_use = Gauge("stint_db_pool_connections_in_use", "Database connections checked out", registry=self.registry)
        self.outbox_backlog = Gauge("stint_webhook_outbox_backlog", "Webhook deliveries pending", registry=self.registry)
        self.outbox_failed = Gauge("stint_webhook_deliveries_failed", "Webhook deliveries that failed for good", registry=self.registry)
        self.lrs_backlog = Gauge("stint_lrs_backlog", "xAPI statements not yet delivered to their LRS", registry=self.registry)
        self.lrs_oldest_pending = Gauge("stint_lrs_oldest_pending_seconds", "Age of the oldest statement not yet delivered to its LRS",
                                        registry=self.registry)
        self.lrs_failing = Gauge("stint_lrs_failing", "LRSs whose every delivery attempt fails now", registry=self.registry)
        self.lrs_failing_seconds = Gauge("stint_lrs_failing_seconds",
            "How long the longest run of consecutive failed LRS deliveries has lasted",
                                         registry=self.registry)
        self.sweeper_lag = Gauge("stint_sweeper_lag_seconds", "Age of the oldest deadline due and not yet swept", registry=self.registry)


class RequestContext:
    """Pure ASGI: take or make X-Request-ID, echo it, time the request, count it by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):  # the line is built only when someone reads it
                access_log.info(json.dumps({
                    "msg": "request", "method": scope["method"], "route": route, "status": status,
                    "duration_ms": round(1000 * elapsed, 1),
                }))
            REQUEST_ID.reset(token)


async def refresh_gauges(metrics: Metrics, health: StorageHealth, source: OperationsStatsSource, now: datetime) -> None:
    """Gauges read at scrape time: pool use, outbox backlog and failures, sweeper lag, LRS delivery."""
    metrics.pool_in_use.set(health.connections_in_use())
    try:
        stats = await source.operations_stats(now)
        lrs = await source.lrs_totals()
    except Exception:  # a scrape must answer even when the database does not; /readyz says why
        return
    metrics.outbox_backlog.set(stats.pending_deliveries)
    metrics.outbox_failed.set(stats.failed_deliveries)
    metrics.sweeper_lag.set(stats.sweeper_lag_seconds)
    metrics.lrs_backlog.set(lrs.backlog)
    metrics.lrs_oldest_pending.set(0.0 if lrs.oldest_pending_at is None else max(0.0, (now - lrs.oldest_pending_at).total_seconds()))
    metrics.lrs_failing.set(lrs.failing)
    metrics.lrs_failing_seconds.set(0.0 if lrs.failing_since is None else max(0.0, (now - lrs.failing_since).total_seconds()))
