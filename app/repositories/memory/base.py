"""What every in-memory repository shares: one tenant's rows, pages in id order, and a write log for commit."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from app.domain.assignment import Assignment
from app.domain.briefs import Brief
from app.domain.errors import ConcurrentUpdate
from app.domain.events import Event
from app.domain.imports import ImportJob, ImportRow
from app.domain.pagination import Page, PageRequest, cursor_id
from app.domain.people import Person
from app.domain.skills import Skill
from app.domain.webhooks import Delivery, Webhook
from app.domain.work import Evidence, Extension, Review, Submission


@dataclass
class Store:
    """One tenant's data. Field names are the unit of work's repository names (commit relies on it)."""

    people: dict[UUID, Person] = field(default_factory=dict)
    skills: dict[UUID, Skill] = field(default_factory=dict)
    briefs: dict[UUID, Brief] = field(default_factory=dict)
    assignments: dict[UUID, Assignment] = field(default_factory=dict)
    submissions: dict[UUID, Submission] = field(default_factory=dict)
    reviews: dict[UUID, Review] = field(default_factory=dict)
    evidence: dict[UUID, Evidence] = field(default_factory=dict)
    extensions: dict[UUID, Extension] = field(default_factory=dict)
    events: dict[UUID, Event] = field(default_factory=dict)
    webhooks: dict[UUID, Webhook] = field(default_factory=dict)
    deliveries: dict[UUID, Delivery] = field(default_factory=dict)
    imports: dict[UUID, ImportJob] = field(default_factory=dict)
    import_rows: dict[tuple[UUID, int], ImportRow] = field(default_factory=dict)
    statements: list[Any] = field(default_factory=list)
    """Frozen xAPI statements (memory/statements.py), appended as events are published."""


def page_of(items: list[Any], page: PageRequest) -> Page[Any]:
    """Id order, after the cursor's id: as the SQL repositories page."""
    items = sorted(items, key=lambda item: item.id)
    after = cursor_id(page.after)
    if after is not None:
        items = [item for item in items if item.id > after]
    return Page.from_rows([copy.deepcopy(item) for item in items[: page.limit + 1]], page)


class Repo:
    """Works on the unit of work's copy, and remembers what it wrote (and deleted) so commit can publish just that.

    The helpers are private; each repository spells out its port's methods over them, so their signatures are
    the port's own (tests/unit/test_fakes_match_ports.py checks it)."""

    def __init__(self, rows: dict[UUID, Any], kind: str) -> None:
        self.rows, self.kind = rows, kind
        self.written: set[UUID] = set()
        self.deleted: set[UUID] = set()
        self.overwrites: set[UUID] = set()
        """Written by `_put`: published only onto a row that still exists."""
        self.expected: dict[UUID, int] = {}

    async def _add(self, item: Any) -> None:
        self.rows[item.id] = copy.deepcopy(item)
        self.written.add(item.id)
        self.deleted.discard(item.id)

    async def _get(self, item_id: UUID) -> Any:
        return copy.deepcopy(self.rows.get(item_id))

    async def _update(self, item: Any, expected_version: int) -> None:
        """Compare-and-set on the version, here and again against what others committed meanwhile."""
        stored = self.rows.get(item.id)
        if stored is None or stored.version != expected_version:
            raise ConcurrentUpdate(self.kind)
        self.expected.setdefault(item.id, expected_version)
        self.rows[item.id] = copy.deepcopy(item)
        self.written.add(item.id)

    def _put(self, item: Any) -> None:
        """An unconditional write of a row that exists (as an UPDATE ... WHERE id = ...); none if it does not."""
        if item.id in self.rows:
            self.rows[item.id] = copy.deepcopy(item)
            self.written.add(item.id)
            self.overwrites.add(item.id)

    def _remove(self, item_id: UUID) -> None:
        if self.rows.pop(item_id, None) is not None:
            self.written.discard(item_id)
            self.deleted.add(item_id)

    def _find(self, **match: Any) -> Any:
        return next((copy.deepcopy(row) for row in self.rows.values() if all(getattr(row, k) == v for k, v in match.items())), None)

    def _by(self, field_name: str, values: list[Any]) -> dict[Any, Any]:
        wanted = set(values)
        return {getattr(row, field_name): copy.deepcopy(row) for row in self.rows.values() if getattr(row, field_name) in wanted}

    async def _get_many(self, ids: list[UUID]) -> dict[UUID, Any]:
        return {i: copy.deepcopy(self.rows[i]) for i in ids if i in self.rows}

    async def _add_many(self, items: list[Any]) -> None:
        for item in items:
            await self._add(item)

    async def _update_many(self, items: list[Any]) -> None:
        """Writes back items read in this unit of work: compare-and-set on the version they were read at."""
        for item in items:
            stored = self.rows.get(item.id)
            if stored is None:
                raise ConcurrentUpdate(self.kind)
            self.expected.setdefault(item.id, stored.version)
            self.rows[item.id] = copy.deepcopy(item)
            self.written.add(item.id)
