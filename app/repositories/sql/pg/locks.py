"""PostgreSQL advisory locks held per tenant, keyed (class, a number from the tenant's id).

Heavyweight locks queue fairly: a shared request waits behind an exclusive one already waiting, so a
rare exclusive holder (a change of webhooks) waits only for the shared holders already in flight, never
for a stream of them. (A FOR SHARE row lock does not queue that way: a stream of writers starved it.)
"""

from __future__ import annotations

from uuid import UUID

FEED_SEQUENCER = 0x53544E54
"""("STNT") One sequencer numbers a tenant's events at a time."""
WEBHOOK_SET = 0x53545748
"""("STWH") Event writers share it while they queue deliveries; a change of webhooks takes it alone, first."""

SHARE = "SELECT pg_advisory_xact_lock_shared($1::int, $2::int)"
EXCLUSIVE = "SELECT pg_advisory_xact_lock($1::int, $2::int)"


def tenant_key(tenant_id: UUID) -> int:
    return int.from_bytes(tenant_id.bytes[-4:], "big", signed=True)  # a UUIDv7's random tail
