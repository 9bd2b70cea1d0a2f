"""Keyset pagination shared by every list.

A cursor carries the sort key of the last item seen, as a plain JSON value: the id (UUIDv7, so
creation order) for most lists, or `[deadline, id]` for lists ordered by a deadline. The API
encodes it opaquely; repositories read it back with `cursor_id` / `cursor_deadline`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from app.domain.errors import DomainError

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    title = "Invalid cursor"

    def __init__(self) -> None:
        super().__init__("The cursor is not one this list issued; start again without it.")


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: Any = None
    """The sort key of the last item of the previous page (a JSON value), or None for the first page."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_after: Any

    @classmethod
    def from_rows(cls, rows: list[T], request: PageRequest, key: Callable[[T], Any] = lambda item: str(item.id)) -> Page[T]:  # type: ignore[attr-defined]
        """`rows` holds up to limit + 1 items; the extra one only says another page exists."""
        if len(rows) > request.limit:
            items = rows[: request.limit]
            return cls(items, key(items[-1]))
        return cls(rows, None)


def cursor_id(after: Any) -> UUID | None:
    if after is None:
        return None
    try:
        return UUID(after)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidCursor() from exc


def deadline_key(deadline: datetime | None, ident: UUID) -> list[Any]:
    return [None if deadline is None else deadline.isoformat(), str(ident)]


def cursor_deadline(after: Any) -> tuple[datetime | None, UUID] | None:
    """`[deadline or null, id]` -> (deadline, id). Null deadlines sort last."""
    if after is None:
        return None
    try:
        deadline, ident = after
        parsed = None if deadline is None else datetime.fromisoformat(deadline)
        ident = UUID(ident)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidCursor() from exc
    if parsed is not None and parsed.tzinfo is None:
        raise InvalidCursor()
    return parsed, ident


MAX_SEQ = 2**63 - 1


def cursor_seq(after: Any) -> int:
    """A feed position: a whole number within the database's bigint."""
    if after is None:
        return 0
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_SEQ:
        raise InvalidCursor()
    return after
