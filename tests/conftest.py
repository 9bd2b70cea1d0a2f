"""Fixtures: one migrated database per engine for the session, and a fresh tenant per test.

Every database-backed test runs on SQLite; when STINT_TEST_DATABASE_URL is set it also runs
on that database (PostgreSQL in CI). Tests never share a tenant, so they never see each other's data.
"""

from __future__ import annotations

import os
from typing import Any, AsyncIterator
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import text

from app.main import create_app
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql import migrations
from app.repositories.sql.database import Database, make_engine
from app.services import tenants
from app.settings import Settings
from tests.support import Api, FakeClock

POSTGRES_URL = os.environ.get("STINT_TEST_DATABASE_URL")
ENGINES = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


async def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(scope="session", params=ENGINES)
def engine_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'stint.db'}"
    assert POSTGRES_URL is not None
    return POSTGRES_URL


@pytest.fixture(scope="session")
async def database(engine_url: str) -> AsyncIterator[Database]:
    if engine_url.startswith("postgresql"):
        await reset_postgres(engine_url)
    db = Database(make_engine(engine_url))
    await migrations.upgrade(db.engine)
    yield db
    await db.dispose()


async def new_tenant(database: Database) -> str:
    slug = f"t-{uuid4().hex[:12]}"
    await tenants.create_tenant(database.directory, SystemClock(), Uuid7Ids(), slug)
    return slug


@pytest.fixture
async def api(database: Database) -> AsyncIterator[Api]:
    slug = await new_tenant(database)
    async with make_api(database, slug) as client:
        yield client


class make_api:  # noqa: N801  (used as `async with make_api(...)`)
    """An Api on `slug` with an admin key; `scopes` narrows the key."""

    def __init__(self, database: Database, slug: str, scopes: list[str] | None = None, clock: FakeClock | None = None) -> None:
        self.database, self.slug, self.scopes, self.clock = database, slug, scopes or ["admin"], clock or FakeClock()

    async def __aenter__(self) -> Api:
        _, secret = await tenants.create_key(self.database.directory, SystemClock(), Uuid7Ids(), self.slug, "test", self.scopes)
        settings = Settings(database_url="unused://", rate_limit_per_second=0)  # limits have tests of their own
        app = create_app(settings, database=self.database, clock=self.clock)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://stint.test",
            headers={"Authorization": f"Bearer {secret}"},
        )

        async def make_key(scopes: list[str]) -> str:
            _, other = await tenants.create_key(self.database.directory, SystemClock(), Uuid7Ids(), self.slug, "extra", scopes)
            return other

        return Api(self.client, self.clock, self.slug, self.database.engine, make_key)

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.aclose()
