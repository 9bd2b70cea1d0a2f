"""Import jobs: a file of people, skills, briefs or offers, received whole, then applied in chunks.

A job is `receiving` while its file streams in, `queued` once it is all stored, `running` while a
worker applies it chunk by chunk (each chunk one transaction with the job's progress, so a worker
that dies resumes after the last chunk it committed), and `completed` — or `failed` if the file
could not be read at all. Rows that fail are kept with their problem; the others are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from app.domain.actors import Actor, ActorRef, Scope
from app.domain.batch import ItemStatus
from app.domain.errors import Conflict

CHUNK_ROWS = 500
"""Rows applied per transaction by the worker."""


class ImportKind(StrEnum):
    PEOPLE = "people"
    SKILLS = "skills"
    BRIEFS = "briefs"
    ASSIGNMENTS = "assignments"


KIND_SCOPE = {
    ImportKind.PEOPLE: Scope.PEOPLE_WRITE,
    ImportKind.SKILLS: Scope.CATALOG_WRITE,
    ImportKind.BRIEFS: Scope.CATALOG_WRITE,
    ImportKind.ASSIGNMENTS: Scope.ASSIGNMENTS_WRITE,
}


class ImportFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"


class ImportState(StrEnum):
    RECEIVING = "receiving"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class ImportRow:
    """One row of the file: its line number (the first line of a CSV record), its fields, and the
    problem that refused it (set when the file was read, or when the row was applied)."""

    line: int
    data: dict[str, Any] | None
    problem: dict[str, Any] | None = None


@dataclass
class ImportJob:
    id: UUID
    tenant_id: UUID
    kind: ImportKind
    format: ImportFormat
    state: ImportState
    actor: ActorRef
    scopes: frozenset[Scope]
    version: int
    created_at: datetime
    updated_at: datetime
    rows_read: int = 0
    rows_processed: int = 0
    counts: dict[ItemStatus, int] = field(default_factory=lambda: dict.fromkeys(ItemStatus, 0))
    cursor: int = 0
    """The last line applied."""
    lease_until: datetime | None = None
    error: str | None = None
    finished_at: datetime | None = None
    retry_after_line: int | None = None
    """People only: once every row was applied, the second pass over the rows refused because their
    manager was not in yet, from after this line (None: not begun)."""

    @property
    def progress(self) -> float:
        """Share of the rows read that have been applied (0 until the file is in, 1 when done)."""
        if self.state is ImportState.COMPLETED:
            return 1.0
        return 0.0 if not self.rows_read else round(self.rows_processed / self.rows_read, 4)

    def acting_as(self) -> Actor:
        """The caller who created the job, with the scopes they had then: the worker applies rows as them."""
        return Actor(tenant_id=self.tenant_id, type=self.actor.type, id=self.actor.id, scopes=self.scopes,
            on_behalf_of=self.actor.on_behalf_of)

    def queue(self, rows_read: int, now: datetime) -> None:
        if self.state is not ImportState.RECEIVING:
            raise Conflict(f"The import is {self.state}, not receiving.", code="import.not_receiving")
        self.state, self.rows_read, self.updated_at = ImportState.QUEUED, rows_read, now
        self.version += 1

    def fail(self, reason: str, now: datetime) -> None:
        self.state, self.error, self.finished_at, self.updated_at = ImportState.FAILED, reason[:500], now, now
        self.version += 1

    def advance(self, last_line: int, statuses: list[ItemStatus], now: datetime) -> None:
        """A chunk was applied: rows up to `last_line`, with what became of each."""
        self.cursor = last_line
        self.rows_processed += len(statuses)
        for status in statuses:
            self.counts[status] += 1
        self.updated_at = now
        self.version += 1

    def retried(self, last_line: int, statuses: list[ItemStatus], now: datetime) -> None:
        """Rows refused in the first pass were tried again up to `last_line`: those that went in now count as such."""
        self.retry_after_line = last_line
        for status in statuses:
            if status is not ItemStatus.ERROR:
                self.counts[ItemStatus.ERROR] -= 1
                self.counts[status] += 1
        self.updated_at = now
        self.version += 1

    def complete(self, now: datetime) -> None:
        self.state, self.finished_at, self.updated_at, self.lease_until = ImportState.COMPLETED, now, now, None
        self.version += 1
