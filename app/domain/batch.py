"""Batches: many items in one request, each processed on its own and answered in request order."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar
from uuid import UUID

from app.domain.errors import DomainError

MAX_BATCH_ITEMS = 1000

T = TypeVar("T")


class ItemStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass(frozen=True)
class Item(Generic[T]):
    """One item of a batch: its position in the request (or line in a file) and what it asks for."""

    index: int
    record: T


@dataclass(frozen=True)
class ItemResult:
    index: int
    status: ItemStatus
    id: UUID | None = None
    error: DomainError | None = None

    @classmethod
    def failed(cls, index: int, error: DomainError) -> ItemResult:
        return cls(index, ItemStatus.ERROR, None, error)


class TooManyItems(DomainError):
    code = "batch.too_many_items"
    title = "Too many items"

    def __init__(self, count: int) -> None:
        super().__init__(f"A batch holds at most {MAX_BATCH_ITEMS} items; this one has {count}. Split it, or use an import job.")
