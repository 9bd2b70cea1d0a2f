"""Alembic owns the schema: migrations match the models, run both ways, and re-running is a no-op."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from app.repositories.sql import migrations
from app.repositories.sql.database import make_engine


def _fresh_url(engine_url: str, tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'stairway.db'}" if engine_url.startswith("sqlite") else engine_url


async def test_the_migrated_schema_matches_the_models(database) -> None:
    async with database.engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata))
    assert diff == []


async def test_migrate_is_current_and_a_second_run_is_a_no_op(database) -> None:
    assert await migrations.current_revision(database.engine) == migrations.head_revision()
    await migrations.upgrade(database.engine)
    assert await migrations.current_revision(database.engine) == migrations.head_revision()


async def test_stairway_every_revision_upgrades_and_downgrades(engine_url: str, tmp_path: Path, database) -> None:
    """On PostgreSQL this runs in a scratch schema so the session's database stays untouched."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    revisions = list(reversed(list(ScriptDirectory.from_config(migrations.alembic_config()).walk_revisions())))
    if engine_url.startswith("postgresql"):
        engine = make_engine(engine_url, connect_args={"server_settings": {"search_path": "stairway"}})
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS stairway CASCADE"))
            await conn.execute(text("CREATE SCHEMA stairway"))
    else:
        engine = make_engine(_fresh_url(engine_url, tmp_path))
    try:
        for revision in revisions:
            await migrations.upgrade(engine, revision.revision)
            await migrations.downgrade(engine, revision.down_revision or "base")
            await migrations.upgrade(engine, revision.revision)
        assert await migrations.current_revision(engine) == migrations.head_revision()
        await migrations.downgrade(engine, "base")
        assert await migrations.current_revision(engine) is None
    finally:
        if engine_url.startswith("postgresql"):
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS stairway CASCADE"))
        await engine.dispose()


