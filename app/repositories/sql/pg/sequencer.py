"""Feed seqs for events that PostgreSQL writers stored without one.

Writers used to number events under the tenant's counter row, held from their first event to COMMIT (WAL
fsync included), so a tenant's writes went one at a time. Now a writer stores its events with `pos` only and
takes no lock; before the feed is read, the sequencer gives the tenant's committed, unnumbered events the
next seqs, in `pos` order, in short transactions of their own under the tenant's advisory lock.

Why the feed stays right:
- Gap-free and read once: seqs are only ever given to committed events, one sequencer at a time per tenant,
  each run starting after the highest seq already given, and a run's seqs commit together.
- Causal order: a transaction that saw another's change stores its own events after that change committed,
  so its `pos` is higher; either the earlier events were numbered in an earlier run, or both come in the
  same run, where `pos` decides. One subject's events are therefore always in the order they happened.
- Read your writes: a poll numbers everything committed before it began, so an event is in the feed as
  soon as its change is acknowledged.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.repositories.sql.pg import locks

_ANY_WAITING = "SELECT 1 FROM events WHERE tenant_id = $1 AND seq IS NULL LIMIT 1"
_NUMBER = """
WITH last AS (SELECT coalesce(max(seq), 0) AS seq FROM events WHERE tenant_id = $1),
     waiting AS (SELECT id, row_number() OVER (ORDER BY pos) AS n FROM events
                 WHERE tenant_id = $1 AND seq IS NULL ORDER BY pos LIMIT $2)
UPDATE events AS e SET seq = last.seq + waiting.n FROM last, waiting
WHERE e.tenant_id = $1 AND e.id = waiting.id
"""
_WAITING_TENANTS = (
    "SELECT DISTINCT tenant_id FROM events WHERE seq IS NULL AND ($1::uuid IS NULL OR tenant_id > $1) ORDER BY tenant_id LIMIT $2"
)

RUN_LIMIT = 10_000
"""Events numbered per transaction: a long backlog (an import nobody polled during) goes in several short ones."""


async def number_waiting(driver: Any, tenant_id: UUID, limit: int = RUN_LIMIT) -> int:
    """Give every committed event of the tenant without a seq the next ones; returns how many got one.

    `driver` is an asyncpg connection, best outside any transaction (the feed's reads run in autocommit):
    the check runs without a lock, so a tenant with nothing waiting costs one index probe and takes no lock.
    READ COMMITTED whatever the server's default: each statement must see what the sequencer before it
    committed. (Inside a transaction the numbering is a savepoint of it, and the lock lasts until it ends.)"""
    numbered = 0
    while await driver.fetchval(_ANY_WAITING, tenant_id) is not None:
        async with driver.transaction(isolation=None if driver.is_in_transaction() else "read_committed"):
            await driver.execute(locks.EXCLUSIVE, locks.FEED_SEQUENCER, locks.tenant_key(tenant_id))
            status = await driver.execute(_NUMBER, tenant_id, limit)  # its snapshot starts after the lock is ours
        count = int(status.rsplit(" ", 1)[-1])
        numbered += count
        if count < limit:  # what is still waiting committed after this poll began
            break
    return numbered


async def number_every_tenant(driver: Any, page: int = 100) -> int:
    """Number the waiting events of every tenant that has some, in one pass in tenant order (so no tenant
    waits behind busier ones); returns how many got a seq."""
    numbered, after = 0, None
    while True:
        tenants = [row["tenant_id"] for row in await driver.fetch(_WAITING_TENANTS, after, page)]
        for tenant_id in tenants:
            numbered += await number_waiting(driver, tenant_id)
        if len(tenants) < page:
            return numbered
        after = tenants[-1]
