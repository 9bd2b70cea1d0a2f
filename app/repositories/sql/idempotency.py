"""Idempotency keys: the first response to a POST, kept for replay (24 h)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.idempotency import KEPT_FOR, Attempt, Begun, StoredResponse
from app.repositories.sql import tables as t
from app.repositories.sql.engine import run_one


class SqlIdempotencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def begin_idempotent(self, tenant_id: UUID, caller: str, key: str, fingerprint: str, now: datetime) -> Attempt:
        """Claim the key for this request, or say what to do instead (replay, mismatch, in flight)."""
        table = t.idempotency_keys
        where = (table.c.tenant_id == tenant_id, table.c.caller == caller, table.c.key == key)
        for _ in range(2):  # a second pass after clearing an expired key
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(table.insert().values(
                        tenant_id=tenant_id, caller=caller, key=key, fingerprint=fingerprint, status=None, headers=[],
                        body=b"", created_at=now, expires_at=now + KEPT_FOR,
                    ))
                return Attempt(Begun.NEW)
            except IntegrityError:
                pass
            row = (await run_one(self.engine, select(table).where(*where))).first()
            if row is None:
                continue  # released meanwhile: try again
            if row.expires_at <= now:
                await run_one(self.engine, table.delete().where(*where, table.c.expires_at <= now), write=True)
                continue
            if row.fingerprint != fingerprint:
                return Attempt(Begun.MISMATCH)
            if row.status is None:
                return Attempt(Begun.IN_FLIGHT)
            headers = [(name, value) for name, value in row.headers]
            return Attempt(Begun.REPLAY, StoredResponse(row.status, headers, bytes(row.body)))
        return Attempt(Begun.IN_FLIGHT)

    async def finish_idempotent(self, tenant_id: UUID, caller: str, key: str, response: StoredResponse) -> None:
        table = t.idempotency_keys
        await run_one(self.engine,
            table.update().where(table.c.tenant_id == tenant_id, table.c.caller == caller, table.c.key == key)
            .values(status=response.status, headers=[list(h) for h in response.headers], body=response.body),
            write=True,
        )

    async def release_idempotent(self, tenant_id: UUID, caller: str, key: str) -> None:
        """Forget a key whose request failed on our side (5xx), so the caller can retry with it."""
        table = t.idempotency_keys
        await run_one(self.engine, table.delete().where(table.c.tenant_id == tenant_id, table.c.caller == caller,
            table.c.key == key), write=True)

    async def purge_idempotency_keys(self, now: datetime, limit: int = 10_000) -> int:
        table = t.idempotency_keys
        expired = select(table.c.tenant_id, table.c.caller, table.c.key).where(table.c.expires_at <= now).limit(limit)
        keys = (await run_one(self.engine, expired)).all()
        if not keys:
            return 0
        await run_one(self.engine,
            table.delete().where(tuple_(table.c.tenant_id, table.c.caller, table.c.key).in_([tuple(k) for k in keys])), write=True
        )
        return len(keys)
