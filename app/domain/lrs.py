"""The tenant's learning record store as its operator watches it: how deliveries are going."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LrsHealth:
    """Read from the LRS's deliveries: the latest success and failure, and what still waits."""

    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_failure_status_code: int | None
    last_failure_error: str | None
    backlog: int
    """Statements not delivered yet (pending)."""
    oldest_pending_at: datetime | None
    failing_since: datetime | None
    """Since when every attempt has failed (None: the last round had a success, or nothing was tried)."""


@dataclass(frozen=True)
class LrsTotals:
    """Across every tenant, for the metrics."""

    backlog: int
    oldest_pending_at: datetime | None
    failing_since: datetime | None
    """The earliest failing_since of any LRS: how long the longest run of failures has lasted."""
    failing: int
    """How many LRSs are failing every attempt now."""
