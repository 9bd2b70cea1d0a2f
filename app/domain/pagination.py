"""Keyset pagination shared by every list: ordered by id (UUIDv7, so creation order)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: UUID | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_after: UUID | None

    @classmethod
    def from_rows(cls, rows: list[T], request: PageRequest, key=lambda item: item.id) -> "Page[T]":
        """`rows` holds up to limit + 1 items; the extra one only says another page exists."""
        if len(rows) > request.limit:
            items = rows[: request.limit]
            return cls(items, key(items[-1]))
        return cls(rows, None)
