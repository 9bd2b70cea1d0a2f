"""Per-caller rate limits: a token bucket per key or person; 429 problem+json with Retry-After and RateLimit-*."""

from __future__ import annotations

import os
from typing import Any, AsyncIterator
from uuid import uuid4

import httpx
import pytest

from app.api.ratelimit import RedisBuckets
from app.main import create_app
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql.database import Database
from app.services import tenants
from app.settings import Settings
from tests.conftest import new_tenant
from tests.support import FakeClock, problem

REDIS_URL = os.environ.get("STINT_TEST_REDIS_URL")
STORES = ["memory"] + (["redis"] if REDIS_URL else [])


@pytest.fixture(params=STORES)
def limited(request: pytest.FixtureRequest) -> Settings:
    redis = REDIS_URL if request.param == "redis" else None
    return Settings(database_url="unused://", rate_limit_per_second=0.5, rate_limit_burst=3, redis_url=redis)


async def clients(database: Database, settings: Settings, count: int) -> AsyncIterator[Any]:
    slug = await new_tenant(database)
    _, secret = await tenants.create_key(database.directory, SystemClock(), Uuid7Ids(), slug, "k", ["admin"])
    _, other = await tenants.create_key(database.directory, SystemClock(), Uuid7Ids(), slug, "k2", ["admin"])
    apps = [create_app(settings, database=database, clock=FakeClock()) for _ in range(count)]
    made = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stint.test") for app in apps]
    yield made, {"Authorization": f"Bearer {secret}"}, {"Authorization": f"Bearer {other}"}
    for client in made:
        await client.aclose()


async def test_a_caller_past_its_burst_gets_429_with_retry_after(database: Database, limited: Settings) -> None:
    async for (client,), mine, other in clients(database, limited, 1):
        answers = [await client.get("/v1/skills", headers=mine) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
        assert answers[0].headers["ratelimit-limit"] == "3"
        refused = await client.get("/v1/skills", headers=mine)
        body = problem(refused, 429, "rate_limited")
        assert int(refused.headers["retry-after"]) >= 1 and refused.headers["ratelimit-remaining"] == "0"
        assert "retry after" in body["detail"]
        assert (await client.get("/v1/skills", headers=other)).status_code == 200, "each caller has its own bucket"
        assert (await client.get("/healthz")).status_code == 200, "operations endpoints are not limited"


if REDIS_URL:  # like PostgreSQL: these run wherever a Redis is configured (CI sets STINT_TEST_REDIS_URL)

    async def test_processes_share_one_bucket_through_redis(database: Database) -> None:
        settings = Settings(database_url="unused://", rate_limit_per_second=0.5, rate_limit_burst=3, redis_url=REDIS_URL)
        async for (first, second), mine, _ in clients(database, settings, 2):
            statuses = [(await client.get("/v1/skills", headers=mine)).status_code for client in (first, second, first, second)]
            assert statuses == [200, 200, 200, 429]


async def test_an_unreachable_redis_lets_requests_through() -> None:
    buckets = RedisBuckets("redis://127.0.0.1:9/0", rate=1, burst=1)
    decisions = [await buckets.take(f"k-{uuid4().hex}") for _ in range(3)]
    assert all(decision.allowed for decision in decisions)
    await buckets.close()
