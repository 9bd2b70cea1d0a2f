"""Adapters for the Clock and IdGenerator ports."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from uuid_utils.compat import uuid7


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Uuid7Ids:
    """Time-ordered UUIDv7 ids, so id order is creation order."""

    def new_id(self) -> UUID:
        return uuid7()
