"""What every batch use case shares: one transaction for the whole batch, duplicate keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from app.domain.batch import Item, ItemResult
from app.domain.errors import Conflict, invalid
from app.domain.ports import UnitOfWork
from app.services.context import Context

R = TypeVar("R")
Apply = Callable[[Context, UnitOfWork, list[Item[R]]], Awaitable[list[ItemResult]]]


RACE_RETRIES = 2


async def run(ctx: Context, apply: Apply[R], items: list[Item[R]], *, dry_run: bool = False) -> list[ItemResult]:
    """Apply a batch in one unit of work; a dry run checks everything the same way and commits nothing.

    A Conflict out of `apply` comes from storage, never from an item (those are in the results): another
    writer got there first (the same new key, a deadlock). The whole batch is then checked and applied
    again from the start, so what the other writer did counts, instead of failing every item."""
    for attempt in range(RACE_RETRIES + 1):
        try:
            async with ctx.uow() as uow:
                results = await apply(ctx, uow, items)
                if not dry_run:
                    await uow.commit()
            return results
        except Conflict:
            if attempt == RACE_RETRIES:
                raise
    raise AssertionError("unreachable")


def first_seen(
    items: list[Item[Any]], key: Callable[[Any], Any], results: dict[int, ItemResult], field: str = "key",
) -> dict[Any, Item[Any]]:
    """Items by key; an item repeating a key seen earlier in the batch is refused (into `results`)."""
    live: dict[Any, Item[Any]] = {}
    for item in items:
        value = key(item.record)
        if value in live:
            results[item.index] = ItemResult.failed(item.index, invalid(
                (field,), f"{field} '{value}' appears earlier in this batch.", "duplicate", code="batch.duplicate_item",
            ))
        else:
            live[value] = item
    return live

