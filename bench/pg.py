"""A PostgreSQL database of a benchmark's own, emptied and migrated for each run."""

from __future__ import annotations

import asyncpg

from app.repositories.sql import migrations
from app.repositories.sql.database import make_engine

SERVER = "postgresql://postgres@127.0.0.1:5432"


def sqlalchemy_url(database: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"


async def fresh_database(database: str) -> str:
    """Create the database if needed, drop everything in it, migrate it to head; returns its SQLAlchemy URL."""
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    url = sqlalchemy_url(database)
    engine = make_engine(url)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()
    return url
