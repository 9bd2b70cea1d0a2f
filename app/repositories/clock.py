"""Adapters for the Clock and IdGenerator ports."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, SafeUUID

import uuid_utils


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


_UNKNOWN = SafeUUID.unknown  # looked up once: an Enum member lookup costs more than making the id


class Uuid7Ids:
    """Time-ordered UUIDv7 ids, so id order is creation order.

    Built the way uuid_utils.compat builds its standard-library UUIDs, minus its per-call enum lookup:
    a batch of 1,000 offers makes 2,000 ids."""

    def new_id(self) -> UUID:
        value = object.__new__(UUID)
        object.__setattr__(value, "int", uuid_utils.uuid7().int)
        object.__setattr__(value, "is_safe", _UNKNOWN)
        return value
